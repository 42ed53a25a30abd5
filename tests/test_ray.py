"""The Ray backend against a real local Ray cluster (a head and a worker node, started and stopped
here), including a worker killed in the middle of a batch (issue #10)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from pytest_rlgrade.engine import Grader  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TOP3 = "def top_3_distinct(xs):\n    return tuple(sorted(set(xs), reverse=True)[:3])\n"
INSTANCE = "top_distinct-3"
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A head node and one worker node on this machine, one CPU each."""
    ray_cli = str(Path(sys.executable).with_name("ray"))
    if not Path(ray_cli).exists():
        ray_cli = shutil.which("ray") or "ray"
    port = free_port()
    temp = tmp_path_factory.mktemp("ray")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    common = ["--num-cpus=1", "--disable-usage-stats", f"--temp-dir={temp}"]
    started = []
    try:
        for args in (
            ["--head", f"--port={port}", "--include-dashboard=false", "--node-ip-address=127.0.0.1"],
            [f"--address=127.0.0.1:{port}", "--node-ip-address=127.0.0.1"],
        ):
            done = subprocess.run(
                [ray_cli, "start", *args, *common], capture_output=True, text=True, env=env, timeout=180, check=False
            )
            assert done.returncode == 0, done.stdout + done.stderr
            started.append(args)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, env=env, timeout=120, check=False)


def test_the_cluster_grades_as_this_machine_does(cluster: str) -> None:
    rollouts = [{"funcbench/__init__.py": TOP3}, "starter", "reference", {"funcbench/__init__.py": "x = ("}]
    with Grader(ROOT, tasks=["funcbench"], workers=2, seed=8, backend="ray", address=cluster) as remote:
        far = remote.grade_many(rollouts, task="funcbench", instance=INSTANCE)
    with Grader(ROOT, tasks=["funcbench"], workers=2, seed=8) as local:
        near = local.grade_many(rollouts, task="funcbench", instance=INSTANCE)
    assert [r.reward for r in far] == [r.reward for r in near] == [1.0, 0.0, 1.0, 0.0]
    for a, b in zip(far, near, strict=True):
        assert a.seed == b.seed
        assert [(t.node_id, t.outcome) for t in a.tasks[0].tests] == [(t.node_id, t.outcome) for t in b.tasks[0].tests]
        assert a.tasks[0].flags == b.tasks[0].flags
    assert "landlock" in far[0].sandbox.confinement or "landlock" not in near[0].sandbox.confinement


def test_a_worker_lost_mid_batch_costs_a_retry_not_a_reward(cluster: str) -> None:
    rollouts = [{"funcbench/__init__.py": TOP3}] * 8
    with Grader(ROOT, tasks=["funcbench"], workers=2, seed=2, backend="ray", address=cluster) as grader:
        backend = grader._backend
        assert backend is not None
        victim = backend.actor_pids()[0]  # type: ignore[attr-defined]
        rewards = {}
        for index, report in grader.grade_iter(rollouts, task="funcbench", instance=INSTANCE):
            rewards[index] = report.reward
            if len(rewards) == 1:
                os.kill(victim, signal.SIGKILL)
        assert sorted(rewards) == list(range(8))
        assert set(rewards.values()) <= {1.0, None}  # never a 0 for the harness's loss
        assert list(rewards.values()).count(1.0) >= 7
