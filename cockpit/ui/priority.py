"""The screen yields the CPU to the engine: the TUI process runs below the engine's priority.

On a small host the TUI's rendering bursts (tens of milliseconds of Python) land on the same
cores as the engine's decision thread; at the same priority the scheduler lets a burst run
while an exit waits. Measured (``benchmarks/bench_exit_latency.py --viewer textual``, the
A/B of the same run, on a loaded host): with the TUI at nice 0 the exit tail with the TUI
attached is many times that of the engine alone; at nice 10 it is the engine alone's. But at
nice 10 a saturated host (``bench_ui.py --levels 50:20000 --ui-nice N``) showed keys 0.4-0.8 s
late, at 3 within 40 ms: ``[ui] nice`` defaults to 3, a tilt toward the engine that keeps the
keys answering (on a quiet host the exit A/B is within noise either way).

Two Linux details decide how:

- **Nice is per thread.** ``os.nice`` changes the calling thread only; threads and child
  processes started afterwards inherit it. :func:`lower_thread` is called on the TUI's main
  thread before Textual starts its own threads, so they all run niced. A detached engine the
  TUI starts must not inherit it (an unprivileged process cannot lower its nice again):
  :class:`Spawner` keeps one thread started *before* the nice, and every engine start goes
  through it.
- **Autogroups.** With ``kernel.sched_autogroup_enabled`` (the default of most
  distributions) the CPU is shared between *sessions* first — a terminal or tmux pane is one,
  the detached engine is another — and nice only ranks threads inside a session. So when the
  engine runs in another session, :class:`SessionGroup` also lowers the TUI's session group
  (``/proc/self/autogroup``, a positive value needs no privilege) while the TUI runs, and puts
  the previous value back when it ends.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

T = TypeVar("T")

AUTOGROUP: Final = Path("/proc/self/autogroup")
_RETRY_S: Final = 0.15
"""The kernel takes one autogroup change per 100 ms from an unprivileged process (EAGAIN)."""


def thread_nice() -> int:
    """The calling thread's nice value (Linux: per thread)."""
    return os.getpriority(os.PRIO_PROCESS, 0)


def lower_thread(nice: int) -> int:
    """Run the calling thread (and what it starts from now on) at nice ``nice`` at least.

    Never raises the priority, never fails: returns the thread's nice value afterwards.
    Linux only: elsewhere nice is the whole process's, and an engine started from it would
    inherit it (nothing is changed there).
    """
    if not sys.platform.startswith("linux"):
        return 0
    try:
        current = thread_nice()
        if nice > current:
            os.setpriority(os.PRIO_PROCESS, 0, min(nice, 19))
        return thread_nice()
    except (OSError, AttributeError):  # not Linux/Unix, or not allowed: run as we are
        return 0


def read_autogroup(path: Path = AUTOGROUP) -> tuple[str, int] | None:
    """``(group name, nice)`` from an ``autogroup`` file, or None (no autogroups here)."""
    try:
        name, _, nice = path.read_text().split()
        return name, int(nice)
    except (OSError, ValueError):
        return None


class SessionGroup:
    """Lowers this session's autogroup while the TUI runs, when the engine is in another.

    Args:
        path: this process's ``autogroup`` file (tests pass another process's).
    """

    def __init__(self, path: Path = AUTOGROUP) -> None:
        self.path = path
        self.previous: int | None = None
        """The group's nice before :meth:`lower` changed it (None: unchanged)."""

    def lower(self, nice: int, engine_pid: int) -> bool:
        """Set the group's nice to ``nice`` if the engine ``engine_pid`` runs in another
        group and ours is below ``nice``. Returns whether it changed."""
        ours = read_autogroup(self.path)
        theirs = read_autogroup(Path(f"/proc/{engine_pid}/autogroup"))
        if ours is None or theirs is None or ours[0] == theirs[0] or ours[1] >= nice:
            return False
        if not _write(self.path, min(nice, 19)):
            return False
        if self.previous is None:
            self.previous = ours[1]
        return True

    def restore(self) -> None:
        """Put the group's nice back as it was (a no-op if :meth:`lower` changed nothing)."""
        previous, self.previous = self.previous, None
        if previous is not None:
            _write(self.path, previous)


def _write(path: Path, nice: int) -> bool:
    for attempt in range(3):
        try:
            path.write_text(str(nice))
            return True
        except BlockingIOError:  # EAGAIN: another change within 100 ms
            time.sleep(_RETRY_S * (attempt + 1))
        except OSError:
            return False
    return False


class Spawner:
    """One thread kept at the priority it was created with, to start engines from.

    Create it before :func:`lower_thread`; a process started from :meth:`call` inherits that
    thread's nice value, not the niced caller's.
    """

    def __init__(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="engine-attach")
        self._pool.submit(thread_nice).result()  # the thread exists now, at our nice

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run ``fn`` on the spawner thread."""
        return self._pool.submit(fn)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the spawner thread and return its result (or raise its error)."""
        return self.submit(fn).result()

    def close(self) -> None:
        """Let the thread end once idle."""
        with contextlib.suppress(RuntimeError):
            self._pool.shutdown(wait=False)
