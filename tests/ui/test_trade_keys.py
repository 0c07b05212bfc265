"""Issue 20, keys a DOM trader expects: a count grammar, partial closes, sizing from risk,
orders moved from the ladder. The real app against the real engine and paper exchange."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from cockpit.ui.app import CockpitApp
from tests.ui.conftest import wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc, attached, make_app, qty, running_engine


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineProc]:
    with running_engine() as e:
        yield e


@pytest.fixture
def fresh(engine: EngineProc) -> EngineProc:
    """Each test starts flat and armed at SBIN 800.00."""
    engine.flatten_all()
    engine.price("SBIN", "800.00")
    return engine


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
        await attached(pilot, app)
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
        await attached(pilot, app)
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
        await attached(pilot, app)
        await pilot.press("3", "b")
        await wait_for(pilot, lambda: qty(app) == 3, 10)
        assert app.qty_of(SBIN) == 1  # the symbol's quantity is left as it was


async def test_a_counted_order_still_asks_when_it_is_large(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("1", "2", "b")  # 12 > 10 × the default 1
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        assert "BUY 12 NSE:SBIN MARKET" in str(app.screen.query_one("#dialog-text").render())
        await pilot.press("n")
        await pilot.pause(0.3)
        assert qty(app) == 0


async def test_a_count_does_not_pass_a_disarmed_gate(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
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
        await attached(pilot, app)
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
        await attached(pilot, app)
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
        await attached(pilot, app)
        cid = await resting_buy(pilot, app)
        start = app.store.orders[cid].price
        assert start == ticks(app, "799.80")
        await pilot.press("K")
        await wait_for(pilot, lambda: app.store.orders[cid].price == start + 1, 10)
        assert app.screen.ladder.cursor == start + 1  # the cursor went with it
        await pilot.press("3", "J")  # the count: three ticks down
        await wait_for(pilot, lambda: app.store.orders[cid].price == start - 2, 10)
        assert len(working(app)) == 1  # moved, not a new order


async def test_a_picked_order_goes_to_the_cursors_price(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
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
        await attached(pilot, app)
        cid = await resting_buy(pilot, app)
        start = app.store.orders[cid].price
        await pilot.press("v", *["up"] * 8, "g")  # 800.20: above the ask
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
        assert "at or above the ask" in str(app.screen.query_one("#dialog-text").render())
        await pilot.press("n")
        await pilot.pause(0.3)
        assert app.store.orders[cid].price == start


async def test_the_stop_and_target_rows_move_from_the_ladder(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await long_with_plan(pilot, app)
        plan = app.store.plans[SBIN]
        assert plan.stop is not None
        assert plan.target is not None
        ladder = app.screen.ladder
        await pilot.press(*["down"] * (ladder.cursor - plan.stop))
        assert ladder.cursor == plan.stop
        await pilot.press("2", "K")  # the stop row, two ticks up
        await wait_for(pilot, lambda: app.store.plans[SBIN].stop == plan.stop + 2, 10)
        await pilot.press(*["up"] * (plan.target - ladder.cursor), "v")
        assert ladder.pick == ("target", None)
        await pilot.press("down", "down", "g")
        await wait_for(pilot, lambda: app.store.plans[SBIN].target == plan.target - 2, 10)


async def test_cancel_all_buys_or_all_sells(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("down", "down", "down", "down", "B", "down", "B")
        await wait_for(pilot, lambda: len(working(app, "BUY")) == 2, 10)
        await pilot.press("space", "up", "up", "up", "up", "S")
        await wait_for(pilot, lambda: len(working(app, "SELL")) == 1, 10)
        await pilot.press("less_than_sign")
        await wait_for(pilot, lambda: not working(app, "BUY"), 10)
        assert len(working(app, "SELL")) == 1
        await pilot.press("greater_than_sign")
        await wait_for(pilot, lambda: not working(app), 10)
