"""The red team: every exploit of ``exploits.py`` graded through the real command line.

A small synthetic project (``tasks/demo`` with tests and hidden files, ``starter/demo``,
``reference/demo``) is written once per module; each grading gets its own copy of it, with the
rollout (a copy of the starter, the exploit applied) inside it under ``.rollouts/``, and runs
``python -m pytest --submission=ROLLOUT --task=demo --rlgrade-report=...`` there. The clean starter
and reference are graded first; then the exploits, a few side by side. Each exploit must hold:

- the grading ends by itself within the exploit's budget (the task's limits are a few seconds);
- the report exists, validates against the shipped schema and has a numeric reward;
- that reward is no higher than the clean starter's;
- no process of the grading is left (this process is a child subreaper, so double-forked daemons
  land below it, where they are found, counted and killed);
- nothing in the project changed (all of it but ``.rollouts/`` is hashed before and after) and no
  sandbox folder is left in the grading's temp folder;
- the flags the exploit names are among the task's flags;
- a secret in the supervisor's environment does not reach the report;
- and, at the end of the module, no report changed after its grading, and no process is left.

A hole the harness does not hold yet is an ``xfail(strict=True)`` whose reason starts with
``HOLE:`` and says how it goes wrong: fixing it turns the test red until the mark is removed.

The synthetic task has twelve cheap tests (calls, handles, an expected exception, a large argument,
a hidden answer, command lines whose stdout and output file are compared with hidden files, and a
test that writes into the working folder after the submission ran); the starter passes five.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_rlgrade import load_trusted
from pytest_rlgrade.report import validate_report_data

# exploits.py beside this file, loaded by path (the suite runs in importlib mode).
exploits = load_trusted(Path(__file__).with_name("exploits.py"), "rlgrade_redteam_exploits")
CATALOGUE = exploits.CATALOGUE

# The marker is only declared here: register it with the running pytest (when there is one), so
# that it is known without touching the project's configuration.
_config = getattr(pytest.mark, "_config", None)
if _config is not None:
    _config.addinivalue_line("markers", "redteam: grades exploit submissions through the command line")
pytestmark = pytest.mark.redteam

TASK = "demo"
PACKAGE = "demo"
SETTLE = 1.0  # seconds a killed sandbox may take to disappear once grading ended
REPORT_QUIET = 3.0  # seconds after its grading a report must still hold the same bytes
CANARY = "canary-" + os.urandom(8).hex()

# -------------------------------------------------------------------------------------------------
# The synthetic project
# -------------------------------------------------------------------------------------------------

TASK_YAML = """\
name: demo
package: demo
prompt: prompt.md
public: [data]
reward:
  starter_cap: 1.0
limits:
  call_timeout: 3
  test_timeout: 10
  task_timeout: 30
  memory_mb: 512
  output_mb: 4
  processes: 32
  message_mb: 4
