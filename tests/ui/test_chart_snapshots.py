"""SVG snapshots of the chart (its own screen at 80×24, beside the ladder at 160×48) and the
tape, fed with deterministic protocol messages.

Review changes with `pytest tests/ui/test_chart_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from decimal import Decimal

from cockpit.link import protocol as p
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import MemoryLink
from cockpit.ui.screens.chart import ChartScreen
from tests.ui import scenario as sc
from tests.ui.conftest import wait_for
from tests.ui.test_snapshots import settle

SBIN = "NSE:SBIN"
MINUTE = 60_000_000_000


def chart_bars() -> list[p.BarView]:
    """Forty one-minute bars wandering around 800 (a fixed pattern)."""
    bars = []
    price = 15_985
    moves = [3, -2, 4, 1, -5, 2, 2, -1, 6, -3, -4, 1, 3, 5, -2, -6, 2, 4, -1, 3]
    start = sc.T0 - sc.T0 % MINUTE - 40 * MINUTE
    for i in range(40):
        close = price + moves[i % len(moves)]
        high = max(price, close) + i % 3
        low = min(price, close) - (i + 1) % 3
        bars.append(
            p.BarView(start + i * MINUTE, price, high, low, close, Decimal(100 + 37 * (i % 7)))
        )
        price = close
    return bars


def tape_prints() -> list[p.PrintView]:
    """Twenty-four prints, one of them large."""
    out = []
    for i in range(24):
        qty = Decimal(400 if i == 20 else 10 + i % 4)
        side = "buy" if i % 3 else "sell"
        out.append(
            p.PrintView(sc.T0 - (24 - i) * 1_000_000_000, 16_000 + i % 5 - 2, qty, side, i % 2 == 0)
        )
    return out


def chart_app() -> CockpitApp:
    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False, theme="cockpit-dark"))
    app.store.clock = lambda: sc.T0 + 300_000_000
    app.store.mono = lambda: 0
    link.feed(sc.welcome(), sc.snapshot(sc.T0, with_position=True))
    link.feed(sc.market(2, SBIN, 16_004, sc.T0))
    link.feed(
        p.Bars(3, SBIN, 60, chart_bars(), replace=True),
        p.Prints(4, SBIN, tape_prints(), replace=True),
    )
    return app


async def _charted(pilot) -> None:
    await settle(pilot)
    await wait_for(pilot, lambda: pilot.app.store.charts.bars.get((SBIN, 60)))
    await pilot.press("c")
    await pilot.pause(0.4)


def test_chart_screen_80x24(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _charted(pilot)
        assert isinstance(pilot.app.screen, ChartScreen)

    assert snap_compare(chart_app(), terminal_size=(80, 24), run_before=run_before)


def test_chart_beside_the_ladder_160x48(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _charted(pilot)
        assert pilot.app.screen.has_class("-chart")

    assert snap_compare(chart_app(), terminal_size=(160, 48), run_before=run_before)


async def test_the_tape_highlights_only_the_large_print() -> None:
    app = chart_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _charted(pilot)
        tape = app.screen.tape
        await wait_for(pilot, lambda: len(tape.lines()) > 20)
        large = [tape.text_of(y) for y, line in enumerate(tape.lines()) if line[0] == "tape--large"]
        assert len(large) == 1
        assert " 400 " in large[0]
        assert "big ≥60" in tape.text_of(0)  # five times the median print (12)
        for _ in range(5):
            await pilot.press("right_parenthesis")  # 1, 2, 5, 10, 25 lots of 1
        await wait_for(pilot, lambda: "≥25" in tape.text_of(0))
        shown = [tape.text_of(y) for y in range(1, len(tape.lines()))]
        assert [row.split()[2] for row in shown] == ["400"]
