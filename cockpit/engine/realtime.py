"""Optional real-time scheduling (``SCHED_FIFO``) for the engine's threads, Linux only.

On a small shared machine a woken feed thread can wait a whole scheduler slice (0.5-4 ms
measured on 2 cores, even for a process that only sleeps) behind the paper exchange, the TUI
or anything else that is running. A ``SCHED_FIFO`` thread preempts every normal one at once.
The engine's threads block on sockets and locks, so they take the CPU only when there is
work; the kernel's real-time throttling (``sched_rt_runtime_us``, 95% by default) still
leaves the rest of the machine running if one of them ever spins.

It needs the right to: root, ``CAP_SYS_NICE``, or an ``RLIMIT_RTPRIO`` of at least the
priority (``ulimit -r``; ``rtprio`` in ``/etc/security/limits.conf``; ``LimitRTPRIO=`` in a
systemd unit). Without it nothing changes and the reason is returned, never raised.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable


def apply(priority: int, threads: Iterable[threading.Thread]) -> tuple[list[str], str | None]:
    """Put each of ``threads`` under ``SCHED_FIFO`` at ``priority`` (1-99).

    Returns the names of the threads changed and, if any could not be, why. Threads the
    given ones start later keep the normal policy (Linux threads inherit their creator's
    policy only when it is set before they are created).
    """
    if not 1 <= priority <= 99:
        return [], f"priority {priority} is not in 1-99"
    setter = getattr(os, "sched_setscheduler", None)
    if setter is None:
        return [], "real-time scheduling is not available on this system"
    done: list[str] = []
    for thread in threads:
        tid = thread.native_id
        if tid is None or not thread.is_alive():
            continue
        try:
            setter(tid, os.SCHED_FIFO, os.sched_param(priority))
        except OSError as exc:  # EPERM: no CAP_SYS_NICE and RLIMIT_RTPRIO too low
            return done, f"SCHED_FIFO {priority} refused for {thread.name}: {exc.strerror}"
        done.append(thread.name)
    return done, None


def policy_of(thread: threading.Thread) -> str:
    """``fifo:<priority>`` or ``normal`` (for status and tests)."""
    tid = thread.native_id
    getter = getattr(os, "sched_getscheduler", None)
    if tid is None or getter is None:
        return "normal"
    try:
        if getter(tid) == os.SCHED_FIFO:
            return f"fifo:{os.sched_getparam(tid).sched_priority}"
    except OSError:
        pass
    return "normal"
