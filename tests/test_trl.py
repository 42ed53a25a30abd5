"""The TRL reward function and the completion format it reads, called the way GRPOTrainer calls
reward functions (``reward(prompts=, completions=, completion_ids=, **columns, trainer_state=,
log_extra=, log_metric=)``). The fast tests grade through a recording grader; the slow one through
the real Grader."""

from __future__ import annotations

import json
import logging
import pickle
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_rlgrade.integrations.completions import (
    CompletionError,
    completion_text,
    files_from_completion,
    read_tree,
    training_rows,
)
from pytest_rlgrade.integrations.trl import GradingInfrastructureError, reward_function
from pytest_rlgrade.report import Counts, Report, SandboxInfo, TaskReport

ROOT = Path(__file__).resolve().parent.parent
STARTER = read_tree(ROOT / "starter" / "metric_tracker")


# ------------------------------------------------------------------------- the completion format


def test_path_in_the_info_string() -> None:
    text = "Here it is:\n```python metric_tracker/detector.py\ndef f():\n    return 1\n```\nDone."
    assert files_from_completion(text) == {"metric_tracker/detector.py": "def f():\n    return 1\n"}
    assert files_from_completion("```pkg/a.py\nx = 1\n```") == {"pkg/a.py": "x = 1\n"}
    assert files_from_completion('```python title="pkg/a.py"\nx = 1\n```') == {"pkg/a.py": "x = 1\n"}
    assert files_from_completion("```python path=pkg/a.py\nx = 1\n```") == {"pkg/a.py": "x = 1\n"}


@pytest.mark.parametrize(
    "heading",
    [
        "pkg/a.py",
        "`pkg/a.py`",
        "**pkg/a.py**",
        "**`pkg/a.py`**",
        "### pkg/a.py",
        "## `pkg/a.py`",
        "File: pkg/a.py",
        "pkg/a.py:",
        "- `pkg/a.py`",
    ],
)
def test_path_on_the_line_before_the_fence(heading: str) -> None:
    assert files_from_completion(f"Intro.\n\n{heading}\n\n```python\nx = 1\n```\n") == {"pkg/a.py": "x = 1\n"}


def test_several_files_fences_inside_and_blocks_without_path() -> None:
    text = (
        "Two files.\n\n"
        "pkg/__init__.py\n```python\nfrom .core import run\n```\n"
        "Usage:\n```bash\npython -m pkg\n```\n"
        "````markdown pkg/README.md\nExample:\n```python\nrun()\n```\n````\n"
        "~~~python pkg/core.py\ndef run():\n    pass\n~~~\n"
        "  ```python pkg/indented.py\n    x = 1\n  y = 2\n  ```\n"
    )
    assert files_from_completion(text) == {
        "pkg/__init__.py": "from .core import run\n",
        "pkg/README.md": "Example:\n```python\nrun()\n```\n",
        "pkg/core.py": "def run():\n    pass\n",
        "pkg/indented.py": "  x = 1\ny = 2\n",
    }


def test_a_heading_belongs_only_to_the_block_right_after_it() -> None:
    text = "pkg/a.py\n```python\na = 1\n```\n```python\nb = 2\n```\n"
    assert files_from_completion(text) == {"pkg/a.py": "a = 1\n"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I could not do it.", "no fenced code block headed by a file path"),
        ("```python\nx = 1\n```", "no fenced code block headed by a file path"),
        ("```python pkg/a.py\nx = 1\n", "the code block for pkg/a.py is not closed"),
        ("```python pkg/a.py\na\n```\n```python pkg/a.py\nb\n```", "pkg/a.py: given twice"),
        ("```python /etc/passwd\nx\n```", "an absolute path"),
        ("```python ../outside.py\nx\n```", "climbs out"),
        ("```python pkg/../../x.py\nx\n```", "climbs out"),
    ],
)
def test_what_cannot_be_turned_into_files_says_why(text: str, reason: str) -> None:
    with pytest.raises(CompletionError, match=reason):
        files_from_completion(text)


