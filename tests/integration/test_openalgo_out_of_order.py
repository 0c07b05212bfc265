"""A market-data frame older than one already taken for its symbol (a duplicate or a delayed
frame: its exchange timestamp is behind) is counted and never emitted.

Found in a tmux trial through a loopback proxy between the paper exchange and the engine: a
long with a 60-tick trail, the price pushed up 4.50 (the trail's stop ratcheted to 1287.05),
then one frame of a few seconds before replayed (1285.20). The engine took it as the last price
and the trail stop fired at 1285.20 with the market at 1289.85: an exit decided on a stale
price.

A server whose clock went back is not frozen out: when its frames stay behind for
``reorder_window_s`` of our receive time, its new time is taken.
"""

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
from cockpit.domain.market import DepthTick, MarketEvent

FAST = Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.1)
T0 = 1_767_080_412_000  # epoch ms


def md(ltp: str, ts: int, mode: int = 2) -> str:
    data: dict[str, object] = {"ltp": float(ltp), "timestamp": ts}
    if mode == 3:
        data["depth"] = {"buy": [{"price": ltp, "quantity": 5}], "sell": []}
    return json.dumps(
        {"type": "market_data", "symbol": "SBIN", "exchange": "NSE", "mode": mode, "data": data}
    )


SCRIPT: list[tuple[float, str]] = [
    (0, md("801.50", T0)),
    (0, md("802.50", T0 + 1000)),
    (0, md("801.50", T0)),  # the first frame again (replayed, delayed): behind
    (0, md("802.50", T0 + 1000)),  # the same time again: kept (second-resolution clocks)
    (0, md("801.00", T0 + 500, mode=3)),  # another mode's stream has its own order
    (0, md("802.55", T0 + 1500)),
    (0, md("801.95", T0 + 900)),  # behind: dropped
    # the server's clock goes back a minute and stays there: taken once it persists
    (0, md("802.60", T0 - 60_000)),
    (0.4, md("802.65", T0 - 59_900)),
    (0, md("802.70", T0 - 59_800)),
]


@pytest.fixture
def stack() -> Iterator[tuple[OpenAlgoFeed, queue.SimpleQueue[object]]]:
    def handler(conn: Conn) -> None:
        conn.recv_text()  # authenticate
        conn.send(json.dumps({"type": "auth", "status": "success", "broker": "replaying"}))
        conn.recv_text()  # subscribe
        for pause, text in SCRIPT:
            time.sleep(pause)
            conn.send(text)
        conn.recv_text(timeout=5)

    srv = LoopServer(handler)
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    feed = OpenAlgoFeed(srv.url, "key", q.put, backoff=FAST)
    feed.protocol.reorder_window_s = 0.3
    feed.subscribe(["NSE:SBIN"], "quote")
    yield feed, q
    assert feed.stop(timeout=3)
    srv.stop()


def test_a_frame_behind_its_symbols_time_is_counted_and_never_emitted(stack) -> None:
    feed, q = stack
    feed.start()
    events: list[MarketEvent] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(e.ltp == Decimal("802.70") for e in events):
        try:
            item = q.get(timeout=0.1)
        except queue.Empty:
            continue
        if isinstance(item, MarketEvent):
            events.append(item)
    got = [(type(e) is DepthTick, str(e.ltp)) for e in events]
    assert got == [
        (False, "801.5"),
        (False, "802.5"),
        (False, "802.5"),
        (True, "801.0"),
        (False, "802.55"),
        (False, "802.65"),  # the clock went back: behind for longer than the window, taken
        (False, "802.7"),
    ]
    stats = feed.stats()
    assert stats["rejected_by_reason"] == {"out of order": 3}, stats["rejected_by_reason"]
