"""The paper exchange's memory per instrument is bounded and small: 3,000 depth symbols for
ten minutes took 1.25 GB (issue 19). Bars and the price cache are what grows with time."""

from __future__ import annotations

import gc
import tracemalloc
from decimal import Decimal

from cockpit.domain.instruments import Exchange, Instrument
from cockpit.sim.frames import encode_market
from cockpit.sim.market import Market
from cockpit.sim.universe import Listing

SYMBOLS = 20
SECONDS = 900
BUDGET_PER_SYMBOL = 40_000
"""Bytes after 15 minutes at a tick a second each (26 KB measured; it was 304 KB): 3,000
symbols ~120 MB at most."""


def test_memory_per_instrument_stays_under_budget() -> None:
    listings = [
        Listing(Instrument(Exchange.NSE, f"M{i:03d}", Decimal("0.05")), Decimal(100 + 70 * i))
        for i in range(SYMBOLS)
    ]
    market = Market(listings, seed=3, rate=1.0)
    states = list(market.states.values())
    t0 = 1_700_000_000 * 10**9
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for second in range(SECONDS):
            for state in states:
                state.step(t0 + second * 10**9)
                encode_market(state, 3, 5, "zerodha")  # what a depth subscriber gets
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown / SYMBOLS < BUDGET_PER_SYMBOL, f"{grown / SYMBOLS:.0f} bytes per instrument"
