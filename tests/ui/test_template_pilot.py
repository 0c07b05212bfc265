"""Templates and scale-out targets in the real app against a real engine and paper exchange:
``T`` picks the template the next entry asks for (shown on the status bar), the engine
attaches that template's plan, and its TP rows show on the ladder and in the positions pane."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from tests.ui.conftest import screen_text, showing, wait_for
from tests.ui.test_engine_pilot import (
    SBIN,
    EngineProc,
    attached,
    make_app,
    qty,
    row_with,
    running_engine,
)
from tests.ui.test_live_dialogs import fresh_tick

TEMPLATES = {
    "scalp": {"stop_ticks": 6, "targets": [{"ticks": 4, "qty": 1}, {"ticks": 12}]},
    "wide": {"stop_ticks": 30, "target_ticks": 60},
}


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineProc]:
    with running_engine(COCKPIT_TEMPLATES=json.dumps(TEMPLATES)) as e:
        yield e


async def test_t_picks_the_template_and_its_tp_rows_show_on_ladder_and_positions(
    engine: EngineProc,
) -> None:
    engine.flatten_all()
    engine.price("SBIN", "800.00")
    app = make_app(engine, templates=sorted(TEMPLATES), default_qty=Decimal(3))
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("T")
        assert app.active_template == "scalp"
        await wait_for(pilot, lambda: "tpl scalp" in app.screen.status.text_of(0))
        await fresh_tick(pilot, app, engine, SBIN)  # a price older than 5 s is stale
        await pilot.press("b")
        await wait_for(pilot, lambda: qty(app) == 3, 10)
        await wait_for(pilot, lambda: SBIN in app.store.plans and app.store.plans[SBIN].targets)
        plan = app.store.plans[SBIN]
        (tp1,) = plan.targets
        assert (tp1.n, tp1.level, tp1.qty) == (1, plan.entry + 4, Decimal(1))
        assert (plan.stop, plan.target) == (plan.entry - 6, plan.entry + 12)
        tp_txt = app.store.fmt_price(SBIN, tp1.level)
        await wait_for(pilot, lambda: tp_txt in (row_with(app, "TP1") or ""))
        await wait_for(pilot, lambda: f"TP1 1 {tp_txt}" in app.screen.positions.text_of(2))

        # TP1 fills: its row goes, the pane ticks it off, the position keeps 2.
        engine.price("SBIN", tp_txt)
        await wait_for(pilot, lambda: qty(app) == 2, 10)
        await wait_for(pilot, lambda: "TP1 1 ✓" in app.screen.positions.text_of(2))
        assert row_with(app, "TP1") is None

        # Past the last template the next entries ask for none (the instrument's default).
        await pilot.press("T", "T")
        assert app.active_template is None
        await wait_for(pilot, lambda: "tpl" not in app.screen.status.text_of(0))


async def test_the_ticket_names_the_template_and_sends_it(engine: EngineProc) -> None:
    engine.flatten_all()
    engine.price("SBIN", "800.00")
    app = make_app(engine, templates=sorted(TEMPLATES), default_qty=Decimal(3))
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("T", "n")
        title = await screen_text(
            pilot,
            app,
            "OrderTicket",
            lambda: str(app.screen.query_one("#dialog-title").render()),
            "template scalp",
        )
        assert "template scalp" in title
        assert app.screen.query_one("#t-stop").value == ""  # the template decides
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: qty(app) == 3, 10)
        await wait_for(pilot, lambda: SBIN in app.store.plans and app.store.plans[SBIN].targets)
        plan = app.store.plans[SBIN]
        assert plan.stop == plan.entry - 6
        assert [(t.level, t.qty) for t in plan.targets] == [(plan.entry + 4, Decimal(1))]


async def test_the_tp_rows_are_picked_and_moved_from_the_ladder(engine: EngineProc) -> None:
    """``v`` picks a scale-out target's row like the stop's; ``K``/``J`` move it by ticks and
    ``g`` to the cursor, through the engine's plan (its other levels stay)."""
    engine.flatten_all()
    engine.price("SBIN", "800.00")
    app = make_app(engine, templates=["scalp"], default_qty=Decimal(3))
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("T", "b")
        await wait_for(pilot, lambda: qty(app) == 3, 10)
        await wait_for(pilot, lambda: SBIN in app.store.plans and app.store.plans[SBIN].targets)
        plan = app.store.plans[SBIN]
        tp1 = plan.targets[0].level

        def tp1_at() -> int:
            return app.store.plans[SBIN].targets[0].level

        await pilot.press("space")  # the ladder
        ladder = app.screen.ladder
        await wait_for(pilot, lambda: ladder.cursor is not None)
        step = "up" if tp1 > ladder.cursor else "down"
        await pilot.press(*[step] * abs(tp1 - ladder.cursor))
        assert ladder.cursor == tp1
        await pilot.press("v")
        assert ladder.pick == ("tp", "1")
        await pilot.press("K")
        await wait_for(pilot, lambda: tp1_at() == tp1 + 1, 10)
        await pilot.press("2", "J")
        await wait_for(pilot, lambda: tp1_at() == tp1 - 1, 10)
        assert ladder.pick == ("tp", "1")  # still picked where it went
        await pilot.press("down", "down", "g")  # the cursor's price: TP1 - 2
        await wait_for(pilot, lambda: tp1_at() == tp1 - 2, 10)
        after = app.store.plans[SBIN]
        assert (after.stop, after.target) == (plan.stop, plan.target)
        assert "◆" in (row_with(app, "TP1") or "")


