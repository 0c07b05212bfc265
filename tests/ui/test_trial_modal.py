"""Bugs found in a tmux trial (December): what the trader sees around a dialog. Each test
drives the app attached to a real engine process on the paper exchange."""

from __future__ import annotations

from cockpit.ui.screens.trade import TradeScreen
from tests.ui.conftest import showing, wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc, attached, make_app


async def test_the_trade_screen_behind_a_dialog_keeps_up_with_the_market(
    fresh: EngineProc,
) -> None:
    """With the order ticket (or a "Check this order" question) up, the ladder, the quote
    and the day P&L around it froze at the prices of the moment it opened: the stop filled
    and the market ran while the screen still showed the old price, the one the trader was
    deciding on. A dialog over the trade screen leaves it live."""
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        trade = app.screen
        assert isinstance(trade, TradeScreen)
        await wait_for(pilot, lambda: "800.00" in trade.quote.text_of(0), 10)
        await pilot.press("n")
        await wait_for(pilot, lambda: showing(app, "OrderTicket"), 10)
        fresh.price("SBIN", "803.50")
        await wait_for(pilot, lambda: app.store.quotes[SBIN].ltp == 16070, 10)
        await wait_for(pilot, lambda: "803.50" in trade.quote.text_of(0), 3)
        await wait_for(
            pilot, lambda: any("803.50" in trade.ladder.text_of(y) for y in range(40)), 3
        )
        await pilot.press("escape")
