"""The chart's price axis follows the recent bars around the last price: a backfill far from
today's price (a gap, another session's range) no longer squeezes the live candles into a
row or two at 80×24."""

from __future__ import annotations

from decimal import Decimal

from cockpit.link import protocol as p
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import MemoryLink
from cockpit.ui.widgets.chart import CandleChart, price_range
from tests.ui import scenario as sc
from tests.ui.conftest import showing, wait_for

SBIN = "NSE:SBIN"
MINUTE = 60_000_000_000
RECENT = 12


def gapped_bars() -> list[p.BarView]:
    """60 backfilled bars around 700.00, then 12 live ones around 800.00 (±0.30)."""
    start = sc.T0 - sc.T0 % MINUTE - 72 * MINUTE
    bars = []
    for i in range(72):
        mid = 14_000 if i < 60 else 16_000
        o, c = mid + (i % 5) - 2, mid + (i % 3) - 1
        bars.append(p.BarView(start + i * MINUTE, o, max(o, c) + 2, min(o, c) - 2, c, Decimal(100)))
    return bars


async def test_the_live_candles_fill_the_chart_not_the_backfills_range() -> None:
    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))
    link.feed(sc.welcome(), sc.snapshot(sc.T0))
    link.feed(sc.market(2, SBIN, 16_000, sc.T0))
    link.feed(p.Bars(3, SBIN, 60, gapped_bars(), replace=True))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.store.charts.bars.get((SBIN, 60)))
        await pilot.press("c")
        await wait_for(pilot, lambda: showing(app, "ChartScreen"))
        chart = app.screen.query_one(CandleChart)
        await wait_for(pilot, lambda: len(chart.lines()) > 10)
        axis_w = len("800.04") + 6
        n = chart.size.width - axis_w - 1
        price_h = chart.size.height - 1 - max(1, (chart.size.height - 1) // 6)  # less volume
        price_rows = [chart.text_of(y) for y in range(1, 1 + price_h)]
        live_rows = [r for r in price_rows if set(r[n - RECENT : n]) & {"█", "│"}]
        # 0.08 of range each side of 800.00 over ~19 rows: the live candles take several
        # rows (before: 700..800 over the same rows put all of them in one or two).
        assert len(live_rows) >= 5, "\n".join(price_rows)
        # The older bars, off the axis below, are marked at its bottom edge.
        assert price_rows[-1][: n - RECENT].strip() == "▼" * (n - RECENT)
        # The axis reads around the last price.
        axis = [r[n + 1 :].strip() for r in price_rows if r[n + 1 :].strip()]
        assert all(a.lstrip("◀").startswith(("799.", "800.")) for a in axis), axis


def bar(i: int, low: int, high: int) -> p.BarView:
    return p.BarView(i * MINUTE, low, high, low, high, Decimal(1))


def test_one_live_bar_after_a_gap_is_what_the_axis_fits() -> None:
    """A fresh engine: the venue's history ends at yesterday's close, the one live bar is
    14.00 above it (the paper exchange at 160×48 drew it as one cell at the top)."""
    history = [bar(i, 25_380 + i % 7, 25_420 + i % 5) for i in range(60)]
    live = bar(60, 25_681, 25_699)
    lo, hi = price_range([*history, live])
    assert lo <= 25_681
    assert hi >= 25_699
    assert hi - lo < 25_699 - 25_380  # not the history's range
    assert lo > 25_430  # the history is off the axis


def test_a_trend_or_a_wandering_market_keeps_every_bar_on_the_axis() -> None:
    trend = [bar(i, 16_000 + 10 * i, 16_012 + 10 * i) for i in range(60)]
    assert price_range(trend) == (16_000, 16_602)
    wander = [bar(i, 16_000 + (i * 7) % 13, 16_004 + (i * 7) % 13) for i in range(60)]
    assert price_range(wander) == (16_000, 16_016)
