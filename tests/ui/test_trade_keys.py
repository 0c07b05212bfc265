"""Issue 20, keys a DOM trader expects: a count grammar, partial closes, sizing from risk,
orders moved from the ladder. The real app against the real engine and paper exchange."""

from __future__ import annotations

from decimal import Decimal

from cockpit.ui.app import CockpitApp
from tests.ui.conftest import screen_text, showing, wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc, attached, make_app, qty
from tests.ui.test_live_dialogs import fresh_tick
from tests.ui.test_trader_safety import ltp_is


async def ready(pilot, app: CockpitApp, engine: EngineProc) -> None:
    """Attached, at this test's price, the ladder's cursor on it (the ladder takes its cursor
    from the first price it sees: on a loaded host, maybe the last test's), and a tick of it
    just now: the paper exchange is paused and the engine refuses entries on a price older
    than 5 s, which the fixture's price could be by the time a loaded host has attached."""
    await attached(pilot, app)
    await ltp_is(pilot, app, "800.00")
    await fresh_tick(pilot, app, engine, SBIN)
    await pilot.press("space")


def status_text(app: CockpitApp) -> str:
    return app.screen.status.text_of(0)


async def long_with_plan(pilot, app: CockpitApp, keys: tuple[str, ...] = ("b",)) -> None:
    await pilot.press(*keys)
    await wait_for(pilot, lambda: qty(app) > 0, 10)
    await wait_for(pilot, lambda: SBIN in app.store.plans and app.store.plans[SBIN].stop, 10)


# ---------------------------------------------------------------------- the count grammar


async def test_a_count_scales_stop_and_target_moves_and_shows_on_the_bar(
    fresh: EngineProc,
) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await long_with_plan(pilot, app)
        plan = app.store.plans[SBIN]
        assert plan.stop is not None
        assert plan.target is not None
        await pilot.press("3")
        assert "count 3" in status_text(app)
        await pilot.press("right_square_bracket")  # 3] : stop up three ticks
        await wait_for(pilot, lambda: app.store.plans[SBIN].stop == plan.stop + 3, 10)
        assert "count" not in status_text(app)
        await pilot.press("5", "right_curly_bracket")  # 5} : target up five
        await wait_for(pilot, lambda: app.store.plans[SBIN].target == plan.target + 5, 10)
        await pilot.press("1", "2", "left_square_bracket")  # 12[ : stop down twelve
        await wait_for(pilot, lambda: app.store.plans[SBIN].stop == plan.stop - 9, 10)


