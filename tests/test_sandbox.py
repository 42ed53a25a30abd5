"""The sandbox on its own: what a submission can and cannot do from inside it.

These drive :class:`~pytest_rlgrade.sandbox.Sandbox` directly (no pytest run in between), with a
small submission whose functions probe the confinement. Where the machine lacks a mechanism, the
tests that need it are skipped with the reason, as the report's confinement list would say.
"""

from __future__ import annotations

import socket
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_rlgrade.client import Budget, Submission, TaskBudget
from pytest_rlgrade.errors import (
    SubmissionCrashed,
    SubmissionMemoryError,
    SubmissionRaised,
    SubmissionTimeout,
)
from pytest_rlgrade.manifest import load_task
from pytest_rlgrade.runtime.worker import landlock_abi
from pytest_rlgrade.sandbox import SPARES, Sandbox

PROBE = """
import os
import signal
import socket
import sys

STATE = []


def remember(value):
    STATE.append(value)
    return list(STATE)


def read(path):
    with open(path, "rb") as f:
        return f.read(64).decode("latin-1")


def write(path):
    with open(path, "w") as f:
        f.write("x")
    return True


def listdir(path):
    return sorted(os.listdir(path))


def exists(path):
    return os.path.exists(path)


def tcp(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        return True


def unix(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return True


def symlink(target, name):
    os.symlink(target, name)
    return True


def fifo(name):
    os.mkfifo(name)
    return True


def processes():
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())


def signal_parent():
    os.kill(os.getppid(), signal.SIGKILL)
    return True


def forks(count):
    made = 0
    for _ in range(count):
        try:
            if os.fork() == 0:
                import time
                time.sleep(300)
                os._exit(0)
        except OSError:
            break
        made += 1
    return made


def daemon(path):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            import time
            time.sleep(1.5)
            try:
                with open(path, "w") as f:
                    f.write("escaped")
            finally:
                os._exit(0)
        os._exit(0)
    return True


def hang():
    while True:
        pass


def hoard(mb):
    blocks = []
    for _ in range(mb // 64):
        block = bytearray(64 * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
        blocks.append(block)
    return len(blocks)


def crash():
    import ctypes
    ctypes.string_at(0)


def flood(mb):
    line = "x" * 1023 + "\\n"
    for _ in range(mb * 1024):
        sys.stdout.write(line)
    sys.stdout.flush()
    return True


def modules(names):
    return {name: name in sys.modules for name in names}


def importable(names):
    import importlib

    found = {}
    for name in names:
        try:
            importlib.import_module(name)
            found[name] = True
        except ImportError:
            found[name] = False
    return found


def make_temporary():
    import tempfile

    return tempfile.mkdtemp()


def collect_cycles(count):
    import gc

    for _ in range(count):
        cycle = []
        cycle.append(cycle)
    del cycle
    return gc.collect()


def sysv_ipc():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    made = {}
    for kind, call in (
        ("shm", lambda: libc.shmget(4242, 4096, 0o1666)),
        ("sem", lambda: libc.semget(4243, 1, 0o1666)),
        ("msg", lambda: libc.msgget(4244, 0o1666)),
    ):
        made[kind] = call() >= 0
    return made


def listdir_or_none(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return None


def kill_everything():
    for pid in range(2, 4000):
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return True


def environment():
    return dict(os.environ)


def age():
    # Seconds since this process started: its start time in /proc, against the uptime.
    with open("/proc/self/stat") as f:
        started = int(f.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) - started
"""


# A module with a side effect at import, and a standard-library import it makes only when called.
SIDE = """
import os

with open("imported-here", "a") as f:
    f.write(str(os.getpid()) + "\\n")


def median(values):
    import statistics

    return statistics.median(values)
"""


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("project")
    task = root / "tasks" / "probe"
    (task / "tests").mkdir(parents=True)
    (task / "hidden").mkdir()
    (task / "hidden" / "answers.txt").write_text("the hidden answer")
    (task / "data").mkdir()
    (task / "data" / "input.txt").write_text("public data")
    (task / "task.yaml").write_text(
        textwrap.dedent("""\
        name: probe
        package: probe
        public: [data]
        preload: [json, decimal]
        limits: {call_timeout: 3, test_timeout: 30, task_timeout: 120, memory_mb: 512, output_mb: 2,
                 processes: 32, fault_budget: 100}
    """)
    )
    package = root / "submission" / "probe"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(PROBE)
    (package / "side.py").write_text(SIDE)
    (package / "broken.py").write_text("def fine():\n    return 1\n\n\ndef broken(:\n    pass\n")
    (root / "submission" / "conftest.py").write_text("raise SystemExit('never loaded')\n")
    flags: set[str] = set()
    box = Sandbox(load_task(task), root / "submission", on_flag=flags.add)
    box.flags = flags
    box.project = root
    box.start()
    box.ensure_ready()
    yield box
    box.close()


