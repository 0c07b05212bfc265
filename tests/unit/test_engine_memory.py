"""What the engine keeps per symbol is bounded and small: 3,000 symbols must fit in the
engine's 300 MB (issue 19). Each symbol here trades over hundreds of price levels with a
five-level book, as the paper exchange's 3,000 slow symbols do; most are off screen."""

from __future__ import annotations

import gc
import random
import sys
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


VAP_BYTES_3000 = 64 * 2**20
"""What the volume-at-price maps of 3,000 symbols may take, each at its cap (of the engine's
300 MB; the rest of a 3,000-symbol engine takes ~150)."""


def deep_size(levels: dict[int, Decimal | int]) -> int:
    """A map's bytes with the values the interpreter does not share (its keys are counted
    once, with the totals': the buyer parts' are the same objects)."""
    return sys.getsizeof(levels) + sum(
        sys.getsizeof(v) for v in levels.values() if not (type(v) is int and v <= 256)
    )


def test_volume_at_price_of_3000_symbols_fits_its_budget_at_their_caps() -> None:
    """Each of 3,000 symbols keeps its share of the level budget, the levels nearest its price.
    At 333 levels each (a share of 1,000,000) the maps took ~200 MB and took ~12 minutes of
    the paper exchange's walk (~28 new levels a minute) to fill: the engine still grew
    ~10 MB a minute at minute 10. Here one symbol trades at twice its cap's levels (buys and
    sells, totals in the hundreds), and its maps times 3,000 must fit the budget."""
    insts = [Instrument(Exchange.NSE, f"V{i:04d}", Decimal("0.05")) for i in range(3000)]
    engine = Engine(
        config=Settings(),
        instruments=insts,
        router=FakeRouter(),
        publisher=NullPublisher(),
        options=EngineOptions(reconcile_interval_s=0),
    )
    engine.reconciled = True
    tick = Decimal("0.05")
    for n in range(2 * engine._vap_cap):
        for repeat in range(2):
            engine.handle(
                TradeTick(
                    1_700_000_000_000_000_000 + 2 * n + repeat,
                    "NSE",
                    "V0000",
                    (20_000 + n) * tick,
                    ltq=Decimal(300 + n),
                    aggressor="buy" if (n + repeat) % 2 else "sell",
                )
            )
    sym = engine._syms[insts[0].key]
    assert engine._vap_cap * 7 // 8 <= len(sym.vap) <= engine._vap_cap
    assert len(sym.bought) == len(sym.vap)
    keys = sum(sys.getsizeof(p) for p in sym.vap)
    per_symbol = deep_size(sym.vap) + deep_size(sym.bought) + keys
    assert per_symbol * 3000 <= VAP_BYTES_3000, f"{per_symbol} bytes per symbol"
