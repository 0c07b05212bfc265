"""WsConnection against a raw loopback WebSocket server: streaming, reconnect, watchdog, auth."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from wsloop import Conn, LoopServer, frame

from cockpit.adapters.ws import AuthRefused, Backoff, Reject, WsConnection, WsProtocol
from cockpit.domain.feed import FeedState, FeedStatus
from tests.servers.base import QueueSink

FAST = Backoff(initial=0.05, factor=2.0, cap=0.4, jitter=0.1)


class EchoProtocol(WsProtocol):
    """Test venue: JSON text; auth by key; data frames {"k": key, "v": int}."""

    name = "echo"
    awaits_auth = True
    auth_timeout_s = 2.0

    def __init__(self, url: str, key: str = "good", liveness_s: float = 5.0) -> None:
        self._url = url
        self.key = key
        self.liveness_s = liveness_s
        self.ping_interval_s = liveness_s / 3
        self.connected = 0

    def url(self) -> str:
        return self._url

    def open_messages(self) -> list[str | bytes]:
        return [json.dumps({"auth": self.key})]

    def auth_reply(self, payload: bytes, binary: bool) -> bool | None:
        msg = json.loads(payload)
        if "ok" in msg:
            return True
        if "err" in msg:
            raise AuthRefused(msg["err"])
        return None

    def subscribe_messages(self, mode: str, keys: Sequence[str]) -> list[str | bytes]:
        return [json.dumps({"sub": list(keys), "mode": mode})]

    def unsubscribe_messages(self, mode: str, keys: Sequence[str]) -> list[str | bytes]:
        return [json.dumps({"unsub": list(keys), "mode": mode})]

    def on_connected(self, conn: WsConnection) -> None:
        self.connected += 1

    def decode(self, payload: bytes, binary: bool, recv_ns: int) -> Sequence[object]:
        try:
            msg = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise Reject("malformed") from None
        if not isinstance(msg, dict):
            raise Reject("shape")
        if "k" not in msg:
            return ()
        if not isinstance(msg.get("v"), int) or msg["v"] < 0:
            raise Reject("value")
        return ((msg["k"], msg["v"]),)


class Recorder:
    """Server side: what every connection sent us."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[dict] = []
        self.conns: list[Conn] = []

    def add(self, msg: dict) -> None:
        with self.lock:
            self.messages.append(msg)

    def subs(self) -> list[dict]:
        with self.lock:
            return [m for m in self.messages if "sub" in m]


def venue(rec: Recorder, *, keys_ok: str = "good", stream: int = 0, then: str = "serve"):
    """A handler: auth, acknowledge, stream ``stream`` data frames per subscribe, then serve."""

    def handler(conn: Conn) -> None:
        rec.conns.append(conn)
        auth = conn.recv_text()
        if auth is None:
            return
        msg = json.loads(auth)
        rec.add(msg)
        if msg.get("auth") != keys_ok:
            conn.send(json.dumps({"err": "Invalid API key"}))
            conn.recv_text(timeout=3)  # keep the socket open like OpenAlgo does
            return
        conn.send(json.dumps({"ok": True}))
        if then == "silent":
            time.sleep(10)  # socket open, nothing sent, pings unanswered
            return
        while True:
            text = conn.recv_text(timeout=10)
            if text is None:
                return
            m = json.loads(text)
            rec.add(m)
            for key in m.get("sub", []):
                for v in range(stream):
                    conn.send(json.dumps({"k": key, "v": v}))

    return handler


class Sink(QueueSink):
    wait_timeout = 5.0

    def events(self) -> list[object]:
        return [i for i in self.drain() if not isinstance(i, FeedStatus)]

    def states(self) -> list[FeedState]:
        return [i.state for i in self.drain() if isinstance(i, FeedStatus)]


@pytest.fixture
def servers() -> Iterator[list[LoopServer]]:
    made: list[LoopServer] = []
    yield made
    for s in made:
        s.stop()


class Conns(list[WsConnection]):
    """The test's connections (all stopped at teardown)."""

    def open(self, protocol: WsProtocol, **kw: Any) -> tuple[WsConnection, Sink]:
        """A WsConnection (FAST backoff unless given) feeding a new :class:`Sink`."""
        sink = Sink()
        conn = WsConnection(protocol, sink, **{"backoff": FAST, **kw})
        self.append(conn)
        return conn, sink