def test_chat_message_completions() -> None:
    block = "```python pkg/a.py\nx = 1\n```"
    assert completion_text([{"role": "assistant", "content": block}]) == block
    parts = [{"role": "assistant", "content": [{"type": "text", "text": block}, {"type": "image"}]}]
    assert files_from_completion(parts) == {"pkg/a.py": "x = 1\n"}
    with pytest.raises(CompletionError, match="text or chat messages"):
        completion_text(42)


PATHS = st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), min_size=1, max_size=3).map(
    lambda parts: "/".join(parts) + ".py"
)
LINES = st.lists(
    st.text(
        st.characters(codec="utf-8", exclude_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), max_size=20
    ).filter(lambda line: not line.lstrip(" ").startswith(("```", "~~~"))),
    max_size=6,
)


@given(st.dictionaries(PATHS, LINES, min_size=1, max_size=4))
def test_files_written_in_the_documented_format_come_back(files: dict[str, list[str]]) -> None:
    expected = {path: "".join(line + "\n" for line in lines) for path, lines in files.items()}
    text = "Solution:\n\n" + "\n".join(f"```python {path}\n{body}```\n" for path, body in expected.items())
    assert files_from_completion(text) == expected


# ------------------------------------------------------------------------ the reward function


class RecordingGrader:
    """Answers each submission with a report whose reward is the share of its files containing
    "solved"; a file containing "INFRA" gives reward null, as a harness failure would."""

    def __init__(self) -> None:
        self.batches: list[dict[str, Any]] = []

    def grade_many(
        self, submissions: list[dict[str, str]], *, task: str, instance: str | None = None, seed: int | None = None
    ) -> list[Report]:
        self.batches.append({"submissions": submissions, "task": task, "instance": instance, "seed": seed})
        return [self._report(s, task, seed) for s in submissions]

    @staticmethod
    def _report(files: dict[str, str], task: str, seed: int | None) -> Report:
        broken = any("INFRA" in text for text in files.values())
        solved = sum("solved" in text for text in files.values())
        reward = None if broken else solved / len(files)
        return Report(
            submission="<memory>",
            submission_path="<memory>",
            seed=seed or 0,
            reward=reward,
            exit_status=3 if broken else 0,
            duration=0.0,
            sandbox=SandboxInfo(isolation="sandbox"),
            tasks=[
                TaskReport(
                    name=task,
                    reward=reward,
                    flags=["infra_error"] if broken else [],
                    error="the sandbox could not start" if broken else None,
                    counts=Counts(total=len(files), passed=solved, failed=len(files) - solved, missing=0),
                    duration=0.0,
                )
            ],
        )


class Trainer:
    """What GRPOTrainer passes beside prompts and completions."""

    def __init__(self) -> None:
        self.extra: dict[str, list[Any]] = defaultdict(list)
        self.metrics: dict[str, list[float]] = defaultdict(list)

    def call(self, reward: Any, prompts: list[Any], completions: list[Any], **columns: Any) -> list[float]:
        values = reward(
            prompts=prompts,
            completions=completions,
            completion_ids=[[1, 2, 3]] * len(completions),
            **columns,
            trainer_state=object(),
            log_extra=lambda column, values: self.extra[column].extend(values),
            log_metric=lambda name, value: self.metrics[name].append(value),
        )
        assert isinstance(values, list)
        assert all(type(v) is float for v in values)
        assert len(values) == len(completions)
        return values


def block(path: str, text: str) -> str:
    return f"Here you go.\n```python {path}\n{text}\n```\n"


