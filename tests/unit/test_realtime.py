"""Optional SCHED_FIFO for the engine's threads (cockpit/engine/realtime.py)."""

from __future__ import annotations

import os
import resource
import threading

import pytest

from cockpit.engine import realtime

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setscheduler"), reason="Linux scheduling API"
)


def _permitted(priority: int) -> bool:
    if os.geteuid() == 0:
        return True
    soft, _hard = resource.getrlimit(resource.RLIMIT_RTPRIO)
    return soft == resource.RLIM_INFINITY or soft >= priority


def test_a_thread_is_put_under_fifo_or_the_refusal_is_explained() -> None:
    go = threading.Event()
    thread = threading.Thread(target=go.wait, args=(10,), name="worker")
    thread.start()
    try:
        assert realtime.policy_of(thread) == "normal"
        done, why = realtime.apply(3, [thread])
        if _permitted(3):
            assert (done, why) == (["worker"], None)
            assert realtime.policy_of(thread) == "fifo:3"
            # Only the given thread: the caller keeps the normal policy.
            assert realtime.policy_of(threading.current_thread()) == "normal"
        else:
            assert done == []
            assert why is not None
            assert "refused for worker" in why
            assert realtime.policy_of(thread) == "normal"
    finally:
        go.set()
        thread.join(5)


def test_a_priority_out_of_range_changes_nothing() -> None:
    thread = threading.Thread(target=lambda: None)
    assert realtime.apply(0, [thread]) == ([], "priority 0 is not in 1-99")
    assert realtime.apply(100, [thread])[1] == "priority 100 is not in 1-99"


def test_threads_that_are_not_running_are_skipped() -> None:
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    assert realtime.apply(3, [thread]) == ([], None)