def open_submission(sandbox: Sandbox) -> Submission:
    """What the `submission` fixture gives a test: a fresh process of the sandbox."""
    workdir = sandbox.new_workdir()
    now = time.monotonic()
    budget = Budget(3, now + 30, TaskBudget(now + 120, fault_budget=100))
    return Submission("probe", "probe", workdir, sandbox.public_dir, sandbox.connect(workdir), budget, 1 << 24)


@pytest.fixture
def probe(sandbox: Sandbox) -> Iterator[tuple[Submission, Any]]:
    submission = open_submission(sandbox)
    yield submission, submission.module("probe")
    submission.close()


def needs(sandbox: Sandbox, *mechanisms: str) -> None:
    missing = [m for m in mechanisms if m not in sandbox.confinement]
    if missing:
        pytest.skip(f"this machine's sandbox runs without {', '.join(missing)}")


def test_confinement_is_reported(sandbox: Sandbox) -> None:
    assert "rlimits" in sandbox.confinement
    assert sandbox.flags == {"tamper"}  # the conftest.py beside the package


def test_each_test_gets_a_fresh_process(sandbox: Sandbox, probe: tuple[Submission, Any]) -> None:
    _, module = probe
    assert module.remember(1) == [1]
    assert module.remember(2) == [1, 2]
    other = open_submission(sandbox)
    try:
        assert other.module("probe").remember(3) == [3]
    finally:
        other.close()


def test_preloads_are_warm_and_the_environment_is_clean(probe: tuple[Submission, Any]) -> None:
    _, module = probe
    assert module.modules(["decimal", "json", "pytest"]) == {"decimal": True, "json": True, "pytest": False}
    env = module.environment()
    assert set(env) <= {
        "PATH",
        "LANG",
        "LC_ALL",
        "HOME",
        "TMPDIR",
        "PYTHONHASHSEED",
        "PYTHONDONTWRITEBYTECODE",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
    }


def test_a_tests_collector_leaves_the_warm_objects_alone(probe: tuple[Submission, Any]) -> None:
    """What the pool and the tree imported is frozen before any fork: a test's collector neither
    walks those objects nor copies their pages. The test's own garbage is collected as usual."""
    submission, _ = probe
    gc = submission.module("gc")
    assert gc.get_freeze_count() > 10_000  # the preloads, the runtime, the warmed stdlib
    assert gc.isenabled()
    assert submission.module("probe").collect_cycles(50) >= 50


def test_public_files_are_readable_and_read_only(sandbox: Sandbox, probe: tuple[Submission, Any]) -> None:
    submission, module = probe
    assert module.read(str(submission.public_dir / "data" / "input.txt")) == "public data"
    with pytest.raises(SubmissionRaised) as excinfo:
        module.write(str(submission.public_dir / "data" / "input.txt"))
    assert excinfo.value.is_a("OSError")


def test_the_project_is_out_of_reach(sandbox: Sandbox, probe: tuple[Submission, Any]) -> None:
    needs(sandbox, "landlock")
    _, module = probe
    project: Path = sandbox.project
    for path in (
        project / "tasks" / "probe" / "hidden" / "answers.txt",
        project / "tasks" / "probe" / "task.yaml",
        Path(__file__),
        Path("/etc/shadow"),
    ):
        with pytest.raises(SubmissionRaised) as excinfo:
            module.read(str(path))
        assert excinfo.value.is_a("OSError"), path


def test_the_project_cannot_even_be_seen(sandbox: Sandbox, probe: tuple[Submission, Any]) -> None:
    needs(sandbox, "private-root")
    _, module = probe
    project: Path = sandbox.project
    assert module.exists(str(project / "tasks" / "probe" / "hidden")) is False
    assert module.exists(str(Path(__file__).parent)) is False