def test_batch_graded_in_one_call_with_one_seed_over_the_starter(caplog: pytest.LogCaptureFixture) -> None:
    grader = RecordingGrader()
    reward = reward_function(task="metric_tracker", root=ROOT, grader=grader)
    assert reward.__name__ == "rlgrade_metric_tracker"
    trainer = Trainer()
    completions = [
        block("metric_tracker/detector.py", "# solved"),
        "I don't know.",
        [{"role": "assistant", "content": block("metric_tracker/extra.py", "# solved")}],
        block("metric_tracker/detector.py", "# todo"),
    ]
    with caplog.at_level(logging.WARNING, logger="pytest_rlgrade.trl"):
        rewards = trainer.call(reward, ["prompt"] * 4, completions)
    assert rewards == [pytest.approx(1 / 3), 0.0, pytest.approx(1 / 4), 0.0]
    (batch,) = grader.batches
    assert batch["task"] == "metric_tracker"
    assert batch["instance"] is None
    assert isinstance(batch["seed"], int)
    first, chat, last = batch["submissions"]  # the unparsable completion is not graded
    assert first == {**STARTER, "metric_tracker/detector.py": "# solved\n"}
    assert set(chat) == {*STARTER, "metric_tracker/extra.py"}
    assert last["metric_tracker/detector.py"] == "# todo\n"
    assert "completion 1 of task metric_tracker gets 0.0: no fenced code block" in caplog.text
    reasons = trainer.extra["rlgrade_reason"]
    assert reasons[1].startswith("not graded: no fenced code block")
    assert reasons[0] == "graded: reward 0.3333"
    assert trainer.metrics["rlgrade/not_files"] == [0.25]
    assert reward.last_reports[1] is None
    assert reward.last_reports[0] is not None


def test_seed_fixed_or_fresh_per_call() -> None:
    grader = RecordingGrader()
    fixed = reward_function(task="metric_tracker", root=ROOT, grader=grader, seed=7)
    Trainer().call(fixed, ["p"], [block("a/b.py", "solved")])
    Trainer().call(fixed, ["p"], [block("a/b.py", "solved")])
    assert [b["seed"] for b in grader.batches] == [7, 7]
    fresh = reward_function(task="metric_tracker", root=ROOT, grader=grader, base=None)
    seeds = set()
    for _ in range(4):
        assert Trainer().call(fresh, ["p"], [block("a/b.py", "solved")]) == [1.0]
        seeds.add(grader.batches[-1]["seed"])
    assert len(seeds) > 1
    assert grader.batches[-1]["submissions"] == [{"a/b.py": "solved\n"}]  # base=None: alone


def test_instances_come_from_a_dataset_column_and_order_is_kept() -> None:
    grader = RecordingGrader()
    reward = reward_function(task="toy", root=ROOT, grader=grader, base=None)
    completions = [block("a.py", "solved"), block("a.py", "x"), block("b.py", "solved"), "nothing"]
    rewards = Trainer().call(reward, ["p"] * 4, completions, instance=["p1", "p2", "p1", "p2"], answer=[1, 2, 3, 4])
    assert rewards == [1.0, 0.0, 1.0, 0.0]
    assert [(b["instance"], len(b["submissions"])) for b in grader.batches] == [("p1", 2), ("p2", 1)]
    assert len({b["seed"] for b in grader.batches}) == 1
    with pytest.raises(ValueError, match="one instance id per completion"):
        Trainer().call(reward, ["p"] * 2, completions[:2], instance="p1")


def test_an_infrastructure_error_raises_instead_of_rewarding_zero() -> None:
    grader = RecordingGrader()
    reward = reward_function(task="metric_tracker", root=ROOT, grader=grader, base=None)
    with pytest.raises(GradingInfrastructureError, match="1 of 2 completions .* could not be graded") as caught:
        Trainer().call(reward, ["p", "p"], [block("a.py", "solved"), block("a.py", "INFRA")])
    assert "the sandbox could not start" in str(caught.value)
    assert [r.reward if r else None for r in caught.value.reports] == [1.0, None]


