"""Bugs found in a tmux trial (December): what the trader sees around a dialog. Each test
drives the app attached to a real engine process on the paper exchange."""

from __future__ import annotations

from cockpit.ui.screens.trade import TradeScreen
from tests.ui.conftest import screen_text, showing, wait_for
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


async def test_a_bid_confirmed_after_the_market_fell_through_it_asks_again(
    fresh: EngineProc,
) -> None:
    """`12B` three rows under the market asked about the quantity; while the question was up
    the market fell through the price, and `y` sent a buy limit above the ask, which filled at
    once: an order the trader had not seen. Confirmed, the order is checked again against the
    market of the moment, and what is new (it now fills at once) is asked again."""
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await wait_for(pilot, lambda: app.store.quotes[SBIN].ask is not None, 10)
        before = set(app.store.orders)
        await pilot.press("j", "j", "j", "1", "2", "B")
        first = await screen_text(
            pilot,
            app,
            "ConfirmScreen",
            lambda: str(app.screen.query_one("#dialog-text").render()),
            "BUY 12 NSE:SBIN LIMIT 799.85",
            limit=10,
        )
        assert "fills at once" not in first
        fresh.price("SBIN", "799.00")
        await wait_for(pilot, lambda: (app.store.quotes[SBIN].ask or 0) < 15997, 10)
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: (
                showing(app, "ConfirmScreen")
                and "fills at once" in str(app.screen.query_one("#dialog-text").render())
            ),
            10,
        )
        await pilot.press("n")
        await pilot.pause(0.5)
        assert set(app.store.orders) == before
        assert app.store.positions.get(SBIN) is None or not app.store.positions[SBIN].qty


async def test_an_amend_that_would_fill_at_once_asks_first(fresh: EngineProc) -> None:
    """The amend ticket (`O`, enter) sent a buy limit's new price 1295.00 (meant 1285.00)
    above the ask without a word, and it filled at once; moving it on the ladder asks.
    The amend asks the same, and cancelled, leaves the order where it was."""
    app = make_app(fresh)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        await wait_for(pilot, lambda: app.store.quotes[SBIN].ask is not None, 10)
        await pilot.press("j", "j", "j", "B")
        await wait_for(
            pilot, lambda: [o.price for o in app.store.orders.values() if o.status == "open"], 10
        )
        [order] = [o for o in app.store.orders.values() if o.status == "open"]
        assert order.price == 15997  # 799.85
        await pilot.press("O")
        await wait_for(pilot, lambda: showing(app, "OrdersScreen"), 10)
        await pilot.press("enter")
        await wait_for(pilot, lambda: showing(app, "AmendTicket"), 10)
        app.screen.query_one("#a-price").value = "801.00"
        await pilot.press("enter")
        await screen_text(
            pilot,
            app,
            "ConfirmScreen",
            lambda: str(app.screen.query_one("#dialog-text").render()),
            "to 801.00",
            "fills at once",
            limit=10,
        )
        await pilot.press("n")
        await pilot.pause(0.5)
        assert app.store.orders[order.cid].price == 15997
        assert app.store.orders[order.cid].status == "open"
        fresh.flatten_all()