def test_writes_stay_in_scratch(sandbox: Sandbox, probe: tuple[Submission, Any]) -> None:
    needs(sandbox, "landlock")
    submission, module = probe
    assert module.write(str(submission.workdir / "ok.txt")) is True
    assert (submission.workdir / "ok.txt").read_text() == "x"
    project: Path = sandbox.project
    for path in (project / "planted.txt", sandbox.root / "planted.txt", Path("/tmp/rlgrade-planted.txt")):
        with pytest.raises(SubmissionRaised):
            module.write(str(path))
        assert not path.exists()


def test_a_test_sees_nothing_of_the_tests_before_it(sandbox: Sandbox, probe: tuple[Submission, Any]) -> None:
    """Each test's process has a Landlock layer of its own: of the submission's scratch, only its
    working folder. What an earlier test wrote there, and what the supervisor put there for it,
    is out of reach: state never passes from test to test through files."""
    needs(sandbox, "landlock")
    earlier, module = probe
    assert module.write(str(earlier.workdir / "note.txt")) is True
    (earlier.workdir / "input.txt").write_text("an earlier test's input")
    earlier.close()
    later = open_submission(sandbox)
    try:
        probe_module = later.module("probe")
        assert probe_module.write(str(later.workdir / "mine.txt")) is True
        assert probe_module.read(str(later.workdir / "mine.txt")) == "x"
        assert probe_module.make_temporary().startswith(str(later.workdir))
        assert probe_module.listdir_or_none(str(later.workdir.parent)) is None
        for name in ("note.txt", "input.txt"):
            with pytest.raises(SubmissionRaised, match="PermissionError"):
                probe_module.read(str(earlier.workdir / name))
        with pytest.raises(SubmissionRaised, match="PermissionError"):
            probe_module.write(str(earlier.workdir / "planted.txt"))
        assert probe_module.read(str(sandbox.public_dir / "data" / "input.txt")) == "public data"
    finally:
        later.close()
    assert not (earlier.workdir / "planted.txt").exists()


def test_no_ipc_object_outlives_a_test(sandbox: Sandbox, probe: tuple[Submission, Any]) -> None:
    """System V shared memory, semaphores and message queues outlive the process that made them,
    in the IPC namespace every test of a submission shares: none may be made at all."""
    needs(sandbox, "userns")
    _, module = probe
    assert module.sysv_ipc() == {"shm": False, "sem": False, "msg": False}


def test_no_links_or_fifos_even_in_scratch(sandbox: Sandbox, probe: tuple[Submission, Any]) -> None:
    needs(sandbox, "landlock")
    submission, module = probe
    with pytest.raises(SubmissionRaised):
        module.symlink("/etc/passwd", str(submission.workdir / "link"))
    with pytest.raises(SubmissionRaised):
        module.fifo(str(submission.workdir / "pipe"))


def test_no_network(sandbox: Sandbox, probe: tuple[Submission, Any], tmp_path: Path) -> None:
    needs(sandbox, "netns")
    _, module = probe
    listener = socket.create_server(("127.0.0.1", 0))
    path = str(tmp_path / "service.sock")
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(path)
    unix.listen()
    try:
        with pytest.raises(SubmissionRaised) as excinfo:
            module.tcp(listener.getsockname()[1])
        assert excinfo.value.is_a("OSError")
        with pytest.raises(SubmissionRaised):
            module.unix(path)
    finally:
        listener.close()
        unix.close()


def test_only_its_own_processes_are_visible_and_none_can_be_signalled(
    sandbox: Sandbox, probe: tuple[Submission, Any]
) -> None:
    needs(sandbox, "pidns", "procfs")
    _, module = probe
    assert len(module.processes()) <= 3  # the worker's, the zygote, this child
    if "landlock" in sandbox.confinement and landlock_abi() >= 6:
        with pytest.raises(SubmissionRaised, match="PermissionError"):
            module.signal_parent()  # a test's own Landlock layer scopes its signals to its processes
    else:
        module.signal_parent()  # PID 1 of its namespace ignores it
    assert module.remember("alive") == ["alive"]


