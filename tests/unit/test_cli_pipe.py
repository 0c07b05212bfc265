"""The command line into a pipe that closes early (`cockpit journal export --out - | head`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.unit.test_journal import _fill_journal


def test_export_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`cockpit journal export --out - | head -1` printed a BrokenPipeError traceback (found
    in a tmux trial). A reader that has gone ends the command quietly, as `cat` does."""
    jpath = tmp_path / "default.sqlite3"
    _fill_journal(jpath)
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line is written
    try:
        out = subprocess.run(
            [sys.executable, "-m", "cockpit.cli", "journal", "export", "--journal", str(jpath)],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 141  # 128 + SIGPIPE, as a shell reports `cat` killed by it
