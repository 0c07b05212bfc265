"""What the engine keeps per symbol is bounded and small: 3,000 symbols must fit in the
engine's 300 MB (issue 19). Each symbol here trades over hundreds of price levels with a
five-level book, as the paper exchange's 3,000 slow symbols do; most are off screen."""

from __future__ import annotations

import gc
import random
import tracemalloc
from collections.abc import Iterator
from decimal import Decimal

import pytest

from cockpit.config import Settings
from cockpit.domain.instruments import Exchange, Instrument
from cockpit.domain.market import DepthTick, TradeTick
from cockpit.engine import market
from cockpit.engine.core import Engine, EngineOptions
from cockpit.link.bus import NullPublisher, SnapshotRequest, ViewerShowing
from tests.unit.test_engine_core import FakeRouter, Recorder

SYMBOLS = 200
TICKS = 300
BUDGET_PER_SYMBOL = 40_000
"""Bytes (250 levels each): 3,000 symbols take ~120 MB of the engine's 300 (it was 88 KB)."""


def test_memory_per_symbol_stays_under_budget() -> None:
    insts = [Instrument(Exchange.NSE, f"M{i:03d}", Decimal("0.05")) for i in range(SYMBOLS)]
    engine = Engine(
        config=Settings(),
        instruments=insts,
        router=FakeRouter(),
        publisher=NullPublisher(),
        options=EngineOptions(reconcile_interval_s=0),
    )
    engine.reconciled = True
    engine.handle(SnapshotRequest(1))
    engine.handle(ViewerShowing(1, frozenset(i.key for i in insts[:10])))
    rng = random.Random(9)
    tick = Decimal("0.05")

    def events() -> Iterator[DepthTick]:
        """Made one at a time, as a feed decodes them (what the engine keeps is new)."""
        for n in range(TICKS):
            for i, inst in enumerate(insts):
                ltp = (20_000 + i + rng.randint(-400, 400)) * tick  # hundreds of levels
                yield DepthTick(
                    1_700_000_000_000_000_000 + n,
                    "NSE",
                    inst.symbol,
                    ltp,
                    volume=Decimal(1000 + n * 7),
                    ltq=Decimal(7),
                    bids=tuple((ltp - k * tick, Decimal(10 + k), 1) for k in range(1, 6)),
                    asks=tuple((ltp + k * tick, Decimal(11 + k), 1) for k in range(1, 6)),
                )

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for ev in events():
            engine.handle(ev)
        engine._publish_volume()
        del ev
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert engine.counters["ticks"] == SYMBOLS * TICKS
    assert grown / SYMBOLS < BUDGET_PER_SYMBOL, f"{grown / SYMBOLS:.0f} bytes per symbol"


def test_volume_at_price_keeps_a_bounded_number_of_levels_nearest_the_price(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A price that keeps walking to new levels (the paper exchange's 3,000 symbols added
    ~28 levels a minute each: the engine grew ~13 MB a minute) keeps at most the symbol's
    share of the engine's level budget, those nearest the last price; a viewer showing the
    symbol is told the levels dropped (total 0)."""
    monkeypatch.setattr(market, "VAP_LEVELS_BUDGET", 1_000)
    monkeypatch.setattr(market, "VAP_LEVELS_MIN", 50)
    insts = [Instrument(Exchange.NSE, f"W{i}", Decimal("0.05")) for i in range(5)]
    pub = Recorder()
    engine = Engine(
        config=Settings(),
        instruments=insts,
        router=FakeRouter(),
        publisher=pub,
        options=EngineOptions(reconcile_interval_s=0),
    )
    engine.reconciled = True
    engine.handle(SnapshotRequest(1, showing=frozenset({insts[0].key})))
    cap = 1_000 // 5
    tick = Decimal("0.05")
    for n in range(1_500):  # each symbol up 1,500 levels, a trade at each
        for inst in insts:
            price = (20_000 + n) * tick
            engine.handle(
                TradeTick(1_700_000_000_000_000_000 + n, "NSE", inst.symbol, price, ltq=Decimal(2))
            )
        if n % 50 == 0:
            engine._publish_volume()
    engine._publish_volume()
    for inst in insts:
        vap = engine._syms[inst.key].vap
        assert len(vap) <= cap
        assert max(vap) == 20_000 + 1_499  # the last price's level is kept
        assert min(vap) >= 20_000 + 1_499 - cap  # the farthest ones went
        assert set(engine._syms[inst.key].bought) <= set(vap)
    shown = insts[0].key
    latest: dict[int, Decimal] = {}
    for v in pub.volumes:
        if v.key == shown:
            latest.update(v.levels)
    assert {p: q for p, q in latest.items() if q} == engine._syms[
        shown
    ].vap  # what the viewer holds
    assert engine.counters["vap_levels_trimmed"] >= 5 * (1_500 - cap)