@pytest.fixture
def conns() -> Iterator[Conns]:
    made = Conns()
    yield made
    for c in made:
        assert c.stop(timeout=3.0), "connection thread did not stop"


def test_streams_after_auth_and_one_subscribe_per_mode(servers, conns) -> None:
    rec = Recorder()
    srv = LoopServer(venue(rec, stream=50))
    servers.append(srv)
    conn, sink = conns.open(EchoProtocol(srv.url))
    conn.subscribe(["A", "B", "A"], "quote")
    conn.subscribe(["C"], "ltp")
    conn.start()
    assert conn.wait_state(FeedState.LIVE, timeout=5)
    assert sink.wait(lambda: len(sink.events()) == 150)
    assert sorted(set(e[0] for e in sink.events())) == ["A", "B", "C"]
    assert sorted((tuple(m["sub"]), m["mode"]) for m in rec.subs()) == [
        (("A", "B"), "quote"),
        (("C",), "ltp"),
    ]
    stats = conn.stats()
    assert stats["events"] == 150
    assert stats["frames"] >= 151  # auth reply + data
    assert stats["rejected"] == 0
    assert stats["reconnects"] == 0
    assert sink.states()[:2] == [FeedState.CONNECTING, FeedState.LIVE]


def test_subscribe_while_live_sends_only_the_delta(servers, conns) -> None:
    rec = Recorder()
    srv = LoopServer(venue(rec, stream=1))
    servers.append(srv)
    conn, sink = conns.open(EchoProtocol(srv.url))
    conn.subscribe(["A"], "quote")
    conn.start()
    assert conn.wait_state(FeedState.LIVE, timeout=5)
    assert conn.subscribe(["A", "B"], "quote") == ["B"]
    assert conn.subscribe(["A", "B"], "quote") == []
    assert sink.wait(lambda: len(sink.events()) == 2)
    assert [m["sub"] for m in rec.subs()] == [["A"], ["B"]]
    assert conn.unsubscribe(["A", "Z"], "quote") == ["A"]
    assert sink.wait(lambda: any("unsub" in m for m in rec.messages))
    assert conn.subscriptions() == {"quote": ["B"]}


def test_server_dropped_mid_stream_reconnects_and_resubscribes_once(servers, conns) -> None:
    rec = Recorder()
    srv = LoopServer(venue(rec, stream=5))
    servers.append(srv)
    conn, sink = conns.open(EchoProtocol(srv.url))
    conn.subscribe(["A", "B"], "quote")
    conn.subscribe(["C"], "depth")
    conn.start()
    assert sink.wait(lambda: len(sink.events()) == 15)
    srv.drop_all()
    assert sink.wait(lambda: len(sink.events()) == 30)
    assert conn.wait_state(FeedState.LIVE, timeout=5)
    assert srv.connections == 2
    per_conn = [(tuple(m["sub"]), m["mode"]) for m in rec.subs()]
    assert sorted(per_conn) == sorted([(("A", "B"), "quote"), (("C",), "depth")] * 2)
    states = sink.states()
    assert FeedState.RECONNECTING in states
    assert states[-1] == FeedState.LIVE
    assert conn.reconnects == 1
    reconnecting = [
        s for s in sink.drain() if isinstance(s, FeedStatus) and s.state == FeedState.RECONNECTING
    ]
    assert reconnecting[0].attempt == 1
    assert reconnecting[0].next_retry_s is not None
    assert "connection" in reconnecting[0].reason or "closed" in reconnecting[0].reason


