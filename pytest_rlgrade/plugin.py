"""The pytest plugin of pytest-rlgrade: options, fixtures, and the grading session's lifecycle.

Everything with state lives in :class:`~pytest_rlgrade.grading.GradingSession`, created in
``pytest_configure`` only when ``--submission`` is given: without it, pytest is plain pytest.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .client import Submission
    from .grading import GradingSession

grading_key = pytest.StashKey["GradingSession"]()

HELP_ISOLATION = "where submission code runs: sandbox (default) or none (in this process, for debugging trusted code)"
HELP_REPORT = "where to write the JSON report (default: rlgrade-report.json in the invocation folder)"
HELP_ROOT = "the repository holding tasks/ (default: the nearest of the invocation folder and its parents)"
# Our options that take a value: pytest picks its rootdir and ini file before it knows them, so
# `--submission PATH` (a space) made it take PATH for a test path (issue #8).
VALUE_OPTIONS = (
    "--submission",
    "--submissions",
    "--task",
    "--rlgrade-report",
    "--rlgrade-report-dir",
    "--rlgrade-workers",
    "--min-reward",
    "--rlgrade-seed",
    "--isolation",
    "--rlgrade-root",
)
# pytest options that leave tests unrun: a test that did not run is never the submission's fault,
# so grading refuses them (issue #8); naming test files or node ids grades a subset.
SELECTION_OPTIONS = {
    "keyword": "-k",
    "markexpr": "-m",
    "deselect": "--deselect",
    "maxfail": "-x/--maxfail",
    "stepwise": "--sw/--stepwise",
    "lf": "--lf/--last-failed",
}


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rlgrade", "grading submissions to tasks (pytest-rlgrade)")
    group.addoption(
        "--submission",
        action="append",
        dest="submission",
        default=None,
        metavar="starter|reference|PATH",
        help="grade this submission: the shipped starter or reference, or a folder laid out like "
        "starter/ (or like starter/NAME/ with a single --task); repeat it to grade a batch",
    )
    group.addoption(
        "--submissions",
        dest="rlgrade_submissions",
        metavar="FILE",
        default=None,
        help="grade a batch: the submissions listed in FILE, one path per line",
    )
    group.addoption(
        "--task",
        action="append",
        dest="rlgrade_tasks",
        default=[],
        metavar="NAME[:ID]",
        help="grade only this task (repeatable; default: every task under tasks/); NAME:ID grades one dataset instance",
    )
    group.addoption("--rlgrade-report", dest="rlgrade_report", metavar="FILE", default=None, help=HELP_REPORT)
    group.addoption(
        "--rlgrade-report-dir",
        dest="rlgrade_report_dir",
        metavar="DIR",
        default=None,
        help="for a batch: write one report per submission and batch.jsonl into DIR",
    )
    group.addoption(
        "--rlgrade-workers",
        dest="rlgrade_workers",
        metavar="N",
        default=None,
        help="for a batch: how many submissions to grade at once (default: the number of CPUs)",
    )
    group.addoption(
        "--min-reward",
        dest="rlgrade_min_reward",
        metavar="X",
        default=None,
        help="exit with status 1 when the overall reward is below X (for CI against the reference)",
    )
    group.addoption(
        "--rlgrade-seed",
        dest="rlgrade_seed",
        metavar="N",
        default=None,
        help="seed for generated test data (default: drawn fresh and written in the report)",
    )
    group.addoption("--isolation", dest="rlgrade_isolation", default=None, metavar="MODE", help=HELP_ISOLATION)
    group.addoption(
        "--rlgrade-run-all",
        dest="rlgrade_run_all",
        action="store_true",
        default=False,
        help="run every test even after a gate fails (the reward is 0 either way; the default skips the rest)",
    )
    group.addoption("--rlgrade-root", dest="rlgrade_root", default=None, metavar="DIR", help=HELP_ROOT)
    parser.addini("rlgrade_report", HELP_REPORT, default="")
    parser.addini("rlgrade_isolation", HELP_ISOLATION, default="")
    parser.addini("rlgrade_root", HELP_ROOT, default="")


def _grading_options_without_submission(config: pytest.Config) -> list[str]:
    names = {
        "rlgrade_tasks": "--task",
        "rlgrade_report": "--rlgrade-report",
        "rlgrade_report_dir": "--rlgrade-report-dir",
        "rlgrade_workers": "--rlgrade-workers",
        "rlgrade_min_reward": "--min-reward",
        "rlgrade_seed": "--rlgrade-seed",
        "rlgrade_isolation": "--isolation",
        "rlgrade_root": "--rlgrade-root",
        "rlgrade_run_all": "--rlgrade-run-all",
    }
    return [flag for dest, flag in names.items() if config.getoption(dest)]


def joined_options(args: list[str]) -> list[str] | None:
    """``args`` with ``--option VALUE`` of our options written ``--option=VALUE``; None when
    there is nothing to join."""
    joined: list[str] = []
    changed = False
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            joined += args[index:]
            break
        if arg in VALUE_OPTIONS and index + 1 < len(args):
            joined.append(f"{arg}={args[index + 1]}")
            index += 2
            changed = True
            continue
        joined.append(arg)
        index += 1
    return joined if changed else None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> Any:
    """The earliest moment grading is known to be asked for: before capturing starts, before any
    conftest."""
    import os
    import sys

    namespace = early_config.known_args_namespace
    if getattr(namespace, "submission", None) and not os.environ.get("PYTEST_XDIST_WORKER"):
        invoked = list(early_config.invocation_params.args)
        joined = joined_options(invoked)
        if joined is not None and sys.argv[1:] == invoked:
            # pytest chose its rootdir and ini file taking `--submission PATH`'s PATH for a test
            # path; start again as `--submission=PATH` so that both spellings grade the same.
            sys.stdout.flush()
            sys.stderr.flush()
            os.execv(sys.executable, [sys.executable, "-m", "pytest", *joined])
        _remove_stale_report(early_config)
    return (yield)


def _remove_stale_report(config: pytest.Config) -> None:
    """After any grading run the report path holds that run's report or nothing (issue #8: a
    failed run left the previous run's `reference 1.0` in place)."""
    from .settings import SettingsError, report_path

    try:
        path = report_path(
            config.known_args_namespace.rlgrade_report, config.getini("rlgrade_report"), config.invocation_params.dir
        )
    except SettingsError:
        return
    if path.is_file() or path.is_symlink():
        path.unlink()


