"""Issue 16.3: a positive sub-tick print, decoded by each real feed, never fires a stop.

Each venue sends frames over a real loopback socket: a print at the entry, then one below
half a tick (Binance ``0.004`` on a 0.01 grid, Kite raw 1 -- 0.01 -- on a 0.05 grid, OpenAlgo
``1e-1000000`` and ``0.02``), then a sane print again. The feed decodes them and an engine
holding a long position with a stop receives them. Before the fix the sub-tick price snapped
to 0 ticks and the stop fired (the paper exchange then filled a BTC exit at 0.01).
"""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from wsloop import Conn, LoopServer

from cockpit.adapters.binance.feed import make_feed as binance_feed
from cockpit.adapters.kite.feed import KiteFeed
from cockpit.adapters.openalgo.feed import OpenAlgoFeed
from cockpit.adapters.ws import Backoff
from cockpit.config import Settings
from cockpit.domain.execution import PlaceOrder, QueryBook, RouterResult
from cockpit.domain.feed import FeedState, FeedStatus, OrderUpdate
from cockpit.domain.instruments import Exchange, Instrument
from cockpit.domain.market import LtpTick, MarketEvent
from cockpit.engine.core import Engine, EngineOptions
from cockpit.link import protocol as p
from cockpit.link.bus import ViewerCommand
from tests.servers.base import Collector, wait_until
from tests.servers.binance_server import BinanceServer
from tests.servers.kite_server import KiteServer, frame, ltp_packet
from tests.unit.test_engine_core import Clock, FakeRouter, Recorder

FAST = Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.1)
INFY_TOKEN = 408065


class LongWithStop:
    """An engine holding a long position of ``inst`` with a 10-tick stop below ``entry``."""

    def __init__(self, inst: Instrument, entry: str) -> None:
        self.inst = inst
        self.router = FakeRouter()
        self.pub = Recorder()
        self.clock = Clock()
        self.engine = Engine(
            config=Settings(trading={"armed_at_start": True}),
            instruments=[inst],
            router=self.router,
            journal=None,
            publisher=self.pub,
            options=EngineOptions(reconcile_interval_s=0, plan_event_interval_s=0),
            clock=self.clock,
        )
        self.engine.start()
        for req in self.router.of(QueryBook):
            data: list[Any] = []
            self.engine.handle(RouterResult(req, True, data=data))
        self.router.requests.clear()
        self.engine.handle(FeedStatus("test", FeedState.LIVE, self.clock.now))
        self.feed(LtpTick(self.clock.now, str(inst.exchange), inst.symbol, Decimal(entry)))
        plan = p.PlanSpec(stop_ticks=10, target_ticks=None)
        cmd = p.PlaceEntry(id=1, key=inst.key, side="BUY", qty=inst.lot_size, plan=plan)
        self.engine.handle(ViewerCommand(7, cmd))
        assert isinstance(self.pub.answer(1), p.Ack), self.pub.replies
        (req,) = self.router.of(PlaceOrder)
        self.engine.handle(RouterResult(req, True, venue_id="v1", sent_ns=1, done_ns=2))
        self.feed(
            OrderUpdate(
                "v1",
                req.exchange,
                req.symbol,
                "BUY",
                "complete",
                self.clock.now,
                quantity=req.quantity,
                filled_qty=req.quantity,
                average_price=Decimal(entry),
                pricetype=req.pricetype,
            )
        )
        self.plan = self.engine.plans[inst.key].plan
        assert self.plan.stop == inst.ticks(entry) - 10

    def feed(self, item: object) -> None:
        self.clock.now += 1_000_000
        self.engine.handle(item)

    def exits(self) -> list[PlaceOrder]:
        return self.router.of(PlaceOrder)[1:]


def run_through(rig: LongWithStop, events: list[MarketEvent], sub_tick: Decimal) -> None:
    """Hand the decoded events to the engine; the sub-tick one must have been decoded."""
    assert any(e.ltp == sub_tick for e in events), [e.ltp for e in events]
    for ev in events:
        rig.feed(ev)
    assert rig.exits() == [], "a sub-tick print fired the stop"
    assert not rig.pub.of(p.ExitFired)
    assert rig.plan.active
    assert rig.engine.counters["bad_ticks"] >= 1


