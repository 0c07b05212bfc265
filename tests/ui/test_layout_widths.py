"""Readable at the widths people use (issue 15.9): the real app fed real protocol messages.

The orders pane fits its columns to its width and keeps the fill price and status words;
at 80×24 the orders have their own screen and the order ticket reaches Send; toasts never
cover the positions or the status bar.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from textual.widgets import Button
from textual.widgets._toast import Toast

from cockpit.link import protocol as p
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import MemoryLink
from tests.ui import scenario as sc
from tests.ui.conftest import screen_text, showing, wait_for

CANCELLED = p.OrderView(
    "c9",
    "NSE:SBIN",
    "BUY",
    "LIMIT",
    Decimal(3),
    "cancelled",
    sc.T0 - 500_000_000,
    price=15_900,
    tag="manual",
)


def make() -> tuple[CockpitApp, MemoryLink]:
    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))
    link.feed(sc.welcome(), sc.snapshot(time.time_ns(), with_position=True))
    link.feed(p.OrderEvent(seq=2, order=CANCELLED))
    return app, link


def rows(grid) -> list[str]:  # noqa: ANN001 - a LineGrid
    return [grid.text_of(y) for y in range(len(grid.lines()))]


def orders_shown(app: CockpitApp) -> list[str]:
    return rows(app.screen.query_one("OrdersPane"))


def row(lines: list[str], *words: str) -> str | None:
    return next((r for r in lines if all(w in r for w in words)), None)


@pytest.mark.parametrize("size", [(100, 40), (120, 40), (160, 48), (220, 50)])
async def test_orders_pane_shows_fill_price_and_status_words(size: tuple[int, int]) -> None:
    app, _ = make()
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.store.seq >= 2 and app.selected is not None)
        await pilot.pause(0.2)
        lines = orders_shown(app)
        assert row(lines, "SBIN", "SELL", "800.50", "open"), lines
        assert row(lines, "SBIN", "BUY", "@799.50", "filled"), lines  # the fill price
        assert row(lines, "SBIN", "BUY", "795.00", "cancelled"), lines
        assert row(lines, "INFY", "1450.00", "rejected"), lines
        pane = app.screen.query_one("OrdersPane")
        assert all(len(r) <= pane.size.width for r in lines)


async def test_at_80x24_the_orders_have_a_screen() -> None:
    app, _ = make()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.store.seq >= 2 and app.selected is not None)
        await pilot.press("O")
        await wait_for(
            pilot,
            lambda: (
                showing(app, "OrdersScreen")
                and row(orders_shown(app), "SBIN", "@799.50", "filled")
                and row(orders_shown(app), "SBIN", "795.00", "cancelled")
            ),
        )
        lines = orders_shown(app)
        assert row(lines, "SBIN", "@799.50", "filled"), lines
        assert row(lines, "SBIN", "795.00", "cancelled"), lines
        await pilot.press("escape")
        await wait_for(pilot, lambda: showing(app, "TradeScreen"))


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (160, 48)])
async def test_the_ticket_reaches_preview_and_send(size: tuple[int, int]) -> None:
    app, link = make()
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.store.seq >= 2 and app.selected is not None)
        await pilot.press("n")
        await screen_text(
            pilot,
            app,
            "OrderTicket",
            lambda: str(app.screen.query_one("#t-preview").render()),
            "value",
        )
        await wait_for(pilot, lambda: app.screen.query_one("#send", Button).region.area)
        screen = app.screen.region
        send = app.screen.query_one("#send", Button)
        preview = app.screen.query_one("#t-preview")
        assert screen.contains_region(send.region), send.region
        assert screen.contains_region(preview.region), preview.region
        assert "value" in str(preview.render())
        for fid in ("#t-qty", "#t-type", "#t-price", "#t-stop", "#t-target", "#t-trail"):
            assert screen.contains_region(app.screen.query_one(fid).region), fid
        await pilot.click("#send")
        await wait_for(pilot, lambda: any(isinstance(c, p.PlaceEntry) for c in link.sent))


@pytest.mark.parametrize("dialog", [False, True])
@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40), (160, 48)])
async def test_toasts_do_not_cover_positions_or_the_status_bar(
    size: tuple[int, int], dialog: bool
) -> None:
    app, _ = make()
    async with app.run_test(size=size, notifications=True) as pilot:
        await wait_for(pilot, lambda: app.store.seq >= 2 and app.selected is not None)
        trade = app.screen
        if dialog:  # over the order ticket too
            await pilot.press("n")
            await wait_for(pilot, lambda: showing(app, "OrderTicket"))
        for i in range(3):
            app.notify(f"message {i} " + "x" * 60, title="Refused", severity="error", timeout=30)
        await pilot.pause(0.5)
        await wait_for(pilot, lambda: len(app.screen.query(Toast)) == 3)
        await pilot.pause(0.2)
        toasts = list(app.screen.query(Toast))
        for name in ("#positions", "#status", "Footer"):
            widget = trade.query_one(name)
            for t in toasts:
                assert not t.region.overlaps(widget.region), (name, t.region, widget.region)
        assert app.screen.region.contains_region(toasts[-1].region)  # the newest in sight


async def test_at_80_columns_the_status_bar_keeps_stale_pnl_and_qty() -> None:
    """A stale symbol's warning does not push the day P&L and the quantity off the bar:
    the venue, reconnects, latency and ticks/s go first."""
    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))
    link.feed(sc.welcome(), sc.snapshot(sc.T0, with_position=True))  # ticks long ago: stale
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.store.seq >= 1 and app.selected is not None)
        await pilot.pause(0.2)
        bar = app.screen.status
        text = bar.text_of(0)
        assert "STALE SBIN" in text
        assert "P&L +5.00" in text
        assert "qty 1" in text
        assert len(text) <= 80


async def test_an_empty_watchlist_says_how_to_add_a_symbol() -> None:
    import msgspec

    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))
    snap = msgspec.structs.replace(sc.snapshot(time.time_ns()), watchlist=[], quotes=[], books=[])
    link.feed(sc.welcome(), snap)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.store.seq >= 1)
        await pilot.pause(0.2)
        scr = app.screen
        assert "press / to add" in scr.watchlist.text_of(1)
        assert "press / to add" in scr.ladder.text_of(0)