async def test_esc_drops_a_pending_count(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await long_with_plan(pilot, app)
        stop = app.store.plans[SBIN].stop
        assert stop is not None
        await pilot.press("4", "escape")
        assert "count" not in status_text(app)
        await pilot.press("right_square_bracket")  # one tick, not four
        await wait_for(pilot, lambda: app.store.plans[SBIN].stop == stop + 1, 10)
        await pilot.pause(0.3)
        assert app.store.plans[SBIN].stop == stop + 1


async def test_a_count_before_b_buys_that_many(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await pilot.press("3", "b")
        await wait_for(pilot, lambda: qty(app) == 3, 10)
        assert app.qty_of(SBIN) == 1  # the symbol's quantity is left as it was


async def test_a_count_before_enter_on_the_ladder_is_the_limits_quantity(
    fresh: EngineProc,
) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await pilot.press("down", "down", "down", "3", "enter")
        await wait_for(pilot, lambda: len(app.store.working_orders(SBIN)) == 1, 10)
        order = app.store.working_orders(SBIN)[0]
        assert (order.side, order.qty, order.order_type) == ("BUY", 3, "LIMIT")


async def test_a_counted_order_still_asks_when_it_is_large(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await pilot.press("1", "2", "b")  # 12 > 10 × the default 1
        await screen_text(
            pilot,
            app,
            "ConfirmScreen",
            lambda: str(app.screen.query_one("#dialog-text").render()),
            "BUY 12 NSE:SBIN MARKET",
        )
        await pilot.press("n")
        await pilot.pause(0.3)
        assert qty(app) == 0


async def test_a_count_does_not_pass_a_disarmed_gate(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await pilot.press("a")  # disarm
        await wait_for(pilot, lambda: app.store.status is not None and not app.store.status.armed)
        await pilot.press("5", "b")
        await pilot.pause(0.3)
        assert qty(app) == 0
        assert any(rule == "gate" for rule, _ in app.refusals)
        assert "count" not in status_text(app)


# ---------------------------------------------------------------------- partial close


async def test_close_a_quarter_then_half_and_the_plan_shrinks(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await long_with_plan(pilot, app, ("4", "b"))
        await wait_for(pilot, lambda: qty(app) == 4, 10)
        await pilot.press("H")  # a quarter of 4
        await wait_for(pilot, lambda: qty(app) == 3, 10)
        await wait_for(pilot, lambda: app.store.plans[SBIN].qty == 3, 10)
        await pilot.press("h")  # half of 3, rounded down to the lot: 1
        await wait_for(pilot, lambda: qty(app) == 2, 10)
        await wait_for(pilot, lambda: app.store.plans[SBIN].qty == 2, 10)
        assert app.store.plans[SBIN].stop is not None


async def test_a_part_under_a_lot_is_refused_with_the_reason(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await long_with_plan(pilot, app)
        await pilot.press("H")  # a quarter of 1
        await wait_for(pilot, lambda: any(r == "quantity" for r, _ in app.refusals), 10)
        assert qty(app) == 1


# ------------------------------------------------------------- orders moved from the ladder


def working(app: CockpitApp, side: str | None = None) -> list:
    return [o for o in app.store.working_orders(SBIN) if side is None or o.side == side]


def ticks(app: CockpitApp, price: str) -> int:
    return int(Decimal(price) / app.store.tick_size(SBIN))


async def resting_buy(pilot, app: CockpitApp, below: int = 4) -> str:
    """A buy limit ``below`` ticks under the market, the ladder cursor on its row."""
    await pilot.press(*["down"] * below, "B")
    await wait_for(pilot, lambda: len(working(app, "BUY")) == 1, 10)
    order = working(app, "BUY")[0]
    await wait_for(pilot, lambda: app.store.orders[order.cid].venue_id is not None, 10)
    return order.cid


async def test_shift_k_and_j_move_the_order_on_the_cursor_row_by_ticks(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        cid = await resting_buy(pilot, app)
        start = app.store.orders[cid].price
        assert start == ticks(app, "799.80")
        await pilot.press("K")
        await wait_for(pilot, lambda: app.store.orders[cid].price == start + 1, 10)
        assert app.screen.ladder.cursor == start + 1  # the cursor went with it
        await pilot.press("3", "J")  # the count: three ticks down
        await wait_for(pilot, lambda: app.store.orders[cid].price == start - 2, 10)
        assert len(working(app)) == 1  # moved, not a new order
        # Two presses before the venue's answer (no event handled between them): they add up.
        await app.run_action("order_move(-1)")
        await app.run_action("order_move(-1)")
        # The second waits for the first to show (two in flight can land in either order).
        assert app._moves_held == {cid: (start - 4, None)}
        await wait_for(pilot, lambda: app.store.orders[cid].price == start - 4, 10)
        assert not app._moves_held
        await pilot.pause(0.3)
        assert app.store.orders[cid].price == start - 4


async def test_a_picked_order_goes_to_the_cursors_price(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        cid = await resting_buy(pilot, app)
        await pilot.press("v")
        ladder = app.screen.ladder
        assert ladder.pick == ("order", cid)
        await pilot.press(*["down"] * 5)
        start = app.store.orders[cid].price
        assert start is not None
        assert "◆" in (ladder.text_of(ladder.row_of(start) or 0))
        await pilot.press("g")
        await wait_for(pilot, lambda: app.store.orders[cid].price == start - 5, 10)
        await pilot.press("escape")
        assert ladder.pick is None


async def test_a_move_to_where_it_fills_at_once_asks_first(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        cid = await resting_buy(pilot, app)
        start = app.store.orders[cid].price
        await pilot.press("v", *["up"] * 8, "g")  # 800.20: above the ask
        await screen_text(
            pilot,
            app,
            "ConfirmScreen",
            lambda: str(app.screen.query_one("#dialog-text").render()),
            "at or above the ask",
        )
        await pilot.press("n")
        await pilot.pause(0.3)
        assert app.store.orders[cid].price == start


async def test_the_stop_and_target_rows_move_from_the_ladder(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await long_with_plan(pilot, app)
        plan = app.store.plans[SBIN]
        assert plan.stop is not None
        assert plan.target is not None
        ladder = app.screen.ladder
        await pilot.press(*["down"] * (ladder.cursor - plan.stop))
        assert ladder.cursor == plan.stop
        await pilot.press("2", "K")  # the stop row, two ticks up
        await wait_for(pilot, lambda: app.store.plans[SBIN].stop == plan.stop + 2, 10)
        await app.run_action("order_move(1)")  # twice before the engine's answer
        await app.run_action("order_move(1)")
        await wait_for(pilot, lambda: app.store.plans[SBIN].stop == plan.stop + 4, 10)
        await pilot.press(*["up"] * (plan.target - ladder.cursor), "v")
        assert ladder.pick == ("target", None)
        await pilot.press("down", "down", "g")
        await wait_for(pilot, lambda: app.store.plans[SBIN].target == plan.target - 2, 10)


async def test_cancel_all_buys_or_all_sells(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await pilot.press("down", "down", "down", "down", "B", "down", "B")
        await wait_for(pilot, lambda: len(working(app, "BUY")) == 2, 10)
        await pilot.press("space", "up", "up", "up", "up", "S")
        await wait_for(pilot, lambda: len(working(app, "SELL")) == 1, 10)
        await pilot.press("less_than_sign")
        await wait_for(pilot, lambda: not working(app, "BUY"), 10)
        assert len(working(app, "SELL")) == 1
        await pilot.press("greater_than_sign")
        await wait_for(pilot, lambda: not working(app), 10)


# ---------------------------------------------------------------------- sizing and presets


async def test_capital_r_sizes_from_the_risk_shows_it_and_b_buys_it(fresh: EngineProc) -> None:
    # 1.50 ÷ (6 ticks × 0.05) = 5
    app = make_app(fresh, risk_budget=Decimal("1.50"), stop_ticks=6)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        assert "risk 1.50" in status_text(app)
        await pilot.press("R")
        assert app.qty_of(SBIN) == 5
        assert "qty 5" in status_text(app)
        assert any("risking 1.50" in m.message for m in app.store.messages)
        await pilot.press("b")
        await wait_for(pilot, lambda: qty(app) == 5, 10)


async def test_a_counted_z_sets_the_budget_and_a_large_size_still_asks(fresh: EngineProc) -> None:
    app = make_app(fresh, stop_ticks=6)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await pilot.press("R")  # no budget yet: says so, the quantity stays
        assert app.qty_of(SBIN) == 1
        assert any("no risk budget" in m.message for m in app.store.messages)
        await pilot.press("3", "0", "Z", "R")  # 30 ÷ 0.30 = 100
        assert "risk 30.00" in status_text(app)
        assert app.qty_of(SBIN) == 100
        await pilot.press("b")  # 100 > 10 × the default: the question comes first
        await screen_text(
            pilot,
            app,
            "ConfirmScreen",
            lambda: str(app.screen.query_one("#dialog-text").render()),
            "BUY 100 NSE:SBIN MARKET",
        )
        await pilot.press("n")
        await pilot.pause(0.3)
        assert qty(app) == 0


async def test_shift_z_asks_for_the_budget(fresh: EngineProc) -> None:
    app = make_app(fresh, stop_ticks=6)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await pilot.press("Z")
        await wait_for(pilot, lambda: showing(app, "AskScreen"))
        await pilot.press("1", ".", "2", "enter")
        await wait_for(pilot, lambda: app.risk_budget == Decimal("1.2"))
        await pilot.press("Z", "x", "enter")  # not an amount: said, the budget stays
        await pilot.pause(0.1)
        assert app.risk_budget == Decimal("1.2")
        said = [m.message for m in app.store.messages if m.title == "Risk budget"]
        assert any("not an amount" in m for m in said)


async def test_preset_keys_set_the_symbols_quantity(fresh: EngineProc) -> None:
    presets = {"*": [Decimal(1), Decimal(2)], SBIN: [Decimal(2), Decimal(3), Decimal(4)]}
    app = make_app(fresh, qty_presets=presets)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await pilot.press("f6")
        assert app.qty_of(SBIN) == 3
        assert "qty 3" in status_text(app)
        await pilot.press("b")
        await wait_for(pilot, lambda: qty(app) == 3, 10)
        await pilot.press("f8")  # SBIN has three presets
        assert app.qty_of(SBIN) == 3
        app.select_symbol("NSE:INFY")
        await pilot.press("f6")
        assert app.qty_of("NSE:INFY") == 2


# ---------------------------------------------------------------------- help and remapping

NEW_IDS = (
    "close_half",
    "close_quarter",
    "size_from_risk",
    "risk_budget",
    "qty_preset_1",
    "qty_preset_4",
    "pick",
    "order_up",
    "order_down",
    "order_to_cursor",
    "cancel_buys",
    "cancel_sells",
)


async def test_help_lists_the_new_keys_with_their_binding_ids(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await pilot.press("question_mark")
        ids = await screen_text(
            pilot,
            app,
            "HelpScreen",
            lambda: str(app.screen.query_one("#help-ids").render()),
            *(f"  {binding_id} " for binding_id in NEW_IDS),
        )
        for binding_id in NEW_IDS:
            assert f"  {binding_id} " in ids
        assert "3] stop up 3 ticks" in str(app.screen.query_one("#help-text").render())


async def test_the_new_keys_are_remappable_and_a_count_moves_the_ladder_cursor(
    fresh: EngineProc,
) -> None:
    app = make_app(fresh, keymap={"close_half": "f9"})
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await long_with_plan(pilot, app, ("2", "b"))
        await wait_for(pilot, lambda: qty(app) == 2, 10)
        await pilot.press("h")  # no longer bound
        await pilot.pause(0.3)
        assert qty(app) == 2
        await pilot.press("f9")
        await wait_for(pilot, lambda: qty(app) == 1, 10)
        ladder = app.screen.ladder
        start = ladder.cursor
        assert start is not None
        await pilot.press("3", "j")
        assert ladder.cursor == start - 3


def test_no_app_key_is_shadowed_by_the_ladder_or_a_list() -> None:
    # A widget's binding runs first while it has the focus (the ladder nearly always): an
    # app key bound there too never runs from it (`z` was both sizing and the ladder's
    # grouping). Cursor keys the lists share with the ladder are theirs by design.
    from cockpit.ui.bindings import BINDINGS
    from cockpit.ui.widgets.ladder import Ladder
    from cockpit.ui.widgets.orders import OrdersPane
    from cockpit.ui.widgets.watchlist import Watchlist

    app_keys = {k.strip() for b in BINDINGS for k in b.key.split(",")}  # type: ignore[union-attr]
    for widget in (Ladder, OrdersPane, Watchlist):
        keys = {k.strip() for b in widget.BINDINGS for k in b.key.split(",")}  # type: ignore[union-attr]
        assert keys & app_keys == set(), widget.__name__


async def test_r_on_an_open_position_sizes_on_the_open_plans_stop(fresh: EngineProc) -> None:
    """Adding to a position: the plan's stop (not the next entry's template) is what the
    added quantity risks. Sizing on [exits] stop_ticks when the market has run away from the
    plan's stop understated the risk (the trial: 2,000 said, about 5,000 lost)."""
    app = make_app(fresh, stop_ticks=20, risk_budget=Decimal(1000))
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app, fresh)
        await long_with_plan(pilot, app)
        plan = app.store.plans[SBIN]
        stop = plan.stop
        assert stop is not None
        assert plan.target is not None
        up = (plan.entry + plan.target) // 2  # up, short of the target; the stop stays
        price = f"{Decimal(up) * Decimal('0.05'):.2f}"
        fresh.price("SBIN", price)
        await ltp_is(pilot, app, price)
        assert qty(app) > 0
        await pilot.press("R")
        distance = up - stop  # ticks from the price to the plan's stop
        want = Decimal(1000) // (distance * Decimal("0.05"))
        await wait_for(pilot, lambda: app.qtys.get(SBIN) == want, 5)
        said = [m.message for m in app.store.messages if m.title == "Sized from risk"]
        assert f"({distance} ticks (the open plan's stop)" in said[-1]
