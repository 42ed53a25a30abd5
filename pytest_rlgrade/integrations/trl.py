"""A reward function for TRL's ``GRPOTrainer`` that grades each completion as a submission.

::

    from trl import GRPOTrainer
    from pytest_rlgrade.integrations.trl import reward_function

    reward = reward_function(task="metric_tracker")
    trainer = GRPOTrainer(model=model, reward_funcs=reward, train_dataset=dataset, ...)

GRPOTrainer calls ``reward(prompts=[...], completions=[...], completion_ids=[...], **columns)``
(one entry per completion; each completion a string, or a list of chat messages for
conversational datasets; ``columns`` are the dataset's other columns plus ``trainer_state``,
``log_extra`` and ``log_metric``) and expects one float per completion. This one:

- turns each completion into files with ``to_files`` (default
  :func:`~pytest_rlgrade.integrations.completions.files_from_completion`: fenced code blocks headed
  by their paths), laid over the starter's files (``base="starter"``; ``base=None`` grades the
  completion's files alone), so a completion may rewrite only the modules it changes;
- grades the whole batch through one warm :class:`pytest_rlgrade.Grader` (``grade_many``), started at
  the first call and kept until :meth:`GradingReward.close` (or the end of a ``with`` block);
- gives 0.0 to a completion that cannot be turned into files, logging why (the ``pytest_rlgrade.trl``
  logger, and the ``rlgrade_reason`` column of TRL's completions table);
- raises :class:`GradingInfrastructureError` when the harness or the task failed (a report with
  ``reward: null``), rather than teaching the policy with a reward of 0 that it did not earn.

Every completion of a call is graded with the same seed (drawn per call unless ``seed=`` fixes it),
so the completions of a GRPO group are compared on the same generated test data. For a dataset task,
a dataset column (``instance_column``, default ``"instance"``) names each row's instance.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .completions import CompletionError, files_from_completion, read_tree

if TYPE_CHECKING:
    from pytest_rlgrade.report import Report

__all__ = ["GradingInfrastructureError", "GradingReward", "reward_function"]

logger = logging.getLogger("pytest_rlgrade.trl")

ToFiles = Callable[[Any], Mapping[str, str]]


class GradingInfrastructureError(RuntimeError):
    """The harness or the task failed for some completions (``reward: null``): not their fault.
    ``reports`` holds every report of the batch (``None`` for completions that were not graded)."""

    def __init__(self, message: str, reports: list[Report | None]) -> None:
        super().__init__(message)
        self.reports = reports


class GradingReward:
    """The callable :func:`reward_function` returns. ``last_reports`` holds the reports of the last
    call (``None`` where the completion could not be turned into files)."""

    def __init__(
        self,
        *,
        task: str,
        to_files: ToFiles | None,
        base: str | None,
        root: Path | None,
        seed: int | None,
        instance: str | None,
        instance_column: str,
        workers: int | None,
        grader: Any | None,
        name: str | None,
    ) -> None:
        if base not in ("starter", None):
            raise ValueError(f"base must be 'starter' or None, not {base!r}")
        self.task = task
        self.to_files: ToFiles = to_files or files_from_completion
        self.base = base
        self.root = root
        self.seed = seed
        self.instance = instance
        self.instance_column = instance_column
        self.workers = workers
        self.__name__ = name or f"rlgrade_{task}"
        self.last_reports: list[Report | None] = []
        self._grader = grader
        self._owns_grader = grader is None
        self._base_files: dict[str, str] | None = None
        self._lock = threading.Lock()

    # -- the grader, warm across calls

    def _ensure_grader(self) -> Any:
        with self._lock:
            if self._grader is None:
                from pytest_rlgrade import Grader

                self._grader = Grader(root=self.root, tasks=[self.task], workers=self.workers)
                self._grader.__enter__()
            return self._grader

    def close(self) -> None:
        """Stop the Grader this reward function started (a Grader passed in is left alone)."""
        with self._lock:
            grader, self._grader = self._grader, None
            if grader is not None and self._owns_grader:
                grader.__exit__(None, None, None)

    # TRL's async GRPO hands reward functions to a spawned process: a pickled copy starts a Grader
    # of its own there (a Grader holds processes and cannot travel).
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_grader=None, _owns_grader=True, _lock=None, last_reports=[])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __enter__(self) -> GradingReward:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _starter_files(self) -> dict[str, str]:
        if self._base_files is None:
            # The starter of the repository the Grader grades against (it finds it as the API does).
            repository = getattr(self._ensure_grader(), "repository", None) or self.root or Path.cwd()
            self._base_files = read_tree(Path(repository).resolve() / "starter" / self.task)
        return self._base_files

    # -- one batch

    def files_of(self, completion: Any) -> dict[str, str]:
        """The submission for one completion: the starter's files (with ``base="starter"``) with the
        completion's files laid over them. Raises :class:`CompletionError`."""
        try:
            files = self.to_files(completion)
        except CompletionError:
            raise
        except Exception as error:  # a user's to_files: its failure is still this completion's
            raise CompletionError(f"to_files raised {type(error).__name__}: {error}") from error
        if not isinstance(files, Mapping) or not files:
            raise CompletionError("to_files gave no files")
        for path, text in files.items():
            if not isinstance(path, str) or not isinstance(text, str):
                raise CompletionError("to_files must give {relative path: text} with strings only")
            try:
                path.encode("utf-8")
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise CompletionError(f"{path!r}: not valid Unicode text (a lone surrogate)") from None
        if self.base == "starter":
            return {**self._starter_files(), **files}
        return dict(files)

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
        instances = self._instances(kwargs, len(completions))
        seed = self.seed if self.seed is not None else secrets.randbelow(2**32)

        rewards: list[float] = [0.0] * len(completions)
        reasons: list[str] = [""] * len(completions)
        reports: list[Report | None] = [None] * len(completions)
        groups: dict[str | None, list[tuple[int, dict[str, str]]]] = {}
        for index, completion in enumerate(completions):
            try:
                files = self.files_of(completion)
            except CompletionError as error:
                reasons[index] = f"not graded: {error}"
                logger.warning("completion %d of task %s gets 0.0: %s", index, self.task, error)
                continue
            groups.setdefault(instances[index], []).append((index, files))

        if groups:
            grader = self._ensure_grader()
            for instance, members in groups.items():
                graded = grader.grade_many(
                    [files for _, files in members], task=self.task, instance=instance, seed=seed
                )
                for (index, _), report in zip(members, graded, strict=True):
                    reports[index] = report
        self.last_reports = reports

        failed = [i for i, r in enumerate(reports) if r is not None and r.reward is None]
        if failed:
            first = reports[failed[0]]
            assert first is not None
            task = first.tasks[0] if first.tasks else None
            why = (task.error if task else None) or ", ".join(task.flags if task else []) or "no reward"
            raise GradingInfrastructureError(
                f"{len(failed)} of {len(completions)} completions of task {self.task} could not be graded "
                f"(seed {seed}; completion {failed[0]}: {why}): the harness or the task failed, not the completions",
                reports,
            )
        for index, report in enumerate(reports):
            if report is not None:
                assert report.reward is not None
                rewards[index] = float(report.reward)
                flags = sorted({f for t in report.tasks for f in t.flags})
                reasons[index] = f"graded: reward {report.reward:.4f}" + (f" ({', '.join(flags)})" if flags else "")

        self._log_to_trainer(kwargs, rewards, reasons, seed)
        return rewards

    def _instances(self, kwargs: Mapping[str, Any], count: int) -> list[str | None]:
        column = kwargs.get(self.instance_column)
        if column is None:
            return [self.instance] * count
        if isinstance(column, str) or not isinstance(column, Sequence) or len(column) != count:
            raise ValueError(f"dataset column {self.instance_column!r} must hold one instance id per completion")
        return [None if value is None else str(value) for value in column]

    def _log_to_trainer(self, kwargs: Mapping[str, Any], rewards: list[float], reasons: list[str], seed: int) -> None:
        log_extra = kwargs.get("log_extra")
        if callable(log_extra):
            log_extra("rlgrade_reason", reasons)
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and rewards:
            unparsed = sum(reason.startswith("not graded") for reason in reasons)
            log_metric("rlgrade/not_files", unparsed / len(rewards))
        logger.info(
            "graded %d completions of task %s with seed %d: mean reward %.4f",
            len(rewards),
            self.task,
            seed,
            sum(rewards) / len(rewards) if rewards else 0.0,
        )


