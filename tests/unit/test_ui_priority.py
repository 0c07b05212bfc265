"""The TUI yields the CPU to the engine (``cockpit/ui/priority.py``), with real threads,
processes and ``/proc``: nice is per thread on Linux, an engine started through the spawner
keeps the normal priority, and the session's autogroup is lowered and put back."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cockpit.ui.priority import (
    SessionGroup,
    Spawner,
    lower_thread,
    read_autogroup,
    thread_nice,
)

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")


def in_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on a fresh thread (a niced thread dies with it) and return its result."""
    out: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join(30)
    if errors:
        raise errors[0]
    return out[0]


def child_nice() -> int:
    """The nice value a child process started from the calling thread runs at."""
    code = "import os; print(os.getpriority(os.PRIO_PROCESS, 0))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_lower_thread_changes_the_calling_thread_and_what_it_starts_only() -> None:
    base = thread_nice()

    def body() -> tuple[int, int, int, int]:
        got = lower_thread(base + 5)
        again = lower_thread(base + 1)  # never raises the priority back
        inherited = in_thread(thread_nice)
        return got, again, inherited, child_nice()

    got, again, inherited, child = in_thread(body)
    assert got == base + 5
    assert again == base + 5
    assert inherited == base + 5  # a thread started afterwards (Textual's) runs niced
    assert child == base + 5
    assert thread_nice() == base  # the other threads of the process are untouched


def test_a_process_started_through_the_spawner_keeps_the_normal_priority() -> None:
    base = thread_nice()

    def body() -> tuple[int, int, int]:
        spawner = Spawner()  # made before the nice, as the TUI's connector is
        try:
            lower_thread(base + 7)
            return spawner.call(child_nice), child_nice(), spawner.call(thread_nice)
        finally:
            spawner.close()

    through_spawner, direct, spawner_thread = in_thread(body)
    assert direct == base + 7  # started from the niced thread: it would inherit the nice
    assert through_spawner == base
    assert spawner_thread == base


GROUP_CHILD = """
import os, sys, time
from cockpit.ui.priority import SessionGroup, read_autogroup
engine_pid, nice = int(sys.argv[1]), int(sys.argv[2])
group = SessionGroup()
print(read_autogroup()[1], group.lower(nice, engine_pid), read_autogroup()[1], flush=True)
sys.stdin.readline()
group.restore()
print(read_autogroup()[1], flush=True)
sys.stdin.readline()
"""


def run_group_child(engine_pid: int, *, own_session: bool) -> list[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", GROUP_CHILD, str(engine_pid), "6"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=own_session,  # its own autogroup: nothing of ours is touched
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline().split()
        seen_outside = read_autogroup(Path(f"/proc/{proc.pid}/autogroup"))
        proc.stdin.write("\n")
        proc.stdin.flush()
        after = proc.stdout.readline().split()
        proc.stdin.write("\n")
        proc.stdin.flush()
    finally:
        proc.wait(30)
    assert seen_outside is not None
    return [*first, str(seen_outside[1]), *after]


@pytest.mark.skipif(read_autogroup() is None, reason="no autogroups on this kernel")
def test_the_session_group_is_lowered_while_the_engine_runs_in_another_and_put_back() -> None:
    before, changed, during, seen_outside, after = run_group_child(os.getpid(), own_session=True)
    assert before == "0"
    assert changed == "True"
    assert during == "6"
    assert seen_outside == "6"  # the kernel's view of the child's group, from outside
    assert after == "0"


@pytest.mark.skipif(read_autogroup() is None, reason="no autogroups on this kernel")
def test_the_session_group_is_left_alone_when_the_engine_shares_it() -> None:
    ours = read_autogroup()
    assert ours is not None
    # The child shares our session (as the benchmark's TUI shares the engine's): lowering
    # the group would lower the engine too.
    before, changed, during, _seen, after = run_group_child(os.getpid(), own_session=False)
    assert changed == "False"
    assert before == during == after == str(ours[1])


def test_no_engine_process_to_compare_with_changes_nothing(tmp_path: Path) -> None:
    fake = tmp_path / "autogroup"
    fake.write_text("/autogroup-1 nice 0\n")
    group = SessionGroup(fake)
    assert not group.lower(10, engine_pid=2**22 + 12345)  # no such process
    assert fake.read_text() == "/autogroup-1 nice 0\n"
    group.restore()
    assert fake.read_text() == "/autogroup-1 nice 0\n"
