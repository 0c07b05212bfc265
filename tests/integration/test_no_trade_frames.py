"""Issue 17.6 over real sockets: a contract with no trade today (last price 0) keeps its book.

OpenAlgo (a loopback server speaking its WebSocket) and Kite (the loopback ticker) send a depth
frame with a last price of 0 and a real book; the feed decodes it and the engine publishes the
quote and book with no last price. Before the fix every such frame was dropped.
"""

from __future__ import annotations

import json
import queue
from decimal import Decimal

from wsloop import Conn, LoopServer

from cockpit.adapters.kite.feed import KiteFeed
from cockpit.adapters.openalgo.feed import OpenAlgoFeed
from cockpit.adapters.ws import Backoff
from cockpit.config import Settings
from cockpit.domain.instruments import Exchange, Instrument
from cockpit.domain.market import DepthTick, LtpTick, MarketEvent
from cockpit.engine.core import Engine, EngineOptions
from cockpit.link import protocol as p
from tests.servers.base import Collector, wait_until
from tests.servers.kite_server import KiteServer, frame, full_packet, quote_packet
from tests.unit.test_engine_core import Clock, FakeRouter, Recorder

FAST = Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.1)
OPT = Instrument(Exchange.NFO, "NIFTYOPT", Decimal("0.05"), lot_size=Decimal(75), token="12345")


def engine_quotes(events: list[MarketEvent]) -> list[p.QuoteView]:
    """The quotes an engine publishes for ``events`` (no last price: ``ltp`` None) then a
    first trade at 101.00."""
    pub = Recorder()
    engine = Engine(
        config=Settings(),
        instruments=[OPT],
        router=FakeRouter(),
        journal=None,
        publisher=pub,
        options=EngineOptions(reconcile_interval_s=0, plan_event_interval_s=0),
        clock=Clock(),
    )
    engine.start()
    for ev in events:
        engine.handle(ev)
    assert engine.counters["bad_ticks"] == 0
    engine.flush_screen()  # what the decision loop does at most every screen_fold_s
    engine.handle(LtpTick(1, str(OPT.exchange), OPT.symbol, Decimal("101.00")))
    engine.flush_screen()
    return pub.quotes


def test_openalgo_depth_with_zero_ltp_keeps_the_book() -> None:
    book = {
        "buy": [{"price": 100.5, "quantity": 75, "orders": 2}],
        "sell": [{"price": 101.5, "quantity": 150, "orders": 1}],
    }
    data = {"ltp": 0, "close": 101, "volume": 0, "depth": book}
    msg = {"type": "market_data", "symbol": "NIFTYOPT", "exchange": "NFO", "mode": 3}

    def handler(conn: Conn) -> None:
        conn.recv_text()
        conn.send(json.dumps({"type": "auth", "status": "success", "broker": "loopback"}))
        conn.recv_text()
        conn.send(json.dumps({**msg, "data": data}))
        conn.recv_text(timeout=5)

    srv = LoopServer(handler)
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    feed = OpenAlgoFeed(srv.url, "key", q.put, backoff=FAST)
    feed.subscribe([OPT.key], "depth")
    events: list[MarketEvent] = []

    def got() -> bool:
        while not q.empty():
            item = q.get()
            if isinstance(item, MarketEvent):
                events.append(item)
        return bool(events)

    try:
        feed.start()
        assert wait_until(got, 10)
    finally:
        assert feed.stop(timeout=3)
        srv.stop()
    (ev,) = events
    assert type(ev) is DepthTick
    assert not ev.traded
    untraded, traded = engine_quotes(events)
    assert (untraded.ltp, untraded.bid, untraded.ask, untraded.close) == (None, 2010, 2030, 2020)
    assert (traded.ltp, traded.bid, traded.ask) == (2020, 2010, 2030)


def test_kite_full_packet_with_zero_last_price_keeps_the_book() -> None:
    token = int(OPT.token)
    server = KiteServer(api_key="key", access_token="token", heartbeat_s=0.2)
    server.start()
    sink = Collector()
    feed = KiteFeed(
        "key",
        "token",
        sink,
        url=server.url,
        token_map={token: ("NFO", "NIFTYOPT")},
        backoff=FAST,
        stable_s=0.5,
    )
    quote = quote_packet(token, 0, 0, 0, 0, 500, 700, 0, 0, 0, 10100)
    bids = [(75, 10050, 2)] + [(0, 0, 0)] * 4
    asks = [(150, 10150, 1)] + [(0, 0, 0)] * 4
    try:
        server.streaming = False
        feed.subscribe([token], "full")
        feed.start()
        assert wait_until(lambda: bool(server.conns), 10)
        server.send(frame([full_packet(quote, 0, 0, 0, 0, 0, bids, asks)]))
        assert wait_until(lambda: bool(sink.of(MarketEvent)), 10), sink.snapshot()
    finally:
        assert feed.stop(3)
        server.stop()
    (ev,) = sink.of(MarketEvent)
    assert type(ev) is DepthTick
    assert ev.ltp == 0
    untraded, traded = engine_quotes([ev])
    assert (untraded.ltp, untraded.bid, untraded.ask, untraded.close) == (None, 2010, 2030, 2020)
    assert traded.ltp == 2020
