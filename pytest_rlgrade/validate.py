"""``rlgrade validate [NAME ...]``: check that a task's grader is sound, one line per check.

For each task (default: every ``tasks/*/task.yaml`` under ``--root``):

- ``selectors``: every weight and gate selector of the manifest picks a collected test, and no
  weight selector is shadowed by earlier ones (first match wins);
- ``reference``: the reference earns 1.0 on ``--seeds`` seeds;
- ``starter``: the starter earns at most ``reward.starter_cap``;
- ``determinism``: the same submission and seed, graded twice, give the same report (outcomes,
  reward, metrics, flags; durations and messages aside);
- ``dependencies``: the declared ``dependencies`` and ``preload`` modules import in the sandbox;
- ``free credit``: no test passes for a submission without the package, or with an empty one;
- ``exploits``: each generic exploit of the corpus shipped in ``pytest_rlgrade/exploits/``,
  applied to the starter, earns no more than the starter does;
- ``kill rate``: the share of the reference's (non-equivalent) mutants that earn less than 1.0 is
  at least ``reward.min_kill_rate``. Mutants are graded in a fixed order that spreads them over
  the code, for at most ``--budget`` seconds; the survivors are written as diffs.

Exit status 0 when every check of every task passes, 1 when one fails, 2 on bad usage.

Every grading goes through :meth:`Engine.grade`: with ``pytest_rlgrade.Grader`` (the grading
engine) when the package has it, else through the command line, ``workers`` at a time.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ManifestError
from .manifest import Task, discover_tasks, load_task, selector_matches

DEFAULT_SEEDS = 5
DEFAULT_BUDGET = 120.0  # seconds of mutant grading per task: most of a CI minute budget
DEFAULT_WORKERS = 2
DEFAULT_OUT = "rlgrade-validate"
EXPLOITS_DIR = Path(__file__).with_name("exploits")
PACKAGE_TOKEN = "__PACKAGE__"
CHECKS = (
    "selectors",
    "reference",
    "starter",
    "determinism",
    "dependencies",
    "free-credit",
    "exploits",
    "kill-rate",
)
EPSILON = 1e-9


class ValidateError(Exception):
    """A problem with the command's input (unknown task, bad option): exit status 2."""


# -- grading ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Graded:
    """What one grading said, in the terms the checks need."""

    reward: float | None
    outcomes: dict[str, str]  # test id (relative to the task's tests folder) -> outcome
    metrics: dict[str, tuple[float | None, float]]  # name -> (value, credit)
    flags: tuple[str, ...]
    error: str | None = None

    def fingerprint(self) -> dict[str, Any]:
        """What the same submission and seed must reproduce (not durations or messages)."""
        return {"reward": self.reward, "outcomes": self.outcomes, "metrics": self.metrics, "flags": self.flags}

    @property
    def passed(self) -> list[str]:
        return [test for test, outcome in self.outcomes.items() if outcome == "passed"]


def graded_from_report(data: Mapping[str, Any] | None, task: str, error: str | None = None) -> Graded:
    """A :class:`Graded` from a report's JSON data (``None``: no report, ``error`` says why)."""
    if not data:
        return Graded(None, {}, {}, (), error or "no report was written")
    entry = next((t for t in data.get("tasks", []) if t.get("name") == task), None)
    if entry is None:
        return Graded(None, {}, {}, (), f"the report has no task {task!r}")
    outcomes = {}
    for test in entry.get("tests", []):
        node = str(test.get("node_id", ""))
        marker = f"tasks/{task}/tests/"
        outcomes[node.split(marker, 1)[1] if marker in node else node] = str(test.get("outcome"))
    metrics = {
        str(m.get("name")): (m.get("value"), float(m.get("credit", 0.0))) for m in entry.get("metrics", []) or []
    }
    reward = entry.get("reward")
    return Graded(
        None if reward is None else float(reward),
        outcomes,
        metrics,
        tuple(sorted(entry.get("flags", []))),
        entry.get("error") or error,
    )


def grader_available() -> bool:
    try:
        module = importlib.import_module("pytest_rlgrade")
    except ImportError:  # pragma: no cover - we are inside it
        return False
    return hasattr(module, "Grader")