def _role(config: pytest.Config) -> Any:
    from .grading import Role

    if hasattr(config, "workerinput"):
        return Role.WORKER
    if getattr(config.option, "dist", "no") != "no" and not config.option.collectonly:
        return Role.CONTROLLER
    return Role.SINGLE


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hidden: withhold this test's failure message from the rlgrade report")
    submissions = config.getoption("submission")
    if not submissions and not config.getoption("rlgrade_submissions"):
        stray = _grading_options_without_submission(config)
        if stray:
            raise pytest.UsageError(f"{', '.join(stray)} only make sense with --submission")
        return
    from . import scratch
    from .grading import GradingSession, Role, XdistHooks
    from .settings import SettingsError, find_root, settle

    selected = [flag for dest, flag in SELECTION_OPTIONS.items() if getattr(config.option, dest, None)]
    if selected:
        raise pytest.UsageError(
            f"{', '.join(selected)} would leave tests unrun, and a reward needs every test: "
            "to grade a subset, name test files or node ids on the command line"
        )
    role = _role(config)
    # pytest-xdist's workers get the controller's seed (as pytest-randomly passes its own).
    seed = (
        getattr(config, "workerinput", {})["rlgrade_seed"] if role is Role.WORKER else config.getoption("rlgrade_seed")
    )
    try:
        scratch.base()  # a bad RLGRADE_TMPDIR is a usage error, said before anything is graded
        root = find_root(
            config.getoption("rlgrade_root"),
            config.getini("rlgrade_root"),
            config.inipath,
            config.invocation_params.dir,
            config.rootpath,
        )
        if len(submissions or []) != 1 or config.getoption("rlgrade_submissions"):
            from .batch import BatchSession

            batch = BatchSession.from_config(config, root)
            config.pluginmanager.register(batch, "rlgrade-batch")
            return
        settings = settle(
            submission=submissions[0],
            tasks=config.getoption("rlgrade_tasks"),
            report=config.getoption("rlgrade_report"),
            report_ini=config.getini("rlgrade_report"),
            min_reward=config.getoption("rlgrade_min_reward"),
            seed=None if seed is None else str(seed),
            isolation=config.getoption("rlgrade_isolation"),
            isolation_ini=config.getini("rlgrade_isolation"),
            invocation_dir=config.invocation_params.dir,
            root=root,
        )
    except (SettingsError, scratch.ScratchError) as exc:
        raise pytest.UsageError(str(exc)) from None
    grading = GradingSession(config, settings, role)
    if config.inipath is not None and config.inipath.resolve().is_relative_to(grading.submission_path):
        raise pytest.UsageError(
            f"pytest read its configuration from {config.inipath}, inside the submission: "
            "grade it as --submission=PATH (with '='), or from the repository's folder"
        )
    config.stash[grading_key] = grading
    config.pluginmanager.register(grading, "rlgrade-session")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(grading), "rlgrade-xdist")
    config.option.importmode = "importlib"  # task tests are written for it (tasks share file names)
    if role is not Role.WORKER and config.option.tbstyle == "auto" and config.option.verbose <= 0:
        # A compact view (issue #8): one line per failing test, the reward table last; --tb or -v
        # bring back pytest's full detail.
        config.option.tbstyle = "no"
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args = grading.test_paths()
    if grading.uses_hypothesis():
        _hypothesis_profile(config, settings.seed)