def test_server_down_then_back_on_the_same_port(servers, conns) -> None:
    rec = Recorder()
    srv = LoopServer(venue(rec, stream=3))
    servers.append(srv)
    port = srv.port
    conn, sink = conns.open(EchoProtocol(srv.url))
    conn.subscribe(["A"], "ltp")
    conn.start()
    assert sink.wait(lambda: len(sink.events()) == 3)
    srv.stop()
    # refused connections: several attempts with growing delays
    assert sink.wait(
        lambda: sum(s == FeedState.RECONNECTING for s in sink.states()) >= 3, timeout=5
    )
    attempts = [
        s.attempt
        for s in sink.drain()
        if isinstance(s, FeedStatus) and s.state == FeedState.RECONNECTING
    ]
    assert attempts[:3] == [1, 2, 3]
    srv2 = LoopServer(venue(rec, stream=3), port=port)
    servers.append(srv2)
    assert sink.wait(lambda: len(sink.events()) == 6, timeout=5)
    assert [m["sub"] for m in rec.subs()] == [["A"], ["A"]]
    assert conn.state == FeedState.LIVE


def test_silent_server_trips_the_watchdog(servers, conns) -> None:
    rec = Recorder()
    srv = LoopServer(venue(rec, then="silent"))
    servers.append(srv)
    conn, sink = conns.open(EchoProtocol(srv.url, liveness_s=0.6), poll_s=0.05)
    conn.subscribe(["A"], "ltp")
    conn.start()
    assert conn.wait_state(FeedState.LIVE, timeout=5)
    assert sink.wait(lambda: srv.connections >= 2, timeout=5)
    states = sink.states()
    i = states.index(FeedState.STALE)
    assert states[i + 1] == FeedState.RECONNECTING
    assert conn.stats()["rejected"] == 0


def test_refused_auth_goes_down_without_retrying(servers, conns) -> None:
    rec = Recorder()
    srv = LoopServer(venue(rec))
    servers.append(srv)
    conn, sink = conns.open(EchoProtocol(srv.url, key="bad"))
    conn.start()
    assert conn.wait_state(FeedState.DOWN, timeout=5)
    assert "Invalid API key" in conn.reason
    time.sleep(0.5)  # would be several retries with FAST backoff if it retried
    assert srv.connections == 1
    assert sink.states() == [FeedState.CONNECTING, FeedState.DOWN]


@pytest.mark.parametrize("status", [401, 403])
def test_refused_handshake_goes_down(servers, conns, status) -> None:
    srv = LoopServer(lambda c: None, status=status)
    servers.append(srv)
    conn, sink = conns.open(EchoProtocol(srv.url))
    conn.start()
    assert conn.wait_state(FeedState.DOWN, timeout=5)
    assert str(status) in conn.reason
    time.sleep(0.3)
    assert srv.connections == 1


def test_other_handshake_failures_are_retried(servers, conns) -> None:
    srv = LoopServer(lambda c: None, status=502)
    servers.append(srv)
    conn, sink = conns.open(EchoProtocol(srv.url))
    conn.start()
    assert sink.wait(lambda: srv.connections >= 3, timeout=5)
    assert conn.state in (FeedState.RECONNECTING, FeedState.CONNECTING)


def test_hostile_frames_are_counted_and_skipped(servers, conns) -> None:
    rec = Recorder()
    hostile_sent = threading.Event()

    def handler(conn: Conn) -> None:
        rec.add(json.loads(conn.recv_text() or "{}"))
        conn.send(json.dumps({"ok": True}))
        conn.recv_text()  # the subscribe
        if rec.conns:  # second connection: just stream good data
            conn.send(json.dumps({"k": "after", "v": 1}))
            conn.recv_text(timeout=5)
            return
        rec.conns.append(conn)
        conn.send(b"{not json")
        conn.send(b"\xff\xfe\x00garbage")  # invalid UTF-8
        conn.send(json.dumps([1, 2, 3]))
        conn.send(json.dumps({"k": "A", "v": -5}))
        conn.send(json.dumps({"k": "A", "v": "NaN"}))
        conn.send(b'{"k": "A", "v": NaN}')
        conn.send(b"\x00\x01binary junk", opcode=2)
        conn.send(json.dumps({"k": "A", "v": 7}))
        # a fragmented message, with a ping in the middle
        whole = json.dumps({"k": "frag", "v": 8}).encode()
        conn.send_raw(frame(whole[:5], opcode=1, fin=False))
        conn.send_raw(frame(b"hi", opcode=9))
        conn.send_raw(frame(whole[5:], opcode=0, fin=True))
        # a frame split across two TCP writes
        raw = frame(json.dumps({"k": "split", "v": 9}))
        conn.send_raw(raw[:3])
        time.sleep(0.05)
        conn.send_raw(raw[3:])
        got = conn.recv(timeout=2)  # the pong for our ping
        rec.add({"pong": got is not None and got[0] == 0xA and got[1] == b"hi"})
        # a masked server frame is a protocol violation: the client must drop the session
        conn.send_raw(frame(json.dumps({"k": "masked", "v": 1}), mask=True))
        hostile_sent.set()
        conn.recv_text(timeout=3)

    srv = LoopServer(handler)
    servers.append(srv)
    conn, sink = conns.open(EchoProtocol(srv.url))
    conn.subscribe(["A"], "ltp")
    conn.start()
    assert sink.wait(lambda: ("after", 1) in sink.events(), timeout=8)
    assert hostile_sent.is_set()
    events = sink.events()
    assert events == [("A", 7), ("frag", 8), ("split", 9), ("after", 1)]
    stats = conn.stats()
    assert stats["rejected"] == 7, stats["rejected_by_reason"]
    assert stats["rejected_by_reason"] == {"malformed": 3, "shape": 1, "value": 3}
    assert {"pong": True} in rec.messages
    reasons = [
        s.reason
        for s in sink.drain()
        if isinstance(s, FeedStatus) and s.state == FeedState.RECONNECTING
    ]
    assert reasons
    assert "masked" in reasons[0]
    assert conn.state == FeedState.LIVE


