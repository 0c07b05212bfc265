"""The positions pane and the status bar value positions at the same mark (the latest LTP)."""

from __future__ import annotations

from decimal import Decimal

from cockpit.link import protocol as p
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import MemoryLink
from cockpit.ui.store import Store
from tests.ui import scenario as sc
from tests.ui.conftest import wait_for


def test_unrealized_and_day_pnl_follow_the_latest_ltp() -> None:
    store = Store()
    store.apply(sc.snapshot(with_position=True))  # long 10 @ 799.50, engine mark 800.00
    assert store.unrealized("NSE:SBIN") == Decimal("5.00")
    store.apply(sc.market(2, "NSE:SBIN", 16_004, sc.T0))  # 800.20; engine status still says 0
    assert store.unrealized("NSE:SBIN") == Decimal("7.00")
    assert store.day_pnl() == Decimal("7.00")
    closed = p.PositionView("NSE:INFY", Decimal(0), Decimal(0), Decimal("-2.50"), Decimal(0))
    store.apply(p.PositionEvent(seq=3, position=closed))
    assert store.day_pnl() == Decimal("4.50")


def test_an_off_grid_average_is_not_re_rounded() -> None:
    # 3 @ avg 800.01666…: the engine shows 800.02 and -0.05 unrealized at 800.00 (exact).
    store = Store()
    store.apply(sc.snapshot())
    pos = p.PositionView(
        "NSE:SBIN", Decimal(3), Decimal("800.02"), Decimal(0), Decimal("-0.05"), ltp=16_000
    )
    store.apply(p.PositionEvent(seq=2, position=pos))
    store.apply(sc.market(3, "NSE:SBIN", 16_001, sc.T0))
    # exact: (800.05 - 800.01666…) x 3 = 0.10; from the rounded average it would be 0.09
    assert store.unrealized("NSE:SBIN") == Decimal("0.10")
    assert store.day_pnl() == Decimal("0.10")


async def test_positions_pane_and_status_bar_show_the_same_pnl() -> None:
    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))
    link.feed(sc.welcome(), sc.snapshot(sc.T0, with_position=True))
    link.feed(sc.market(2, "NSE:SBIN", 16_004, sc.T0))  # status day_pnl stays "0"
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.store.seq >= 2 and app.selected is not None)
        await pilot.pause(0.3)
        row = app.screen.positions.text_of(1)
        status = app.screen.status.text_of(0)
        assert " +7.00 " in row, row
        assert "P&L +7.00 " in status, status


async def test_the_positions_pane_ends_on_the_last_price_of_a_burst() -> None:
    """Prices redraw the pane at most ``max_hz`` times a second: the last one still shows."""
    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))
    link.feed(sc.welcome(), sc.snapshot(sc.T0, with_position=True))  # long 10 @ 799.50
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.store.seq >= 1 and app.selected is not None)
        for seq, ticks in enumerate(range(16_001, 16_011), start=2):
            link.feed(sc.market(seq, "NSE:SBIN", ticks, sc.T0))
        await wait_for(pilot, lambda: app.store.seq == 11)
        await wait_for(pilot, lambda: " +10.00 " in app.screen.positions.text_of(1))


async def test_the_status_bar_never_shows_a_day_pnl_the_positions_pane_does_not() -> None:
    """Between the pane's paced redraws (``max_hz``) the status bar redraws on its own (its
    timer, a feed or order change): it shows the pane's figure, not a newer one of its own."""
    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))
    link.feed(sc.welcome(), sc.snapshot(sc.T0, with_position=True))  # long 10 @ 799.50
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.store.seq >= 1 and app.selected is not None)
        pane, status = app.screen.positions, app.screen.status
        pane.max_hz = 0.2  # a wide gap between the pane's market redraws
        link.feed(sc.market(2, "NSE:SBIN", 16_004, sc.T0))  # 800.20: +7.00
        await wait_for(pilot, lambda: " +7.00 " in pane.text_of(1))
        link.feed(sc.market(3, "NSE:SBIN", 16_010, sc.T0))  # 800.50: +10.00, pane waits
        await wait_for(pilot, lambda: app.store.seq == 3)
        status.rebuild()  # e.g. its half-second timer
        assert " +7.00 " in pane.text_of(1)  # its next redraw is seconds away
        assert "P&L +7.00 " in status.text_of(0), status.text_of(0)
        await wait_for(pilot, lambda: " +10.00 " in pane.text_of(1), limit=10)
        await wait_for(pilot, lambda: "P&L +10.00 " in status.text_of(0))