def test_binance_trade_at_a_sub_tick_price_does_not_fire_the_stop() -> None:
    inst = Instrument(Exchange.BINANCE, "BTCUSDT", Decimal("0.01"), lot_size=Decimal("0.001"))
    rig = LongWithStop(inst, "100.00")
    server = BinanceServer(symbols=("BTCUSDT",))
    server.start()
    sink = Collector()
    feed = binance_feed(["btcusdt"], "ltp", server.url, sink, backoff=FAST, stable_s=0.5)
    try:
        server.streaming = False
        feed.start()
        assert wait_until(lambda: bool(server.url_streams()), 10)

        def trade(price: str, ident: int) -> str:
            data = {"e": "trade", "E": 1, "s": "BTCUSDT", "t": ident, "p": price, "q": "0.001"}
            data.update({"T": 1, "m": False, "M": True})
            return json.dumps({"stream": "btcusdt@trade", "data": data})

        for i, price in enumerate(("100.00", "0.004", "100.01"), start=1):
            server.send(trade(price, i))
        assert wait_until(lambda: len(sink.of(MarketEvent)) >= 3, 10), sink.snapshot()
    finally:
        assert feed.stop(3)
        server.stop()
    run_through(rig, sink.of(MarketEvent), Decimal("0.004"))


def test_kite_raw_one_on_a_five_paise_grid_does_not_fire_the_stop() -> None:
    inst = Instrument(Exchange.NSE, "INFY", Decimal("0.05"), token=str(INFY_TOKEN))
    rig = LongWithStop(inst, "1500.00")
    server = KiteServer(api_key="key", access_token="token", heartbeat_s=0.2)
    server.start()
    sink = Collector()
    feed = KiteFeed(
        "key",
        "token",
        sink,
        url=server.url,
        token_map={INFY_TOKEN: ("NSE", "INFY")},
        backoff=FAST,
        stable_s=0.5,
    )
    try:
        server.streaming = False
        feed.subscribe([INFY_TOKEN], "ltp")
        feed.start()
        assert wait_until(lambda: bool(server.conns), 10)
        for raw in (150000, 1, 150005):
            server.send(frame([ltp_packet(INFY_TOKEN, raw)]))
        assert wait_until(lambda: len(sink.of(MarketEvent)) >= 3, 10), sink.snapshot()
    finally:
        assert feed.stop(3)
        server.stop()
    run_through(rig, sink.of(MarketEvent), Decimal("0.01"))


@pytest.fixture
def openalgo() -> Iterator[tuple[OpenAlgoFeed, queue.SimpleQueue[object]]]:
    def md(ltp: Any) -> str:
        data = {"ltp": ltp}
        return json.dumps(
            {"type": "market_data", "symbol": "SBIN", "exchange": "NSE", "mode": 1, "data": data}
        )

    def handler(conn: Conn) -> None:
        conn.recv_text()  # authenticate
        conn.send(json.dumps({"type": "auth", "status": "success", "broker": "loopback"}))
        conn.recv_text()  # subscribe
        for raw in ('"800.00"', "1e-1000000", "0.02", '"800.05"'):
            conn.send(md("__X__").replace('"__X__"', raw))
        conn.recv_text(timeout=5)

    srv = LoopServer(handler)
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    feed = OpenAlgoFeed(srv.url, "key", q.put, backoff=FAST)
    feed.subscribe(["NSE:SBIN"], "ltp")
    yield feed, q
    assert feed.stop(timeout=3)
    srv.stop()


def test_openalgo_sub_tick_prints_do_not_fire_the_stop(
    openalgo: tuple[OpenAlgoFeed, queue.SimpleQueue[object]],
) -> None:
    feed, q = openalgo
    inst = Instrument(Exchange.NSE, "SBIN", Decimal("0.05"))
    rig = LongWithStop(inst, "800.00")
    feed.start()
    events: list[MarketEvent] = []

    def more() -> bool:
        while not q.empty():
            item = q.get()
            if isinstance(item, MarketEvent):
                events.append(item)
        return len(events) >= 4

    assert wait_until(more, 10), events
    run_through(rig, events, Decimal("0.02"))
    assert rig.engine.counters["bad_ticks"] == 2
