"""The pytest plugin of pytest-rlgrade: options, fixtures, and the grading session's lifecycle.

Everything with state lives in :class:`~pytest_rlgrade.grading.GradingSession`, created in
``pytest_configure`` only when ``--submission`` is given: without it, pytest is plain pytest.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .client import Submission
    from .grading import GradingSession

grading_key = pytest.StashKey["GradingSession"]()

HELP_ISOLATION = "where submission code runs: sandbox (default) or none (in this process, for debugging trusted code)"
HELP_REPORT = "where to write the JSON report (default: rlgrade-report.json in the invocation folder)"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rlgrade", "grading submissions to tasks (pytest-rlgrade)")
    group.addoption(
        "--submission",
        metavar="starter|reference|PATH",
        default=None,
        help="grade this submission: the shipped starter or reference, or a folder laid out like "
        "starter/ (or like starter/NAME/ with a single --task)",
    )
    group.addoption(
        "--task",
        action="append",
        dest="rlgrade_tasks",
        default=[],
        metavar="NAME",
        help="grade only this task (repeatable; default: every task under tasks/)",
    )
    group.addoption("--rlgrade-report", dest="rlgrade_report", metavar="FILE", default=None, help=HELP_REPORT)
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
    parser.addini("rlgrade_report", HELP_REPORT, default="")
    parser.addini("rlgrade_isolation", HELP_ISOLATION, default="")


def _grading_options_without_submission(config: pytest.Config) -> list[str]:
    names = {
        "rlgrade_tasks": "--task",
        "rlgrade_report": "--rlgrade-report",
        "rlgrade_min_reward": "--min-reward",
        "rlgrade_seed": "--rlgrade-seed",
        "rlgrade_isolation": "--isolation",
    }
    return [flag for dest, flag in names.items() if config.getoption(dest)]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hidden: withhold this test's failure message from the rlgrade report")
    submission = config.getoption("submission")
    if submission is None:
        stray = _grading_options_without_submission(config)
        if stray:
            raise pytest.UsageError(f"{', '.join(stray)} only make sense with --submission")
        return
    from .grading import GradingSession
    from .settings import SettingsError, settle

    try:
        settings = settle(
            submission=submission,
            tasks=config.getoption("rlgrade_tasks"),
            report=config.getoption("rlgrade_report"),
            report_ini=config.getini("rlgrade_report"),
            min_reward=config.getoption("rlgrade_min_reward"),
            seed=config.getoption("rlgrade_seed"),
            isolation=config.getoption("rlgrade_isolation"),
            isolation_ini=config.getini("rlgrade_isolation"),
            invocation_dir=config.invocation_params.dir,
        )
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    grading = GradingSession(config, settings)
    config.stash[grading_key] = grading
    config.pluginmanager.register(grading, "rlgrade-session")
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args = grading.test_paths()
    if grading.uses_hypothesis():
        _hypothesis_profile(config, settings.seed)


hypothesis_key = pytest.StashKey[tuple[str, Any]]()


def _hypothesis_profile(config: pytest.Config, seed: int) -> None:
    """Grading is replayable: Hypothesis draws from the run's seed, keeps no example database, and
    lets one sandbox process serve all examples of a test. ``@given`` binds the settings in force
    when a test module is imported, so this runs before collection, and only for tasks whose tests
    use Hypothesis (importing it costs a second). Undone in ``pytest_unconfigure``
    (pytester runs grading inside another pytest process)."""
    from hypothesis import HealthCheck, Phase, core, settings

    config.stash[hypothesis_key] = (settings.get_current_profile_name(), core.global_force_seed)
    settings.register_profile(
        "rlgrade",
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        # The explain phase reruns a failing test many times to annotate it (seconds of sandbox
        # calls per failure) and imports libcst, which warns; a grade needs neither.
        phases=[p for p in Phase if p is not Phase.explain],
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
    grading = config.stash.get(grading_key, None)
    if grading is not None:
        grading.close_sandboxes()
        config.pluginmanager.unregister(grading)
        del config.stash[grading_key]


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    grading = config.stash.get(grading_key, None)
    if grading is None:
        return None
    settings = grading.settings
    return [
        f"rlgrade: submission {settings.submission} ({grading.submission_path}), tasks "
        f"{', '.join(grading.states)}, seed {settings.seed}, isolation {settings.isolation}"
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
def rlgrade_seed(request: pytest.FixtureRequest) -> int:
    """The run's seed: ``--rlgrade-seed``, or drawn fresh and written in the report."""
    return _grading(request).settings.seed


@pytest.fixture
def rlgrade_rng(request: pytest.FixtureRequest, rlgrade_seed: int) -> random.Random:
    """A random generator seeded from the run's seed and this test's id (stable across orders)."""
    return random.Random(f"{rlgrade_seed}:{request.node.nodeid}")
