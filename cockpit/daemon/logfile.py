"""Size-based rotation of a detached engine's log (``<state dir>/log/engine-<profile>.log``).

``cockpit engine start`` hands the engine that file as its stdout and stderr, so everything
it prints lands there: its log lines, a traceback, a C library's complaint. An engine left
running for weeks on a VPS would grow it without end. Past ``max_bytes`` the file is
renamed ``.1`` (older ones shift up to ``.<keep>``, the oldest goes) and a new file is put
on the same descriptors with ``dup2``: nothing that writes to stderr needs to know, and no
line is split between files (each write goes wholly to the old file or the new one).

Only the engine's own log file is rotated: when stderr is something else (a terminal, a
pipe, a service manager's journal under ``cockpit engine run``), nothing happens.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)


class LogRotator:
    """Rotate ``path`` when it is what ``fds`` point at and it has grown past ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int, keep: int, fds: tuple[int, ...] = (1, 2)):
        if max_bytes < 1 or keep < 1:
            raise ValueError("max_bytes and keep must be at least 1")
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.fds = fds
        self.rotations = 0
        self.errors = 0

    def ours(self) -> bool:
        """Whether the first of ``fds`` is the log file at ``path`` (not a tty, pipe, other)."""
        try:
            held = os.fstat(self.fds[0])
            there = os.stat(self.path)
        except OSError:
            return False
        return (
            stat.S_ISREG(held.st_mode)
            and held.st_ino == there.st_ino
            and held.st_dev == there.st_dev
        )

    def check(self) -> bool:
        """Rotate if due; True if it rotated. Never raises (a failure is logged and counted)."""
        try:
            if os.fstat(self.fds[0]).st_size < self.max_bytes or not self.ours():
                return False
            self._rotate()
        except OSError as exc:
            self.errors += 1
            log.warning("could not rotate the engine log %s: %s", self.path, exc)
            return False
        self.rotations += 1
        log.info("engine log rotated: the previous part is %s.1", self.path.name)
        return True

    def _rotate(self) -> None:
        base = str(self.path)
        # Each rename replaces its target: .<keep> goes when .<keep-1> moves onto it.
        for n in range(self.keep - 1, 0, -1):
            older = Path(f"{base}.{n}")
            if older.exists():
                older.rename(f"{base}.{n + 1}")
        self.path.rename(f"{base}.1")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for target in self.fds:
                os.dup2(fd, target)
        finally:
            os.close(fd)
