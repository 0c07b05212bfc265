"""The order ticket's preview is live: its value follows the market while the ticket is up, and
its risk and its quantity from the risk budget follow the fields as they are typed. The real
app on a real engine and the paper exchange."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import Input

from cockpit.ui.app import CockpitApp
from tests.ui.conftest import screen_text, wait_for
from tests.ui.test_engine_pilot import EngineProc, attached, make_app


def preview(app: CockpitApp) -> str:
    return str(app.screen.query_one("#t-preview").render())


async def test_the_market_orders_value_follows_the_market(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        await pilot.press("n")
        # A market buy of 1 at 800.00: valued at the ask.
        await screen_text(pilot, app, "OrderTicket", lambda: preview(app), "value 800.05")
        fresh.price("SBIN", "812.00")  # the market moves while the ticket is up
        await screen_text(pilot, app, "OrderTicket", lambda: preview(app), "value 812.05")
        await pilot.press("escape")


async def test_the_quantity_from_the_risk_budget_follows_the_stop_as_typed(
    fresh: EngineProc,
) -> None:
    app = make_app(fresh, risk_budget=Decimal(600))
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("n")
        await screen_text(pilot, app, "OrderTicket", lambda: preview(app), "value")
        stop = app.screen.query_one("#t-stop", Input)
        stop.focus()
        await pilot.press("end", "backspace", "backspace", "6")
        # 600 ÷ (6 ticks × 0.05) = 2,000
        await screen_text(
            pilot, app, "OrderTicket", lambda: preview(app), "risk 600.00 → qty 2,000"
        )
        await pilot.press("end", "backspace", "backspace", "1", "0")  # a 10-tick stop: 1,200
        text = await screen_text(
            pilot, app, "OrderTicket", lambda: preview(app), "risk 600.00 → qty 1,200"
        )
        assert "risk at stop 0.50" in text  # qty 1 × 10 ticks × 0.05
        qty = app.screen.query_one("#t-qty", Input)
        qty.focus()
        await pilot.press("end", "backspace", "backspace", "4")
        await screen_text(pilot, app, "OrderTicket", lambda: preview(app), "risk at stop 2.00")
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "TradeScreen")
