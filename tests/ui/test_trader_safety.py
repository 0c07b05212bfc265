"""Issue 15, the trading screen: the real app against the real engine and paper exchange.

No order to a price the trader cannot see, no fat finger without a question, stale and locked
shown, a message log, and the small things a trader notices (each failed before its fix).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from textual.widgets import Button, Input, OptionList

from cockpit.link import protocol as p
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import MemoryLink
from tests.ui import scenario as sc
from tests.ui.conftest import screen_text, showing, wait_for
from tests.ui.test_engine_pilot import (
    SBIN,
    EngineProc,
    attached,
    make_app,
    qty,
    row_with,
)
from tests.ui.test_live_dialogs import fresh_tick

INFY = "NSE:INFY"


def header(app: CockpitApp) -> str:
    return app.screen.ladder.text_of(0)


def dialog_text(app: CockpitApp) -> str:
    return str(app.screen.query_one("#dialog-text").render())


async def ltp_is(pilot, app: CockpitApp, price: str) -> None:
    tick = app.store.tick_size(SBIN)
    want = int(Decimal(price) / tick)
    await wait_for(
        pilot, lambda: SBIN in app.store.quotes and app.store.quotes[SBIN].ltp == want, 10
    )
    await pilot.pause()


async def test_ladder_keeps_a_worked_cursor_and_points_at_what_is_off_screen(
    fresh: EngineProc,
) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        ladder = app.screen.ladder
        await pilot.press("down", "down", "down")
        assert ladder.cursor == 15_997  # 799.85
        before = ladder.recentres
        # The market runs 30 ticks while the trader works the cursor: the ladder stays put,
        # and says where the market went.
        fresh.price("SBIN", "801.50")
        await ltp_is(pilot, app, "801.50")
        assert ladder.recentres == before
        assert ladder.row_of(15_997) is not None
        assert "↑LTP 801.50" in header(app)
        # Later (the trader stopped working it) the ladder follows the market again: the
        # cursor left behind gets an arrow with its price, and S asks first, naming it.
        ladder.work_s = 0.0
        fresh.price("SBIN", "801.55")
        await ltp_is(pilot, app, "801.55")
        await wait_for(pilot, lambda: ladder.recentres > before)
        assert ladder.row_of(15_997) is None
        assert "↓CUR 799.85" in header(app)
        await pilot.press("S")
        text = await screen_text(
            pilot, app, "ConfirmScreen", lambda: dialog_text(app), "SELL 1 NSE:SBIN LIMIT 799.85"
        )
        assert "off the ladder's screen" in text
        assert "fills at once" in text
        await pilot.press("n")
        await wait_for(pilot, lambda: showing(app, "TradeScreen"))
        # Enter on the ladder at that cursor: a buy below the market, but off-screen: asks.
        await pilot.press("enter")
        text = await screen_text(
            pilot, app, "ConfirmScreen", lambda: dialog_text(app), "BUY 1 NSE:SBIN LIMIT 799.85"
        )
        assert "off the ladder's screen" in text
        await pilot.press("enter")  # Cancel has the focus
        await pilot.pause(0.3)
        assert qty(app) == 0
        assert not app.store.working_orders(SBIN)


async def test_a_held_ladder_stays_put_until_released(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        ladder = app.screen.ladder
        ladder.work_s = 0.0  # no grace after cursor moves: only the hold keeps it
        await pilot.press("l")
        assert header(app).strip().startswith("HELD")
        before = ladder.recentres
        top = ladder.top()
        fresh.price("SBIN", "802.00")
        await ltp_is(pilot, app, "802.00")
        assert ladder.recentres == before
        assert ladder.top() == top
        assert "↑LTP 802.00" in header(app)
        await pilot.press("l")  # released: the next tick re-centres
        fresh.price("SBIN", "802.05")
        await ltp_is(pilot, app, "802.05")
        await wait_for(pilot, lambda: ladder.recentres > before)
        assert ladder.row_of(16_041) is not None
        assert "HELD" not in header(app)


async def test_working_orders_off_screen_get_an_arrow(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        ladder = app.screen.ladder
        await pilot.press(*["down"] * 8, "B")  # a buy resting at 799.60
        await wait_for(pilot, lambda: len(app.store.working_orders(SBIN)) == 1, 10)
        ladder.work_s = 0.0
        fresh.price("SBIN", "802.00")
        await ltp_is(pilot, app, "802.00")
        await wait_for(pilot, lambda: ladder.row_of(15_992) is None)
        await wait_for(pilot, lambda: "↓BUY 1@799.60" in header(app))
        await pilot.press("x")
        await wait_for(pilot, lambda: not app.store.working_orders(SBIN), 10)


async def test_a_limit_that_would_fill_at_once_asks_first(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        # The ladder takes its cursor from the first price it sees, which may be the last
        # test's on a loaded host: wait for this test's price and centre on it.
        await ltp_is(pilot, app, "800.00")
        await pilot.press("space")
        await pilot.press("up", "up", "up", "B")  # a buy at 800.15, above the ask
        text = await screen_text(
            pilot, app, "ConfirmScreen", lambda: dialog_text(app), "BUY 1 NSE:SBIN LIMIT 800.15"
        )
        assert "at or above the ask" in text
        await pilot.press("n")
        await pilot.pause(0.3)
        assert qty(app) == 0
        assert not app.store.working_orders(SBIN)
        # The paper exchange is paused: on a loaded host the price is older than 5 s by now
        # and the engine would refuse the buy as stale.
        await fresh_tick(pilot, app, fresh, SBIN)
        await pilot.press("B")
        await wait_for(pilot, lambda: showing(app, "ConfirmScreen"))
        await pilot.press("y")
        await wait_for(pilot, lambda: qty(app) == 1, 10)
        # The log names the order the engine took.
        assert any(
            "BUY 1 NSE:SBIN LIMIT 800.15" in m.message
            for m in app.store.messages
            if m.title == "Order accepted"
        )


async def test_fat_finger_quantity_asks_and_names_the_order(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press(*["plus"] * 10, "b")  # 11 > 10 × the default 1
        text = await screen_text(
            pilot, app, "ConfirmScreen", lambda: dialog_text(app), "BUY 11 NSE:SBIN MARKET"
        )
        assert "BUY 11 NSE:SBIN MARKET ~800.05" in text
        assert "10× the default 1" in text
        await pilot.press("n")
        await pilot.pause(0.3)
        assert qty(app) == 0


async def test_ticket_previews_the_order_value_and_a_large_value_asks(fresh: EngineProc) -> None:
    app = make_app(fresh, confirm_qty_multiple=None)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("n")
        await wait_for(pilot, lambda: showing(app, "OrderTicket"))
        field = app.screen.query_one("#t-qty", Input)
        field.value = "700"  # 700 × 800.05 = 560,035.00 > 500,000
        await screen_text(
            pilot,
            app,
            "OrderTicket",
            lambda: str(app.screen.query_one("#t-preview").render()),
            "value 560,035.00",
        )
        await pilot.press("ctrl+s")
        text = await screen_text(
            pilot, app, "ConfirmScreen", lambda: dialog_text(app), "BUY 700 NSE:SBIN MARKET"
        )
        assert "BUY 700 NSE:SBIN MARKET ~800.05" in text
        assert "value 560,035.00 is over 500,000.00" in text
        await pilot.press("n")
        await pilot.pause(0.3)
        assert qty(app) == 0


async def test_stale_symbol_is_shown_on_the_bar_and_its_row(fresh: EngineProc) -> None:
    app = make_app(fresh, stale_after_s=Decimal("0.5"))
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        scr = app.screen

        def sbin_row() -> str:
            rows = [scr.watchlist.text_of(y) for y in range(1, 5)]
            return next((r for r in rows if "SBIN" in r), "")

        # The paused exchange sends nothing: the symbol goes stale.
        await wait_for(pilot, lambda: "STALE" in scr.status.text_of(0), 5)
        await wait_for(pilot, lambda: "STALE" in sbin_row(), 5)
        fresh.price("SBIN", "800.10")
        await wait_for(pilot, lambda: "STALE" not in scr.status.text_of(0), 5)
        await wait_for(pilot, lambda: "STALE" not in sbin_row(), 5)


@pytest.fixture
def lossy() -> Iterator[EngineProc]:
    """An engine whose daily loss limit is 50 paise."""
    e = EngineProc(COCKPIT_RISK__MAX_DAILY_LOSS="0.5")
    try:
        e.price("SBIN", "800.00")
        e.wait_ready()
        yield e
    finally:
        e.stop()


async def test_the_bar_says_locked_while_the_daily_loss_limit_holds(lossy: EngineProc) -> None:
    app = make_app(lossy)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        bar = app.screen.status
        assert " ARMED " in bar.text_of(0)
        lossy.price("SBIN", "800.00")  # a fresh tick: the engine's stale-data gate is on
        await ltp_is(pilot, app, "800.00")
        await pilot.press("b")
        await wait_for(pilot, lambda: qty(app) == 1, 10)
        lossy.price("SBIN", "799.00")  # the stop exits; the day is 1.05 down
        await wait_for(pilot, lambda: qty(app) == 0, 10)
        await wait_for(pilot, lambda: "LOCKED" in bar.text_of(0), 10)
        assert " ARMED " not in bar.text_of(0)
        await pilot.press("b")
        await wait_for(pilot, lambda: any(r == "daily_loss_limit" for r, _ in app.refusals), 10)


async def test_message_log_keeps_fills_exits_and_refusals(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: qty(app) == 1, 10)
        fresh.price("SBIN", "799.00")  # through the stop
        await wait_for(pilot, lambda: qty(app) == 0, 10)
        await pilot.press("a")  # disarm: b is refused
        await wait_for(pilot, lambda: app.store.status is not None and not app.store.status.armed)
        await pilot.press("b")
        await pilot.pause(0.2)
        await pilot.press("M")
        text = await screen_text(
            pilot,
            app,
            "LogScreen",
            lambda: "\n".join(app.screen.lines()),
            "Fill: NSE:SBIN  BUY 1 NSE:SBIN at 800.05",
            "buy market refused",
        )
        assert "Exit fired: NSE:SBIN" in text
        assert re.search(r"Exit filled: NSE:SBIN  stop\w*: SELL 1 NSE:SBIN at 79\d\.\d\d", text)
        assert "buy market refused  disarmed" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: showing(app, "TradeScreen"))
        await pilot.press("a")
        await wait_for(pilot, lambda: app.store.status is not None and app.store.status.armed)


async def test_slash_does_not_add_a_symbol_with_no_match(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("slash")
        await wait_for(pilot, lambda: showing(app, "SymbolSearchScreen"))
        await pilot.press(*"NSE:ZZZQ")
        results = app.screen.query_one(OptionList)
        await wait_for(
            pilot,
            lambda: (
                results.option_count == 1
                and "no match" in str(results.get_option_at_index(0).prompt)
            ),
            10,
        )
        await pilot.press("enter")
        await pilot.pause(0.5)
        assert app.selected == SBIN
        assert "NSE:ZZZQ" not in app.store.watchlist
        assert type(app.screen).__name__ == "SymbolSearchScreen"
        await pilot.press("escape")


async def test_the_quantity_belongs_to_the_symbol(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("plus", "plus")
        assert "qty 3" in app.screen.status.text_of(0)
        app.select_symbol(INFY)
        await pilot.pause()
        assert "qty 1" in app.screen.status.text_of(0)
        fresh.price("INFY", "1500.00")  # a fresh tick: the engine's stale-data gate is on
        await wait_for(pilot, lambda: INFY in app.store.quotes, 10)
        await wait_for(pilot, lambda: not app.store.stale(INFY), 10)
        await pilot.press("b")
        await wait_for(pilot, lambda: INFY in app.store.positions, 10)
        assert app.store.positions[INFY].qty == 1
        app.select_symbol(SBIN)
        await pilot.pause()
        assert "qty 3" in app.screen.status.text_of(0)
        app.select_symbol(INFY)
        await pilot.press("f")
        await wait_for(pilot, lambda: app.store.positions[INFY].qty == 0, 10)


async def test_the_quantity_steps_on_multiples_of_the_step(fresh: EngineProc) -> None:
    app = make_app(fresh, qty_step=Decimal(25))
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        seen = []
        for key in ("plus", "plus", "plus", "minus", "minus", "minus"):
            await pilot.press(key)
            seen.append(app.qty_of(SBIN))
        assert seen == [25, 50, 75, 50, 25, 1]


async def test_engine_stop_is_not_a_lost_connection() -> None:
    e = EngineProc()
    try:
        e.price("SBIN", "800.00")
        e.wait_ready()
        app = make_app(e)
        async with app.run_test(size=(120, 40)) as pilot:
            await attached(pilot, app)
            with contextlib.suppress(Exception):  # the engine may go before it answers
                e.command(p.Shutdown(id=0, flatten=False))  # what `cockpit engine stop` sends
            title = await screen_text(
                pilot,
                app,
                "EngineLostScreen",
                lambda: str(app.screen.query_one("#dialog-title").render()),
                "ENGINE STOPPED",
                limit=15,
            )
            assert title == "ENGINE STOPPED"
            assert "engine stopped" in dialog_text(app).lower()
            assert any(m.title == "Engine stopped" for m in app.store.messages)
            await wait_for(pilot, lambda: app.screen.query_one("#restart", Button).has_focus)
    finally:
        e.stop()


# ---------------------------------------------------------------------------------------
# What the screen shows twice agrees (the app fed real protocol messages in memory).


def memory_app(**options: object) -> tuple[CockpitApp, MemoryLink]:
    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False, **options))  # type: ignore[arg-type]
    link.feed(sc.welcome(), sc.snapshot(time.time_ns()))
    return app, link


async def test_chg_pct_rounds_the_same_in_header_and_watchlist() -> None:
    app, link = memory_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.selected == SBIN)
        # SBIN closed at 799.00 (15,980 ticks); 799.20 is +0.02503%: 0.03% both places.
        link.feed(sc.market(2, SBIN, 15_984, time.time_ns()))
        scr = app.screen

        def pct_in_row() -> str | None:
            rows = [scr.watchlist.text_of(y) for y in range(1, 5)]
            row = next((r for r in rows if "SBIN" in r and "799.20" in r), None)
            m = re.search(r"([+-]\d+\.\d\d)%", row or "")
            return m.group(1) if m else None

        await wait_for(pilot, lambda: pct_in_row() is not None)
        await wait_for(pilot, lambda: "799.20" in scr.quote.text_of(0))
        assert pct_in_row() == "+0.03"
        assert "(+0.03%)" in scr.quote.text_of(0)


async def test_header_ltp_and_ladder_ltp_row_never_disagree() -> None:
    app, link = memory_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.selected == SBIN)
        scr = app.screen
        for seq, ltp in enumerate((16_003, 16_006, 16_002, 16_009, 16_001), start=2):
            link.feed(sc.market(seq, SBIN, ltp, time.time_ns()))
            price = app.store.fmt_price(SBIN, ltp)
            await wait_for(pilot, lambda p=price: p in (row_with(app, "◀LTP") or ""))
            head = re.search(r"NSE:SBIN\s+(\d+\.\d\d)", scr.quote.text_of(0))
            assert head is not None
            assert head.group(1) == price


async def test_the_ticket_opens_with_the_symbols_quantity_in_units() -> None:
    """NIFTY trades in lots of 50: one lot is 50 in the ticket, not an invalid 1."""
    app, link = memory_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.selected == SBIN)
        app.select_symbol("NFO:NIFTY25JANFUT")
        await pilot.press("plus")  # 2 lots
        await pilot.press("n")
        await screen_text(
            pilot, app, "OrderTicket", lambda: app.screen.query_one("#t-qty", Input).value, "100"
        )
        assert app.screen.query_one("#t-qty", Input).value == "100"
        assert str(app.screen.query_one("#t-error").render()) == ""
        await pilot.press("ctrl+s")  # 100 × 23,500.05: over the order value, it asks
        await wait_for(pilot, lambda: showing(app, "ConfirmScreen"))
        assert "BUY 2 lot(s) (100) NFO:NIFTY25JANFUT MARKET ~23500.05" in dialog_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: any(isinstance(c, p.PlaceEntry) for c in link.sent))
        (entry,) = [c for c in link.sent if isinstance(c, p.PlaceEntry)]
        assert entry.lots == 2


async def test_alarms_stay_in_the_message_log_after_their_toast() -> None:
    app, link = memory_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.selected == SBIN)
        link.feed(
            p.Alarm(
                seq=3,
                level="error",
                code="reconcile_mismatch",
                key=SBIN,
                message="venue holds 10, the engine 0",
            )
        )
        await wait_for(pilot, lambda: app.store.messages_total >= 1)
        app.clear_notifications()  # the toast is gone; the log keeps it
        await pilot.press("M")
        await screen_text(
            pilot,
            app,
            "LogScreen",
            lambda: "\n".join(app.screen.lines()),
            "Reconcile mismatch NSE:SBIN  venue holds 10, the engine 0",
        )
        await pilot.press("M")
        await wait_for(pilot, lambda: showing(app, "TradeScreen"))


def test_the_app_takes_its_limits_from_the_config() -> None:
    """Fat-finger defaults on, raised in [ui]; the stale limit until the engine tells its own."""
    from cockpit.config import Settings

    default = UiOptions.from_settings(Settings())
    assert default.confirm_qty_multiple == 10
    assert default.confirm_value_over == 500_000
    raised = UiOptions.from_settings(
        Settings(
            ui={"confirm_qty_multiple": "50", "confirm_value_over": "5000000"},
            trading={"confirm_value_over": "2000000"},
            risk={"max_tick_age_s": "3", "max_daily_loss": "750"},
        )
    )
    assert raised.confirm_qty_multiple == 50
    assert raised.confirm_value_over == 2_000_000  # the lower of [ui] and [trading]
    assert raised.stale_after_s == 3  # until the engine tells its own
