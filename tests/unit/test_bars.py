"""Bars: epoch-aligned boundaries, gaps (no bar), out-of-order ticks, closing on time."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.domain.bars import Bar, BarAggregator

S = 1_000_000_000
M = 60 * S
D = Decimal


def test_boundaries_are_epoch_aligned_and_exclusive_at_the_end() -> None:
    agg = BarAggregator(M)
    t0 = 1_700_000_000 * S  # 2023-11-14T22:13:20Z: 20 s into a minute
    assert agg.on_tick(100, D(1), t0) is None
    bar = agg.current
    assert bar is not None
    assert bar.start_ns == t0 - 20 * S
    assert bar.end_ns == t0 + 40 * S
    assert agg.on_tick(105, D(2), t0 + 40 * S - 1) is None  # last ns of the bar
    done = agg.on_tick(103, D(1), t0 + 40 * S)  # first ns of the next bar
    assert done == Bar(t0 - 20 * S, M, 100, 105, 100, 105, D(3), 2)
    current = agg.current
    assert current is not None
    assert current.start_ns == t0 + 40 * S
    assert current.open == 103


def test_ohlcv_within_a_bar() -> None:
    agg = BarAggregator(S)
    for i, (price, qty) in enumerate([(10, 1), (12, 2), (8, 1), (11, None)]):
        agg.on_tick(price, None if qty is None else D(qty), i * 1000)
    bar = agg.flush()
    assert bar == Bar(0, S, 10, 12, 8, 11, D(4), 4)
    assert agg.flush() is None
    assert agg.current is None


def test_gap_produces_no_bar() -> None:
    agg = BarAggregator(M)
    agg.on_tick(100, D(1), 5 * S)
    done = agg.on_tick(110, D(1), 3 * M + 5 * S)  # minutes 1 and 2 had no tick
    assert done is not None
    assert done.start_ns == 0
    current = agg.current
    assert current is not None
    assert current.start_ns == 3 * M
    assert current.open == 110


def test_out_of_order_ticks() -> None:
    agg = BarAggregator(M)
    agg.on_tick(100, D(1), M + 10 * S)
    agg.on_tick(101, D(1), M + 30 * S)
    # Older than the latest tick but inside the current bar: high/low/volume, not close.
    agg.on_tick(120, D(5), M + 20 * S)
    # Older than anything in the bar: it becomes the open.
    agg.on_tick(90, D(1), M + 1 * S)
    bar = agg.current
    assert bar == Bar(M, M, 90, 120, 90, 101, D(8), 4)
    # Older than the current bar: counted and ignored.
    assert agg.on_tick(50, D(1), 30 * S) is None
    assert agg.late == 1
    assert agg.current == bar
    done = agg.on_tick(102, D(1), 2 * M)
    assert done == bar
    # A tick for the bar that just closed is late too.
    assert agg.on_tick(99, D(1), 2 * M - 1) is None
    assert agg.late == 2


def test_on_time_closes_without_a_tick_and_late_ticks_after_it() -> None:
    agg = BarAggregator(M)
    agg.on_tick(100, D(1), 10 * S)
    assert agg.on_time(M - 1) is None
    done = agg.on_time(M)
    assert done is not None
    assert done.close == 100
    assert agg.current is None
    assert agg.on_time(10 * M) is None
    assert agg.on_tick(101, D(1), 59 * S) is None  # belongs to the closed bar
    assert agg.late == 1
    assert agg.on_tick(101, D(1), M + 1) is None  # opens the next bar, completes nothing
    current = agg.current
    assert current is not None
    assert current.start_ns == M


def test_negative_time_and_bad_size() -> None:
    agg = BarAggregator(M)
    agg.on_tick(1, D(1), -1)
    current = agg.current
    assert current is not None
    assert current.start_ns == -M
    with pytest.raises(ValueError, match="bar size"):
        BarAggregator(0)


@settings(max_examples=200, deadline=None)
@given(
    size=st.sampled_from([S, 5 * S, M]),
    ticks=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10 * M),
            st.integers(min_value=1, max_value=1000),
            st.integers(min_value=0, max_value=9),
        ),
        max_size=80,
    ),
)
def test_in_order_ticks_match_a_groupby_reference(
    size: int, ticks: list[tuple[int, int, int]]
) -> None:
    ticks.sort(key=lambda t: t[0])
    agg = BarAggregator(size)
    bars = [b for ts, price, qty in ticks if (b := agg.on_tick(price, D(qty), ts)) is not None]
    last = agg.flush()
    if last is not None:
        bars.append(last)
    groups: dict[int, list[tuple[int, int, int]]] = {}
    for tick in ticks:
        groups.setdefault(tick[0] - tick[0] % size, []).append(tick)
    expected = [
        Bar(
            start,
            size,
            group[0][1],
            max(p for _, p, _ in group),
            min(p for _, p, _ in group),
            group[-1][1],
            D(sum(q for _, _, q in group)),
            len(group),
        )
        for start, group in sorted(groups.items())
    ]
    assert bars == expected
    assert agg.late == 0