"""

TESTS = '''\
"""Behavioural tests of the demo task (trusted: never visible to the submission)."""

import json
from pathlib import Path

import pytest

HIDDEN = Path(__file__).resolve().parent.parent / "hidden"


def _numbers(rng, count=8):
    return [rng.randint(-1000, 1000) for _ in range(count)]


def test_add(submission, rlgrade_rng):
    core = submission.module("demo.core")
    for _ in range(3):
        a, b = rlgrade_rng.randint(-10**6, 10**6), rlgrade_rng.randint(-10**6, 10**6)
        got = core.add(a, b)
        assert type(got) is int and got == a + b


def test_slug(submission, rlgrade_rng):
    words = ["".join(rlgrade_rng.choice("abcXYZ") for _ in range(5)) for _ in range(3)]
    got = submission.module("demo.core").slug("  ".join(words))
    assert type(got) is str and got == "-".join(w.lower() for w in words)


def test_counter(submission, rlgrade_rng):
    counter = submission.module("demo.core").Counter()
    values = _numbers(rlgrade_rng, 5)
    for value in values:
        counter.add(value)
    got = counter.total()
    assert type(got) is int and got == sum(values)


def test_mean(submission, rlgrade_rng):
    values = [rlgrade_rng.uniform(-100, 100) for _ in range(rlgrade_rng.randint(2, 9))]
    got = submission.module("demo.core").mean(values)
    assert type(got) is float
    assert got == pytest.approx(sum(values) / len(values))


def test_mean_of_many(submission, rlgrade_rng):
    values = [rlgrade_rng.uniform(-100, 100) for _ in range(100_000)]
    got = submission.module("demo.core").mean(values)
    assert type(got) is float
    assert got == pytest.approx(sum(values) / len(values))


def test_histogram(submission, rlgrade_rng):
    words = [rlgrade_rng.choice(["red", "green", "blue"]) for _ in range(12)]
    got = submission.module("demo.core").histogram(words)
    assert type(got) is dict and got == {w: words.count(w) for w in set(words)}


def test_ratio_rejects_zero(submission):
    core = submission.module("demo.core")
    with submission.raises("ValueError", match="zero"):
        core.ratio(1.0, 0.0)


def test_is_prime(submission):
    # Written loosely on purpose, as a careless grader would: `assert <call>`.
    core = submission.module("demo.core")
    assert core.is_prime(97)
    assert core.is_prime(7919)


@pytest.mark.hidden
def test_primes(submission):
    expected = json.loads((HIDDEN / "expected.json").read_text())["primes"]
    got = submission.module("demo.core").primes(len(expected))
    assert type(got) is list and got == expected


def test_cli_sum(submission, rlgrade_rng):
    numbers = _numbers(rlgrade_rng)
    (submission.workdir / "numbers.txt").write_text("\\n".join(map(str, numbers)) + "\\n")
    result = submission.run_cli(["sum", "numbers.txt"])
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip() == str(sum(numbers))


def test_cli_sum_twice(submission, rlgrade_rng):
    first, second = _numbers(rlgrade_rng), _numbers(rlgrade_rng)
    (submission.workdir / "a.txt").write_text("\\n".join(map(str, first)) + "\\n")
    one = submission.run_cli(["sum", "a.txt"])
    (submission.workdir / "b.txt").write_text("\\n".join(map(str, second)) + "\\n")
    two = submission.run_cli(["sum", "b.txt"])
    assert (one.returncode, two.returncode) == (0, 0)
    assert (one.stdout.strip(), two.stdout.strip()) == (str(sum(first)), str(sum(second)))


def test_cli_primes_stdout(submission):
    expected = (HIDDEN / "primes.txt").read_text()
    result = submission.run_cli(["primes", str(len(expected.split()))])
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout == expected


def test_cli_primes_file(submission):
    expected = json.loads((HIDDEN / "primes.json").read_text())
    result = submission.run_cli(["primes", str(len(expected)), "--out", "primes.json"])
    assert result.returncode == 0, result.stderr[-500:]
    assert submission.read_json("primes.json") == expected
'''

STARTER_CORE = '''\
"""demo: small utilities (starter: some of it works)."""


def add(a, b):
    return a + b


def slug(text):
    return "-".join(text.lower().split())


class Counter:
    def __init__(self):
        self.values = []

    def add(self, value):
        self.values.append(value)

    def total(self):
        return sum(self.values)


def mean(values):
    raise NotImplementedError


def histogram(words):
    return {}


def ratio(a, b):
    return a / b


def is_prime(number):
    raise NotImplementedError


def primes(count):
    raise NotImplementedError
'''

REFERENCE_CORE = '''\
"""demo: small utilities (reference)."""


def add(a, b):
    return a + b


def slug(text):
    return "-".join(text.lower().split())


class Counter:
    def __init__(self):
        self.values = []

    def add(self, value):
        self.values.append(value)

    def total(self):
        return sum(self.values)


def mean(values):
    return sum(values) / len(values)


def histogram(words):
    counts = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return counts


def ratio(a, b):
    if b == 0:
        raise ValueError("division by zero")
    return a / b


def is_prime(number):
    return number > 1 and all(number % d for d in range(2, int(number**0.5) + 1))


def primes(count):
    found, candidate = [], 2
    while len(found) < count:
        if all(candidate % p for p in found if p * p <= candidate):
            found.append(candidate)
        candidate += 1
    return found
'''

CLI = '''\
"""The demo command line: `sum FILE` and `primes COUNT [--out FILE]`."""

import argparse
import json
import sys

from . import core


def main(argv=None):
    parser = argparse.ArgumentParser(prog="demo")
    commands = parser.add_subparsers(dest="command", required=True)
    summing = commands.add_parser("sum")
    summing.add_argument("file")
    listing = commands.add_parser("primes")
    listing.add_argument("count", type=int)
    listing.add_argument("--out")
    args = parser.parse_args(argv)
    if args.command == "sum":
        with open(args.file) as f:
            print(sum(int(line) for line in f if line.strip()))
        return 0
    try:
        found = core.primes(args.count)
    except NotImplementedError:
        print("primes: not implemented", file=sys.stderr)
        return 2
    for value in found:
        print(value)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(found, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


def _primes(count: int) -> list[int]:
    found, candidate = [], 2
    while len(found) < count:
        if all(candidate % p for p in found if p * p <= candidate):
            found.append(candidate)
        candidate += 1
    return found


def build_project(repo: Path) -> None:
    """The synthetic project: one task, its starter and its reference."""
    task = repo / "tasks" / TASK
    for folder in ("tests", "hidden", "data"):
        (task / folder).mkdir(parents=True)
    (repo / "pytest.ini").write_text("[pytest]\n")
    (task / "task.yaml").write_text(TASK_YAML)
    (task / "prompt.md").write_text("Implement the `demo` package: see the docstrings.\n")
    (task / "data" / "words.txt").write_text("red\ngreen\nblue\n")
    (task / "tests" / "test_demo.py").write_text(TESTS)
    hidden = _primes(40)
    (task / "hidden" / "expected.json").write_text(json.dumps({"primes": hidden[:30]}))
    (task / "hidden" / "primes.txt").write_text("".join(f"{p}\n" for p in hidden[:25]))
    (task / "hidden" / "primes.json").write_text(json.dumps(hidden[:35]))
    for kind, core in (("starter", STARTER_CORE), ("reference", REFERENCE_CORE)):
        package = repo / kind / TASK / PACKAGE
        package.mkdir(parents=True)
        (package / "__init__.py").write_text('"""demo."""\n')
        (package / "core.py").write_text(core)
        (package / "cli.py").write_text(CLI)


IGNORED = {".rollouts", "__pycache__", ".hypothesis", ".pytest_cache", ".benchmarks"}


def snapshot(project: Path) -> dict[str, str]:
    """Every path of a project (but the rollouts folder and tool caches) with a digest of its
    content (or its link target, or ``dir``)."""
    found: dict[str, str] = {}
    for base, dirs, names in os.walk(project):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED)
        for name in [*sorted(names), *(d + "/" for d in dirs)]:
            path = Path(base, name.rstrip("/"))
            relative = path.relative_to(project).as_posix() + ("/" if name.endswith("/") else "")
            if path.is_symlink():
                found[relative] = "-> " + os.readlink(path)
            elif name.endswith("/"):
                found[relative] = "dir"
            else:
                try:
                    found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
                except OSError as exc:
                    found[relative] = f"unreadable: {exc.errno}"
    return found


# -------------------------------------------------------------------------------------------------
# Processes: this process is a child subreaper while the module runs, so everything a grading
# leaves (double-forked daemons included) ends up below it, where it is found and killed.
# -------------------------------------------------------------------------------------------------

PR_SET_CHILD_SUBREAPER = 36


def _set_subreaper(on: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _stat(pid: str) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def descendants() -> dict[int, str]:
    """Processes below this one that are not zombies, each with what identifies it: its command
    line, working folder and environment (joined; this process is root, so it may read them)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _stat(entry)
            if found is not None and found[0] not in ("Z", "X"):
                parents[int(entry)] = found[1]
    mine: set[int] = set()
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - mine
        mine |= frontier
    described = {}
    for pid in sorted(mine):
        parts = []
        for name in ("cmdline", "environ"):
            with contextlib.suppress(OSError):
                parts.append(Path(f"/proc/{pid}/{name}").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        with contextlib.suppress(OSError):
            parts.append("cwd=" + os.readlink(f"/proc/{pid}/cwd"))
        described[pid] = " ".join(parts)
    return described


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


# -------------------------------------------------------------------------------------------------
# A local service with the host's rights: the kind of thing a sandbox must not be able to reach
# -------------------------------------------------------------------------------------------------


class FileService:
    """Serves files under ``served`` to whoever connects (``GET PATH\\n``; PATH absolute, or
    relative to the pristine task folder), on a unix socket file, an abstract unix socket and a TCP
    port on 127.0.0.1: a stand-in for any service on the grading machine that acts for its clients
    (a job runner, a data server, an editor's helper, a Ray node)."""

    def __init__(self, served: Path, default_task: Path, folder: Path) -> None:
        self.served = served.resolve()
        self.default_task = default_task
        self.path = folder / "files.sock"
        self.requests: list[str] = []
        self.stopped = False
        unix = socket.socket(socket.AF_UNIX)
        unix.bind(str(self.path))
        os.chmod(self.path, 0o777)
        self.abstract = f"rlgrade-redteam-files-{os.getpid()}"
        abstract = socket.socket(socket.AF_UNIX)
        abstract.bind("\0" + self.abstract)
        tcp = socket.socket(socket.AF_INET)
        tcp.bind(("127.0.0.1", 0))
        self.port = tcp.getsockname()[1]
        self.listeners = [unix, abstract, tcp]
        self.threads = []
        for listener in self.listeners:
            listener.listen(64)
            listener.settimeout(0.2)
            thread = threading.Thread(target=self._serve, args=(listener,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _answer(self, request: str) -> bytes:
        if not request.startswith("GET "):
            return b""
        wanted = Path(request[4:].strip())
        try:
            path = (wanted if wanted.is_absolute() else self.default_task / wanted).resolve()
            return path.read_bytes() if path.is_relative_to(self.served) else b""
        except OSError:
            return b""

    def _serve(self, listener: socket.socket) -> None:
        while not self.stopped:
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                try:
                    connection.settimeout(1)
                    request = connection.recv(4096).decode(errors="replace")
                    self.requests.append(request.strip())
                    connection.sendall(self._answer(request))
                except OSError:
                    pass

    def stop(self) -> None:
        self.stopped = True
        for thread in self.threads:
            thread.join(timeout=2)
        for listener in self.listeners:
            listener.close()


# -------------------------------------------------------------------------------------------------
# Grading through the command line
# -------------------------------------------------------------------------------------------------


@dataclass
class Graded:
    """One grading and everything the hold rules look at."""

    name: str
    folder: Path
    finished: bool = False
    seconds: float = 0.0
    exit_code: int | None = None
    report_path: Path | None = None
    report: dict[str, Any] | None = None
    report_bytes: bytes | None = None
    report_problem: str | None = None
    stray: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    ended_at: float = 0.0

    def task(self) -> dict[str, Any] | None:
        if self.report is None:
            return None
        return next((t for t in self.report.get("tasks", []) if t.get("name") == TASK), None)

    @property
    def reward(self) -> float | None:
        task = self.task()
        value = None if task is None else task.get("reward")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    @property
    def flags(self) -> set[str]:
        task = self.task()
        return set(task.get("flags", [])) if task else set()

    def log_tail(self, size: int = 3000) -> str:
        try:
            return (self.folder / "grading.log").read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def summary(self) -> str:
        task = self.task() or {}
        outcomes = {t["node_id"].rsplit("::", 1)[-1]: t["outcome"] for t in task.get("tests", [])}
        confinement = ((self.report or {}).get("sandbox") or {}).get("confinement")
        return (
            f"{self.name}: reward {self.reward}, flags {sorted(self.flags)}, {self.seconds:.1f} s, "
            f"exit {self.exit_code}, confinement {confinement}, outcomes {outcomes}"
        )

    def problems(self, budget: float, ceiling: float, flags: frozenset[str] = frozenset()) -> list[str]:
        """Every hold rule this grading broke."""
        found = []
        if not self.finished:
            found.append(f"grading did not end by itself within {budget:g} s")
        if self.report_problem:
            found.append(self.report_problem)
        elif self.reward is None:
            found.append(
                f"the report has no numeric reward for {TASK}: reward {(self.task() or {}).get('reward')!r}, "
                f"flags {sorted(self.flags)}, error {(self.task() or {}).get('error')!r}"
            )
        elif self.reward > ceiling + 1e-9:
            found.append(f"reward {self.reward:.4f} is above the clean starter's {ceiling:.4f}")
        missing = set(flags) - self.flags
        if self.report is not None and missing:
            found.append(f"flags {sorted(missing)} missing from {sorted(self.flags)}")
        if self.stray:
            found.append(f"{len(self.stray)} processes left behind: {[s[:150] for s in self.stray[:3]]}")
        if self.leftovers:
            found.append(f"left in the grading's temp folder: {self.leftovers}")
        if self.changed:
            found.append(f"the project changed: {self.changed[:10]}")
        if self.report_bytes is not None and CANARY.encode() in self.report_bytes:
            found.append("a secret of the supervisor's environment is in the report")
        return found


class Lab:
    """The module's workshop: a pristine synthetic project, and one copy of it per grading (so that
    gradings may run side by side and a change to a project is the fault of its own grading)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.pristine = base / "pristine"
        build_project(self.pristine)
        # A short folder for the socket: unix socket paths are limited to 107 bytes.
        self.service_dir = Path(tempfile.mkdtemp(prefix="rlgrade-redteam-"))
        self.service = FileService(base, self.pristine / "tasks" / TASK, self.service_dir)
        exploits.KNOWN_SERVICES.update(
            unix=[str(self.service.path)], abstract=[self.service.abstract], tcp=[self.service.port]
        )
        self.gradings: dict[str, Graded] = {}
        self.lock = threading.Lock()
        self.supervisors: set[int] = set()

    def reap_orphans(self) -> None:
        """Reap zombies reparented to this process, but never a grading's own supervisor (its
        Popen reaps it)."""
        with self.lock:
            ours = set(self.supervisors)
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in ours:
                found = _stat(entry)
                if found is not None and found[0] == "Z" and found[1] == os.getpid():
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(int(entry), os.WNOHANG)

    def processes_of(self, token: str) -> dict[int, str]:
        self.reap_orphans()
        return {pid: text for pid, text in descendants().items() if token in text}

    def settle(self, token: str, grace: float) -> list[str]:
        """Wait up to ``grace`` seconds for the processes of one grading to go; kill those still
        there and return their descriptions."""
        deadline = time.monotonic() + grace
        alive = self.processes_of(token)
        while alive and time.monotonic() < deadline:
            time.sleep(0.05)
            alive = self.processes_of(token)
        for _ in range(100):
            left = self.processes_of(token)
            if not left:
                break
            kill_all(list(left))
            time.sleep(0.05)
        return [f"{pid}: {text}" for pid, text in alive.items()]

    def grade(self, name: str, kind: str, exploit: Any = None, budget: float = 60.0) -> Graded:
        """Copy the project, make a rollout from its ``kind`` (starter or reference) with
        ``exploit`` applied, grade it through the command line and check what it left."""
        folder = self.base / "runs" / name
        project = folder / "project"
        shutil.copytree(self.pristine, project, symlinks=True)
        submission = project / ".rollouts" / name
        shutil.copytree(project / kind / TASK, submission, symlinks=True)
        if exploit is not None:
            exploit.apply(submission, PACKAGE)
        # The sandbox's folders go under the project too, so that an exploit looking for "its" task
        # finds its own project first (gradings run side by side).
        temp = project / ".rollouts" / "tmp"
        temp.mkdir()
        graded = Graded(name, folder, report_path=folder / "report.json")
        before = snapshot(project)
        # A secret in the supervisor's environment (first, as API keys often are): it must never reach
        # the report, where the submission's output lands.
        env = {"RLGRADE_REDTEAM_SECRET": CANARY}
        env.update((k, v) for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_CORE")))
        env.update(TMPDIR=str(temp), PYTHONDONTWRITEBYTECODE="1")
        # The synthetic task uses no Hypothesis: leaving its plugin out saves seconds per grading.
        command = [
            sys.executable,
            "-m",
            "pytest",
            f"--submission={submission}",
            f"--task={TASK}",
            f"--rlgrade-report={graded.report_path}",
            "-p",
            "no:cacheprovider",
            "-q",
            "--tb=short",  # the full failure text, where a submission's escape sequences would show
            "-p",
            "no:hypothesispytest",
        ]
        started = time.monotonic()
        with open(folder / "grading.log", "wb") as out:
            process = subprocess.Popen(
                command,
                cwd=project,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
            with self.lock:
                self.supervisors.add(process.pid)
            try:
                process.wait(timeout=budget)
                graded.finished = True
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            finally:
                with self.lock:
                    self.supervisors.discard(process.pid)
        graded.seconds = time.monotonic() - started
        graded.exit_code = process.returncode
        graded.stray = self.settle(str(folder) + "/", SETTLE)
        graded.leftovers = sorted(p.name for p in temp.iterdir())
        self.remove_cgroups([n for n in graded.leftovers if n.startswith("rlgrade-")])
        after = snapshot(project)
        graded.changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        try:
            graded.report_bytes = graded.report_path.read_bytes()
            graded.report = json.loads(graded.report_bytes)
            validate_report_data(graded.report)
        except FileNotFoundError:
            graded.report_problem = "no report was written"
        except Exception as exc:  # noqa: BLE001 - any way the report is unusable is a finding
            graded.report_problem = f"the report is not valid: {exc!r}"[:500]
        shutil.rmtree(submission, ignore_errors=True)
        shutil.rmtree(temp, ignore_errors=True)
        graded.ended_at = time.monotonic()
        with self.lock:
            self.gradings[name] = graded
        return graded

    @staticmethod
    def remove_cgroups(names: list[str]) -> None:
        """Best effort: the cgroups a killed supervisor left for its sandboxes (named like them)."""
        for name in names:
            for group in Path("/sys/fs/cgroup").glob(f"*/**/{name}"):
                with contextlib.suppress(OSError):
                    (group / "cgroup.kill").write_text("1")
                with contextlib.suppress(OSError):
                    group.rmdir()

    def close(self) -> None:
        self.service.stop()
        shutil.rmtree(self.service_dir, ignore_errors=True)
        self.reap_orphans()
        kill_all(list(descendants()))
        time.sleep(0.1)
        self.reap_orphans()


WORKERS = int(os.environ.get("RLGRADE_REDTEAM_WORKERS", "3"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    _set_subreaper(True)
    workshop = Lab(tmp_path_factory.mktemp("redteam"))
    try:
        yield workshop
    finally:
        workshop.close()
        _set_subreaper(False)


@pytest.fixture(scope="module")
def baselines(lab: Lab) -> dict[str, Graded]:
    """The clean starter and reference, graded side by side before any exploit runs."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {kind: pool.submit(lab.grade, f"clean-{kind}", kind, None, 60.0) for kind in ("starter", "reference")}
        return {kind: future.result() for kind, future in futures.items()}


@pytest.fixture(scope="module")
def starter(baselines: dict[str, Graded]) -> Graded:
    graded = baselines["starter"]
    assert graded.report_problem is None, graded.summary() + "\n" + graded.log_tail()
    assert graded.reward is not None, graded.summary() + "\n" + graded.log_tail()
    return graded


@pytest.fixture(scope="module")
def exploit_gradings(request: pytest.FixtureRequest, lab: Lab, starter: Graded):
    """Grades of the exploits selected in this session, run WORKERS at a time in the background
    (the slow ones first); each test waits for its own."""
    here = Path(__file__).resolve()
    selected = [
        item.callspec.params["name"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_exploit_is_held"
        and hasattr(item, "callspec")
        and Path(item.path).resolve() == here
    ]
    order = sorted(dict.fromkeys(selected), key=lambda n: (n not in SLOW, list(CATALOGUE).index(n)))
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="redteam")
    futures = {name: pool.submit(lab.grade, name, "starter", CATALOGUE[name], CATALOGUE[name].budget) for name in order}
    try:
        yield futures
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# -------------------------------------------------------------------------------------------------
# The tests
# -------------------------------------------------------------------------------------------------


def test_reference_earns_full_reward(baselines: dict[str, Graded]) -> None:
    graded = baselines["reference"]
    print(graded.summary())
    problems = graded.problems(60, 1.0)
    assert not problems, "\n".join(problems) + "\n" + graded.summary() + "\n" + graded.log_tail()
    assert graded.reward == 1.0, graded.summary()
    assert graded.flags == set(), graded.summary()


def test_starter_earns_part_of_the_reward(starter: Graded) -> None:
    print(starter.summary())
    problems = starter.problems(60, 1.0)
    assert not problems, "\n".join(problems) + "\n" + starter.summary()
    assert starter.reward == pytest.approx(5 / 13), starter.summary()
    assert starter.flags == set(), starter.summary()


# Exploits likely to take a while: started first so that they overlap the quick ones.
SLOW = {
    "freeze_zygote",
    "fifo_capture_hang",
    "stop_reading_requests",
    "infinite_loop",
    "sigterm_immune_sleep",
    "poison_worker_restart",
    "exception_str_bomb",
    "memory_bomb",
    "deep_recursion",
    "oversized_answers",
}


@dataclass(frozen=True)
class Hole:
    """An exploit the harness does not hold yet: ``symptom`` is the broken rule's message (so that
    the xfail only covers that failure) and ``reason`` says what goes wrong, and how."""

    symptom: str
    reason: str


class HoleReproduced(AssertionError):
    """The known hole, as described: the only failure a HOLES entry's xfail accepts."""


# Exploits the harness does not hold yet.
HOLES: dict[str, Hole] = {}


def _params() -> list[Any]:
    params = []
    for name in CATALOGUE:
        hole = HOLES.get(name)
        marks = [pytest.mark.xfail(reason=hole.reason, raises=HoleReproduced, strict=True)] if hole else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.mark.parametrize("name", _params())
def test_exploit_is_held(exploit_gradings: dict[str, Future[Graded]], starter: Graded, name: str) -> None:
    item = CATALOGUE[name]
    graded = exploit_gradings[name].result()
    print(graded.summary())
    problems = graded.problems(item.budget, starter.reward, item.flags)
    if problems:
        message = (
            f"{item.kind} exploit {name} not held:\n  "
            + "\n  ".join(problems)
            + f"\n{graded.summary()}\n--- grading output ---\n{graded.log_tail()}"
        )
        hole = HOLES.get(name)
        if hole is not None and any(hole.symptom in problem for problem in problems):
            raise HoleReproduced(message)
        raise AssertionError(message)


def test_no_escape_sequence_of_the_submission_reaches_the_terminal(
    exploit_gradings: dict[str, Future[Graded]],
) -> None:
    graded = exploit_gradings["terminal_escapes"].result()
    log = (graded.folder / "grading.log").read_text(errors="replace")
    assert "\\x1b[2J" in log, "the exploit's message is not in the output at all: " + graded.log_tail()
    assert "\x1b[2J" not in log


def test_reports_unchanged_afterwards(lab: Lab, exploit_gradings: dict[str, Future[Graded]]) -> None:
    """Runs after the exploits: every report of this module still holds the bytes it had when its
    grading ended, at least a few seconds later (no daemon or exit handler rewrote it)."""
    for future in exploit_gradings.values():
        future.exception()
    if not lab.gradings:
        pytest.skip("no grading ran")
    last = max(g.ended_at for g in lab.gradings.values())
    time.sleep(max(0.0, last + REPORT_QUIET - time.monotonic()))
    changed = [
        name
        for name, graded in lab.gradings.items()
        if (graded.report_path.read_bytes() if graded.report_path.exists() else None) != graded.report_bytes
    ]
    assert not changed, f"reports changed after their grading: {changed}"


def test_nothing_left_running(lab: Lab, exploit_gradings: dict[str, Future[Graded]]) -> None:
    """Runs last: once every grading is over, no process is left below this one at all (not even
    one that no grading's folder names)."""
    for future in exploit_gradings.values():
        future.exception()
    lab.reap_orphans()
    left = descendants()
    kill_all(list(left))
    assert not left, f"processes left after all gradings: {list(left.values())[:5]}"