def test_absurd_frame_length_ends_the_session_not_the_thread(servers, conns) -> None:
    def handler(conn: Conn) -> None:
        conn.recv_text()
        conn.send(json.dumps({"ok": True}))
        conn.send_raw(b"\x81\x7f" + (1 << 40).to_bytes(8, "big"))
        conn.recv_text(timeout=3)

    srv = LoopServer(handler)
    servers.append(srv)
    conn, sink = conns.open(EchoProtocol(srv.url))
    conn.start()
    assert sink.wait(lambda: srv.connections >= 2, timeout=5)
    assert any(isinstance(s, FeedStatus) and "frame of" in s.reason for s in sink.drain()), (
        sink.items
    )


def test_stop_is_bounded_while_connected_and_while_backing_off(servers) -> None:
    rec = Recorder()
    srv = LoopServer(venue(rec, then="silent"))
    servers.append(srv)
    conn = WsConnection(EchoProtocol(srv.url), Sink(), poll_s=1.0)
    conn.start()
    assert conn.wait_state(FeedState.LIVE, timeout=5)
    t0 = time.monotonic()
    assert conn.stop(timeout=3)
    assert time.monotonic() - t0 < 1.0  # the socket is shut down, recv returns at once
    assert conn.state == FeedState.DOWN

    srv.stop()
    slow = Backoff(initial=30, cap=30, jitter=0)
    conn2 = WsConnection(EchoProtocol(srv.url), Sink(), backoff=slow)
    conn2.start()
    assert conn2.wait_state(FeedState.RECONNECTING, timeout=5)
    t0 = time.monotonic()
    assert conn2.stop(timeout=3)
    assert time.monotonic() - t0 < 1.0


def test_server_that_accepts_then_drops_is_not_hammered(servers, conns) -> None:
    def handler(conn: Conn) -> None:
        conn.recv_text()
        conn.send(json.dumps({"ok": True}))
        conn.recv_text(timeout=0.05)  # the subscribe, then hang up at once

    srv = LoopServer(handler)
    servers.append(srv)
    backoff = Backoff(initial=0.05, factor=2.0, cap=0.4, jitter=0.0)
    conn, sink = conns.open(EchoProtocol(srv.url), backoff=backoff, stable_s=5.0)
    conn.subscribe(["A"], "ltp")
    conn.start()
    time.sleep(1.6)
    attempts = [
        s.attempt
        for s in sink.drain()
        if isinstance(s, FeedStatus) and s.state == FeedState.RECONNECTING
    ]
    # each session went live but never stayed up for stable_s: the backoff keeps growing
    # (0.05, 0.1, 0.2, 0.4, 0.4 ...) instead of restarting at 0.05 every time
    assert attempts[:4] == [1, 2, 3, 4]
    assert srv.connections <= 7
