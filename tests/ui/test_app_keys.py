"""Pilot tests of the app fed with real protocol messages through an in-memory link.

These cover keys, gating and rendering without an engine; tests/ui/test_engine_pilot.py
drives the same app against the real engine and paper exchange.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from cockpit.link import protocol as p
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import MemoryLink
from tests.ui import scenario as sc
from tests.ui.conftest import screen_text, showing, wait_for


def make_app(
    *, armed: bool = True, with_position: bool = False, fresh: bool = True, **opts: object
):
    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False, **opts))  # type: ignore[arg-type]
    now = time.time_ns() if fresh else sc.T0
    link.feed(sc.welcome(), sc.snapshot(now, armed=armed, with_position=with_position))
    return app, link


def sent(link: MemoryLink, kind: type) -> list:
    return [c for c in link.sent if isinstance(c, kind)]


async def started(pilot, app) -> None:
    await wait_for(pilot, lambda: app.batches_applied >= 1 and app.selected is not None)
    await pilot.pause()


async def test_ticks_reach_watchlist_ladder_and_quote() -> None:
    app, link = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        link.feed(sc.market(2, "NSE:SBIN", 16_004, time.time_ns()))
        await wait_for(pilot, lambda: app.store.quotes["NSE:SBIN"].ltp == 16_004)
        await pilot.pause()
        scr = app.screen

        def sbin_row_shows_new_price() -> bool:
            rows = [scr.watchlist.text_of(y) for y in range(1, 5)]
            return any("SBIN" in r and "800.20▲" in r for r in rows)

        await wait_for(pilot, sbin_row_shows_new_price)  # the list redraws at most 10 Hz
        ladder = [scr.ladder.text_of(y) for y in range(scr.ladder.rows + 1)]
        ltp_row = next(r for r in ladder if "◀LTP" in r)
        assert "800.20" in ltp_row
        assert "800.20" in scr.quote.text_of(0)
        assert "▲" in scr.quote.text_of(0)


async def test_only_changed_rows_repaint() -> None:
    app, link = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        await pilot.pause(0.1)
        scr = app.screen
        now = time.time_ns()
        mono = time.monotonic_ns()
        app.store.clock = lambda: now  # ages stand still
        app.store.mono = lambda: mono  # and flashes neither start nor end by themselves
        scr.watchlist.rebuild()
        # Let every paint already asked for happen (a loaded machine may still owe some).
        before = -1
        while before != scr.watchlist.rows_rendered:
            before = scr.watchlist.rows_rendered
            await pilot.pause(0.15)
        # INFY moves: one watchlist row changes (plus nothing else).
        changed = scr.watchlist.set_lines(list(scr.watchlist.lines()))
        assert changed == 0
        link.feed(p.MarketBatch(seq=2, quotes=[sc.quote("NSE:INFY", 30_002, time.time_ns())]))
        await wait_for(pilot, lambda: app.store.quotes["NSE:INFY"].ltp == 30_002)
        await wait_for(
            pilot, lambda: any("1500.10" in r for r in map(scr.watchlist.text_of, range(5)))
        )
        await pilot.pause(0.05)
        assert scr.watchlist.rows_rendered - before == 1


async def test_buy_sell_and_limit_keys_send_entries() -> None:
    app, link = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        await pilot.press("b")
        await pilot.press("plus")
        await pilot.press("s")
        await pilot.press("B")  # cursor not moved: join the bid
        await pilot.press("up", "up", "S")  # cursor 2 ticks above the market
        await pilot.pause()
        entries = sent(link, p.PlaceEntry)
        assert [(e.side, e.order_type) for e in entries] == [
            ("BUY", "MARKET"),
            ("SELL", "MARKET"),
            ("BUY", "LIMIT"),
            ("SELL", "LIMIT"),
        ]
        assert entries[0].qty == Decimal(1)
        assert entries[1].qty == Decimal(2)
        assert entries[2].join == "bid"
        assert entries[2].price is None
        assert entries[3].price == 16_002
        assert entries[3].join is None
        assert all(e.key == "NSE:SBIN" for e in entries)


async def test_enter_on_ladder_sends_limit_on_natural_side() -> None:
    app, link = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        await pilot.press("down", "down", "down", "enter")
        await pilot.press("space", "up", "up", "up", "enter")
        await pilot.pause()
        e1, e2 = sent(link, p.PlaceEntry)
        assert (e1.side, e1.price) == ("BUY", 15_997)
        assert (e2.side, e2.price) == ("SELL", 16_003)


async def test_exit_keys_send_plan_commands() -> None:
    app, link = make_app(with_position=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        await pilot.press(
            "right_square_bracket",
            "left_square_bracket",
            "right_curly_bracket",
            "left_curly_bracket",
            "t",
            "e",
            "x",
            "f",
            "r",
        )
        await pilot.pause()
        kinds = [type(c).__name__ for c in link.sent]
        assert kinds == [
            "MoveStop",
            "MoveStop",
            "MoveTarget",
            "MoveTarget",
            "ToggleTrail",
            "ToBreakeven",
            "CancelOrders",
            "Flatten",
            "Reverse",
        ]
        assert [c.delta for c in sent(link, p.MoveStop)] == [1, -1]


async def test_kill_switch_needs_confirmation() -> None:
    app, link = make_app(with_position=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        await pilot.press("F")
        await wait_for(pilot, lambda: showing(app, "ConfirmScreen"))
        await pilot.press("n")
        await pilot.pause()
        assert sent(link, p.KillSwitch) == []
        await pilot.press("F", "y")
        await pilot.pause()
        assert len(sent(link, p.KillSwitch)) == 1


async def test_disarmed_refuses_entries_but_not_exits() -> None:
    app, link = make_app(armed=False, with_position=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        assert app.check_action("buy_market", ()) is None
        await pilot.press("b", "S", "f")
        await pilot.pause()
        assert sent(link, p.PlaceEntry) == []
        assert [r for r in app.refusals if r[0] == "gate"]
        assert "disarmed" in app.refusals[0][1]
        assert len(sent(link, p.Flatten)) == 1
        await pilot.press("a")
        await pilot.pause()
        (arm,) = sent(link, p.SetArmed)
        assert arm.armed is True


async def test_stale_feed_refuses_entries_but_not_exits() -> None:
    from cockpit.domain.feed import FeedState, FeedStatus

    app, link = make_app(with_position=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        stale = FeedStatus("openalgo", FeedState.STALE, time.time_ns(), reason="silent 5s")
        link.feed(p.FeedEvent(seq=2, status=stale))
        await wait_for(pilot, lambda: not app.store.feed_ok())
        await pilot.press("b", "f")
        await pilot.pause()
        assert len(sent(link, p.Flatten)) == 1
        await pilot.pause()
        assert sent(link, p.PlaceEntry) == []
        assert "stale" in app.refusals[-1][1]


async def test_engine_refusal_is_shown_with_rule() -> None:
    app, link = make_app()
    link.responder = lambda cmd: [
        p.Refused(id=cmd.id, rule="max_order_qty", message="qty 1 over 0")
    ]
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: app.refusals)
        assert app.refusals[-1] == ("max_order_qty", "qty 1 over 0")
        assert any("max_order_qty" in (n.title or "") for n in app._notifications)


async def test_large_order_is_confirmed_first() -> None:
    app, link = make_app(confirm_qty_over=Decimal(1))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("plus", "b")
        await wait_for(pilot, lambda: showing(app, "ConfirmScreen"))
        assert sent(link, p.PlaceEntry) == []
        await pilot.press("y")
        await pilot.pause()
        (e,) = sent(link, p.PlaceEntry)
        assert e.confirmed
        assert e.qty == Decimal(2)


async def test_engine_lost_blocks_orders_and_offers_restart() -> None:
    app, link = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        link.drop()
        await wait_for(pilot, lambda: showing(app, "EngineLostScreen"))
        assert app.link_state == "lost"
        await pilot.press("escape")
        await pilot.press("b")
        await pilot.pause()
        assert sent(link, p.PlaceEntry) == []
        assert "ENGINE LOST" in app.screen.status.text_of(0)


async def test_resize_keeps_state_and_compact_layout() -> None:
    app, link = make_app(with_position=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        await pilot.press("down", "down")
        cursor = app.screen.ladder.cursor
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.1)
        scr = app.screen
        assert scr.watchlist.styles.display == "none"  # compact: ladder + positions + status
        assert scr.ladder.cursor == cursor
        assert app.selected == "NSE:SBIN"
        assert scr.ladder.size.height >= 5
        assert "SBIN" in scr.positions.text_of(1)
        await pilot.resize_terminal(160, 48)
        await pilot.pause(0.1)
        assert scr.watchlist.styles.display == "block"


async def test_keymap_remaps_by_binding_id() -> None:
    app, link = make_app(keymap={"buy_market": "f2"})
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("b")
        await pilot.press("f2")
        await pilot.pause()
        assert len(sent(link, p.PlaceEntry)) == 1


async def test_quit_with_exposure_asks_and_detach_leaves_engine() -> None:
    app, link = make_app(with_position=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: showing(app, "QuitScreen"))
        await pilot.press("d")
        await pilot.pause()
    assert sent(link, p.Shutdown) == []


async def test_quit_flat_stops_engine_we_started() -> None:
    link = MemoryLink()
    app = CockpitApp(StaticConnector(link, started_engine=True), UiOptions(remember=False))
    link.feed(sc.welcome(), sc.snapshot(time.time_ns()))
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("ctrl+q")
        await pilot.pause()
    (sd,) = sent(link, p.Shutdown)
    assert sd.flatten is False


@pytest.mark.parametrize("theme", ["cockpit-light", "cockpit-colorblind", "cockpit-contrast"])
async def test_themes_switch_live(theme: str) -> None:
    app, link = make_app(with_position=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        before = app.screen.ladder.rows_rendered
        app.theme = theme
        await pilot.pause(0.1)
        assert app.current_theme.name == theme
        assert app.screen.ladder.rows_rendered > before  # cached rows re-rendered in new colours
        assert app.get_css_variables()["stop-line"]


async def test_watchlist_screen_chooses_a_symbol_to_trade() -> None:
    app, link = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("w")
        await wait_for(pilot, lambda: showing(app, "WatchlistScreen"))
        await pilot.press("down", "enter")
        await pilot.pause()
        await wait_for(
            pilot, lambda: showing(app, "TradeScreen") and app.screen.ladder.key == "NSE:INFY"
        )
        assert app.selected == "NSE:INFY"


async def test_orders_pane_cancels_and_amends_the_selected_order() -> None:
    app, link = make_app(with_position=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        app.screen.orders.focus()
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        (cancel,) = sent(link, p.CancelOrders)
        assert cancel.cid == "c2"
        await pilot.press("enter")
        await wait_for(pilot, lambda: showing(app, "AmendTicket"))
        price = app.screen.query_one("#a-price")
        price.value = "800.55"
        await pilot.press("enter")
        await pilot.pause()
        (mod,) = sent(link, p.ModifyOrder)
        assert mod.cid == "c2"
        assert mod.price == 16_011
        assert mod.qty is None


async def test_order_ticket_validates_and_previews_risk() -> None:
    app, link = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("n")
        await pilot.pause()
        scr = app.screen
        assert type(scr).__name__ == "OrderTicket"
        scr.query_one("#t-qty").value = "10"
        scr.query_one("#t-type").value = "LIMIT"
        scr.query_one("#t-price").value = "800.03"  # off the 0.05 grid
        await pilot.pause()
        assert "grid" in str(scr.query_one("#t-error").render())
        scr.query_one("#t-price").value = "799.95"
        scr.query_one("#t-stop").value = "10"
        scr.query_one("#t-target").value = "30"
        await pilot.pause()
        preview = str(scr.query_one("#t-preview").render())
        assert "risk at stop 5.00" in preview
        assert "reward at target 15.00" in preview
        assert "R:R 1:3.00" in preview
        await pilot.press("ctrl+s")
        await pilot.pause()
        (e,) = sent(link, p.PlaceEntry)
        assert (e.order_type, e.price, e.qty) == ("LIMIT", 15_999, Decimal(10))
        assert e.plan is not None
        assert (e.plan.stop_ticks, e.plan.target_ticks) == (10, 30)


async def test_theme_choice_is_remembered() -> None:
    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=True, user_theme_dir=None))
    link.feed(sc.welcome(), sc.snapshot(time.time_ns()))
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, app)
        app.theme = "cockpit-contrast"
        await pilot.pause()
    again = CockpitApp(StaticConnector(MemoryLink()), UiOptions(remember=True))
    assert again.theme == "cockpit-contrast"


async def test_no_color_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app, link = make_app(with_position=True)
    assert app.no_color
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        # Direction and marks are spelled out, so nothing depends on colour.
        assert "+1.00 (+0.13%)" in app.screen.quote.text_of(0)
        link.feed(sc.market(2, "NSE:SBIN", 16_001, time.time_ns()))
        await wait_for(pilot, lambda: "▲" in app.screen.quote.text_of(0))
        rows = [app.screen.ladder.text_of(y) for y in range(app.screen.ladder.rows + 1)]
        assert any("◀LTP" in r for r in rows)
        assert "STOP" in rows[0]  # off-window stop is named in the header


async def test_ladder_recentres_when_the_market_leaves_the_window() -> None:
    app, link = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        lad = app.screen.ladder
        before = lad.recentres
        far = 16_000 + lad.rows  # a full window above
        link.feed(sc.market(2, "NSE:SBIN", far, time.time_ns()))
        await wait_for(pilot, lambda: app.store.quotes["NSE:SBIN"].ltp == far)
        await pilot.pause()
        assert lad.recentres > before
        assert lad.row_of(far) is not None
        assert any(
            "◀LTP" in lad.text_of(y) and "801" in lad.text_of(y) for y in range(lad.rows + 1)
        )


async def test_palette_trades_a_watchlist_symbol() -> None:
    app, link = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Trade NSE:RELIANCE")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.selected == "NSE:RELIANCE")


async def test_fired_exit_and_reject_are_spelled_out() -> None:
    app, link = make_app(with_position=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        orders = [app.screen.orders.text_of(y) for y in range(8)]
        # The reason ends the reject's row, or has the next line when the pane is narrow.
        rows = [a + " " + b for a, b in zip(orders, orders[1:], strict=False)]
        assert any("rejected" in r and "RMS: insufficient margin" in r for r in rows), orders
        plan = app.store.plans["NSE:SBIN"]
        fired = p.PlanView(
            "NSE:SBIN", "long", plan.qty, entry=plan.entry, stop=15_985, fired="trailing_stop"
        )
        link.feed(
            p.PlanEvent(seq=5, plan=fired, change="fired"),
            p.ExitFired(
                seq=6, key="NSE:SBIN", reason="trailing_stop", level=15_985, price=15_984, cid="x9"
            ),
        )
        pane = app.screen.positions
        await wait_for(pilot, lambda: "exit fired: trail stop" in pane.text_of(2))
        assert "at 799.20 (level 799.25)" in pane.text_of(2)


async def test_help_lists_keys_and_binding_ids() -> None:
    app, link = make_app()
    async with app.run_test(size=(120, 50)) as pilot:
        await started(pilot, app)
        await pilot.press("question_mark")
        ids = await screen_text(
            pilot,
            app,
            "HelpScreen",
            lambda: str(app.screen.query_one("#help-ids").render()),
            "buy_market",
        )
        for binding_id in ("buy_market", "kill_switch", "stop_up", "ladder.recentre"):
            assert binding_id in ids
        await pilot.press("escape")
        await wait_for(pilot, lambda: showing(app, "TradeScreen"))


def test_no_key_is_bound_twice() -> None:
    # Two bindings on one key: only the first ever runs, and `?` lists a key that lies.
    from collections import Counter

    from cockpit.ui.bindings import BINDINGS
    from cockpit.ui.screens.trade import TradeScreen

    keys = Counter(
        key.strip()
        for b in [*BINDINGS, *TradeScreen.BINDINGS]
        for key in b.key.split(",")  # type: ignore[union-attr]
    )
    assert [k for k, n in keys.items() if n > 1] == []


async def test_capital_p_opens_the_trade_statistics() -> None:
    app, _ = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        await pilot.press("P")
        await wait_for(pilot, lambda: showing(app, "StatsScreen"))
        await pilot.press("P")
        await wait_for(pilot, lambda: showing(app, "TradeScreen"))
