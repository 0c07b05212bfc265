"""Bugs found in a tmux trial (December): what the trader sees around a dialog. Each test
drives the app attached to a real engine process on the paper exchange."""

from __future__ import annotations

import contextlib

from cockpit.ui.screens.trade import TradeScreen
from tests.ui.conftest import screen_text, showing, wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc, attached, make_app, qty


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
        await screen_text(
            pilot,
            app,
            "ConfirmScreen",
            lambda: str(app.screen.query_one("#dialog-text").render()),
            "fills at once",
            limit=10,
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
        await wait_for(
            pilot, lambda: showing(app, "OrdersScreen") and app.screen.focused is not None, 10
        )
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: showing(app, "AmendTicket") and app.screen.query("#a-price"), 10
        )
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


async def test_the_symbol_search_and_help_dialogs_sit_centred_over_the_screen(
    engine: EngineProc,
) -> None:
    """`/` (add symbol) and `?` (help) drew their box in the top-left corner on an opaque
    screen that hid the status bar (at 80×24) and, resized to 160×48, left the rest of the
    terminal blank. They are dialogs like the others: centred, the screen showing round them,
    and centred again after a resize."""
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        for key, name in (("slash", "SymbolSearchScreen"), ("question_mark", "HelpScreen")):
            await pilot.press(key)
            await wait_for(
                pilot, lambda n=name: showing(app, n) and app.screen.query("#dialog"), 10
            )
            for width, height in ((80, 24), (160, 48)):
                await pilot.resize_terminal(width, height)
                await pilot.pause(0.3)
                box = app.screen.query_one("#dialog").region
                assert box.width < width, (name, width, box)
                assert abs(box.x - (width - box.right)) <= 1, (name, width, box)  # centred
                assert app.screen.has_class("dialog"), name
            await pilot.resize_terminal(80, 24)
            await pilot.press("escape")
            await wait_for(pilot, lambda: showing(app, "TradeScreen"), 10)


async def test_a_refused_exit_key_is_named_in_words_not_by_its_command_class(
    fresh: EngineProc,
) -> None:
    """`h` on a position of one said "Refused (quantity): ClosePart" (and an amend
    "ModifyOrder", a stop move "MoveStop"): the program's class names, not what the trader
    asked for. The refusal names the action and the symbol."""
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: qty(app) == 1, 10)
        await pilot.press("h")
        await wait_for(pilot, lambda: app.refusals, 10)
        titles = [n.title for n in app.store.messages if n.title.startswith("Refused")]
        assert titles[-1] == "Refused (quantity): close 50% of NSE:SBIN", titles
        fresh.flatten_all()


async def test_the_amend_ticket_offers_only_the_fields_the_order_has(fresh: EngineProc) -> None:
    """Amending a buy limit offered a Trigger field; a price typed there (the cursor was one
    field off) came back as a refusal, "a LIMIT order has no trigger". A limit's amend offers
    its quantity and price only."""
    app = make_app(fresh)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        await wait_for(pilot, lambda: app.store.quotes[SBIN].ask is not None, 10)
        await pilot.press("j", "j", "j", "B")
        await wait_for(
            pilot, lambda: [o for o in app.store.orders.values() if o.status == "open"], 10
        )
        await pilot.press("O")
        await wait_for(
            pilot, lambda: showing(app, "OrdersScreen") and app.screen.focused is not None, 10
        )
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: showing(app, "AmendTicket") and app.screen.query("#a-trigger"), 10
        )
        assert app.screen.query_one("#a-trigger").disabled
        assert not app.screen.query_one("#a-price").disabled
        assert app.screen.focused is app.screen.query_one("#a-price")
        await pilot.press("tab")
        assert app.screen.focused is not app.screen.query_one("#a-trigger")
        await pilot.press("escape")
        fresh.flatten_all()


async def test_the_kill_switch_key_works_over_a_question_but_types_into_a_field(
    fresh: EngineProc,
) -> None:
    """With "Check this order" up (`15b`), `F` did nothing: the emergency key waited for the
    question to be answered first. It asks its own question over any dialog now; in a field
    of the order ticket it is still the letter F."""
    app = make_app(fresh)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: qty(app) == 1, 10)
        await pilot.press("1", "5", "b")
        await wait_for(pilot, lambda: showing(app, "ConfirmScreen"), 10)
        await pilot.press("F")
        await screen_text(
            pilot,
            app,
            "ConfirmScreen",
            lambda: str(app.screen.query_one("#dialog-title").render()),
            "Kill switch",
            limit=10,
        )
        await pilot.press("y")
        await wait_for(pilot, lambda: qty(app) == 0, 10)
        await pilot.press("n")  # the order question below: not sent
        await wait_for(pilot, lambda: showing(app, "TradeScreen"), 10)
        fresh.flatten_all()  # re-armed
        await wait_for(pilot, lambda: app.store.status and not app.store.status.kill_switch, 10)
        await pilot.press("n")
        await wait_for(
            pilot, lambda: showing(app, "OrderTicket") and app.screen.query("#t-qty"), 10
        )
        ticket = app.screen
        await pilot.press("end", "F")
        assert ticket.query_one("#t-qty").value.endswith("F")
        assert app.screen is ticket
        await pilot.press("escape")
        fresh.flatten_all()


