"""A crossed quote from the OpenAlgo feed (best bid above best ask) is a bad frame: counted,
never emitted. Its bid would otherwise price a marketable-limit exit (bid - offset) above
the market, where a sell exit rests unfilled while the price falls."""

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
from cockpit.domain.market import MarketEvent

FAST = Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.1)


def quote(ltp: str, bid: str, ask: str, mode: int = 2) -> str:
    depth = {"buy": [{"price": bid, "quantity": 5}], "sell": [{"price": ask, "quantity": 5}]}
    return json.dumps(
        {
            "type": "market_data",
            "symbol": "SBIN",
            "exchange": "NSE",
            "mode": mode,
            "data": {"ltp": float(ltp), "depth": depth},
        }
    )


@pytest.fixture
def stack() -> Iterator[tuple[OpenAlgoFeed, queue.SimpleQueue[object]]]:
    def handler(conn: Conn) -> None:
        conn.recv_text()  # authenticate
        conn.send(json.dumps({"type": "auth", "status": "success", "broker": "crossed"}))
        conn.recv_text()  # subscribe
        conn.send(quote("801.50", "801.45", "801.50"))
        conn.send(quote("801.50", "900.00", "801.55"))  # bid far above the ask
        conn.send(quote("801.50", "801.60", "801.55", mode=3))  # a crossed book
        conn.send(quote("801.55", "801.55", "801.55"))  # locked (bid == ask): kept
        conn.send(quote("801.60", "801.55", "801.60"))
        conn.recv_text(timeout=5)

    srv = LoopServer(handler)
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    feed = OpenAlgoFeed(srv.url, "key", q.put, backoff=FAST)
    feed.subscribe(["NSE:SBIN"], "quote")
    yield feed, q
    assert feed.stop(timeout=3)
    srv.stop()


def test_a_crossed_quote_is_counted_and_never_emitted(stack) -> None:
    feed, q = stack
    feed.start()
    events: list[MarketEvent] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(e.ltp == Decimal("801.60") for e in events):
        try:
            item = q.get(timeout=0.1)
        except queue.Empty:
            continue
        if isinstance(item, MarketEvent):
            events.append(item)
    assert [(e.ltp, e.bids[0][0]) for e in events] == [  # type: ignore[attr-defined]
        (Decimal("801.50"), Decimal("801.45")),
        (Decimal("801.55"), Decimal("801.55")),
        (Decimal("801.60"), Decimal("801.55")),
    ]
    stats = feed.stats()
    assert stats["rejected"] == 2, stats["rejected_by_reason"]
    assert stats["rejected_by_reason"]["crossed book"] == 2
