"""Checks when a journal is opened (issues 16.7, 16.11): refused with a message, never started
on silently and never a raw traceback."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.domain.exits import ExitPlan
from cockpit.domain.orders import Side
from cockpit.journal import Journal, JournalError


def journal_with_a_plan(path: Path) -> None:
    j = Journal.open(path, profile="t", venue="v")
    try:
        for i in range(200):  # a few pages, so that the last page is not the first
            j.instrument(f"NSE:S{i}", Decimal("0.05"), Decimal(1))
        j.plan("NSE:SBIN", ExitPlan(Side.BUY, 10, 16000, stop=15980).to_state(), "attached")
    finally:
        j.close()


def test_a_zero_length_journal_is_refused_and_left_alone(tmp_path: Path) -> None:
    """16.7: an emptied journal started as a new one, silently losing the open plan."""
    path = tmp_path / "j.sqlite3"
    journal_with_a_plan(path)
    path.write_bytes(b"")  # truncated (a full disk, a mistaken `>`)
    with pytest.raises(JournalError) as info:
        Journal.open(path, profile="t")
    text = str(info.value)
    assert "empty (0 bytes)" in text
    assert f"mv {path} {path}.empty" in text
    assert path.stat().st_size == 0  # not turned into a new journal
    os.rename(path, f"{path}.empty")  # the deliberate fresh start works
    Journal.open(path, profile="t").close()


def test_a_zero_length_file_is_refused_even_without_an_intent_log(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    path.touch()
    with pytest.raises(JournalError, match="empty"):
        Journal.open(path, profile="t", start_session=False)


def test_a_missing_journal_with_exits_in_its_intent_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    intents = tmp_path / "j.sqlite3.intents"
    intents.write_bytes(b'{"cid":"c1","key":"NSE:SBIN"}\n' + b"\0" * 4096)
    with pytest.raises(JournalError) as info:
        Journal.open(path, profile="t")
    assert "intent log" in str(info.value)
    assert f"mv {intents} {intents}.old" in str(info.value)
    assert not path.exists()


def test_a_missing_journal_with_an_empty_intent_log_starts_fresh(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    (tmp_path / "j.sqlite3.intents").write_bytes(b"\0" * 4096)
    Journal.open(path, profile="t").close()
    assert path.stat().st_size > 0


def test_a_damaged_last_page_is_found_at_open(tmp_path: Path) -> None:
    """16.11: a corrupt last page surfaced as a traceback at the engine's first write."""
    path = tmp_path / "j.sqlite3"
    journal_with_a_plan(path)
    size = path.stat().st_size
    assert size >= 3 * 4096
    with path.open("r+b") as fh:
        fh.seek(size - 4096)
        fh.write(b"\xa5" * 4096)
    with pytest.raises(JournalError) as info:
        Journal.open(path, profile="t")
    assert "is damaged" in str(info.value)
    assert ".recover" in str(info.value)


def test_a_journal_whose_directory_cannot_be_made_is_a_message(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    with pytest.raises(JournalError, match="cannot write the journal"):
        Journal.open(tmp_path / "afile" / "j.sqlite3", profile="t")


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory this process cannot write: chmod for a user, a read-only tmpfs for root."""
    where = tmp_path / "ro"
    where.mkdir()
    if os.geteuid() != 0:
        where.chmod(0o555)
        yield where
        where.chmod(0o755)
        return
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"root cannot mount a read-only tmpfs here: {done.stderr!r}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_a_read_only_journal_directory_is_a_message(read_only_dir: Path) -> None:
    with pytest.raises(JournalError) as info:
        Journal.open(read_only_dir / "j.sqlite3", profile="t")
    assert "cannot write the journal" in str(info.value)
    assert "--journal" in str(info.value)