def test_processes_are_bounded_and_cleaned_up(sandbox: Sandbox, probe: tuple[Submission, Any]) -> None:
    needs(sandbox, "cgroup:pids")
    _, module = probe
    made = module.forks(100)
    assert 0 < made < 32


def test_a_daemon_dies_with_its_test(sandbox: Sandbox, tmp_path: Path) -> None:
    needs(sandbox, "pidns")
    submission = open_submission(sandbox)
    target = submission.workdir / "daemon.txt"
    assert submission.module("probe").daemon(str(target)) is True
    submission.close()
    time.sleep(2)
    assert not target.exists()


def test_a_hang_is_a_timeout_and_the_next_test_gets_a_new_worker(
    sandbox: Sandbox, probe: tuple[Submission, Any]
) -> None:
    _, module = probe
    started = time.monotonic()
    with pytest.raises(SubmissionTimeout):
        module.hang()
    assert time.monotonic() - started < 6
    fresh = open_submission(sandbox)
    try:
        assert fresh.module("probe").remember("again") == ["again"]
    finally:
        fresh.close()


def test_a_segfault_is_a_crash(probe: tuple[Submission, Any]) -> None:
    _, module = probe
    with pytest.raises(SubmissionCrashed, match="SIGSEGV"):
        module.crash()


def test_memory_is_capped(probe: tuple[Submission, Any]) -> None:
    _, module = probe
    with pytest.raises(SubmissionMemoryError):
        module.hoard(1024)


def test_output_is_capped_and_flagged(sandbox: Sandbox, probe: tuple[Submission, Any]) -> None:
    _, module = probe
    with pytest.raises(SubmissionRaised) as excinfo:
        module.flood(8)  # 8 MiB against a cap of 2
    assert excinfo.value.is_a("OSError")
    probe[0].close()
    assert "output_truncated" in sandbox.flags


def test_only_declared_distributions_and_the_stdlib_are_importable(probe: tuple[Submission, Any]) -> None:
    """Issue #8: a benchmark package installed beside the grader held the answers, and the sandbox
    could import it. The probe task declares no dependencies."""
    _, module = probe
    found = module.importable(["fractions", "sqlite3", "json", "yaml", "pydantic", "pytest", "pytest_rlgrade"])
    assert found == {
        "fractions": True,
        "sqlite3": True,
        "json": True,
        "yaml": False,
        "pydantic": False,
        "pytest": False,
        "pytest_rlgrade": False,
    }


def test_site_packages_shows_only_what_was_declared(sandbox: Sandbox, probe: tuple[Submission, Any]) -> None:
    needs(sandbox, "private-root")
    _, module = probe
    from pytest_rlgrade.distributions import site_dirs

    for site in site_dirs():
        listed = module.listdir_or_none(site)
        assert listed in (None, []), (site, listed)


def test_a_declared_distribution_brings_what_it_needs(tmp_path: Path) -> None:
    task = tmp_path / "tasks" / "probe"
    (task / "tests").mkdir(parents=True)
    (task / "task.yaml").write_text("name: probe\npackage: probe\ndependencies: [jsonschema]\n")
    (tmp_path / "submission" / "probe").mkdir(parents=True)
    (tmp_path / "submission" / "probe" / "__init__.py").write_text(PROBE)
    box = Sandbox(load_task(task), tmp_path / "submission")
    try:
        box.ensure_ready()
        submission = open_submission(box)
        found = submission.module("probe").importable(["jsonschema", "referencing", "rpds", "yaml", "pytest"])
        submission.close()
    finally:
        box.close()
    assert found == {"jsonschema": True, "referencing": True, "rpds": True, "yaml": False, "pytest": False}


@pytest.fixture
def two_submissions(sandbox: Sandbox, tmp_path: Path) -> Iterator[tuple[Sandbox, Sandbox]]:
    """Two submissions of one task, served by the same warm pool (as the grading engine does)."""
    boxes = []
    for name in ("first", "second"):
        folder = tmp_path / name / "probe"
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text(PROBE + f"\nNAME = {name!r}\n")
        box = sandbox.pool.open(tmp_path / name)
        box.start()
        box.ensure_ready()
        boxes.append(box)
    yield boxes[0], boxes[1]
    for box in boxes:
        box.close()


