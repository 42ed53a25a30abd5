"""Hypothesis tests over examples drawn once per seed (issue #9).

Drawing a Hypothesis example (building a JSON document from a recursive strategy, say) is
trusted work that costs milliseconds, and a grading draws hundreds: most of a Hypothesis-heavy
task's grading, whatever the submission. With the grading's seed fixed, the examples a test is
given are a function of the seed alone for as long as its body does not steer the drawing, so a
test of that kind is run in two steps:

1. *record*: Hypothesis runs the test under the grading's seed and settings with a body that
   only keeps the drawn arguments (no submission code is asked anything, nothing can fail);
2. *replay*: the real body runs over those examples in order, and the first failure is the
   test's, with the example added as a note (``Falsifying example: ...``), as Hypothesis adds it.

The recording is remembered (:func:`pytest_rlgrade.trusted.recall`), so a warm grader draws a
test's examples once per seed, not once per rollout. Every grading replays, through the command
line and the API alike, so both give the same outcomes. Replay does not shrink a failure: a
grading does not either (only ``-v`` asks Hypothesis for it, and then the test runs under
Hypothesis itself).

Not replayed (run under Hypothesis as they are): tests that draw inside their body
(``st.data()``), that call ``note``, ``event``, ``target``, ``assume`` or ``reject`` themselves,
methods, and tests whose recording fails (an invalid strategy, a health check): Hypothesis then
says so itself when the test runs.
"""

from __future__ import annotations

import inspect
import reprlib
import warnings
from collections.abc import Callable
from typing import Any

from . import trusted

# Calls that make the drawing depend on the body, or need Hypothesis's build context to run.
STEERING = frozenset({"note", "event", "target", "assume", "reject", "current_build_context"})
_REPR = reprlib.Repr()  # Python 3.11's takes no arguments
_REPR.maxstring = _REPR.maxother = 200
_REPR.maxlist = _REPR.maxdict = 12
_REPR.maxlevel = 4


def pin_local_constants() -> Callable[[], None]:
    """Draw from the same examples whatever this process has imported; returns the undo.

    Now and then Hypothesis (6.131 and later) draws a constant found in the source of the "local"
    modules imported so far, and rescans whenever ``sys.modules`` grows. What a grading has
    imported differs between the command line and a grader worker, and grows during a run as
    modules are imported lazily, so one seed would not give one list of examples: the CLI and the
    API could disagree, and a recording could differ from the run it stands for. The code under
    test never runs in the supervisor, so no constant found here says anything about it: grading
    draws from an empty pool of local constants (Hypothesis's own pool of well-known constants
    stays)."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants

        scan, cache, empty = providers._get_local_constants, providers.CONSTANTS_CACHE, Constants()
    except (ImportError, AttributeError):  # a Hypothesis without the pool: nothing to pin
        return lambda: None

    def nothing_local() -> Any:
        return empty

    providers._get_local_constants = nothing_local
    cache.cache.clear()  # it holds the pool's constants by the kind of value drawn

    def undo() -> None:
        providers._get_local_constants = scan
        cache.cache.clear()

    return undo


class _NotReplayable(Exception):
    """The recording found something replay cannot give the body (an interactive draw)."""


def replayable(function: Any) -> bool:
    """Whether ``function`` (a collected test) is a ``@given`` test that replay can run."""
    if not getattr(function, "is_hypothesis_test", False) or not inspect.isfunction(function):
        return False
    inner = getattr(getattr(function, "hypothesis", None), "inner_test", None)
    code = getattr(inner, "__code__", None)
    return code is not None and not (STEERING & set(code.co_names))


def run(function: Any, funcargs: dict[str, Any], nodeid: str) -> bool:
    """Run ``function`` (see :func:`replayable`) with its fixtures ``funcargs``: record or recall
    its examples, then replay them. False when it cannot be replayed (nothing of the test has run
    then): the caller runs it under Hypothesis as usual."""
    from hypothesis import core
    from hypothesis.errors import UnsatisfiedAssumption

    handle = function.hypothesis
    inner = handle.inner_test
    forced = getattr(function, "_hypothesis_internal_use_seed", None)
    seed = forced if forced is not None else core.global_force_seed
    if seed is None:
        return False  # drawn at random: nothing to share with another grading
    used = getattr(function, "_hypothesis_internal_use_settings", None)
    key = (
        "rlgrade.hypothesis_replay",
        nodeid,
        inner.__code__.co_filename,
        inner.__code__.co_firstlineno,
        repr(seed),
        repr(used),
    )
    try:
        examples = trusted.recall(key, lambda: _record(function, funcargs))
    except Exception:  # noqa: BLE001 - _NotReplayable, or a strategy that fails, a health check (Hypothesis says it)
        return False
    with warnings.catch_warnings():
        # assume() in a helper the body calls: replay passes the example over, as Hypothesis
        # does, and Hypothesis's warning that it ran outside a test says nothing to the reader.
        warnings.filterwarnings("ignore", "Using `assume` outside a property-based test")
        for example in examples:
            try:
                inner(**funcargs, **example)
            except UnsatisfiedAssumption:
                continue  # Hypothesis discards such an example too
            except BaseException as exc:
                exc.add_note(_falsifying(inner.__name__, example))
                raise
    return True


def _record(function: Any, funcargs: dict[str, Any]) -> list[dict[str, Any]]:
    """The examples Hypothesis gives ``function`` under the settings and seed in force, drawn by
    running it with a body that only keeps them."""
    from hypothesis.strategies import DataObject

    drawn: list[dict[str, Any]] = []
    interactive = []

    def keep(*arguments: Any, **kwargs: Any) -> None:
        example = {name: value for name, value in kwargs.items() if name not in funcargs}
        if arguments or any(isinstance(value, DataObject) for value in example.values()):
            interactive.append(True)  # not raised here: Hypothesis would report a failure
        drawn.append(example)

    handle = function.hypothesis
    inner: Callable[..., Any] = handle.inner_test
    handle.inner_test = keep
    try:
        function(**funcargs)
    finally:
        handle.inner_test = inner
    if interactive:
        raise _NotReplayable(function.__name__)
    return drawn


def _falsifying(name: str, example: dict[str, Any]) -> str:
    shown = ",\n".join(f"    {key}={_REPR.repr(value)}" for key, value in example.items())
    return f"Falsifying example: {name}(\n{shown},\n)" if shown else f"Falsifying example: {name}()"
