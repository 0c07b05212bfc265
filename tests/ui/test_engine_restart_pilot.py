"""What the screen says while the engine is gone and after it is restarted.

The real app against a real engine process and the paper exchange: the engine is killed
(SIGKILL); while "ENGINE LOST" shows, the status bar must not claim a live feed it cannot
know of; after `r` restarts it, the recent-orders list holds the day's orders again.
"""

from __future__ import annotations

import signal

from cockpit.ui.app import CockpitApp, UiOptions
from cockpit.ui.screens.trade import TradeScreen
from tests.ui.conftest import showing, wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc, attached, qty
from tests.ui.test_reattach_pilot import RestartingConnector


def trade_screen(app: CockpitApp) -> TradeScreen:
    """The trade screen, under whatever dialog is on top."""
    return next(s for s in app.screen_stack if isinstance(s, TradeScreen))


def recent_rows(app: CockpitApp) -> list[str]:
    """The rows of the orders pane under its ``Recent`` header."""
    pane = trade_screen(app).orders
    rows = [pane.text_of(y) for y in range(pane.size.height)]
    start = next((i for i, r in enumerate(rows) if r.strip() == "Recent"), len(rows))
    return [r for r in rows[start + 1 :] if r.strip()]


async def test_a_lost_engine_shows_no_live_feed_and_a_restart_brings_back_the_days_orders() -> None:
    e = EngineProc()
    try:
        e.price("SBIN", "800.00")
        e.price("INFY", "1500.00")
        e.wait_ready()
        conn = RestartingConnector(e)
        app = CockpitApp(conn, UiOptions(remember=False))  # type: ignore[arg-type]
        async with app.run_test(size=(160, 48)) as pilot:
            await attached(pilot, app)
            e.price("SBIN", "800.00")  # a fresh tick: the engine's stale-data gate is on
            status = trade_screen(app).status
            await wait_for(pilot, lambda: "openalgo:live" in status.text_of(0), 10)
            await wait_for(pilot, lambda: SBIN in app.store.quotes, 10)
            await pilot.press("b")
            await wait_for(pilot, lambda: qty(app) == 1, 10)
            await pilot.press("f")  # flatten: a second order, filled after the first
            await wait_for(pilot, lambda: qty(app) == 0, 10)
            await wait_for(pilot, lambda: len(recent_rows(app)) >= 2, 5)
            before = recent_rows(app)[:2]
            assert "SELL" in before[0]  # newest first
            assert "BUY" in before[1]

            e.proc.send_signal(signal.SIGKILL)
            await wait_for(pilot, lambda: showing(app, "EngineLostScreen"), 15)
            # The bar's slow timer redraws it.
            await wait_for(pilot, lambda: "openalgo:?" in status.text_of(0), 5)
            bar = status.text_of(0)
            assert "ENGINE LOST" in bar
            assert "openalgo:live" not in bar
            assert "openalgo:?" in bar  # the feed's state is not known while the engine is gone

            await pilot.press("r")
            await wait_for(pilot, lambda: conn.restarts == 1 and app.link_state == "live", 40)
            await wait_for(pilot, lambda: app.store.connected and app.store.snapshots == 2, 15)
            await wait_for(pilot, lambda: "openalgo:live" in status.text_of(0), 15)
            await wait_for(pilot, lambda: len(recent_rows(app)) >= 2, 10)
            after = recent_rows(app)[:2]
            assert after == before
            assert SBIN.partition(":")[2] in after[0]
    finally:
        e.stop()
