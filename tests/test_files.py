"""Reading what a submission left behind: no link followed, no FIFO waited on, nothing outside."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_rlgrade.files import UnsafeFile, read_beneath, scrub


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "secret.txt").write_text("hidden answer")
    folder = tmp_path / "work"
    (folder / "runs" / "a").mkdir(parents=True)
    (folder / "runs" / "a" / "summary.json").write_text('{"ok": true}')
    return folder


def test_a_regular_file_is_read(workdir: Path) -> None:
    assert read_beneath(workdir, "runs/a/summary.json", 100) == b'{"ok": true}'


def test_a_missing_file_is_file_not_found(workdir: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_beneath(workdir, "runs/a/nothing.json", 100)


def test_a_link_as_the_file_is_refused(workdir: Path) -> None:
    (workdir / "out.json").symlink_to(workdir.parent / "secret.txt")
    with pytest.raises(UnsafeFile, match="link"):
        read_beneath(workdir, "out.json", 100)


def test_a_link_on_the_way_is_refused(workdir: Path) -> None:
    (workdir / "up").symlink_to(workdir.parent)
    with pytest.raises(UnsafeFile, match="not a plain folder"):
        read_beneath(workdir, "up/secret.txt", 100)


@pytest.mark.parametrize("relative", ["../secret.txt", "/etc/passwd", "runs/../../secret.txt", ""])
def test_paths_out_of_the_folder_are_refused(workdir: Path, relative: str) -> None:
    with pytest.raises(UnsafeFile):
        read_beneath(workdir, relative, 100)


def test_a_fifo_is_refused_without_blocking(workdir: Path) -> None:
    os.mkfifo(workdir / "pipe")
    with pytest.raises(UnsafeFile, match="not a regular file"):
        read_beneath(workdir, "pipe", 100)


def test_a_file_over_the_limit_is_refused(workdir: Path) -> None:
    (workdir / "big.txt").write_bytes(b"x" * 101)
    assert read_beneath(workdir, "runs/a/summary.json", 12) == b'{"ok": true}'
    with pytest.raises(UnsafeFile, match="larger than 100"):
        read_beneath(workdir, "big.txt", 100)


def test_scrub_removes_links_and_special_files_only(workdir: Path) -> None:
    (workdir / "runs" / "link").symlink_to(workdir.parent / "secret.txt")
    (workdir / "dirlink").symlink_to(workdir.parent)
    os.mkfifo(workdir / "runs" / "a" / "pipe")
    assert scrub(workdir) == ["dirlink", "runs/a/pipe", "runs/link"]
    assert (workdir / "runs" / "a" / "summary.json").is_file()
    assert (workdir.parent / "secret.txt").is_file()
    assert scrub(workdir) == []
