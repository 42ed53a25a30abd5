"""``rlgrade serve``: a task as an OpenEnv environment, driven by openenv's own WebSocket client
and plain HTTP against a server on loopback.

The fast tests serve a task through a recording grader, so they check the protocol, validation and
isolation of sessions without paying for gradings; the slow ones start ``rlgrade serve`` itself
and grade the shipped reference and starter through the real Grader."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openenv")

import httpx  # noqa: E402  (openenv-core brings it)
import uvicorn  # noqa: E402

from pytest_rlgrade.cli import main as rlgrade  # noqa: E402
from pytest_rlgrade.integrations import openenv as served_env  # noqa: E402
from pytest_rlgrade.integrations.completions import read_tree  # noqa: E402
from pytest_rlgrade.integrations.openenv import RlgradeEnv, SubmitFiles  # noqa: E402
from pytest_rlgrade.report import Counts, Report, SandboxInfo, TaskReport  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RecordingGrader:
    """Grades nothing: answers with a report whose reward is the share of files whose text says
    "solved", and records each call, sleeping so that concurrent sessions overlap."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[dict[str, Any]] = []
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    def grade(self, submission: Any, *, task: str, instance: str | None = None, seed: int | None = None) -> Report:
        with self._lock:
            self.calls.append({"submission": submission, "task": task, "instance": instance, "seed": seed})
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            time.sleep(self.delay)
            solved = sum("solved" in text for text in submission.values())
            reward = solved / len(submission)
            return Report(
                submission=json.dumps(sorted(submission)),
                submission_path="<memory>",
                seed=seed if seed is not None else 0,
                reward=reward,
                exit_status=0,
                duration=self.delay,
                sandbox=SandboxInfo(isolation="sandbox"),
                tasks=[
                    TaskReport(
                        name=task,
                        reward=reward,
                        counts=Counts(total=len(submission), passed=solved, failed=len(submission) - solved, missing=0),
                        duration=self.delay,
                    )
                ],
            )
        finally:
            with self._lock:
                self.active -= 1


class Served:
    def __init__(self, url: str, grader: RecordingGrader, task: served_env.ServedTask) -> None:
        self.url = url
        self.grader = grader
        self.task = task

    def client(self) -> Any:
        return RlgradeEnv(base_url=self.url).sync()


@contextlib.contextmanager
def serve_in_thread(task: served_env.ServedTask, grader: Any) -> Iterator[Served]:
    app = served_env.create_environment_app(task, grader, max_sessions=8)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}", grader, task)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def served() -> Iterator[Served]:
    with serve_in_thread(served_env.load_served_task("metric_tracker", ROOT), RecordingGrader(delay=0.3)) as serving:
        yield serving


