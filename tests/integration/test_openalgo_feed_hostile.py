"""OpenAlgoFeed against a hostile loopback server: bad frames counted, skipped, never emitted."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from wsloop import Conn, LoopServer

from cockpit.adapters.openalgo.feed import OpenAlgoFeed
from cockpit.adapters.ws import Backoff
from cockpit.domain.feed import FeedState, FeedStatus
from cockpit.domain.market import MarketEvent

FAST = Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.1)


def md(data: object, mode: object = 2, symbol: object = "SBIN") -> str:
    return json.dumps(
        {"type": "market_data", "symbol": symbol, "exchange": "NSE", "mode": mode, "data": data}
    )


HOSTILE: list[bytes | str] = [
    b"{",  # truncated JSON
    b"\xc3\x28",  # invalid UTF-8
    b"null",
    b"[]",
    b'"just a string"',
    md({"ltp": "NaN"}),
    md({"ltp": "-Infinity"}),
    md({"ltp": -801.5}),
    md({"ltp": 0}, mode=1),  # zero LTP alone (a quote or book with it is kept: issue 17.6)
    md({"ltp": 1e300}),
    md({"ltp": "801.5x"}),
    md({"ltp": {"nested": 1}}),
    md({"ltp": 801.5, "volume": -1}),
    md({"ltp": 801.5, "high": "NaN"}),
    md({"ltp": 801.5, "depth": {"buy": [{"price": -1, "quantity": 5}]}}, mode=3),
    md({"ltp": 801.5, "depth": {"buy": [{"price": 801.4, "quantity": "lots"}]}}, mode=3),
    md({"ltp": 801.5}, mode=True),
    md({"ltp": 801.5}, symbol=None),
    md(None),
    md([1, 2]),
    b'{"type":"market_data","symbol":"SBIN","exchange":"NSE","mode":2,"data":{"ltp":NaN}}',
    b'{"type":"order_update","orderid":null,"order_status":"complete"}',
    b'{"type":"order_update","orderid":"1","order_status":"complete","price":-5}',
]


@pytest.fixture
def stack() -> Iterator[tuple[LoopServer, OpenAlgoFeed, queue.SimpleQueue[object]]]:
    state = {"n": 0}

    def handler(conn: Conn) -> None:
        state["n"] += 1
        auth = json.loads(conn.recv_text() or "{}")
        if auth.get("api_key") != "key":
            conn.send(json.dumps({"status": "error", "code": "AUTHENTICATION_ERROR"}))
            return
        conn.send(json.dumps({"type": "auth", "status": "success", "broker": "hostile"}))
        conn.recv_text()  # subscribe
        if state["n"] == 1:
            conn.send(md({"ltp": 801.5}))
            for bad in HOSTILE:
                conn.send(bad)
            conn.send(md({"ltp": 801.55}))
            conn.send(b"\x00\xffbinary", opcode=2)
            conn.send(md({"ltp": 801.6}))
            # a frame that promises 1000 bytes and delivers 10, then the socket dies
            conn.send_raw(b"\x81\x7e\x03\xe8" + b'{"type":"m')
            time.sleep(0.1)
            return
        conn.send(md({"ltp": 802.0}))
        conn.recv_text(timeout=5)

    srv = LoopServer(handler)
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    feed = OpenAlgoFeed(srv.url, "key", q.put, backoff=FAST)
    feed.subscribe(["NSE:SBIN"], "quote")
    yield srv, feed, q
    assert feed.stop(timeout=3)
    srv.stop()


def test_hostile_frames_are_counted_and_never_emitted(stack) -> None:
    srv, feed, q = stack
    feed.start()
    items: list[object] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            items.append(q.get(timeout=0.1))
        except queue.Empty:
            pass
        events = [i for i in items if isinstance(i, MarketEvent)]
        if any(e.ltp == Decimal("802.0") for e in events):
            break
    events = [i for i in items if isinstance(i, MarketEvent)]
    assert [e.ltp for e in events] == [
        Decimal("801.5"),
        Decimal("801.55"),
        Decimal("801.6"),
        Decimal("802.0"),
    ]
    stats = feed.stats()
    by_reason = stats["rejected_by_reason"]
    assert stats["rejected"] == len(HOSTILE) + 1, by_reason  # + the binary frame
    assert by_reason["malformed"] >= 3
    assert by_reason["non-finite ltp"] == 2
    assert by_reason["negative ltp"] == 1
    assert by_reason["absurd ltp"] == 1
    assert by_reason["zero ltp"] == 1
    assert stats["reconnects"] == 1  # the truncated frame + dead socket, then back
    assert feed.state == FeedState.LIVE
    statuses = [i for i in items if isinstance(i, FeedStatus)]
    assert [s.state for s in statuses] == [
        FeedState.CONNECTING,
        FeedState.LIVE,
        FeedState.RECONNECTING,
        FeedState.LIVE,
    ]
    assert srv.connections == 2
