"""Hostile text in every numeric field of the order ticket and the amend ticket is refused in
words that say what is wrong (``'NaN' is not a number``, not "must be positive"), never crashes
the app and sends nothing. The real app on a real engine and the paper exchange."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from cockpit.ui.app import CockpitApp
from tests.ui.conftest import screen_text, showing, wait_for
from tests.ui.test_engine_pilot import EngineProc, attached, make_app
from tests.ui.test_live_dialogs import resting_buy

HOSTILE = [
    ("NaN", "'NaN' is not a number"),
    ("nan", "'nan' is not a number"),
    ("inf", "'inf' is not a number"),
    ("-Infinity", "'-Infinity' is not a number"),
    ("1e999", "'1e999' is not a number (digits and one decimal point)"),
    ("1e2", "'1e2' is not a number (digits and one decimal point)"),
    ("٣", "'٣' is not a number (digits and one decimal point)"),
    ("1_000", "'1_000' is not a number (digits and one decimal point)"),
    ("0x10", "'0x10' is not a number (digits and one decimal point)"),
    ("-0", "must be above zero"),
    ("0", "must be above zero"),
    ("-5", "must be above zero"),
    ("99999999999999999999", "'99999999999999999999' is too large"),
]
TICKS = [
    ("NaN", "'NaN' is not a whole number of ticks"),
    ("²", "'²' is not a whole number of ticks"),
    ("٣", "'٣' is not a whole number of ticks"),
    ("1.5", "'1.5' is not a whole number of ticks"),
    ("-0", "'-0' is not a whole number of ticks"),
    ("0", "must be at least 1 tick"),
    ("99999999", "'99999999' is too many ticks"),
]
FIELDS = [("t-qty", "qty", "MARKET"), ("t-price", "price", "LIMIT"), ("t-trigger", "trigger", "SL")]
TICK_FIELDS = [("t-stop", "stop"), ("t-target", "target"), ("t-trail", "trail")]


def error(app: CockpitApp) -> str:
    return str(app.screen.query_one("#t-error").render())


async def test_every_numeric_field_of_the_ticket_says_what_is_wrong(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("n")
        await screen_text(pilot, app, "OrderTicket", lambda: error(app), "")
        ticket = app.screen
        for fid, what, otype in FIELDS:
            ticket.query_one("#t-type", Select).value = otype
            ticket.query_one("#t-price", Input).value = "800.00"
            ticket.query_one("#t-trigger", Input).value = "800.00"
            field = ticket.query_one(f"#{fid}", Input)
            for text, words in HOSTILE:
                field.value = text
                await screen_text(pilot, app, "OrderTicket", lambda: error(app), f"{what}: {words}")
                await pilot.press("ctrl+s")  # refused: the ticket stays
                assert app.screen is ticket
            field.value = "1"
        for fid, what in TICK_FIELDS:
            field = ticket.query_one(f"#{fid}", Input)
            for text, words in TICKS:
                field.value = text
                await screen_text(pilot, app, "OrderTicket", lambda: error(app), f"{what}: {words}")
                await pilot.press("ctrl+s")  # refused: the ticket stays
                assert app.screen is ticket
            field.value = ""
        assert not app.store.working_orders()
        assert not app.store.open_positions()
        await pilot.press("escape")


@pytest.mark.parametrize(("text", "words"), [h for h in HOSTILE if h[0] in ("NaN", "1e999", "-0")])
async def test_the_amend_ticket_says_what_is_wrong(
    fresh: EngineProc, text: str, words: str
) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await resting_buy(pilot, app, fresh)
        await wait_for(pilot, lambda: bool(app.store.working_orders()), 10)
        from cockpit.ui.screens.ticket import AmendTicket

        app.push_screen(AmendTicket(app.store, app.store.working_orders()[0]))
        await screen_text(pilot, app, "AmendTicket", lambda: error(app), "")
        for fid, what in (("a-qty", "qty"), ("a-price", "price")):
            field = app.screen.query_one(f"#{fid}", Input)
            before = field.value
            field.value = text
            field.focus()
            await pilot.press("enter")
            await screen_text(pilot, app, "AmendTicket", lambda: error(app), f"{what}: {words}")
            field.value = before
        await pilot.press("escape")
    fresh.flatten_all()


async def test_the_risk_budget_says_what_is_wrong(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        for text, words in [h for h in HOSTILE if h[0] in ("NaN", "inf", "1e999", "-0")]:
            await pilot.press("Z")
            await wait_for(pilot, lambda: showing(app, "AskScreen"))
            await pilot.press(*text, "enter")
            await wait_for(pilot, lambda: showing(app, "TradeScreen"))
            said = [m.message for m in app.store.messages if m.title == "Risk budget"]
            assert said[-1:] == [f"not an amount: {words}"]
            assert app.risk_budget is None