def make_dataset_task(root: Path, *, public: bool) -> None:
    task = root / "tasks" / "toy"
    (task / "tests").mkdir(parents=True)
    (task / "data").mkdir()
    rows = [{"id": f"p{i}", "prompt": f"add {i}", "expected": i + 1} for i in range(5)]
    (task / "data" / "problems.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (task / "prompt.md").write_text("# Toy\nAdd numbers.\n")
    (task / "task.yaml").write_text(
        "name: toy\npackage: toy\ninstances: data/problems.jsonl\n" + ("public: [data]\n" if public else "")
    )
    (root / "starter" / "toy" / "toy").mkdir(parents=True)
    (root / "starter" / "toy" / "toy" / "__init__.py").write_text("def add(x):\n    raise NotImplementedError\n")
    (root / "starter" / "toy" / "toy" / "__pycache__").mkdir()
    (root / "starter" / "toy" / "toy" / "__pycache__" / "x.pyc").write_bytes(b"\0")


# --------------------------------------------------------------------------------- the task


def test_served_task_reads_prompt_and_starter() -> None:
    task = served_env.load_served_task("metric_tracker", ROOT)
    assert task.prompt == (ROOT / "tasks/metric_tracker/prompt.md").read_text()
    assert set(task.starter_files) == {
        "metric_tracker/__init__.py",
        "metric_tracker/detector.py",
        "metric_tracker/investigator.py",
    }
    assert (
        task.starter_files["metric_tracker/detector.py"]
        == (ROOT / "starter/metric_tracker/metric_tracker/detector.py").read_text()
    )
    assert task.instances == {}


def test_unknown_task_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown task 'nope' .*metric_tracker"):
        served_env.load_served_task("nope", ROOT)


def test_cli_refuses_bad_arguments_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert rlgrade(["serve", "--task", "nope", "--root", str(ROOT)]) == served_env.USAGE_ERROR
    err = capsys.readouterr().err
    assert err.startswith("rlgrade serve: error: ")
    assert "nope" in err
    assert "metric_tracker" in err  # the tasks there
    assert err.count("\n") == 1
    assert rlgrade(["serve", "--task", "metric_tracker", "--port", "70000"]) == served_env.USAGE_ERROR
    assert "--port 70000: not a port number" in capsys.readouterr().err


def test_dataset_instances_are_drawn_from_the_seed_and_rows_given_only_when_public(tmp_path: Path) -> None:
    make_dataset_task(tmp_path / "private", public=False)
    make_dataset_task(tmp_path / "public", public=True)
    private = served_env.load_served_task("toy", tmp_path / "private")
    assert private.starter_files == {"toy/__init__.py": "def add(x):\n    raise NotImplementedError\n"}
    env = served_env.TaskEnvironment(served=private, grader=RecordingGrader())
    first = env.reset(seed=11)
    assert first.instance in private.instances
    assert env.reset(seed=11).instance == first.instance
    assert {env.reset(seed=s).instance for s in range(40)} == set(private.instances)
    assert first.instance_data is None  # the row holds the expected answer: not public
    n = int(first.instance.removeprefix("p"))
    assert first.prompt == f"# Toy\nAdd numbers.\n\nadd {n}"  # the task's prompt, then the instance's
    public = served_env.load_served_task("toy", tmp_path / "public")
    row = served_env.TaskEnvironment(served=public, grader=RecordingGrader()).reset(seed=3, instance="p2")
    assert row.instance == "p2"
    assert row.instance_data == {"id": "p2", "prompt": "add 2", "expected": 3}


# ---------------------------------------------------------------------------- over the wire


def test_episode_with_openenv_client(served: Served) -> None:
    with served.client() as env:
        episode = env.reset(seed=42)
        assert episode.done is False
        assert episode.reward is None
        observation = episode.observation
        assert observation.task == "metric_tracker"
        assert observation.prompt == served.task.prompt
        assert observation.files == served.task.starter_files
        assert observation.seed == 42
        assert observation.instance is None
        files = {**observation.files, "metric_tracker/detector.py": "# solved"}
        result = env.step(SubmitFiles(files=files))
        assert result.done is True
        assert result.reward == pytest.approx(1 / 3)
        report = result.observation.report
        assert report["seed"] == 42
        assert report["tasks"][0]["counts"] == {"total": 3, "passed": 1, "failed": 2, "missing": 0}
        assert served.grader.calls == [{"submission": files, "task": "metric_tracker", "instance": None, "seed": 42}]
        state = env.state()
        assert (state.graded, state.seed, state.reward, state.step_count) == (True, 42, pytest.approx(1 / 3), 1)
        with pytest.raises(RuntimeError, match="episode is over"):
            env.step(SubmitFiles(files=files))
        # A new episode in the same session draws a fresh seed.
        again = env.reset()
        assert again.observation.seed != 42
        assert env.step(SubmitFiles(files={"a/b.py": "solved"})).reward == 1.0


def test_malformed_actions_get_422_naming_the_problem(served: Served) -> None:
    bad = {
        "no files key": ({"action": {}}, "files"),
        "files not a mapping": ({"action": {"files": ["a.py"]}}, "valid dictionary"),
        "text not a string": ({"action": {"files": {"a.py": 3}}}, "valid string"),
        "unknown key": ({"action": {"files": {"a.py": ""}, "shell": "rm -rf /"}}, "Extra inputs are not permitted"),
        "no files": ({"action": {"files": {}}}, "no files"),
        "negative seed": ({"action": {"files": {"a.py": ""}, "seed": -1}}, "greater than or equal to 0"),
        "too many files": ({"action": {"files": {f"f{i}.py": "" for i in range(2001)}}}, "at most 2000"),
        "not an object": ({"action": "files"}, "valid dictionary"),
        "task without instances": ({"action": {"files": {"a.py": ""}, "instance": "p1"}}, "has no dataset instances"),
    }
    with httpx.Client(base_url=served.url, timeout=30) as http:
        for name, (body, expected) in bad.items():
            response = http.post("/step", json=body)
            assert response.status_code == 422, (name, response.text)
            assert expected in response.text, (name, response.text)
        response = http.post("/step", content=b"{not json", headers={"content-type": "application/json"})
        assert response.status_code == 422
        # JSON may spell a lone surrogate, which no file can hold: it is graded as U+FFFD.
        lone = b'{"action": {"files": {"pkg/a.py": "solved \\ud800", "b\\udc00.py": ""}, "seed": 1}}'
        response = http.post("/step", content=lone, headers={"content-type": "application/json"})
        assert response.status_code == 200, response.text
        assert served.grader.calls.pop()["submission"] == {"pkg/a.py": "solved \ufffd", "b\ufffd.py": ""}
        response = http.post("/reset", json={"instance": "p1"})
        assert response.status_code == 422
        assert "has no dataset instances" in response.text
        response = http.post("/reset", json={"colour": "red"})
        assert response.status_code == 422
        assert "unknown reset parameter(s): colour" in response.text
        assert served.grader.calls == []
        # The server is unharmed: a good stateless step grades the action alone.
        response = http.post("/step", json={"action": {"files": {"a.py": "solved"}, "seed": 5}})
        assert response.status_code == 200, response.text
        assert response.json()["reward"] == 1.0
        assert response.json()["done"] is True
        assert response.json()["observation"]["report"]["seed"] == 5
        assert http.get("/health").json()["status"] == "healthy"
        schema = http.get("/schema").json()
        assert set(schema["action"]["properties"]) >= {"files", "seed", "instance"}


def test_malformed_action_over_websocket_leaves_the_session_usable(served: Served) -> None:
    with served.client() as env:
        env.reset(seed=1)
        with pytest.raises(RuntimeError, match="VALIDATION_ERROR"):
            env.step({"files": "not a mapping"})
        with pytest.raises(RuntimeError, match="unknown instance|no dataset instances"):
            env.step(SubmitFiles(files={"a.py": ""}, instance="zz"))
        assert env.step(SubmitFiles(files={"a.py": "solved"})).observation.seed == 1


def test_concurrent_sessions_are_isolated(served: Served) -> None:
    def episode(n: int) -> tuple[int, Any, Any]:
        with served.client() as env:
            seed = env.reset(seed=1000 + n).observation.seed
            files = {f"pkg/mod{i}.py": "solved" if i < n else "todo" for i in range(4)}
            result = env.step(SubmitFiles(files=files))
            return seed, result, env.state()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(episode, range(1, 5)))
    assert served.grader.most_active > 1  # the gradings overlapped
    for n, (seed, result, state) in enumerate(results, 1):
        assert seed == 1000 + n
        assert result.reward == n / 4
        assert result.observation.report["seed"] == 1000 + n
        assert state.seed == 1000 + n
        assert state.reward == n / 4
    assert sorted(c["seed"] for c in served.grader.calls) == [1001, 1002, 1003, 1004]


