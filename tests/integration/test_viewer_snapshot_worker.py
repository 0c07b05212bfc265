"""A script's snapshot is built off the viewer server's loop: the other viewers' frames (the
TUI's fills and alarms) never wait for it, and everything after the snapshot still follows it
for the script (issue: a script attaching at 3,000 symbols x 146 levels held every viewer's
frames ~150 ms while the loop built its snapshot).

The draft's build is held on an event (a :class:`SnapshotDraft` whose build waits), so the
tests assert order and who waits on whom, not a timing threshold."""

from __future__ import annotations

import threading
from pathlib import Path

from cockpit.link.client import EngineClient, EngineGone
from cockpit.link.protocol import Ack, Alarm, Snapshot, Welcome
from cockpit.link.snapshots import SnapshotDraft
from tests.integration.test_viewer_server import engine, make_snapshot, sock_dir, wait_until

__all__ = ["engine", "sock_dir"]  # fixtures, used by name

HOLD_S = 10.0
"""Only a bound against a hung test: the tests release the build themselves."""


class HeldDraft(SnapshotDraft):
    """A draft (no books, no volume at price) whose build waits for ``release``."""

    __slots__ = ("release", "started", "fail")

    def __init__(self, seq: int, fail: bool = False) -> None:
        super().__init__(make_snapshot(seq), [], [], ([], [], []))
        self.release = threading.Event()
        self.started = threading.Event()
        self.fail = fail

    def frame(self, per: int = 250) -> bytes:
        self.started.set()
        self.release.wait(HOLD_S)
        if self.fail:
            raise ValueError("a draft that cannot be built")
        return super().frame(per)


def conn_of(server, client: str) -> int:  # noqa: ANN001
    wait_until(lambda: any(name == client for _, name, _ in server.viewers()))
    return next(conn for conn, name, _ in server.viewers() if name == client)


def test_another_viewer_gets_its_alarm_while_a_scripts_snapshot_is_built(
    engine, sock_dir: Path
) -> None:
    server, core = engine
    path = sock_dir / "t.sock"
    held = HeldDraft(seq=7)
    with EngineClient.connect(path=path, client="tui") as tui:
        tui.snapshot()
        core.on_snapshot = lambda conn: server.reply(conn, held)
        script = EngineClient.connect(path=path, client="script")
        try:
            assert held.started.wait(5)  # the server is building the script's snapshot
            script_conn = conn_of(server, "script")
            server.event(Alarm(seq=8, level="warn", message="filled"))
            server.reply(script_conn, Ack(id=3, message="after the snapshot"))
            # the TUI is not held by the script's snapshot, still being built
            alarm = tui.wait_for(Alarm, timeout=5)
            assert (alarm.seq, alarm.message) == (8, "filled")
            assert not held.release.is_set()
            held.release.set()
            got = [type(m) for m in script.messages(timeout=0.5)]
            # the snapshot first, then what was published after it, in order
            assert got[:3] == [Snapshot, Alarm, Ack], got
        finally:
            held.release.set()
            script.close()


def test_a_viewer_gone_while_its_snapshot_is_built_leaves_the_others_be(
    engine, sock_dir: Path
) -> None:
    server, core = engine
    path = sock_dir / "t.sock"
    held = HeldDraft(seq=7)
    with EngineClient.connect(path=path, client="tui") as tui:
        tui.snapshot()
        core.on_snapshot = lambda conn: server.reply(conn, held)
        script = EngineClient.connect(path=path, client="script")
        assert held.started.wait(5)
        script.close()
        wait_until(lambda: server.viewer_count() == 1)
        held.release.set()
        server.event(Alarm(seq=9, level="info", message="still here"))
        assert tui.wait_for(Alarm, timeout=5).seq == 9


def test_a_snapshot_that_cannot_be_built_closes_only_its_viewer(engine, sock_dir: Path) -> None:
    server, core = engine
    path = sock_dir / "t.sock"
    held = HeldDraft(seq=7, fail=True)
    with EngineClient.connect(path=path, client="tui") as tui:
        tui.snapshot()
        core.on_snapshot = lambda conn: server.reply(conn, held)
        script = EngineClient.connect(path=path, client="script")
        try:
            assert isinstance(script.welcome, Welcome)
            held.release.set()
            got = []
            try:
                got = [type(m) for m in script.messages(timeout=5)]
            except EngineGone:
                pass
            assert Snapshot not in got  # closed: it resyncs from a snapshot on reconnect
            wait_until(lambda: server.viewer_count() == 1)
            assert server.counters["snapshot_errors"] == 1
            server.event(Alarm(seq=9, level="info", message="still here"))
            assert tui.wait_for(Alarm, timeout=5).seq == 9
        finally:
            script.close()