def test_submissions_of_one_pool_cannot_see_each_other(two_submissions: tuple[Sandbox, Sandbox]) -> None:
    first, second = two_submissions
    a, b = open_submission(first), open_submission(second)
    try:
        needs(first, "landlock")
        assert a.module("probe").write(str(a.workdir / "secret.txt")) is True
        other = b.module("probe")
        for path in (a.workdir / "secret.txt", first.submission_dir / "probe" / "__init__.py"):
            with pytest.raises(SubmissionRaised):
                other.read(str(path))
        with pytest.raises(SubmissionRaised):
            other.write(str(a.workdir / "planted.txt"))
        assert not (a.workdir / "planted.txt").exists()
        if "private-root" in second.confinement:  # not even the names of the others' folders
            assert other.listdir_or_none(str(first.pool.stage)) in (None, [second.sid])
            assert other.listdir_or_none(str(first.pool.scratch)) in (None, [second.sid])
            assert other.exists(str(first.submission_dir)) is False
    finally:
        a.close()
        b.close()


def test_a_spare_tree_serves_the_next_submission_confined_as_any(sandbox: Sandbox, tmp_path: Path) -> None:
    """A grader worker forks the next submission's tree before its files exist: the files copied
    in later are what it runs, its neighbours stay out of sight, and nothing of it outlives it."""
    pool = sandbox.pool
    first_folder = tmp_path / "first" / "probe"
    first_folder.mkdir(parents=True)
    (first_folder / "__init__.py").write_text(PROBE + "\nNAME = 'first'\n")
    first = pool.open(tmp_path / "first")
    first.start()
    first.ensure_ready()
    pool.make_spare()  # while the first is open, as between two jobs
    assert len(pool.spares) == SPARES
    spare, later = pool.spares[0], pool.spares[-1]
    assert (pool.stage / spare.sid).is_dir()
    assert later.sid != spare.sid
    late = tmp_path / "late" / "probe"
    late.mkdir(parents=True)
    (late / "__init__.py").write_text("NAME = 'late'\n" + PROBE)
    second = pool.open(tmp_path / "late")
    assert second.sid == spare.sid  # the oldest
    assert len(pool.spares) == SPARES - 1
    assert later in pool.spares
    a = b = None
    try:
        second.start()
        second.ensure_ready()
        assert second.confinement == first.confinement
        a, b = open_submission(first), open_submission(second)
        other = b.module("probe")
        assert "NAME = 'late'" in other.read(str(second.submission_dir / "probe" / "__init__.py"))
        needs(second, "landlock")
        with pytest.raises(SubmissionRaised):
            other.read(str(first.submission_dir / "probe" / "__init__.py"))
        if "private-root" in second.confinement:
            assert other.listdir_or_none(str(pool.stage)) in (None, [second.sid])
    finally:
        for submission in (a, b):
            if submission is not None:
                submission.close()
        first.close()
        second.close()
    pool.spares.appendleft(spare)  # what the worker's own copy of the pool still holds
    pool.retire_spare()
    assert not (pool.stage / spare.sid).exists()
    assert not (pool.scratch / spare.sid).exists()
    assert spare not in pool.spares
    assert later in pool.spares
    pool.retire_spares()
    assert not pool.spares
    assert not (pool.stage / later.sid).exists()


def test_a_submission_cannot_signal_its_neighbour(two_submissions: tuple[Sandbox, Sandbox]) -> None:
    first, second = two_submissions
    needs(first, "pidns")
    a, b = open_submission(first), open_submission(second)
    try:
        victim = a.module("probe")
        assert victim.remember("alive") == ["alive"]
        attacker = b.module("probe")
        # It sees only its own PID namespace: the neighbour's processes are not there to signal.
        assert len(attacker.processes()) <= 3
        attacker.kill_everything()
        assert victim.remember("still") == ["alive", "still"]
    finally:
        a.close()
        b.close()


def test_killing_one_submission_leaves_its_neighbour_running(two_submissions: tuple[Sandbox, Sandbox]) -> None:
    first, second = two_submissions
    a, b = open_submission(first), open_submission(second)
    try:
        assert a.module("probe").remember(1) == [1]
        with pytest.raises(SubmissionTimeout):
            b.module("probe").hang()
        assert a.module("probe").remember(2) == [1, 2]  # the same process, untouched
    finally:
        a.close()
        b.close()


