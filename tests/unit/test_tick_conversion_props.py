"""Property tests: the engine's fast price-to-ticks conversions (market_ticks with its
last-price memory, book_levels with its guesses) give exactly what the instrument's one rule
(Instrument.market_ticks) gives, for any price: on or off the grid, sub-tick, negative, zero,
huge, NaN, infinite, on any tick size."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.domain.instruments import Exchange, Instrument
from cockpit.engine.state import SymbolState, book_levels, market_ticks

TICKS = [Decimal(t) for t in ("0.05", "0.01", "0.5", "1", "0.0001", "1E-8", "0.25", "5")]

prices = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=-10, max_value=100_000, places=4),
    st.integers(min_value=-(10**30), max_value=10**30).map(lambda n: Decimal(n) / 100),
    st.integers(min_value=1, max_value=10**6).map(lambda n: Decimal(n) * Decimal("0.05")),
    st.sampled_from(
        [
            Decimal("sNaN"),
            Decimal("-NaN"),
            Decimal("1e1000000"),
            Decimal("1e-1000000"),
            Decimal("-0"),
            Decimal("0E-8"),
            Decimal("8.005E+2"),
            Decimal("1E+28"),
        ]
    ),
)


def inst_of(tick: Decimal) -> Instrument:
    return Instrument(Exchange.NSE, "X", tick)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(TICKS), st.lists(prices, min_size=1, max_size=12))
def test_market_ticks_is_the_instruments_rule(tick: Decimal, seq: list[Decimal]) -> None:
    inst = inst_of(tick)
    sym = SymbolState(inst)
    for price in seq + seq[::-1]:  # each seen again, some right after themselves
        assert market_ticks(sym, price) == inst.market_ticks(price), (tick, price)
        assert market_ticks(sym, price) == inst.market_ticks(price), (tick, price)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(TICKS),
    st.lists(prices, max_size=25),
    st.sampled_from([-1, 1]),
    st.one_of(st.none(), st.integers(min_value=-5, max_value=10**12)),
)
def test_book_levels_are_the_instruments_rule(
    tick: Decimal, side: list[Decimal], step: int, first: int | None
) -> None:
    inst = inst_of(tick)
    sym = SymbolState(inst)
    levels = [(p, Decimal(1), 1) for p in side]
    want = [(t, Decimal(1), 1) for p in side if (t := inst.market_ticks(p)) is not None]
    assert book_levels(sym, levels, step, first) == want
    assert book_levels(sym, levels, step, first) == want  # with the grid it kept
