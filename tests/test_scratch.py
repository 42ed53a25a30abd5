"""Tier 1: where the harness's transient folders go (``pytest_rlgrade.scratch``)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_rlgrade import Grader, GraderError, scratch


@pytest.fixture(autouse=True)
def fresh_choice(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(scratch.ENV, raising=False)
    scratch._shm_base.cache_clear()
    yield
    scratch._shm_base.cache_clear()


def test_the_variable_wins_and_folders_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(scratch.ENV, str(tmp_path))
    assert scratch.base() == str(tmp_path)
    made = scratch.make("rlgrade-x-")
    assert made.parent == tmp_path
    assert made.name.startswith("rlgrade-x-")
    assert stat.S_IMODE(made.stat().st_mode) == 0o700


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_variable_naming_no_usable_folder_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    target = tmp_path / kind
    if kind == "file":
        target.write_text("")
    monkeypatch.setenv(scratch.ENV, str(target))
    with pytest.raises(scratch.ScratchError, match=rf"^RLGRADE_TMPDIR={target}: not a folder"):
        scratch.base()
    with pytest.raises(GraderError, match="RLGRADE_TMPDIR"):
        Grader(Path(__file__).resolve().parent.parent, tasks=["funcbench"])


def test_shm_is_used_only_when_it_is_a_roomy_tmpfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scratch, "SHM", str(tmp_path))
    monkeypatch.setattr(scratch, "_is_tmpfs", lambda path: False)
    assert scratch.base() is None  # a disk folder: the system's temporary folder instead
    scratch._shm_base.cache_clear()
    monkeypatch.setattr(scratch, "_is_tmpfs", lambda path: path == str(tmp_path))
    monkeypatch.setattr(scratch, "MIN_FREE", 0)
    assert scratch.base() == str(tmp_path)
    scratch._shm_base.cache_clear()
    monkeypatch.setattr(scratch, "MIN_FREE", 1 << 62)  # a container's small /dev/shm
    assert scratch.base() is None


def test_tmpfs_is_told_by_the_last_mount_at_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text("tmpfs /dev/shm tmpfs rw 0 0\n/dev/vda /dev/shm ext4 rw 0 0\ntmpfs /run tmpfs rw 0 0\n")
    real_open = open

    def fake_open(path: str, *args: object, **kwargs: object) -> object:
        return real_open(mounts if path == "/proc/self/mounts" else path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", fake_open)
    assert scratch._is_tmpfs("/dev/shm") is False
    assert scratch._is_tmpfs("/run") is True
    assert scratch._is_tmpfs("/elsewhere") is False