def test_each_test_has_a_writable_temporary_folder(probe: tuple[Submission, Any]) -> None:
    submission, module = probe
    made = module.make_temporary()
    assert made.startswith(str(submission.workdir))


def test_a_submission_is_warmed_without_running_any_of_it(sandbox: Sandbox) -> None:
    """The first test's spawn compiles the submission's modules and imports the standard-library
    modules they use, once, in the submission's own tree; its code still runs in each test's
    process, at that test's import, in that test's folder."""
    seen = []
    for _ in range(2):
        submission = open_submission(sandbox)
        try:
            probe = submission.module("probe")
            # imported ahead: used only inside a function of probe.side, never imported by a test yet
            assert probe.modules(["statistics", "probe.side"]) == {"statistics": True, "probe.side": False}
            side = submission.module("probe.side")
            assert "CompiledAheadLoader" in repr(submission.getattr(side, "__loader__"))
            assert side.median([3, 1, 2]) == 2
            marker = submission.workdir / "imported-here"
            assert marker.read_text().count("\n") == 1, "the module ran once, in this test's process"
            seen.append(int(marker.read_text()))
        finally:
            submission.close()
    assert seen[0] != seen[1]
    assert not list(sandbox.scratch.glob("imported-here")), "nothing of the submission ran in its tree"


def test_a_module_that_does_not_compile_fails_at_its_own_import(probe: tuple[Submission, Any]) -> None:
    submission, _ = probe
    with pytest.raises(SubmissionRaised) as raised:
        submission.module("probe.broken")
    assert raised.value.is_a("SyntaxError")
    assert "broken.py" in raised.value.remote_traceback
    assert "line 5" in raised.value.remote_traceback


WARM_CHECK = """
import json, os, sys, time
from pytest_rlgrade.runtime import worker

stdlib, stage, marker = sys.argv[1:4]
sys.path[:0] = [stdlib, stage]
done = worker.import_stdlib_ahead(
    ["fakestd", "uses_sub", "colorsys", "yaml", "mysub", "this"], [stdlib], {"mysub"}, time.monotonic() + 30
)
print(json.dumps({
    "done": done,
    "imported": {n: n in sys.modules for n in ["fakestd", "uses_sub", "colorsys", "yaml", "mysub", "this"]},
    "marker": os.path.exists(marker),
    "meta_path_restored": not any(type(f).__name__ == "_Refuse" for f in sys.meta_path),
}))
"""