async def test_a_stopped_engine_is_stopped_on_the_status_bar_too() -> None:
    """`cockpit engine stop`: the dialog said ENGINE STOPPED, the status bar under it
    ENGINE LOST (a broken connection, which it was not)."""
    from cockpit.link import protocol as p
    from tests.ui.test_engine_pilot import EngineProc as Proc

    e = Proc()
    try:
        e.price("SBIN", "800.00")
        e.wait_ready()
        app = make_app(e)
        async with app.run_test(size=(120, 40)) as pilot:
            await attached(pilot, app)
            trade = app.screen
            with contextlib.suppress(Exception):  # the engine may go before it answers
                e.command(p.Shutdown(id=0, flatten=False))  # what `cockpit engine stop` sends
            await wait_for(pilot, lambda: showing(app, "EngineLostScreen"), 15)
            await wait_for(pilot, lambda: "ENGINE STOPPED" in trade.status.text_of(0), 5)
            assert "ENGINE LOST" not in trade.status.text_of(0)
    finally:
        e.stop()


async def test_removing_a_symbol_with_a_position_is_refused_in_words(fresh: EngineProc) -> None:
    """`del` on the watchlist row of a symbol with a position said "Refused (busy):
    unsubscribe / open position or orders on ['NSE:SBIN']" (a Python list)."""
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: qty(app) == 1, 10)
        await pilot.press("w")
        await wait_for(
            pilot, lambda: showing(app, "WatchlistScreen") and app.screen.focused is not None, 10
        )
        await pilot.press("home", "delete")
        await wait_for(pilot, lambda: app.refusals, 10)
        [note] = [n for n in app.store.messages if n.title.startswith("Refused")][-1:]
        assert note.title == "Refused (busy): remove NSE:SBIN from the watchlist", note
        assert note.message == "open position or orders on NSE:SBIN", note
        assert SBIN in app.store.watchlist
        fresh.flatten_all()


async def test_the_help_at_80_columns_has_no_line_wrapped_into_the_next(
    engine: EngineProc,
) -> None:
    """At 80×24 the help's long lines ("Asks first (naming side, qty, symbol, type, price): a
    limit that would fill at once, a price" ...) wrapped mid-sentence, each wrapped part
    starting at the left edge under the keys. Every line fits the dialog."""
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        await pilot.press("question_mark")
        await wait_for(
            pilot, lambda: showing(app, "HelpScreen") and app.screen.query("#help-text"), 10
        )
        await pilot.pause(0.3)
        text = app.screen.query_one("#help-text")
        lines = str(text.render()).split("\n")  # the text's own lines (a last one empty)
        assert text.size.height == len(lines), (text.size, len(lines))


async def test_on_the_full_watchlist_the_order_keys_trade_the_row_under_the_cursor(
    fresh: EngineProc,
) -> None:
    """On the full-screen watchlist (`w`) the cursor stood on INFY and `b` bought SBIN, the
    symbol selected before (marked only by a small ●): the ladder that says what `b` trades
    is not on that screen. There the row under the cursor is the traded symbol: it opens on
    the selected one, and moving it selects."""
    app = make_app(fresh)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        app.select_symbol("NSE:INFY")  # the second row: the cursor must not open on the first
        await pilot.press("w")
        await wait_for(
            pilot, lambda: showing(app, "WatchlistScreen") and app.screen.focused is not None, 10
        )
        wl = app.screen.watchlist
        assert wl.current_key() == "NSE:INFY"  # opens on the traded symbol
        await pilot.press("up" if wl._order.index("NSE:INFY") else "down")
        moved = wl.current_key()
        assert moved != "NSE:INFY"
        await wait_for(pilot, lambda: app.selected == moved, 5)
        assert app.screen.status.qty == "1"
        await pilot.press("escape")
        await wait_for(pilot, lambda: showing(app, "TradeScreen"), 10)
        assert app.screen.ladder.key == moved
