"""At 80×24 nothing a trader reads is cut: the chart's header and the alerts screen's hint
(found running `cockpit` in tmux at 80×24: `c`, `!`). The real app on a real engine."""

from __future__ import annotations

import re

from textual.widgets import RichLog

from cockpit.link.lists import ALERT_USAGE
from cockpit.ui.app import CockpitApp
from tests.ui.conftest import screen_text, showing, wait_for
from tests.ui.test_engine_pilot import (
    SBIN,
    EngineProc,
    attached,
    make_app,
    qty,
)


def screen_lines(app: CockpitApp) -> list[str]:
    """The screen as the terminal shows it, a string per row."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


async def test_at_80x24_the_chart_header_shows_the_last_bar_whole(engine: EngineProc) -> None:
    engine.price("SBIN", "800.00")
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        await pilot.press("c")
        await wait_for(pilot, lambda: showing(app, "ChartScreen"), 10)
        chart = app.screen.chart
        await wait_for(pilot, lambda: app.store.charts.bars.get((SBIN, 60)), 15)
        await wait_for(pilot, lambda: " C " in chart.text_of(0), 10)
        await pilot.pause(0.2)
        last = app.store.charts.bars[(SBIN, 60)][-1]
        header = chart.text_of(0).rstrip()
        assert len(header) <= chart.size.width, (header, chart.size.width)
        close = app.store.fmt_price(SBIN, last.close)
        assert f"C {close}" in header
        assert f"C {close}" in screen_lines(app)[0]
        assert "SBIN" in header


async def test_at_80x24_the_alerts_screen_shows_its_whole_hint(engine: EngineProc) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        await pilot.press("exclamation_mark")
        await screen_text(
            pilot,
            app,
            "AlertsScreen",
            lambda: " ".join(" ".join(screen_lines(app)).split()),  # wrapped lines joined
            ALERT_USAGE,
            limit=10,
        )
        text = " ".join(" ".join(screen_lines(app)).split())
        assert ALERT_USAGE in text, text
        for line in screen_lines(app):
            assert len(line.rstrip()) <= 80


async def test_at_80x24_each_round_trip_is_one_line(engine: EngineProc) -> None:
    """A trip's line ran to 88 columns: wrapped, its MFE figure and exit reason went to the
    next line, under the next trip's time."""
    engine.flatten_all()
    engine.price("SBIN", "800.00")
    (journal,) = (engine.root / "data").rglob("*.sqlite3")
    app = make_app(engine, journal_path=journal)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: qty(app) == 1, 10)
        await pilot.press("f")
        await wait_for(pilot, lambda: qty(app) == 0, 10)
        await pilot.press("P")
        await wait_for(pilot, lambda: showing(app, "StatsScreen"), 10)
        screen = app.screen
        await wait_for(pilot, lambda: any(" MFE " in line for line in screen.shown), 10)
        width = screen.query_one(RichLog).scrollable_content_region.width
        trips = [line for line in screen.shown if "  MAE " in line]
        assert trips
        for line in trips:
            assert len(line) <= width, (len(line), width, line)
            assert re.search(r" MFE +[\d,.]+ +flatten$", line), line
        await pilot.press("escape")
    engine.flatten_all()
