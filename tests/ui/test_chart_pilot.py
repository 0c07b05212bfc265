"""The chart and the tape driven through the real app, a real engine process and the paper
exchange: candles backfilled from history, the plan's levels as lines that move, prints."""

from __future__ import annotations

from cockpit.link import protocol as p
from cockpit.ui.widgets.chart import CandleChart
from tests.ui.conftest import showing, wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc, attached, make_app


def _line_row(chart: CandleChart, label: str) -> str:
    y = chart.level_rows.get(label)
    return chart.text_of(y) if y is not None else ""


async def test_chart_draws_the_plans_levels_and_a_moved_stop_moves(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: SBIN in app.store.plans, 10)
        await pilot.press("c")
        await wait_for(pilot, lambda: showing(app, "ChartScreen"))
        chart = app.screen.query_one(CandleChart)
        # The one-minute history came from the venue: the chart is full of candles.
        await wait_for(pilot, lambda: len(app.store.charts.bars.get((SBIN, 60), [])) > 50, 10)
        plan = app.store.plans[SBIN]
        assert plan.stop is not None
        assert plan.target is not None
        fmt = app.store.fmt_price

        def drawn(label: str, price: int) -> bool:
            row = _line_row(chart, label)
            return f"{label} {fmt(SBIN, price)}" in row and "─" in row

        await wait_for(pilot, lambda: drawn("STOP", plan.stop) and drawn("TGT", plan.target), 5)
        assert drawn("ENT", plan.entry)
        assert chart.level_rows["TGT"] < chart.level_rows["ENT"] < chart.level_rows["STOP"]
        assert all(chart.text_of(y).count("█") <= 80 for y in range(1, 24))
        before = chart.level_rows["STOP"]

        assert isinstance(fresh.command(p.MoveStop(id=1, key=SBIN, delta=-20)), p.Ack)
        await wait_for(pilot, lambda: drawn("STOP", plan.stop - 20), 5)
        assert chart.level_rows["STOP"] > before  # lower price, lower on the screen
        await pilot.press("right_square_bracket")  # the trade keys work here too: stop up 1
        await wait_for(pilot, lambda: drawn("STOP", plan.stop - 19), 5)
        await pilot.press("full_stop")  # longer bars
        assert chart.size_s == 300
        await wait_for(pilot, lambda: " 5m " in chart.text_of(0))
        await pilot.press("comma", "comma")
        assert chart.size_s == 60


async def test_tape_lists_each_print_with_its_side_and_filters_by_size(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        await pilot.press("c")
        await wait_for(pilot, lambda: SBIN in app.store.charts.watched)
        await pilot.pause(0.5)  # the engine charts SBIN before the prices move
        for price in ("800.10", "800.25", "800.05"):
            fresh.price("SBIN", price)
            await wait_for(
                pilot, lambda pr=price: app.store.fmt_price(SBIN, app.store.quotes[SBIN].ltp) == pr
            )
        tape = app.screen.tape

        def rows() -> list[str]:
            return [tape.text_of(y).split() for y in range(1, 4)]  # type: ignore[misc]

        await wait_for(
            pilot, lambda: [r[1:2] for r in rows()] == [["800.05"], ["800.25"], ["800.10"]], 5
        )
        assert [r[-1] for r in rows()] == ["s", "b", "b"]  # inferred: OpenAlgo sends no side
        await pilot.press("right_parenthesis", "right_parenthesis")  # at least 2 lots
        await wait_for(pilot, lambda: tape.text_of(1) == "")
        assert "≥2" in tape.text_of(0)
        await pilot.press("left_parenthesis", "left_parenthesis")
        await wait_for(pilot, lambda: "800.05" in tape.text_of(1))


async def test_chart_sits_beside_the_ladder_on_a_wide_terminal(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        screen = app.screen
        chart = screen.query_one("#chart", CandleChart)
        assert not chart.display
        await pilot.press("c")
        await wait_for(pilot, lambda: chart.display and chart.region.width > 0)
        await wait_for(pilot, lambda: len(app.store.charts.bars.get((SBIN, 60), [])) > 50, 10)
        assert screen is app.screen  # no screen of its own at this width
        ladder = screen.ladder
        assert chart.region.x >= ladder.region.right
        assert chart.region.width >= 60
        await wait_for(pilot, lambda: "◀" in "".join(chart.text_of(y) for y in range(48)))
        # A working order is a line at its price while it works.
        ladder.focus()
        await pilot.press("down", "down", "down", "B")  # a buy limit at 799.85
        await wait_for(pilot, lambda: bool(app.store.working_orders(SBIN)), 10)
        await wait_for(pilot, lambda: "B1 799.85" in _line_row(chart, "B1"), 5)
        assert "─" in _line_row(chart, "B1")
        await pilot.press("x")
        await wait_for(pilot, lambda: "B1" not in chart.level_rows, 10)
        await pilot.press("c")
        await wait_for(pilot, lambda: not chart.display)
