"""The Ray backend against a real local Ray cluster (a head and a worker node, started and stopped
here), including a worker killed in the middle of a batch (issue #10)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")


ROOT = Path(__file__).resolve().parent.parent
TOP3 = "def top_3_distinct(xs):\n    return tuple(sorted(set(xs), reverse=True)[:3])\n"
INSTANCE = "top_distinct-3"
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A head node and one worker node on this machine, one CPU each."""
    ray_cli = str(Path(sys.executable).with_name("ray"))
    if not Path(ray_cli).exists():
        ray_cli = shutil.which("ray") or "ray"
    port = free_port()
    # Ray's socket paths live under its temp dir and must stay within AF_UNIX's 107 bytes, which
    # pytest's own temp dirs exceed under pytest-xdist (.../pytest-N/popen-gw1/ray0/session_...).
    temp = Path(tempfile.mkdtemp(prefix="rlray-", dir="/tmp"))
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
        shutil.rmtree(temp, ignore_errors=True)


# Each scenario drives the Ray driver in a process of its own: a Ray driver keeps threads and
# exit handlers of its own, and a node killed under it must not be able to take the test run down.
SAME_AS_LOCAL = """
import json, sys
from pytest_rlgrade.engine import Grader
root, address, instance = sys.argv[1:4]
top3 = "def top_3_distinct(xs):\\n    return tuple(sorted(set(xs), reverse=True)[:3])\\n"
rollouts = [{"funcbench/__init__.py": top3}, "starter", "reference", {"funcbench/__init__.py": "x = ("}]
def summary(reports):
    return [[r.reward, r.seed, r.tasks[0].flags, [[t.node_id, t.outcome] for t in r.tasks[0].tests],
             r.sandbox.confinement] for r in reports]
with Grader(root, tasks=["funcbench"], workers=2, seed=8, backend="ray", address=address) as remote:
    far = summary(remote.grade_many(rollouts, task="funcbench", instance=instance))
with Grader(root, tasks=["funcbench"], workers=2, seed=8) as local:
    near = summary(local.grade_many(rollouts, task="funcbench", instance=instance))
print(json.dumps({"far": far, "near": near}))
"""

LOSE_A_NODE = """
import json, os, signal, sys
from pytest_rlgrade.engine import Grader
root, address, instance = sys.argv[1:4]
top3 = "def top_3_distinct(xs):\\n    return tuple(sorted(set(xs), reverse=True)[:3])\\n"
with Grader(root, tasks=["funcbench"], workers=2, seed=2, backend="ray", address=address) as grader:
    victim = grader._backend.actor_pids()[0]
    rewards = {}
    for index, report in grader.grade_iter([{"funcbench/__init__.py": top3}] * 8, task="funcbench", instance=instance):
        rewards[index] = report.reward
        if len(rewards) == 1:
            os.kill(victim, signal.SIGKILL)
print(json.dumps({"rewards": rewards, "victim": victim, "me": os.getpid()}))
"""


def drive(script: str, cluster: str) -> dict[str, object]:
    import json

    done = subprocess.run(
        [sys.executable, "-c", script, str(ROOT), cluster, INSTANCE],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_cluster_grades_as_this_machine_does(cluster: str) -> None:
    result = drive(SAME_AS_LOCAL, cluster)
    far, near = result["far"], result["near"]
    assert [r[0] for r in far] == [r[0] for r in near] == [1.0, 0.0, 1.0, 0.0]  # type: ignore[index, union-attr]
    for a, b in zip(far, near, strict=True):  # type: ignore[call-overload]
        assert a[1:4] == b[1:4]  # seed, flags, per-test outcomes
        assert a[4] == b[4]  # the same confinement on the node


def test_a_worker_lost_mid_batch_costs_a_retry_not_a_reward(cluster: str) -> None:
    result = drive(LOSE_A_NODE, cluster)
    rewards = result["rewards"]
    assert result["victim"] != result["me"]
    assert sorted(int(i) for i in rewards) == list(range(8))  # type: ignore[union-attr]
    assert set(rewards.values()) <= {1.0, None}  # type: ignore[union-attr]  # never a 0 for the harness's loss
    assert list(rewards.values()).count(1.0) >= 7  # type: ignore[union-attr]
