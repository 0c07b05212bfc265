"""OpenAlgo ``/history`` rows read once, into the seam's bars; bad rows counted, not kept."""

from __future__ import annotations

from decimal import Decimal

from cockpit.adapters.openalgo.rows import history_bars
from cockpit.domain.execution import HistoryBar

NS = 1_000_000_000


def test_rows_become_exact_bars_oldest_first_and_bad_ones_are_counted() -> None:
    good = {"timestamp": 1767080460, "open": 769.6, "high": 770.05, "low": 769.1}
    rows = [
        {**good, "close": 769.95, "volume": 1200, "oi": 0},
        {"timestamp": 1767080400, "open": 1.1, "high": 1.2, "low": 1.0, "close": 1.1, "volume": 0},
        {**good, "close": 771.0, "volume": 5},  # close above the high
        {**good, "timestamp": "x", "close": 769.95},
        {**good, "close": "nan"},
        "not a row",
    ]
    bars, bad = history_bars(rows)
    assert bad == 4
    assert bars == [
        HistoryBar(
            1767080400 * NS,
            Decimal("1.1"),
            Decimal("1.2"),
            Decimal("1.0"),
            Decimal("1.1"),
            Decimal(0),
        ),
        HistoryBar(
            1767080460 * NS,
            Decimal("769.6"),
            Decimal("770.05"),
            Decimal("769.1"),
            Decimal("769.95"),
            Decimal(1200),
        ),
    ]
    assert history_bars(None) == ([], 0)
