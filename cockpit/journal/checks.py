"""Checks made when a journal is opened: refuse, with a message and the way out, rather than
start on a journal that lost its data or cannot be written.

Each function returns the message for ``JournalError`` (``None``: fine); the store raises it.
"""

from __future__ import annotations

import shlex
import sqlite3
from pathlib import Path
from typing import Final

_PEEK_BYTES: Final = 64 * 1024
"""How much of the intent log is read to tell whether it holds a line (lines are short)."""


def intent_log_path(path: Path) -> Path:
    """The exit intent log that sits next to journal ``path``."""
    return path.with_name(path.name + ".intents")


def _intent_log_has_lines(path: Path) -> bool:
    """Whether the intent log holds anything but zeros and blank lines."""
    try:
        with path.open("rb") as fh:
            head = fh.read(_PEEK_BYTES)
    except OSError:
        return False
    return bool(head.split(b"\0", 1)[0].strip())


def emptied(path: Path) -> str | None:
    """A journal that should hold data but does not (issue 16.7).

    A journal this program created is never empty: its schema is written when it is first
    opened. So an existing zero-length file was truncated (a full disk, a copy gone wrong, a
    mistaken ``>``), and starting on it as a new journal would silently forget the open exit
    plans. Likewise a missing journal next to an intent log holding exits. Both are refused
    with the command that starts fresh deliberately.
    """
    intents = intent_log_path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        if _intent_log_has_lines(intents):
            return (
                f"journal {path} is missing, but its exit intent log {intents} holds exits "
                "that were sent: restore the journal from a backup. To start a fresh journal "
                f"deliberately: mv {_q(intents)} {_q(intents)}.old"
            )
        return None
    except OSError:
        return None  # the open that follows reports it
    if size != 0:
        return None
    return (
        f"journal {path} is empty (0 bytes): it was truncated, and the open exit plans it held "
        "are gone from it. Restore it from a backup. To start a fresh journal deliberately: "
        f"mv {_q(path)} {_q(path)}.empty"
    )


def unwritable(path: Path, exc: OSError) -> str:
    """The message for a journal whose file or directory cannot be created or written."""
    reason = exc.strerror or str(exc)
    return (
        f"cannot write the journal {path}: {reason}. Make its directory writable, or choose "
        "another file with --journal (or paths.journal in the config)"
    )


def damaged(conn: sqlite3.Connection, path: Path) -> str | None:
    """A journal whose pages are damaged (``PRAGMA quick_check``), found before anything is
    written to it rather than at the first write in the middle of trading."""
    try:
        rows = conn.execute("PRAGMA quick_check(5)").fetchall()
    except sqlite3.DatabaseError as exc:
        problems = str(exc)
    else:
        problems = "; ".join(str(row[0]) for row in rows)
        if problems == "ok":
            return None
    return (
        f"journal {path} is damaged ({problems[:300]}). Restore it from a backup, or recover "
        f"what is readable: sqlite3 {_q(path)} .recover | sqlite3 {_q(path)}.recovered, then "
        "use --journal with the recovered file"
    )


def _q(path: Path) -> str:
    return shlex.quote(str(path))