# ---------------------------------------------------------------------------- real gradings


@pytest.mark.slow
def test_dataset_task_episodes_grade_their_instance() -> None:
    from pytest_rlgrade import Grader

    task = served_env.load_served_task("funcbench", ROOT)
    reference = read_tree(ROOT / "reference" / "funcbench")
    with Grader(root=ROOT, tasks=["funcbench"], workers=2) as grader, serve_in_thread(task, grader) as served:

        def episode(seed: int) -> tuple[Any, Any]:
            with RlgradeEnv(base_url=served.url, message_timeout_s=600).sync() as env:
                start = env.reset(seed=seed)
                return start, env.step(SubmitFiles(files=reference if seed % 2 else start.observation.files))

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(episode, [1, 2]))
    for seed, (start, result) in zip([1, 2], results, strict=True):
        instance = start.observation.instance
        assert instance in task.instances
        assert task.instances[instance]["prompt"] in start.observation.prompt
        assert start.observation.instance_data is None  # hidden/problems.jsonl is not public
        report = result.observation.report
        assert report["tasks"][0]["instance"] == instance
        assert report["seed"] == seed
        assert result.reward == (1.0 if seed % 2 else 0.0), report


@pytest.fixture(scope="module")
def rlgrade_serve() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_rlgrade", "serve", "--task", "metric_tracker", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"rlgrade serve exited with {process.returncode}: {process.stdout.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "rlgrade serve did not come up"
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail("rlgrade serve did not stop on SIGINT within 60 s")
        output = process.stdout.read()  # type: ignore[union-attr]
        # Episodes end with the client closing its socket: that must not log a traceback.
        assert "Traceback" not in output, output
        assert output.startswith("rlgrade serve: task metric_tracker on http://127.0.0.1:"), output


@pytest.mark.slow
def test_rlgrade_serve_grades_reference_and_starter_concurrently(rlgrade_serve: str) -> None:
    reference = read_tree(ROOT / "reference" / "metric_tracker")

    def episode(which: str) -> tuple[int, Any]:
        with RlgradeEnv(base_url=rlgrade_serve, message_timeout_s=600).sync() as env:
            start = env.reset(seed=7)
            files = reference if which == "reference" else start.observation.files
            return start.observation.seed, env.step(SubmitFiles(files=files))

    with ThreadPoolExecutor(2) as pool:
        (seed_ref, ref), (seed_start, start) = pool.map(episode, ["reference", "starter"])
    assert seed_ref == seed_start == 7
    assert ref.reward == 1.0, ref.observation.report
    assert ref.done is True
    assert ref.observation.report["tasks"][0]["counts"]["failed"] == 0
    assert 0 <= start.reward <= 0.1, start.observation.report
    assert (
        start.observation.report["tasks"][0]["counts"]["passed"]
        < ref.observation.report["tasks"][0]["counts"]["passed"]
    )
    assert ref.observation.report["seed"] == start.observation.report["seed"] == 7


@pytest.mark.slow
def test_rlgrade_serve_grades_a_broken_path_as_the_rollouts_fault(rlgrade_serve: str) -> None:
    with RlgradeEnv(base_url=rlgrade_serve, message_timeout_s=600).sync() as env:
        env.reset(seed=3)
        result = env.step(SubmitFiles(files={"../escape.py": "x = 1"}))
    assert result.reward == 0.0
    assert result.done is True
