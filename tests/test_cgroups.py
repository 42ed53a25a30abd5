"""Tier 1: killing what is left in a sandbox's cgroups, on cgroup v2 and on v1 (no cgroup.kill)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_rlgrade.cgroups import SandboxCgroups


@pytest.fixture
def signals(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    sent: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append((pid, sig)))
    return sent


def v1_group(tmp_path: Path, pids: list[int]) -> SandboxCgroups:
    """A v1 group as the supervisor sees it: its processes listed, no cgroup.kill file."""
    folder = tmp_path / "pids-group"
    folder.mkdir()
    (folder / "cgroup.procs").write_text("".join(f"{pid}\n" for pid in pids))
    return SandboxCgroups([folder], ["pids"])


def test_v1_without_waiting_signals_each_process_once(tmp_path: Path, signals: list[tuple[int, int]]) -> None:
    group = v1_group(tmp_path, [101, 102])
    group.kill(wait=False)  # the grading's answer goes now; the worker's waiting kill follows
    assert signals == [(101, 9), (102, 9)]


def test_v1_waiting_goes_on_until_the_group_is_empty(tmp_path: Path, signals: list[tuple[int, int]]) -> None:
    group = v1_group(tmp_path, [101])
    group.kill(wait=True)  # this group never empties (nothing really dies): the loop's bound ends it
    assert len(signals) == 50
    (group.folders[0] / "cgroup.procs").write_text("")
    signals.clear()
    group.kill(wait=True)
    assert signals == []


def test_v2_kill_file_takes_the_signal(tmp_path: Path, signals: list[tuple[int, int]]) -> None:
    folder = tmp_path / "group"
    folder.mkdir()
    (folder / "cgroup.kill").write_text("")
    (folder / "cgroup.procs").write_text("101\n")
    SandboxCgroups([folder], ["pids", "memory"]).kill(wait=False)
    assert (folder / "cgroup.kill").read_text() == "1"
    assert signals == []
