"""Viewer server and client over real Unix sockets.

The decision thread is played by ``StandInCore``: it consumes the server's inbound queue
the way the engine core does (Snapshot for a SnapshotRequest, one Ack per command) so
these tests exercise the server and client alone.
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.domain.feed import FeedState, FeedStatus
from cockpit.link.bus import SnapshotRequest, ViewerCommand, ViewerGone, ViewerShowing
from cockpit.link.client import (
    EngineClient,
    EngineGone,
    EngineNotRunning,
    VersionMismatch,
)
from cockpit.link.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Alarm,
    ClosePart,
    FeedEvent,
    Hello,
    KillSwitch,
    MarketBatch,
    Ping,
    PlaceEntry,
    Pong,
    QuoteView,
    Refused,
    Search,
    SearchResult,
    Snapshot,
    StatusView,
    Stopping,
    Subscribe,
    VolumeAtPrice,
    encode,
)
from cockpit.link.server import EngineAlreadyRunning, ServerError, ViewerServer

STATUS = StatusView(venue="paper", armed=False)


def make_snapshot(seq: int) -> Snapshot:
    return Snapshot(
        seq=seq,
        instruments=[],
        quotes=[],
        books=[],
        positions=[],
        plans=[],
        orders=[],
        fills=[],
        feeds=[],
        status=STATUS,
        watchlist=["NSE:INFY"],
    )


class StandInCore:
    """Answers the server's inbound items like the engine's decision thread would."""

    def __init__(self) -> None:
        self.inbound: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.server: ViewerServer | None = None
        self.seen: list[object] = []
        self.seq = 0
        self.on_snapshot = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, server: ViewerServer) -> None:
        self.server = server
        self._thread.start()

    def _run(self) -> None:
        assert self.server is not None
        while not self._stop.is_set():
            try:
                item = self.inbound.get(timeout=0.05)
            except queue.Empty:
                continue
            self.seen.append(item)
            if isinstance(item, SnapshotRequest):
                if self.on_snapshot is not None:
                    self.on_snapshot(item.conn_id)
                else:
                    self.server.reply(item.conn_id, make_snapshot(self.seq))
            elif isinstance(item, ViewerCommand):
                cmd = item.command
                if isinstance(cmd, Search):
                    self.server.reply(item.conn_id, SearchResult(id=cmd.id, results=[]))
                if isinstance(cmd, Ping):
                    self.server.reply(item.conn_id, Pong(id=cmd.id, engine_ns=time.time_ns()))
                self.server.reply(item.conn_id, Ack(id=cmd.id, message=type(cmd).__name__))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="ckv", dir="/tmp"))
    yield d / "run"
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def engine(sock_dir: Path) -> Iterator[tuple[ViewerServer, StandInCore]]:
    core = StandInCore()
    server = ViewerServer(
        sock_dir / "t.sock",
        core.inbound.put,
        profile="t",
        venue="paper",
        market_hz=30,
        max_backlog=200,
    )
    server.start()
    core.start(server)
    yield server, core
    server.stop()
    core.stop()


def wait_until(cond, timeout: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_hello_welcome_snapshot_and_permissions(engine, sock_dir: Path) -> None:
    server, core = engine
    path = sock_dir / "t.sock"
    assert stat.S_IMODE(sock_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with EngineClient.connect(path=path, client="test") as c:
        assert c.welcome.profile == "t"
        assert c.welcome.venue == "paper"
        assert c.welcome.engine_pid == os.getpid()
        assert c.welcome.viewers == 1
        snap = c.snapshot(timeout=5)
        assert snap.watchlist == ["NSE:INFY"]
        answer = c.request(Ping(id=0))
        assert isinstance(answer, Ack)
        answer, replies = c.request_with_replies(Search(id=0, query="INF"))
        assert isinstance(answer, Ack)
        assert [type(r) for r in replies] == [SearchResult]
        assert replies[0].id == answer.id
    wait_until(lambda: any(isinstance(i, ViewerGone) for i in core.seen))


def test_no_engine_is_a_clear_error(sock_dir: Path) -> None:
    with pytest.raises(EngineNotRunning, match="no engine is running"):
        EngineClient.connect(path=sock_dir / "none.sock")
    # a socket file with nobody listening (a dead engine's) is also "not running"
    sock_dir.mkdir(parents=True)
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock_dir / "dead.sock"))
    s.close()
    with pytest.raises(EngineNotRunning):
        EngineClient.connect(path=sock_dir / "dead.sock")


def test_version_mismatch_is_refused_clearly(engine, sock_dir: Path) -> None:
    server, _ = engine
    expected = f"protocol version mismatch.*v{PROTOCOL_VERSION}.*v99"
    with pytest.raises(VersionMismatch, match=expected):
        EngineClient.connect(path=sock_dir / "t.sock", version=99)
    assert server.counters["viewers_refused"] == 1
    assert server.viewer_count() == 0


def test_several_viewers_get_every_event_in_order(engine, sock_dir: Path) -> None:
    server, _ = engine
    clients = [EngineClient.connect(path=sock_dir / "t.sock", client=f"v{i}") for i in range(3)]
    try:
        assert [c.welcome.viewers for c in clients] == [1, 2, 3]
        for c in clients:
            c.snapshot()
        wait_until(lambda: server.viewer_count() == 3)
        for i in range(1, 101):
            server.event(Alarm(seq=i, level="info", message=f"m{i}"))
        server.event(
            FeedEvent(seq=101, status=FeedStatus(feed="openalgo", state=FeedState.LIVE, ts_ns=1))
        )
        for c in clients:
            got = [m for m in c.messages(timeout=1.0) if isinstance(m, Alarm | FeedEvent)]
            assert [m.seq for m in got] == list(range(1, 102))
    finally:
        for c in clients:
            c.close()


def test_nothing_published_before_the_snapshot_reaches_a_new_viewer(engine, sock_dir) -> None:
    server, core = engine
    # the stand-in core is slow to answer this time: publish events while the viewer waits
    core.seq = 5
    server.event(Alarm(seq=4, level="info", message="before attach"))
    with EngineClient.connect(path=sock_dir / "t.sock") as c:
        snap = c.snapshot()
        server.event(Alarm(seq=6, level="info", message="after"))
        alarm = c.wait_for(Alarm, timeout=2)
        assert snap.seq == 5
        assert alarm.seq == 6


def test_read_only_viewer_is_refused_orders(engine, sock_dir: Path) -> None:
    server, core = engine
    with EngineClient.connect(path=sock_dir / "t.sock", read_only=True) as c:
        assert c.welcome.read_only
        c.snapshot()
        for cmd in (
            PlaceEntry(id=0, key="NSE:INFY", side="BUY", qty=Decimal(1)),
            ClosePart(id=0, key="NSE:INFY", percent=50),
            KillSwitch(id=0),
        ):
            answer = c.request(cmd)
            assert isinstance(answer, Refused)
            assert answer.rule == "read_only"
            assert "read-only" in answer.message
        assert isinstance(c.request(Subscribe(id=0, keys=["NSE:TCS"])), Ack)
    commands = [i.command for i in core.seen if isinstance(i, ViewerCommand)]
    assert [type(cmd) for cmd in commands] == [Subscribe]  # the others never reached the core


def test_push_mode_callbacks_and_requests_from_another_thread(engine, sock_dir: Path) -> None:
    server, _ = engine
    got: list[object] = []
    closed: list[object] = []
    done = threading.Event()
    c = EngineClient.connect(path=sock_dir / "t.sock", client="tui")
    c.start(got.append, lambda err: (closed.append(err), done.set()))
    try:
        wait_until(lambda: any(isinstance(m, Snapshot) for m in got))
        answers: list[object] = []
        threads = [
            threading.Thread(target=lambda: answers.append(c.request(Ping(id=0)))) for _ in range(5)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        assert len(answers) == 5
        assert all(isinstance(a, Ack) for a in answers)
        assert len({a.id for a in answers}) == 5
        server.market(QuoteView(key="NSE:INFY", ltp=100, recv_ns=1))
        wait_until(lambda: any(isinstance(m, MarketBatch) for m in got))
    finally:
        server.stop("test over")
    assert done.wait(5)
    assert any(isinstance(m, Stopping) and m.reason == "test over" for m in got)
    assert isinstance(closed[0], EngineGone)
    with pytest.raises(EngineGone):
        c.request(Ping(id=0), timeout=1)
    c.close()


def test_engine_gone_in_pull_mode(engine, sock_dir: Path) -> None:
    server, _ = engine
    c = EngineClient.connect(path=sock_dir / "t.sock")
    c.snapshot()
    server.stop("bye")
    assert isinstance(c.wait_for(Stopping, timeout=5), Stopping)
    with pytest.raises(EngineGone):
        c.recv(timeout=5)
    assert not (sock_dir / "t.sock").exists()
    c.close()


def test_stale_socket_replaced_live_one_refused(sock_dir: Path) -> None:
    path = sock_dir / "s.sock"
    sock_dir.mkdir(parents=True, mode=0o700)
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))
    dead.close()  # the file stays: a dead engine's socket
    core = StandInCore()
    server = ViewerServer(path, core.inbound.put)
    server.start()
    core.start(server)
    try:
        with EngineClient.connect(path=path) as c:
            c.snapshot()
        second = ViewerServer(path, queue.SimpleQueue().put)
        with pytest.raises(EngineAlreadyRunning):
            second.start()
        assert path.exists()  # the live engine's socket was left alone
    finally:
        server.stop()
        core.stop()
    path.write_text("not a socket")
    with pytest.raises(ServerError, match="not a socket"):
        ViewerServer(path, queue.SimpleQueue().put).start()


def test_garbage_from_a_viewer_is_counted_not_fatal(engine, sock_dir: Path) -> None:
    server, _ = engine
    raw = socket.socket(socket.AF_UNIX)
    raw.connect(str(sock_dir / "t.sock"))
    raw.sendall(b"\x00\x00\x00\x03abc")
    raw.settimeout(5)
    assert raw.recv(100) == b""  # closed on us
    raw.close()
    assert server.counters["protocol_errors"] == 1
    with EngineClient.connect(path=sock_dir / "t.sock") as c:
        c.snapshot()


def test_slow_viewer_never_blocks_publisher_and_is_dropped(sock_dir: Path) -> None:
    """10,000 market updates/s + events while one viewer stops reading."""
    core = StandInCore()
    server = ViewerServer(sock_dir / "slow.sock", core.inbound.put, market_hz=30, max_backlog=300)
    server.start()
    core.start(server)
    fast = EngineClient.connect(path=sock_dir / "slow.sock", client="fast")
    batch_times: list[float] = []
    fast_msgs: list[object] = []

    def on_msg(m: object) -> None:
        fast_msgs.append(m)
        if isinstance(m, MarketBatch):
            batch_times.append(time.monotonic())

    fast.start(on_msg)
    slow = socket.socket(socket.AF_UNIX)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(str(sock_dir / "slow.sock"))
    slow.sendall(encode(Hello(version=PROTOCOL_VERSION, client="slow")))
    try:
        wait_until(lambda: server.viewer_count() == 2)
        wait_until(lambda: any(isinstance(m, Snapshot) for m in fast_msgs))
        wait_until(lambda: sum(isinstance(i, SnapshotRequest) for i in core.seen) == 2)
        keys = [f"NSE:S{i}" for i in range(50)]
        max_call_ns = 0
        calls = 0
        events = 0
        t_start = time.monotonic()
        duration = 3.0
        pad = "x" * 400
        while (now := time.monotonic()) - t_start < duration:
            due = int((now - t_start) * 10_000)
            while calls < due:
                t0 = time.perf_counter_ns()
                server.market(QuoteView(key=keys[calls % 50], ltp=1000 + calls % 7, recv_ns=calls))
                if calls % 10 == 0:
                    events += 1
                    server.event(Alarm(seq=events, level="info", message=pad))
                dt = time.perf_counter_ns() - t0
                max_call_ns = max(max_call_ns, dt)
                calls += 1
            time.sleep(0.0005)
        print(
            f"publisher: {calls} market calls + {events} events in {duration}s, "
            f"max call {max_call_ns / 1e6:.3f} ms; dropped={server.counters['viewers_dropped']}"
        )
        assert calls >= 25_000
        assert max_call_ns < 50_000_000  # a blocked call would never return at all
        wait_until(lambda: server.counters["viewers_dropped"] == 1, timeout=10)
        wait_until(lambda: any(isinstance(i, ViewerGone) for i in core.seen))
        # the fast viewer kept up and got every event, in order
        wait_until(lambda: sum(isinstance(m, Alarm) for m in fast_msgs) == events, timeout=10)
        seqs = [m.seq for m in fast_msgs if isinstance(m, Alarm)]
        assert seqs == list(range(1, events + 1))
        # batches at most ~30/s: count within any 1 s window
        span = [t for t in batch_times if t_start + 0.5 <= t <= t_start + duration]
        per_s = max(sum(1 for t in span if s <= t < s + 1.0) for s in span) if span else 0
        print(f"fast viewer: {len(batch_times)} batches, max {per_s} in a 1 s window")
        assert 10 <= per_s <= 31
        # the last state of every symbol reached the fast viewer
        latest: dict[str, int] = {}
        for m in fast_msgs:
            if isinstance(m, MarketBatch):
                for q in m.quotes:
                    latest[q.key] = q.recv_ns
        wait_until(lambda: len(latest) == 50)
        # the slow viewer was cut off; reconnecting gets a fresh snapshot
        slow.settimeout(5)  # a timeout here (TimeoutError) fails the test: it was not closed
        try:
            while slow.recv(1 << 16):
                pass
        except ConnectionResetError:
            pass
        core.seq = 999
        with EngineClient.connect(path=sock_dir / "slow.sock", client="slow-again") as again:
            assert again.snapshot().seq == 999
    finally:
        slow.close()
        fast.close()
        server.stop()
        core.stop()


def test_quotes_older_than_the_snapshot_are_not_sent_after_it(engine, sock_dir: Path) -> None:
    server, core = engine

    def answer(conn_id: int) -> None:
        server.market(QuoteView(key="NSE:A", ltp=90, recv_ns=50))  # before the snapshot
        snap = make_snapshot(1)
        snap = Snapshot(
            **{
                **{f: getattr(snap, f) for f in snap.__struct_fields__},
                "quotes": [QuoteView(key="NSE:A", ltp=100, recv_ns=100)],
            }
        )
        server.reply(conn_id, snap)
        server.market(QuoteView(key="NSE:B", ltp=7, recv_ns=120))  # after it

    core.on_snapshot = answer
    with EngineClient.connect(path=sock_dir / "t.sock") as c:
        assert c.snapshot().quotes[0].ltp == 100
        batch = c.wait_for(MarketBatch, timeout=2)
        assert [q.key for q in batch.quotes] == ["NSE:B"]
        server.market(QuoteView(key="NSE:A", ltp=101, recv_ns=130))
        batch = c.wait_for(MarketBatch, timeout=2)
        assert [(q.key, q.ltp) for q in batch.quotes] == [("NSE:A", 101)]


def test_event_after_a_quiet_spell_wakes_the_loop(engine, sock_dir: Path) -> None:
    server, _ = engine
    with EngineClient.connect(path=sock_dir / "t.sock") as c:
        c.snapshot()
        wait_until(lambda: server._idle)  # the loop stopped polling the event deque
        t0 = time.monotonic()
        server.event(Alarm(seq=1, level="info", message="wake up"))
        assert c.wait_for(Alarm, timeout=2).message == "wake up"
        print(f"event after idle delivered in {(time.monotonic() - t0) * 1000:.2f} ms")
        assert not server._idle


def test_volume_levels_merge_per_level_in_order_with_the_snapshot(engine, sock_dir: Path) -> None:
    server, core = engine

    def answer(conn_id: int) -> None:
        server.volume(VolumeAtPrice("NSE:A", [(90, Decimal(4))]))  # before: the snapshot has it
        snap = make_snapshot(1)
        snap = Snapshot(
            **{
                **{f: getattr(snap, f) for f in snap.__struct_fields__},
                "volume_at_price": [VolumeAtPrice("NSE:A", [(90, Decimal(5))])],
            }
        )
        server.reply(conn_id, snap)
        server.volume(VolumeAtPrice("NSE:A", [(91, Decimal(2))]))
        server.volume(VolumeAtPrice("NSE:A", [(91, Decimal(3)), (92, Decimal(1))]))

    core.on_snapshot = answer
    with EngineClient.connect(path=sock_dir / "t.sock") as c:
        assert c.snapshot().volume_at_price == [VolumeAtPrice("NSE:A", [(90, Decimal(5))])]
        seen: dict[int, Decimal] = {}
        deadline = time.monotonic() + 5
        while seen.get(91) != Decimal(3) or 92 not in seen:
            assert time.monotonic() < deadline, seen
            batch = c.wait_for(MarketBatch, timeout=2)
            for vap in batch.volume_at_price:
                assert vap.key == "NSE:A"
                seen.update(vap.levels)
        assert seen == {91: Decimal(3), 92: Decimal(1)}  # the older 90 never came after it
        # Volume alone (no quote changed) still goes out with the next batch.
        server.volume(VolumeAtPrice("NSE:A", [(93, Decimal(7))]))
        batch = c.wait_for(MarketBatch, timeout=2)
        assert batch.volume_at_price == [VolumeAtPrice("NSE:A", [(93, Decimal(7))])]


def test_what_a_viewer_shows_reaches_the_core_unanswered_read_only_too(
    engine, sock_dir: Path
) -> None:
    _, core = engine
    with EngineClient.connect(path=sock_dir / "t.sock", read_only=True) as c:
        c.snapshot()
        c.show(["NSE:INFY", "NSE:SBIN"])
        c.show([])
        answer = c.request(Ping(id=0))  # answered in order: nothing came for the two above
        assert isinstance(answer, Ack)
        conn_id = next(i.conn_id for i in core.seen if isinstance(i, SnapshotRequest))
    shown = [i for i in core.seen if isinstance(i, ViewerShowing)]
    assert shown == [
        ViewerShowing(conn_id, frozenset({"NSE:INFY", "NSE:SBIN"})),
        ViewerShowing(conn_id, frozenset()),
    ]
    assert not any(
        isinstance(i, ViewerCommand) and not isinstance(i.command, Ping) for i in core.seen
    )


def test_what_a_viewer_shows_in_its_hello_reaches_the_core_with_its_snapshot_request(
    engine, sock_dir: Path
) -> None:
    _, core = engine
    with EngineClient.connect(path=sock_dir / "t.sock", showing=["NSE:INFY"]) as c:
        c.snapshot()
    with EngineClient.connect(path=sock_dir / "t.sock", showing=[]) as c:
        c.snapshot()
    with EngineClient.connect(path=sock_dir / "t.sock") as c:  # says nothing: everything
        c.snapshot()
    asked = [i.showing for i in core.seen if isinstance(i, SnapshotRequest)]
    assert asked == [frozenset({"NSE:INFY"}), frozenset(), None]


def test_viewers_of_older_versions_are_refused(engine, sock_dir: Path) -> None:
    """Version 3 sends alert, chart and tape messages a version-2 viewer cannot decode."""
    with pytest.raises(VersionMismatch, match="v2"):
        EngineClient.connect(path=sock_dir / "t.sock", version=2)
    with pytest.raises(VersionMismatch, match="v1"):
        EngineClient.connect(path=sock_dir / "t.sock", version=1)