async def test_r_sizes_from_the_active_templates_stop_and_the_plan_has_that_stop(
    engine: EngineProc,
) -> None:
    """``R`` divides by the stop the next entry's plan gets: the picked template's, else the
    instrument's template's, else ``[exits] stop_ticks`` (20 here)."""
    engine.flatten_all()
    engine.price("SBIN", "800.00")
    app = make_app(
        engine,
        templates=sorted(TEMPLATES),
        template_stops={"scalp": 6, "wide": 30},
        risk_budget=Decimal(30),
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("R")
        assert app.qty_of(SBIN) == 30  # 30 ÷ (20 × 0.05)
        await pilot.press("T", "R")
        assert app.qty_of(SBIN) == 100  # scalp: 30 ÷ (6 × 0.05)
        assert any("template scalp" in m.message for m in app.store.messages)
        await pilot.press("T", "R")
        assert app.qty_of(SBIN) == 20  # wide: 30 ÷ (30 × 0.05)
        # The paper exchange is paused: a price older than 5 s (a loaded host) is stale and
        # the engine refused the buy (seen in a full run).
        await fresh_tick(pilot, app, engine, SBIN)
        await pilot.press("b")  # over 10× the default quantity: the engine asks first
        await wait_for(pilot, lambda: showing(app, "ConfirmScreen"), 10)
        await pilot.press("y")
        await wait_for(pilot, lambda: qty(app) == 20, 10)
        await wait_for(pilot, lambda: SBIN in app.store.plans and app.store.plans[SBIN].stop)
        plan = app.store.plans[SBIN]
        assert plan.entry - plan.stop == 30  # the distance it was sized for
        engine.flatten_all()  # flat: R sizes the next entry's plan (an add joins the open one)
        await wait_for(pilot, lambda: qty(app) == 0, 10)
        await pilot.press("T")  # none picked: the instrument's template, if it has one
        app.options.instrument_templates[SBIN] = "scalp"
        await pilot.press("R")
        assert app.qty_of(SBIN) == 100


def test_the_app_takes_the_templates_stops_from_the_config() -> None:
    from cockpit.config import Settings
    from cockpit.ui.options import UiOptions

    options = UiOptions.from_settings(
        Settings(
            templates={"scalp": {"stop_ticks": 6}, "bare": {"target_ticks": 10}},
            instruments={"NSE:SBIN": {"template": "scalp"}, "NSE:INFY": {"default_qty": 2}},
        )
    )
    assert options.templates == ["bare", "scalp"]
    assert options.template_stops == {"scalp": 6}  # bare takes [exits]'s
    assert options.instrument_templates == {"NSE:SBIN": "scalp"}
