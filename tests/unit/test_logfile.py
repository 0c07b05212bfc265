"""Rotation of the detached engine's log (cockpit/daemon/logfile.py), on real files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.daemon.logfile import LogRotator


@pytest.fixture
def fds(tmp_path: Path) -> Iterator[tuple[Path, int, int]]:
    """The log file open on two descriptors, as a detached engine's stdout and stderr."""
    path = tmp_path / "engine-default.log"
    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    err = os.dup(out)
    yield path, out, err
    os.close(out)
    os.close(err)


def test_past_the_limit_the_file_becomes_part_1_and_both_fds_write_the_new_one(
    fds: tuple[Path, int, int],
) -> None:
    path, out, err = fds
    rotator = LogRotator(path, max_bytes=100, keep=3, fds=(out, err))
    os.write(err, b"x" * 99 + b"\n")
    assert rotator.check() is True
    assert Path(f"{path}.1").read_bytes() == b"x" * 99 + b"\n"
    os.write(out, b"after, stdout\n")
    os.write(err, b"after, stderr\n")
    assert path.read_bytes() == b"after, stdout\nafter, stderr\n"
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    assert rotator.check() is False  # small again
    assert rotator.rotations == 1


def test_below_the_limit_nothing_moves(fds: tuple[Path, int, int]) -> None:
    path, _out, err = fds
    os.write(err, b"short\n")
    assert LogRotator(path, max_bytes=100, keep=3, fds=(err,)).check() is False
    assert not Path(f"{path}.1").exists()


def test_older_parts_shift_and_the_oldest_goes(fds: tuple[Path, int, int]) -> None:
    path, out, err = fds
    Path(f"{path}.1").write_text("one\n")
    Path(f"{path}.2").write_text("two\n")
    os.write(err, b"now" * 50)
    assert LogRotator(path, max_bytes=100, keep=2, fds=(out, err)).check() is True
    assert Path(f"{path}.1").read_bytes() == b"now" * 50
    assert Path(f"{path}.2").read_text() == "one\n"
    assert not Path(f"{path}.3").exists()


def test_a_stderr_that_is_not_the_log_file_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "engine-default.log"
    path.write_bytes(b"y" * 500)  # the file is big, but stderr is a pipe (engine run)
    read, write = os.pipe()
    try:
        rotator = LogRotator(path, max_bytes=100, keep=3, fds=(write,))
        assert rotator.ours() is False
        assert rotator.check() is False
        assert path.read_bytes() == b"y" * 500
    finally:
        os.close(read)
        os.close(write)


def test_another_file_at_the_fd_is_not_rotated(tmp_path: Path) -> None:
    path = tmp_path / "engine-default.log"
    path.write_bytes(b"z" * 500)
    other = os.open(tmp_path / "other.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(other, b"w" * 500)
        assert LogRotator(path, max_bytes=100, keep=3, fds=(other,)).check() is False
        assert not Path(f"{path}.1").exists()
    finally:
        os.close(other)