class Engine:
    """Grades submissions of one task: the one seam between the checks and the grading engine.

    ``engine`` is ``grader`` (``pytest_rlgrade.Grader``, ``workers`` processes, warm between
    gradings), ``cli`` (``python -m pytest --submission=...`` from ``root``, ``workers`` at a time)
    or ``auto`` (the first when the package has it). The environment variable
    ``RLGRADE_VALIDATE_ENGINE`` overrides ``auto``. Every test runs, even after a failed gate
    (``--rlgrade-run-all``): a test that passes without the submission shows only that way.
    """

    def __init__(self, root: Path, task: Task, workers: int = DEFAULT_WORKERS, engine: str = "auto") -> None:
        self.root = root
        self.task = task
        self.workers = max(1, workers)
        if engine == "auto":
            engine = os.environ.get("RLGRADE_VALIDATE_ENGINE") or ("grader" if grader_available() else "cli")
        if engine not in ("grader", "cli"):
            raise ValidateError(f"unknown grading engine {engine!r} (choose auto, grader or cli)")
        self.kind = engine
        self._grader: Any = None
        self._stack = ExitStack()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()
        self._grader = None

    def grade(self, jobs: Sequence[tuple[Path, int]]) -> list[Graded]:
        """Grade each (submission folder laid out like ``starter/NAME/``, seed), in input order.

        A grading the harness could not finish (reward null) is tried once more before it is
        returned as such."""
        results = self._grade(jobs)
        again = [i for i, graded in enumerate(results) if graded.reward is None]
        if again:
            for i, graded in zip(again, self._grade([jobs[i] for i in again]), strict=True):
                results[i] = graded
        return results

    def _grade(self, jobs: Sequence[tuple[Path, int]]) -> list[Graded]:
        if not jobs:
            return []
        if self.kind == "grader":
            return self._grade_with_grader(jobs)
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(lambda job: self._grade_cli(*job), jobs))

    def _grade_with_grader(self, jobs: Sequence[tuple[Path, int]]) -> list[Graded]:
        if self._grader is None:
            from pytest_rlgrade import Grader

            self._grader = self._stack.enter_context(
                Grader(root=self.root, tasks=[self.task.name], workers=self.workers, run_all=True)
            )
        results: list[Graded | None] = [None] * len(jobs)
        by_seed: dict[int, list[int]] = {}
        for index, (_, seed) in enumerate(jobs):
            by_seed.setdefault(seed, []).append(index)
        for seed, indices in by_seed.items():
            reports = self._grader.grade_many([str(jobs[i][0]) for i in indices], task=self.task.name, seed=seed)
            for i, report in zip(indices, reports, strict=True):
                data = report.model_dump(mode="json") if hasattr(report, "model_dump") else report
                results[i] = graded_from_report(data, self.task.name)
        return [r if r is not None else Graded(None, {}, {}, (), "not graded") for r in results]

    def _grade_cli(self, submission: Path, seed: int) -> Graded:
        with tempfile.TemporaryDirectory(prefix="rlgrade-validate-") as scratch:
            report = Path(scratch) / "report.json"
            command = [
                sys.executable,
                "-m",
                "pytest",
                f"--submission={submission}",
                f"--task={self.task.name}",
                f"--rlgrade-seed={seed}",
                f"--rlgrade-report={report}",
                f"--rootdir={self.root}",
                "--import-mode=importlib",
                "--rlgrade-run-all",
                "-q",
                "-p",
                "no:cacheprovider",
            ]
            limit = self.task.manifest.limits.task_timeout + 120
            try:
                done = subprocess.run(
                    command,
                    cwd=self.root,
                    capture_output=True,
                    text=True,
                    timeout=limit,
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
                    start_new_session=True,  # what a submission signals is never the validator's group
                )
            except subprocess.TimeoutExpired:
                return Graded(None, {}, {}, (), f"grading took more than {limit:.0f} s")
            data = None
            if report.is_file():
                try:
                    data = json.loads(report.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    return Graded(None, {}, {}, (), f"unreadable report: {exc}")
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            return graded_from_report(data, self.task.name, f"exit status {done.returncode}: " + " | ".join(tail))


# -- checks -------------------------------------------------------------------------------------------


@dataclass
class Check:
    """The verdict of one check: a line with its figure, and lines that explain a failure."""

    name: str
    passed: bool
    figure: str
    details: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        status = "ok  " if self.passed else "FAIL"
        return [f"  {status}  {self.name:<13} {self.figure}", *(f"          {d}" for d in self.details)]


@dataclass
class Options:
    seeds: int = DEFAULT_SEEDS
    seed: int = 0
    budget: float = DEFAULT_BUDGET
    max_mutants: int | None = None
    mutation_seed: int = 0
    workers: int = DEFAULT_WORKERS
    out: Path = Path(DEFAULT_OUT)
    skip: frozenset[str] = frozenset()
    engine: str = "auto"
    progress: bool = False


def collect(root: Path, task: Task) -> dict[str, set[str]]:
    """The task's tests as pytest collects them: test id -> its markers' names.

    Runs in a child process (collecting imports the task's trusted test code; a broken task must
    not take the validator with it). Raises :class:`ManifestError` naming the collection error."""
    with tempfile.TemporaryDirectory(prefix="rlgrade-collect-") as scratch:
        out = Path(scratch) / "collected.json"
        code = "import sys; from pytest_rlgrade.validate import _collect_main; sys.exit(_collect_main(sys.argv[1:]))"
        done = subprocess.run(
            [sys.executable, "-c", code, str(root), str(task.tests_dir), str(out)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0 or not out.is_file():
            lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
            errors = [line for line in lines if line.startswith(("E ", "ERROR"))] or lines[-5:]
            raise ManifestError(task.tests_dir, None, "the tests do not collect: " + " | ".join(errors[:5]))
        data = json.loads(out.read_text(encoding="utf-8"))
    return {test: set(markers) for test, markers in data.items()}


def _collect_main(argv: Sequence[str]) -> int:
    """The child of :func:`collect`: ``ROOT TESTS_DIR OUT``."""
    import pytest

    root, tests_dir, out = (Path(a) for a in argv)

    class Collector:
        def __init__(self) -> None:
            self.items: dict[str, list[str]] = {}

        def pytest_collection_finish(self, session: pytest.Session) -> None:
            for item in session.items:
                relative = Path(item.path).resolve().relative_to(tests_dir.resolve()).as_posix()
                test_id = relative + item.nodeid[item.nodeid.index("::") :] if "::" in item.nodeid else relative
                self.items[test_id] = sorted({m.name for m in item.iter_markers()})

    collector = Collector()
    status = pytest.main(
        [
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "--import-mode=importlib",
            f"--rootdir={root}",
            str(tests_dir),
        ],
        plugins=[collector],
    )
    if status not in (0, 5):
        return int(status)
    out.write_text(json.dumps(collector.items), encoding="utf-8")
    return 0


def check_selectors(task: Task, collected: Mapping[str, set[str]]) -> Check:
    spec = task.manifest.reward
    problems = []
    claimed: set[str] = set()
    for selector in spec.weights:
        matches = {t for t, markers in collected.items() if selector_matches(selector, t, markers)}
        if not matches:
            problems.append(f"weight selector {selector!r} picks no test")
        elif matches <= claimed:
            problems.append(f"weight selector {selector!r} never applies: earlier selectors pick all its tests")
        claimed |= matches
    for selector in spec.gates:
        if not any(selector_matches(selector, t, markers) for t, markers in collected.items()):
            problems.append(f"gate {selector!r} picks no test")
    figure = f"{len(spec.weights)} weights, {len(spec.gates)} gates over {len(collected)} collected tests"
    if problems:
        return Check("selectors", False, f"{figure}: {len(problems)} selectors pick nothing", problems)
    return Check("selectors", True, f"{figure}: each picks a test")


def _failing(graded: Graded) -> str:
    if graded.reward is None:
        return f"not graded ({graded.error})"
    failed = [t for t, outcome in graded.outcomes.items() if outcome != "passed"]
    metrics = [f"{name} credit {credit:.3f}" for name, (_, credit) in graded.metrics.items() if credit < 1 - EPSILON]
    return ", ".join([*(f"{t}: {graded.outcomes[t]}" for t in failed[:4]), *metrics[:3]]) or "?"


def check_reference(seeds: Sequence[int], results: Sequence[Graded]) -> Check:
    bad = [(s, g) for s, g in zip(seeds, results, strict=True) if g.reward is None or g.reward < 1 - EPSILON]
    rewards = [g.reward for g in results]
    worst = min((r for r in rewards if r is not None), default=None)
    shown = ", ".join(str(s) for s in seeds)
    if not bad:
        return Check("reference", True, f"1.0 on {len(seeds)} of {len(seeds)} seeds ({shown})")
    figure = f"below 1.0 on {len(bad)} of {len(seeds)} seeds (lowest {_fmt(worst)})"
    return Check("reference", False, figure, [f"seed {s}: reward {_fmt(g.reward)}: {_failing(g)}" for s, g in bad])


def check_starter(task: Task, graded: Graded) -> Check:
    cap = task.manifest.reward.starter_cap
    if graded.reward is None:
        return Check("starter", False, f"not graded: {graded.error}")
    if graded.reward > cap + EPSILON:
        passed = graded.passed
        return Check(
            "starter",
            False,
            f"{graded.reward:.4f} > cap {cap:.4f}",
            [f"passes {len(passed)} tests, e.g. {', '.join(passed[:5])}"],
        )
    return Check("starter", True, f"{graded.reward:.4f} <= cap {cap:.4f}")


def check_determinism(pairs: Sequence[tuple[str, int, Graded, Graded]]) -> Check:
    problems = []
    for label, seed, first, second in pairs:
        a, b = first.fingerprint(), second.fingerprint()
        if a == b:
            continue
        if a["reward"] != b["reward"]:
            problems.append(f"{label}, seed {seed}: reward {_fmt(a['reward'])} then {_fmt(b['reward'])}")
        differ = sorted(
            t for t in set(a["outcomes"]) | set(b["outcomes"]) if a["outcomes"].get(t) != b["outcomes"].get(t)
        )
        problems += [
            f"{label}, seed {seed}: {t} {a['outcomes'].get(t)} then {b['outcomes'].get(t)}" for t in differ[:5]
        ]
        for name in sorted(set(a["metrics"]) | set(b["metrics"])):
            if a["metrics"].get(name) != b["metrics"].get(name):
                problems.append(
                    f"{label}, seed {seed}: metric {name} {a['metrics'].get(name)} then {b['metrics'].get(name)}"
                )
        if a["flags"] != b["flags"]:
            problems.append(f"{label}, seed {seed}: flags {list(a['flags'])} then {list(b['flags'])}")
    labels = " and ".join(f"{label} (seed {seed})" for label, seed, _, _ in pairs)
    if problems:
        return Check("determinism", False, f"{len(problems)} differences between two gradings", problems)
    return Check("determinism", True, f"identical reports, graded twice: {labels}")


def check_free_credit(none: Graded, empty: Graded) -> Check:
    problems = []
    for label, graded in (("no package", none), ("an empty package", empty)):
        if graded.reward is None:
            problems.append(f"with {label}: not graded ({graded.error})")
        for test in graded.passed:
            problems.append(f"{test} passes with {label}")
    total = max(len(none.outcomes), len(empty.outcomes))
    if problems:
        return Check("free credit", False, f"{len(problems)} tests pass without using the submission", problems)
    return Check("free credit", True, f"no test passes without the package or with an empty one (0 of {total})")


def check_exploits(starter: Graded, exploits: Sequence[tuple[str, Graded]]) -> Check:
    if starter.reward is None:
        return Check("exploits", False, f"the starter was not graded: {starter.error}")
    worse = [(n, g) for n, g in exploits if g.reward is not None and g.reward > starter.reward + EPSILON]
    ungraded = [(n, g) for n, g in exploits if g.reward is None]
    graded = [(n, g) for n, g in exploits if g.reward is not None]
    best = max(graded, key=lambda ng: ng[1].reward or 0.0, default=None)
    details = [
        f"{name}: {g.reward:.4f}, passes {', '.join(t for t in g.passed if t not in starter.passed)[:300]}"
        for name, g in worse
    ]
    details += [f"{name}: not graded ({g.error})" for name, g in ungraded]
    best_text = f"best {best[1].reward:.4f} ({best[0]})" if best else "none graded"
    figure = f"{len(exploits)} exploits on the starter: {best_text}, starter {starter.reward:.4f}"
    if worse or ungraded:
        return Check("exploits", False, f"{figure}; {len(worse)} earn more", details)
    return Check("exploits", True, figure)


def _fmt(value: float | None) -> str:
    return "null" if value is None else f"{value:.4f}"


# -- submissions the checks make ----------------------------------------------------------------------


@dataclass(frozen=True)
class Exploit:
    """A generic attack, applied to a copy of the starter (see ``pytest_rlgrade/exploits/``)."""

    name: str
    description: str
    files: dict[str, str] = field(default_factory=dict)
    prepend: str = ""
    append: str = ""
    symlinks: dict[str, str] = field(default_factory=dict)

    def apply(self, folder: Path, package: str) -> None:
        """Change the submission in ``folder`` (laid out like ``starter/NAME/``) in place."""
        modules = sorted((folder / package).rglob("*.py")) if (folder / package).is_dir() else []
        if (folder / f"{package}.py").is_file():
            modules.append(folder / f"{package}.py")
        for module in modules:
            text = module.read_text(encoding="utf-8")
            if self.prepend:
                text = _insert_at_top(text, self.prepend.replace(PACKAGE_TOKEN, package))
            if self.append:
                text = text.rstrip("\n") + "\n\n" + self.append.replace(PACKAGE_TOKEN, package)
            module.write_text(text, encoding="utf-8")
        for relative, content in self.files.items():
            path = folder / relative.replace(PACKAGE_TOKEN, package)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content.replace(PACKAGE_TOKEN, package), encoding="utf-8")
        for relative, target in self.symlinks.items():
            path = folder / relative.replace(PACKAGE_TOKEN, package)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(target.replace(PACKAGE_TOKEN, package))


def _insert_at_top(text: str, code: str) -> str:
    """``code`` as the first statements of a module: after its docstring and ``__future__`` imports."""
    import ast

    lines = text.splitlines(keepends=True)
    after = 0
    try:
        body = ast.parse(text).body
    except SyntaxError:
        body = []
    for index, node in enumerate(body):
        docstring = index == 0 and isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant)
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if not (docstring or future):
            break
        after = node.end_lineno or after
    return "".join(lines[:after]) + code.rstrip("\n") + "\n" + "".join(lines[after:])


def load_exploits(folder: Path = EXPLOITS_DIR) -> list[Exploit]:
    """The exploit corpus: every ``*.yaml`` of ``folder``, checked."""
    import yaml

    exploits = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ManifestError(path, None, f"not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ManifestError(path, None, "must be a mapping")
        unknown = set(data) - {"description", "files", "prepend", "append", "symlinks"}
        if unknown:
            raise ManifestError(path, sorted(unknown)[0], "unknown key")
        for key in ("files", "symlinks"):
            value = data.get(key, {})
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ManifestError(path, key, "must map paths to text")
        for key in ("description", "prepend", "append"):
            if not isinstance(data.get(key, ""), str):
                raise ManifestError(path, key, "must be text")
        if not data.get("description"):
            raise ManifestError(path, "description", "an exploit says what it tries")
        exploits.append(
            Exploit(
                path.stem,
                data["description"],
                dict(data.get("files", {})),
                data.get("prepend", ""),
                data.get("append", ""),
                dict(data.get("symlinks", {})),
            )
        )
    return exploits


def _copy_submission(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), symlinks=True)
    return dest


# -- the dependency probe ------------------------------------------------------------------------------


def importable_names(distribution: str) -> list[str]:
    """The top-level modules a distribution installs (``pyyaml`` -> ``yaml``); raises
    ``LookupError`` when it is not installed."""
    import importlib.metadata as metadata
    import re

    def normal(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise LookupError(f"{distribution} is not installed where grading runs") from None
    names = sorted(
        module
        for module, dists in metadata.packages_distributions().items()
        if any(normal(d) == normal(distribution) for d in dists)
        and not module.startswith("_")
        and module.isidentifier()
    )
    return names or [normal(distribution).replace("-", "_")]


PROBE_TEST = '''"""Made by `rlgrade validate`: each module the task declares imports in the sandbox."""

import pytest

MODULES = {modules!r}


@pytest.mark.parametrize("name", MODULES)
def test_imports_in_the_sandbox(submission, name):
    submission.module(name)
'''


def probe_task(task: Task, modules: Sequence[str], folder: Path) -> tuple[Path, Task]:
    """A copy of ``task`` under ``folder/tasks/`` whose only tests import ``modules`` in the
    sandbox (same package, public files, dependencies, preloads and limits); returns the root."""
    import yaml

    root = folder / "probe-root"
    task_dir = root / "tasks" / task.name
    (task_dir / "tests").mkdir(parents=True)
    manifest = task.manifest.model_dump(mode="json", exclude={"reward", "instances"})
    (task_dir / "task.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    for entry in task.manifest.public:
        source = task.folder / entry
        if source.is_dir():
            shutil.copytree(source, task_dir / entry)
        else:
            (task_dir / entry).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, task_dir / entry)
    prompt = task.folder / task.manifest.prompt
    if prompt.is_file():
        shutil.copy2(prompt, task_dir / task.manifest.prompt)
    (task_dir / "tests" / "test_probe.py").write_text(PROBE_TEST.format(modules=list(modules)), encoding="utf-8")
    return root, load_task(task_dir)


# -- one task -----------------------------------------------------------------------------------------


def validate_task(root: Path, task: Task, options: Options, say: Callable[[str], None]) -> list[Check]:
    """Run the checks on one task, printing each line as its check ends; returns the verdicts."""
    checks: list[Check] = []

    def done(check: Check) -> None:
        checks.append(check)
        for line in check.lines():
            say(line)

    skip = options.skip
    package = task.package
    reference = root / "reference" / task.name
    starter = root / "starter" / task.name
    for label, folder in (("reference", reference), ("starter", starter)):
        if not folder.is_dir():
            done(Check(label, False, f"no {label} folder at {folder}"))
    if len(checks):
        return checks

    if "selectors" not in skip:
        try:
            done(check_selectors(task, collect(root, task)))
        except ManifestError as exc:
            done(Check("selectors", False, str(exc)))
            return checks

    seeds = [options.seed + i for i in range(options.seeds)]
    with tempfile.TemporaryDirectory(prefix=f"rlgrade-validate-{task.name}-") as scratch_name:
        scratch = Path(scratch_name)
        jobs: list[tuple[str, Path, int]] = []
        if "reference" not in skip or "determinism" not in skip:
            jobs += [(f"reference@{s}", reference, s) for s in seeds]
        if {"starter", "exploits", "determinism"} - skip:
            jobs.append(("starter", starter, options.seed))
        if "determinism" not in skip:
            jobs += [("reference again", reference, options.seed), ("starter again", starter, options.seed)]
        if "free-credit" not in skip:
            nothing = scratch / "no-package"
            (nothing / task.name).mkdir(parents=True)
            empty = scratch / "empty-package" / package
            empty.mkdir(parents=True)
            (empty / "__init__.py").write_text("")
            jobs += [("no package", nothing, options.seed), ("empty package", empty.parent, options.seed)]
        exploits: list[Exploit] = []
        if "exploits" not in skip:
            exploits = load_exploits()
            for exploit in exploits:
                folder = _copy_submission(starter, scratch / "exploits" / exploit.name)
                exploit.apply(folder, package)
                jobs.append((f"exploit {exploit.name}", folder, options.seed))

        with Engine(root, task, options.workers, options.engine) as engine:
            graded = dict(zip([j[0] for j in jobs], engine.grade([(j[1], j[2]) for j in jobs]), strict=True))
            if "reference" not in skip:
                done(check_reference(seeds, [graded[f"reference@{s}"] for s in seeds]))
            if "starter" not in skip:
                done(check_starter(task, graded["starter"]))
            if "determinism" not in skip:
                done(
                    check_determinism(
                        [
                            ("reference", options.seed, graded[f"reference@{options.seed}"], graded["reference again"]),
                            ("starter", options.seed, graded["starter"], graded["starter again"]),
                        ]
                    )
                )
            if "dependencies" not in skip:
                done(check_dependencies(task, options, scratch))
            if "free-credit" not in skip:
                done(check_free_credit(graded["no package"], graded["empty package"]))
            if "exploits" not in skip:
                done(check_exploits(graded["starter"], [(e.name, graded[f"exploit {e.name}"]) for e in exploits]))
            if "kill-rate" not in skip:
                done(check_kill_rate(task, reference, engine, options, scratch))
    return checks


def check_dependencies(task: Task, options: Options, scratch: Path) -> Check:
    manifest = task.manifest
    modules: list[str] = []
    problems = []
    for distribution in manifest.dependencies:
        try:
            modules += importable_names(distribution)
        except LookupError as exc:
            problems.append(str(exc))
    modules += [m for m in manifest.preload if m not in modules]
    if not modules and not problems:
        return Check("dependencies", True, "none declared: the standard library only")
    figure = f"{len(manifest.dependencies)} distributions, {len(manifest.preload)} preloads ({len(modules)} modules)"
    if modules:
        probe_root, probe = probe_task(task, modules, scratch)
        submission = scratch / "probe-submission" / task.package
        submission.mkdir(parents=True)
        (submission / "__init__.py").write_text("")
        with Engine(probe_root, probe, 1, options.engine) as engine:
            (result,) = engine.grade([(submission.parent, options.seed)])
        if result.reward is None:
            problems.append(f"the probe was not graded: {result.error}")
        for test, outcome in result.outcomes.items():
            if outcome != "passed":
                problems.append(f"{test.split('[', 1)[-1].rstrip(']')} does not import in the sandbox ({outcome})")
    if problems:
        return Check("dependencies", False, f"{figure}: {len(problems)} problems", problems)
    return Check("dependencies", True, f"{figure} import in the sandbox")


def check_kill_rate(task: Task, reference: Path, engine: Engine, options: Options, scratch: Path) -> Check:
    from . import mutation

    minimum = task.manifest.reward.min_kill_rate
    mutants = mutation.mutants_of_package(reference, task.package)
    set_aside: dict[str, int] = {}
    gradable = []
    for mutant in mutants:
        reason = mutation.classify(mutant)
        if reason is None:
            gradable.append(mutant)
        else:
            kind = reason.split(":", 1)[0]
            set_aside[kind] = set_aside.get(kind, 0) + 1
    order = mutation.sample_order(gradable, options.mutation_seed)
    if options.max_mutants is not None:
        order = order[: options.max_mutants]
    killed, survived, errors = [], [], []
    out = options.out / task.name / "survivors"
    mutation.clear_diffs(out)
    started = time.monotonic()
    chunk = max(2, 2 * engine.workers)
    position = 0
    while position < len(order) and time.monotonic() - started < options.budget:
        batch = order[position : position + chunk]
        position += len(batch)
        jobs = []
        for number, mutant in enumerate(batch, position - len(batch)):
            folder = _copy_submission(reference, scratch / "mutants" / f"{number:04d}")
            (folder / mutant.path).write_text(mutant.source, encoding="utf-8")
            jobs.append((folder, options.seed))
        for mutant, graded in zip(batch, engine.grade(jobs), strict=True):
            if graded.reward is None:
                errors.append((mutant, graded))
                verdict = "not graded"
            elif graded.reward < 1 - EPSILON:
                killed.append(mutant)
                verdict = "killed"
            else:
                survived.append(mutant)
                mutation.write_diff(mutant, out, len(survived))  # as found: a long run can be read meanwhile
                verdict = "SURVIVED"
            if options.progress:
                print(
                    f"mutant {len(killed) + len(survived) + len(errors)}/{len(order)} {verdict}: {mutant.ident}",
                    file=sys.stderr,
                    flush=True,
                )
        for folder, _ in jobs:
            shutil.rmtree(folder, ignore_errors=True)
    judged = len(killed) + len(survived)
    aside = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(set_aside.items()))
    cut = f", budget of {options.budget:.0f} s reached" if position < len(order) else ""
    scope = (
        f"{judged} of {len(gradable)} gradable mutants graded ({mutation.engine()}; "
        f"{len(mutants)} made, set aside: {aside or 'none'}{cut})"
    )
    details = [f"survivor {m.ident}" for m in survived[:20]]
    details += [f"not graded {m.ident}: {g.error}" for m, g in errors[:5]]
    if judged == 0:
        return Check("kill rate", False, f"no mutant graded: {scope}", details)
    rate = len(killed) / judged
    figure = f"{rate:.4f} ({len(killed)} of {judged} killed) {'>=' if rate >= minimum else '<'} {minimum}: {scope}"
    if survived:
        figure += f"; survivors' diffs in {out}/"
    return Check("kill rate", rate >= minimum - EPSILON, figure, details if rate < minimum - EPSILON else [])


# -- the command --------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="tasks to check (default: every task)")
    parser.add_argument("--root", default=".", help="the folder holding tasks/, starter/, reference/ (default: .)")
    parser.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        metavar="K",
        help=f"grade the reference on K seeds ({DEFAULT_SEEDS})",
    )
    parser.add_argument(
        "--seed", type=int, default=None, metavar="N", help="the first seed (default: drawn fresh and printed)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET,
        metavar="SECONDS",
        help=f"time for grading mutants, per task (default {DEFAULT_BUDGET:.0f})",
    )
    parser.add_argument("--mutants", type=int, default=None, metavar="N", help="grade at most N mutants per task")
    parser.add_argument(
        "--mutation-seed", type=int, default=0, metavar="N", help="the order in which mutants are sampled (default 0)"
    )
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, metavar="N", help="gradings at a time (2)")
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"where survivors' diffs go: DIR/NAME/survivors ({DEFAULT_OUT})",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=CHECKS,
        metavar="CHECK",
        help=f"skip a check: {', '.join(CHECKS)}",
    )
    parser.add_argument(
        "--engine", default="auto", choices=("auto", "grader", "cli"), help="how to grade (default: auto)"
    )
    parser.add_argument("--progress", action="store_true", help="print each graded mutant's verdict to stderr")