def test_a_custom_to_files_and_its_failures() -> None:
    grader = RecordingGrader()

    def to_files(completion: Any) -> dict[str, str]:
        if "boom" in completion:
            raise KeyError("boom")
        return {"pkg/main.py": completion}

    reward = reward_function("metric_tracker", to_files, root=ROOT, grader=grader, base=None, name="mine")
    trainer = Trainer()
    assert reward.__name__ == "mine"
    assert trainer.call(reward, ["p"] * 2, ["solved", "boom"]) == [1.0, 0.0]
    assert trainer.extra["rlgrade_reason"][1] == "not graded: to_files raised KeyError: 'boom'"
    assert trainer.call(reward, ["p"], ["solved \ud800"]) == [0.0]
    assert "not valid Unicode text" in trainer.extra["rlgrade_reason"][2]
    with pytest.raises(ValueError, match="2 prompts but 1 completions"):
        reward(prompts=["p", "p"], completions=["x"])
    with pytest.raises(ValueError, match="base must be"):
        reward_function("metric_tracker", base="reference")


def test_the_reward_function_pickles_without_its_grader() -> None:
    grader = RecordingGrader()
    reward = reward_function(task="metric_tracker", root=ROOT, grader=grader, seed=3)
    Trainer().call(reward, ["p"], [block("a/b.py", "solved")])
    copy = pickle.loads(pickle.dumps(reward))
    assert copy.__name__ == reward.__name__
    assert (copy.task, copy.seed, copy.root, copy.to_files) == ("metric_tracker", 3, ROOT, files_from_completion)
    assert copy._grader is None  # it starts its own where it lands
    assert copy.last_reports == []
    assert Trainer().call(copy, ["p"], ["no code"]) == [0.0]


def test_nothing_to_grade_starts_no_grader() -> None:
    reward = reward_function(task="metric_tracker", root=ROOT)
    assert Trainer().call(reward, ["p"], ["no code here"]) == [0.0]
    assert reward._grader is None
    reward.close()


@pytest.mark.slow
def test_with_the_real_grader() -> None:
    reference = read_tree(ROOT / "reference" / "metric_tracker")
    whole = "\n".join(f"```python {path}\n{text}```" for path, text in reference.items())
    broken = block("metric_tracker/detector.py", "def detect(:\n")
    with reward_function(task="metric_tracker", root=ROOT, seed=11, workers=2) as reward:
        trainer = Trainer()
        rewards = trainer.call(reward, ["p"] * 4, [whole, "no files", broken, block("metric_tracker/notes.py", "# x")])
    assert rewards[0] == 1.0
    assert rewards[1] == 0.0
    assert rewards[2] == 0.0  # the gate (the package imports) fails
    assert 0 < rewards[3] <= 0.1  # the starter as it is
    assert {r.seed for r in reward.last_reports if r is not None} == {11}


def test_training_rows_of_a_dataset_task_and_of_a_plain_one() -> None:
    rows = training_rows("funcbench", ROOT)
    problems = [json.loads(line) for line in (ROOT / "tasks/funcbench/hidden/problems.jsonl").read_text().splitlines()]
    assert [row["instance"] for row in rows] == [p["id"] for p in problems]
    prompt = (ROOT / "tasks/funcbench/prompt.md").read_text()
    assert rows[0]["prompt"] == prompt.rstrip("\n") + "\n\n" + problems[0]["prompt"]
    assert training_rows("metric_tracker", ROOT) == [{"prompt": (ROOT / "tasks/metric_tracker/prompt.md").read_text()}]


@pytest.mark.slow
def test_dataset_instances_with_the_real_grader() -> None:
    rows = training_rows("funcbench", ROOT)[:3]
    solution = (ROOT / "reference/funcbench/funcbench/__init__.py").read_text()
    completions = [
        block("funcbench/__init__.py", solution),
        block("funcbench/__init__.py", "x = 1"),
        block("funcbench/__init__.py", solution),
    ]
    with reward_function(task="funcbench", root=ROOT, workers=2) as reward:
        rewards = Trainer().call(
            reward, [r["prompt"] for r in rows], completions, instance=[r["instance"] for r in rows]
        )
    assert rewards == [1.0, 0.0, 1.0]
    assert [r.tasks[0].instance for r in reward.last_reports if r is not None] == [r["instance"] for r in rows]