def reward_function(
    task: str,
    to_files: ToFiles | None = None,
    *,
    base: str | None = "starter",
    root: str | Path | None = None,
    seed: int | None = None,
    instance: str | None = None,
    instance_column: str = "instance",
    workers: int | None = None,
    grader: Any | None = None,
    name: str | None = None,
) -> GradingReward:
    """A reward function for ``GRPOTrainer(reward_funcs=...)`` grading completions on ``task``.

    :param task: the task's name (``tasks/NAME`` under ``root``).
    :param to_files: turns one completion (a string, or chat messages) into ``{relative path:
        text}``; raise :class:`~pytest_rlgrade.integrations.completions.CompletionError` (or any
        exception) to give that completion 0.0. Default: fenced code blocks headed by their paths.
    :param base: ``"starter"``: lay the completion's files over the starter's; ``None``: grade them alone.
    :param root: the repository holding ``tasks/`` and ``starter/`` (default: the current directory).
    :param seed: grade every call with this seed (default: a fresh seed per call, shared by its completions).
    :param instance: the dataset instance for every completion, when no ``instance_column`` is in the dataset.
    :param instance_column: the dataset column naming each row's instance.
    :param workers: the Grader's workers (default: the Grader's own default).
    :param grader: an open Grader to use instead of starting one (it is not closed by :meth:`GradingReward.close`).
    :param name: the name TRL logs the reward under (default ``rlgrade_TASK``).
    """
    return GradingReward(
        task=task,
        to_files=to_files,
        base=base,
        root=Path(root) if root is not None else None,
        seed=seed,
        instance=instance,
        instance_column=instance_column,
        workers=workers,
        grader=grader,
        name=name,
    )