def options_from(args: argparse.Namespace) -> Options:
    import secrets

    if args.seeds < 1:
        raise ValidateError(f"--seeds must be at least 1, got {args.seeds}")
    if args.budget < 0:
        raise ValidateError(f"--budget must not be negative, got {args.budget}")
    if args.mutants is not None and args.mutants < 0:
        raise ValidateError(f"--mutants must not be negative, got {args.mutants}")
    if args.workers < 1:
        raise ValidateError(f"--workers must be at least 1, got {args.workers}")
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    if not 0 <= seed < 2**62:
        raise ValidateError(f"--seed must be between 0 and 2**62, got {seed}")
    return Options(
        seeds=args.seeds,
        seed=seed,
        budget=args.budget,
        max_mutants=args.mutants,
        mutation_seed=args.mutation_seed,
        workers=args.workers,
        out=Path(args.out).resolve(),
        skip=frozenset(args.skip),
        engine=args.engine,
        progress=args.progress,
    )


def tasks_to_check(root: Path, names: Sequence[str]) -> list[Path]:
    found = discover_tasks(root / "tasks")
    if not found:
        raise ValidateError(f"no tasks under {root / 'tasks'} (is --root the repository's folder?)")
    unknown = [n for n in names if n not in found]
    if unknown:
        raise ValidateError(f"no task named {', '.join(unknown)} in {root / 'tasks'} (tasks: {', '.join(found)})")
    return [found[n] for n in (names or list(found))]


