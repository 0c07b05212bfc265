"""Bugs found by trading a day on the real engine: each test drives the app attached to a
real engine process on the paper exchange, as a trader would."""

from __future__ import annotations

from decimal import Decimal

from textual.geometry import Region
from textual.widgets import RichLog
from textual.widgets._toast import Toast

from tests.ui.conftest import screen_text, showing, wait_for
from tests.ui.test_engine_pilot import (
    SBIN,
    EngineProc,
    attached,
    make_app,
    qty,
)


async def test_an_unmoved_cursor_follows_the_market_so_a_sets_the_alert_on_screen(
    engine: EngineProc,
) -> None:
    """The market ran off the ladder and it re-centred: the cursor, never moved, stayed at the
    opening price off the screen, so `up up A` set the alert near a price the trader no
    longer saw. An unmoved cursor sits on the market."""
    engine.price("SBIN", "800.00")
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        ladder = app.screen.ladder
        await wait_for(pilot, lambda: ladder.cursor is not None, 10)
        engine.price("SBIN", "803.00")
        await wait_for(pilot, lambda: ladder.row_of(16060) is not None, 10)
        assert ladder.cursor is not None
        assert ladder.row_of(ladder.cursor) is not None
        await pilot.press("up", "up", "A")  # two rows over the market the trader sees
        await wait_for(pilot, lambda: len(app.store.alerts) == 1, 10)
        [alert] = app.store.alerts.values()
        assert (alert.price, alert.above) == (16062, True)
        assert ladder.row_of(16062) is not None
        await pilot.press("exclamation_mark", "d", "escape")
        await wait_for(pilot, lambda: not app.store.alerts, 10)


async def test_at_80x24_no_toast_covers_the_quit_dialog(engine: EngineProc) -> None:
    """The fill's toasts stood over the quit dialog's question and its Detach button."""
    engine.flatten_all()
    engine.price("SBIN", "800.00")
    app = make_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await attached(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: qty(app) == 1, 10)
        await pilot.press("ctrl+q")
        await wait_for(
            pilot,
            lambda: showing(app, "QuitScreen") and app.screen.query_one("#dialog").region.area,
            10,
        )

        def toasts() -> list[Region]:
            return [t.region for s in app.screen_stack for t in s.query(Toast) if t.region.area]

        await wait_for(pilot, toasts)  # the order's toasts, still up
        dialog = app.screen.query_one("#dialog").region
        shown = toasts()
        assert [r for r in shown if r.overlaps(dialog)] == [], (dialog, shown)
        await pilot.press("escape")  # stay: the trade screen shows its toasts again
        await wait_for(pilot, lambda: bool(app.screen.query(Toast)), 5)
    engine.flatten_all()


async def test_help_names_the_ui_settings_and_lists_the_alert_and_grouping_keys(
    engine: EngineProc,
) -> None:
    """`?` said "over the order value ()." (the markup ate `[ui]`) and had no `A` or `z`."""
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("question_mark")
        text = await screen_text(
            pilot,
            app,
            "HelpScreen",
            lambda: str(app.screen.query_one("#help-text").render()),
            "order value ([ui])",
        )
        assert "price alert at the ladder cursor" in text
        assert "price grouping" in text


async def test_at_80x24_trade_stats_open_at_the_top_and_cut_no_number(engine: EngineProc) -> None:
    """`P` opened scrolled to the end (the headline figures off the top) and each round
    trip's line ran past 80 columns: its MFE read 0.2 for 0.20, its exit reason was gone."""
    engine.flatten_all()
    engine.price("SBIN", "800.00")
    (journal,) = (engine.root / "data").rglob("*.sqlite3")
    app = make_app(engine, journal_path=journal)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        for _ in range(3):  # trips enough to fill the screen
            await pilot.press("b")
            await wait_for(pilot, lambda: qty(app) == 1, 10)
            await pilot.press("f")
            await wait_for(pilot, lambda: qty(app) == 0, 10)
        await pilot.press("P")
        await wait_for(pilot, lambda: showing(app, "StatsScreen"), 10)
        screen = app.screen
        await wait_for(pilot, lambda: any(" MFE " in line for line in screen.shown), 10)
        await pilot.pause(0.3)
        log = screen.query_one(RichLog)
        assert log.virtual_size.height > log.scrollable_content_region.height
        assert log.scroll_offset.y == 0
        assert log.virtual_size.width <= log.scrollable_content_region.width, log.virtual_size
        await pilot.press("escape")


async def test_at_80x24_the_help_keys_go_one_column(engine: EngineProc) -> None:
    """At 80 columns each two-column row of `?` wrapped into the next row's key
    ("B / S   limit at" / "ladder cursor (or join bid/ask)" under b / s)."""
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        await pilot.press("question_mark")
        text = await screen_text(
            pilot,
            app,
            "HelpScreen",
            lambda: str(app.screen.query_one("#help-text").render()),
            "KILL SWITCH (confirmed)",
        )
        assert "\n  B / S        limit at ladder cursor (or join bid/ask)\n" in text
        assert "\n  F            KILL SWITCH (confirmed)\n" in text


async def test_r_sizes_on_the_stop_of_the_template_the_entry_will_get(engine: EngineProc) -> None:
    """With `T` on a 40-tick-stop template, `R` sized on `[exits]`'s 20 ticks: twice the
    budget at risk when the stop hit."""
    app = make_app(
        engine,
        templates=["swing"],
        template_stops={"swing": 40},
        risk_budget=Decimal(1000),
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("R")  # no template: [exits] stop_ticks 20 → 1000 ÷ (20 × 0.05)
        await wait_for(pilot, lambda: app.qtys.get(SBIN) == Decimal(1000), 5)
        await pilot.press("T", "R")  # swing: 1000 ÷ (40 × 0.05)
        await wait_for(pilot, lambda: app.active_template == "swing", 5)
        await wait_for(pilot, lambda: app.qtys.get(SBIN) == Decimal(500), 5)
        said = [m.message for m in app.store.messages if m.title == "Sized from risk"]
        assert said[-1] == (
            "NSE:SBIN: 1,000.00 ÷ (40 ticks (template swing) × 0.05) → qty 500, risking 1,000.00"
        )


def test_the_ui_options_know_each_templates_stop() -> None:
    from cockpit.config import Settings
    from cockpit.ui.options import UiOptions

    settings = Settings.model_validate(
        {
            "templates": {"swing": {"stop_ticks": 40}, "loose": {"target_ticks": 9}},
            "instruments": {"NSE:SBIN": {"template": "swing"}},
        }
    )
    options = UiOptions.from_settings(settings)
    assert options.template_stops == {"swing": 40}
    assert options.instrument_templates == {"NSE:SBIN": "swing"}