hypothesis_key = pytest.StashKey[tuple[str, Any, Any, Callable[[], None]]]()
# Hypothesis's pytest plugin imports this module for every failing test, to write a patch that
# adds the failing example (it needs libcst). A grade needs no patch; where libcst is missing the
# import fails, so nothing caches it, and pytest parses and rewrites the module again for each
# failure (about 8 ms each). Grading marks it unimportable, as it is without libcst.
HYPOTHESIS_PATCHING = "hypothesis.extra._patching"
_ABSENT = object()


def _hypothesis_profile(config: pytest.Config, seed: int) -> None:
    """Grading is replayable: Hypothesis draws from the run's seed, keeps no example database, and
    lets one sandbox process serve all examples of a test. ``@given`` binds the settings in force
    when a test module is imported, so this runs before collection, and only for tasks whose tests
    use Hypothesis (importing it costs a second). Undone in ``pytest_unconfigure``
    (pytester runs grading inside another pytest process)."""
    from hypothesis import HealthCheck, Phase, core, settings

    from .hypothesis_replay import pin_local_constants

    config.stash[hypothesis_key] = (
        settings.get_current_profile_name(),
        core.global_force_seed,
        sys.modules.get(HYPOTHESIS_PATCHING, _ABSENT),
        pin_local_constants(),  # one seed, one list of examples, whatever is imported
    )
    sys.modules[HYPOTHESIS_PATCHING] = None  # type: ignore[assignment]  # None: an import raises ImportError
    verbose = config.option.verbose > 0
    settings.register_profile(
        "rlgrade",
        # The run's seed draws the examples: Hypothesis loads its "ci" profile (derandomize, which
        # seeds each test from its own source and outranks the seed) wherever CI is set.
        derandomize=False,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        # The explain phase reruns a failing test many times to annotate it (seconds of sandbox
        # calls per failure) and imports libcst, which warns; a grade needs neither. Shrinking a
        # failure to its smallest example costs as much again and changes no outcome: only a
        # person asking for detail (-v) gets it.
        phases=[p for p in Phase if p is not Phase.explain and (p is not Phase.shrink or verbose)],
    )
    settings.load_profile("rlgrade")
    if config.getoption("hypothesis_seed", None) is None:
        core.global_force_seed = seed  # type: ignore[assignment]  # what its own --hypothesis-seed sets


def pytest_unconfigure(config: pytest.Config) -> None:
    previous = config.stash.get(hypothesis_key, None)
    if previous is not None:
        from hypothesis import core, settings

        settings.load_profile(previous[0])
        core.global_force_seed = previous[1]
        if previous[2] is _ABSENT:
            sys.modules.pop(HYPOTHESIS_PATCHING, None)
        else:
            sys.modules[HYPOTHESIS_PATCHING] = previous[2]
        previous[3]()
    grading = config.stash.get(grading_key, None)
    if grading is not None:
        grading.close_sandboxes()
        config.pluginmanager.unregister(grading)
        for name in ("rlgrade-xdist",):
            plugin = config.pluginmanager.get_plugin(name)
            if plugin is not None:
                config.pluginmanager.unregister(plugin)
        del config.stash[grading_key]


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    grading = config.stash.get(grading_key, None)
    if grading is None:
        return None
    settings = grading.settings
    return [
        f"rlgrade: submission {settings.submission} ({grading.submission_path}), tasks "
        f"{', '.join(grading.states)}, seed {settings.seed}, isolation {settings.isolation}, root {settings.root}"
    ]


def _grading(request: pytest.FixtureRequest) -> GradingSession:
    grading = request.config.stash.get(grading_key, None)
    if grading is None:
        pytest.fail("this fixture grades a submission: run pytest with --submission", pytrace=False)
    return grading


@pytest.fixture
def submission(request: pytest.FixtureRequest) -> Iterator[Submission]:
    """The submission under test, served by a fresh sandbox process for this test."""
    handle = _grading(request).open_submission(request.node)
    try:
        yield handle
    finally:
        handle.close()


@pytest.fixture
def metric(request: pytest.FixtureRequest) -> Callable[[str, float], None]:
    """``metric(name, value)`` records a value for a metric declared in the task's manifest."""
    grading = _grading(request)

    def record(name: str, value: float) -> None:
        grading.record_metric(request.node, name, value)

    return record


@pytest.fixture
def rlgrade_instance(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The dataset instance under test (a row of the task's ``instances`` file, plain data).

    Grading parametrizes every test that asks for it by the instances graded: one with
    ``--task NAME:ID`` (or ``instance=`` in the API), else all of them."""
    _grading(request)
    pytest.fail(
        f"{request.node.nodeid} asks for rlgrade_instance, but its task declares no instances in task.yaml",
        pytrace=False,
    )


@pytest.fixture
def rlgrade_seed(request: pytest.FixtureRequest) -> int:
    """The run's seed: ``--rlgrade-seed``, or drawn fresh and written in the report."""
    return _grading(request).settings.seed


@pytest.fixture
def rlgrade_rng(request: pytest.FixtureRequest, rlgrade_seed: int) -> random.Random:
    """A random generator seeded from the run's seed and this test's id (stable across orders)."""
    return random.Random(f"{rlgrade_seed}:{request.node.nodeid}")