def run(args: argparse.Namespace, say: Callable[[str], None] | None = None) -> int:
    say = say or _say
    try:
        options = options_from(args)
        root = Path(args.root).resolve()
        folders = tasks_to_check(root, args.names)
    except ValidateError as exc:
        print(f"rlgrade validate: {exc}", file=sys.stderr)
        return 2
    failed = []
    for folder in folders:
        started = time.monotonic()
        try:
            task = load_task(folder)
        except ManifestError as exc:
            say(f"{folder.name}")
            say(f"  FAIL  {'manifest':<13} {exc}")
            failed.append(folder.name)
            continue
        engine = Engine(root, task, options.workers, options.engine)
        say(
            f"{task.name}: seed {options.seed} (replay with --seed {options.seed}), engine {engine.kind}, "
            f"{options.workers} workers"
        )
        checks = validate_task(root, task, options, say)
        verdict = "all checks pass" if all(c.passed for c in checks) else "FAILED"
        say(f"  {task.name}: {verdict} in {time.monotonic() - started:.0f} s")
        if not all(c.passed for c in checks):
            failed.append(task.name)
    if len(folders) > 1:
        say(
            f"rlgrade validate: {len(folders) - len(failed)} of {len(folders)} tasks pass"
            + (f"; failed: {', '.join(failed)}" if failed else "")
        )
    return 1 if failed else 0


def _say(line: str) -> None:
    print(line, flush=True)