def test_only_the_standard_library_is_imported_ahead(tmp_path: Path) -> None:
    """``import_stdlib_ahead`` imports modules found in the standard library's folders and
    nothing else: not a third-party library, not the submission's own module, not a
    standard-library module whose import would reach the submission's, and not one that acts
    when imported."""
    import json
    import subprocess
    import sys
    import sysconfig

    fake_stdlib, stage = tmp_path / "stdlib", tmp_path / "stage"
    fake_stdlib.mkdir()
    stage.mkdir()
    marker = tmp_path / "submission-ran"
    (fake_stdlib / "fakestd.py").write_text("VALUE = 1\n")
    (fake_stdlib / "uses_sub.py").write_text("import mysub\n")
    (stage / "mysub.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    stdlib_dirs = json.dumps([str(fake_stdlib), sysconfig.get_paths()["stdlib"]])
    done = subprocess.run(
        [sys.executable, "-c", WARM_CHECK.replace("[stdlib]", stdlib_dirs), str(fake_stdlib), str(stage), str(marker)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["done"] == ["fakestd", "colorsys"]
    assert result["imported"] == {
        "fakestd": True,
        "uses_sub": False,
        "colorsys": True,
        "yaml": False,
        "mysub": False,
        "this": False,  # prints when imported
    }
    assert not result["marker"], "the submission's module ran"
    assert result["meta_path_restored"]


def test_code_compiled_ahead_is_the_code_the_import_compiles(tmp_path: Path) -> None:
    """Every shipped reference module compiles ahead to the very code object its import would
    make; a file changed afterwards is compiled again."""
    import time

    from pytest_rlgrade.runtime import worker

    root = Path(__file__).resolve().parent.parent / "reference"
    try:
        worker.compile_ahead(str(root), time.monotonic() + 60)
        sources = sorted(root.rglob("*.py"))
        assert sources
        assert len(worker._COMPILED) == len(sources)
        for path in sources:
            expected = compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
            assert worker._COMPILED[str(path)][2] == expected, path
        module = tmp_path / "changing.py"
        module.write_text("VALUE = 1\n")
        worker.compile_ahead(str(tmp_path), time.monotonic() + 60)
        loader = worker.CompiledAheadLoader("changing", str(module))
        assert loader.get_code("changing") is worker._COMPILED[str(module)][2]
        module.write_text("VALUE = 22\n")
        assert 22 in loader.get_code("changing").co_consts
    finally:
        worker._COMPILED.clear()


def test_the_imports_a_source_names_are_found_at_any_depth() -> None:
    from pytest_rlgrade.runtime.worker import imported_names

    source = b"""import os, sys as system
from . import sibling
from .near import thing
def f():
    from collections.abc import (
        Mapping,
    )
    import xml.dom.minidom as dom
# import commented
importlib = "import in_a_string"
"""
    assert imported_names([source]) == ["collections.abc", "os", "sys", "xml.dom.minidom"]


def test_the_next_tests_process_is_forked_ahead_and_is_still_fresh(sandbox: Sandbox) -> None:
    needs(sandbox, "procfs")
    first = open_submission(sandbox)
    assert first.module("probe").remember("first") == ["first"]
    first.close()
    time.sleep(0.5)  # the zygote forks the next test's process meanwhile
    second = open_submission(sandbox)
    try:
        module = second.module("probe")
        assert module.age() >= 0.4  # it was waiting before this test asked for it
        assert module.remember("second") == ["second"]  # and it has run nothing of the first
    finally:
        second.close()


def test_a_spare_process_that_died_between_tests_costs_the_next_test_nothing(sandbox: Sandbox) -> None:
    needs(sandbox, "cgroup:pids", "pidns")
    first = open_submission(sandbox)
    assert first.module("probe").remember("first") == ["first"]
    first.close()
    assert sandbox.cgroups is not None
    deadline = time.monotonic() + 5
    spare = seen = None
    while spare is None and time.monotonic() < deadline:  # the zygote's only live child, twice
        pids = {int(p) for path in sandbox.cgroups.procs for p in Path(path).read_text().split()}
        status = {pid: _status(pid) for pid in pids}
        children = [
            pid
            for pid, fields in status.items()
            if int(fields.get("PPid", "0")) in pids and fields.get("State", "Z")[0] not in "ZX"
        ]
        now = children[0] if len(children) == 1 else None
        spare, seen = (now if now is not None and now == seen else None), now
        time.sleep(0.05)
    assert spare is not None, "no process was forked ahead for the next test"
    import os
    import signal

    os.kill(spare, signal.SIGKILL)
    time.sleep(0.1)
    second = open_submission(sandbox)
    try:
        assert second.module("probe").remember("second") == ["second"]
    finally:
        second.close()


def _status(pid: int) -> dict[str, str]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def test_a_tree_that_died_during_a_test_is_replaced_for_the_next(sandbox: Sandbox) -> None:
    """Where the submission can reach its tree's zygote (no PID namespace), it may kill it; the
    test's end then finds the tree gone (the clean's answer never comes) and the next test gets a
    new tree. Here the supervisor's side kills it, in any configuration."""
    needs(sandbox, "cgroup:pids")
    first = open_submission(sandbox)
    assert first.module("probe").remember("first") == ["first"]
    assert sandbox.cgroups is not None
    pids = {int(p) for path in sandbox.cgroups.procs for p in Path(path).read_text().split()}
    zygotes = [pid for pid in pids if int(_status(pid).get("PPid", "0")) not in pids]
    assert len(zygotes) == 1
    import os
    import signal

    old_control = sandbox.control
    os.kill(zygotes[0], signal.SIGKILL)
    time.sleep(0.1)
    first.close()
    second = open_submission(sandbox)
    try:
        assert second.module("probe").remember("second") == ["second"]
        assert sandbox.control is not old_control  # a new tree
    finally:
        second.close()


def test_finished_tests_leave_no_exit_records_behind(sandbox: Sandbox) -> None:
    for index in range(4):
        submission = open_submission(sandbox)
        assert submission.module("probe").remember(index) == [index]
        submission.close()
    closing = open_submission(sandbox)
    closing.module("probe")
    closing.close()
    assert sandbox.exits == {}
