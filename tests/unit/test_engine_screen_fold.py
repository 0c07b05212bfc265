"""Ticks are folded per symbol for viewers (latest state wins), never for exit plans."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

from cockpit.domain.market import DepthTick, LtpTick
from cockpit.domain.orders import Side
from cockpit.engine.core import Engine, EngineOptions
from cockpit.engine.state import GRID_KEPT, SymbolState, book_levels, market_ticks
from cockpit.link import protocol as p
from cockpit.link.bus import Inbound, SnapshotRequest
from tests.unit.test_engine_core import INFY, SBIN, FakeRouter, Recorder, Rig


def depth(rig: Rig, price: str, bid_qty: int) -> DepthTick:
    rig.clock.now += 1_000_000
    d = Decimal(price)
    return DepthTick(
        rig.clock.now,
        str(SBIN.exchange),
        SBIN.symbol,
        d,
        bids=((d - Decimal("0.05"), Decimal(bid_qty), 1), (d - Decimal("0.10"), Decimal(5), 1)),
        asks=((d + Decimal("0.05"), Decimal(7), 1),),
    )


def test_a_flood_is_one_quote_per_symbol_for_viewers_but_every_tick_for_the_plan() -> None:
    rig = Rig()
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10))
    rig.engine.flush_screen()
    rig.pub.quotes.clear()
    before = len(rig.places())
    # A dip through the stop (799.50) inside a flood that ends back above it.
    for price in ("800.10", "800.20", "799.40", "800.30", "800.40"):
        rig.tick(SBIN, price)
    rig.tick(INFY, "1500.00")
    assert rig.pub.quotes == []  # nothing for the screen until the flush
    exits = rig.places()[before:]
    assert len(exits) == 1
    assert exits[0].action == Side.SELL.value
    rig.engine.flush_screen()
    by_key = {q.key: q for q in rig.pub.quotes}
    assert len(rig.pub.quotes) == 2
    assert set(by_key) == {SBIN.key, INFY.key}
    assert by_key[SBIN.key].ltp == 16008  # the latest state wins
    assert by_key[SBIN.key].ticks == rig.engine._syms[SBIN.key].count
    rig.engine.flush_screen()
    assert len(rig.pub.quotes) == 2  # nothing changed since: nothing more


def test_the_latest_book_is_built_once_and_a_snapshot_sees_it_unflushed() -> None:
    rig = Rig()
    rig.start()
    rig.engine.handle(depth(rig, "800.00", 11))
    rig.engine.handle(depth(rig, "800.05", 22))
    rig.engine.handle(SnapshotRequest(3))
    snap = rig.pub.replies[-1][1]
    assert isinstance(snap, p.Snapshot)
    assert [(b.key, b.bids[0]) for b in snap.books] == [(SBIN.key, (16000, Decimal(22), 1))]
    rig.engine.handle(depth(rig, "800.10", 33))
    rig.engine.flush_screen()
    sbin = [q for q in rig.pub.quotes if q.key == SBIN.key]
    assert [q.ltp for q in sbin] == [16002]
    assert (sbin[0].bid, sbin[0].bid_qty) == (16001, Decimal(33))


def test_with_folding_off_every_tick_is_published_with_its_book() -> None:
    rig = Rig()
    rig.engine.options.screen_fold_s = 0
    rig.start()
    rig.engine.handle(depth(rig, "800.00", 11))
    rig.engine.handle(depth(rig, "800.05", 22))
    assert [q.ltp for q in rig.pub.quotes if q.key == SBIN.key] == [16000, 16001]


class BookRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.published = threading.Event()

    def market(self, quote: p.QuoteView, book: p.BookView | None = None) -> None:
        super().market(quote, book)
        self.published.set()


def test_the_decision_loop_sends_a_lone_tick_at_once_and_folds_a_flood() -> None:
    rig = Rig()
    pub = BookRecorder()
    inbound = Inbound()
    engine = Engine(
        config=rig.config,
        instruments=[SBIN, INFY],
        router=FakeRouter(),
        publisher=pub,
        inbound=inbound,
        options=EngineOptions(reconcile_interval_s=0, timer_interval_s=5.0, screen_fold_s=0.2),
    )
    stop = threading.Event()
    thread = threading.Thread(target=engine.run, args=(stop,), daemon=True)
    thread.start()
    try:
        t0 = time.monotonic()
        inbound.put(LtpTick(time.time_ns(), "NSE", "SBIN", Decimal("800")))
        assert pub.published.wait(2.0)
        assert time.monotonic() - t0 < 1.0  # not held for the timer (5 s)
        # Within the fold interval: 50 ticks in, one (the latest) out when it ends.
        for i in range(50):
            inbound.put(LtpTick(time.time_ns(), "NSE", "SBIN", Decimal(801) + Decimal(i) / 20))
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and (not pub.quotes or pub.quotes[-1].ltp != 16069):
            time.sleep(0.01)
        assert pub.quotes[-1].ltp == 16069
        assert engine.counters["ticks"] == 51
        assert len(pub.quotes) <= 3
    finally:
        stop.set()
        thread.join(5)


def test_market_ticks_converts_as_the_instrument_does() -> None:
    sym = SymbolState(SBIN)
    prices = [Decimal(n) / 100 for n in range(-20, 3000)]  # on and off the grid, sub-tick
    prices += [Decimal("800.050"), Decimal("8.005E+2"), Decimal("1E+3"), Decimal("-0")]
    prices += [Decimal(0), Decimal(-5), Decimal("1e1000000"), Decimal("1e-1000000")]
    prices += [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity")]
    for price in prices:  # twice each: the second is the price seen last
        assert market_ticks(sym, price) == SBIN.market_ticks(price), price
        assert market_ticks(sym, price) == SBIN.market_ticks(price), price


def test_book_levels_are_the_prices_in_ticks_whatever_the_guess() -> None:
    """A book side converts as market_ticks does, level by level, however wrong the guesses
    (a sparse or unsorted side, off-grid, sub-tick and bad prices, a stale touch)."""
    sym = SymbolState(SBIN)
    sides = [
        ["800.00", "799.95", "799.90", "799.85"],
        ["800.00", "799.90", "799.85", "799.60", "799.55"],
        ["799.97", "799.95", "799.93", "0.01", "0", "-1", "NaN", "sNaN", "1e1000000", "799.85"],
        ["801.00", "800.95", "802.00", "800.90", "8.0090E+2"],
        [f"{700 + n * 0.05:.2f}" for n in range(200)],
    ]
    for prices in sides:
        levels = [(Decimal(p), Decimal(1), 1) for p in prices]
        want = [(t, Decimal(1), 1) for p in prices if (t := SBIN.market_ticks(Decimal(p)))]
        for step in (-1, 1):
            for first in (None, 0, 16000, 15999, 16001, 10**9):
                assert book_levels(sym, levels, step, first) == want, (prices, step, first)
                assert len(sym.grid) <= GRID_KEPT
