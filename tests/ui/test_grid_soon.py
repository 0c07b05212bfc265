"""LineGrid.rebuild_soon: a capped market-driven redraw is never lost.

The grids that follow the market (positions, quote, depth, watchlist, status bar) redraw at
most ``max_hz`` times a second through one pending call. If that call were dropped, the grid
would wait for it forever and never redraw for the market again (the positions pane stayed
frozen after an engine restart while the watchlist, redrawn by its own clock, ticked on).
"""

from __future__ import annotations

import time
import types

import pytest
import textual.timer
from textual.app import App, ComposeResult

from cockpit.ui.widgets.grid import LineGrid, cell
from tests.ui.conftest import wait_for


class Counting(LineGrid):
    """A grid showing how often it was rebuilt."""

    max_hz = 10.0

    def __init__(self) -> None:
        super().__init__(id="grid")
        self.rebuilds = 0

    def rebuild(self) -> None:
        self.rebuilds += 1
        self.set_lines([("", (cell(str(self.rebuilds), 10),))])


class GridApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Counting()


class LateLoop:
    """The clock Textual's timers read, as an event loop that loses the interpreter for a
    moment between any two reads (another thread holding the GIL, a full GC collection):
    every read is ``lag`` later than the one before."""

    def __init__(self, lag: float) -> None:
        self.lag = lag
        self.reads = 0

    def get_time(self) -> float:
        self.reads += 1
        return time.monotonic() + self.reads * self.lag


async def test_a_redraw_asked_for_while_the_loop_is_late_still_happens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = GridApp()
    async with app.run_test(size=(40, 5)) as pilot:
        grid = app.query_one(Counting)
        await pilot.pause(0.15)  # the last capped redraw is long past: the next is due at once
        clock = LateLoop(lag=0.005)
        monkeypatch.setattr(textual.timer, "_time", types.SimpleNamespace(get_time=clock.get_time))
        for n in range(1, 4):
            before = grid.rebuilds
            grid.rebuild_soon()
            await wait_for(pilot, lambda b=before: grid.rebuilds > b, 2)
            assert grid.text_of(0).strip() == str(grid.rebuilds), n
            await pilot.pause(0.15)


async def test_redraws_stay_capped_at_max_hz() -> None:
    app = GridApp()
    async with app.run_test(size=(40, 5)) as pilot:
        grid = app.query_one(Counting)
        await pilot.pause(0.15)
        start = grid.rebuilds
        t0 = time.monotonic()
        while time.monotonic() - t0 < 0.55:
            grid.rebuild_soon()  # a batch every 10 ms
            await pilot.pause(0.01)
        await pilot.pause(0.15)
        done = grid.rebuilds - start
        assert 3 <= done <= 8, done  # ~0.55 s at 10 a second, never one per batch


async def test_a_pending_redraw_is_dropped_with_the_grid() -> None:
    app = GridApp()
    async with app.run_test(size=(40, 5)) as pilot:
        grid = app.query_one(Counting)
        await pilot.pause(0.05)
        grid.rebuild_soon()
        grid.rebuild_soon()
        await grid.remove()
        await pilot.pause(0.2)
        assert grid._soon is None


async def test_a_due_redraw_is_done_in_the_batchs_frame_and_a_wait_ends_with_a_batch() -> None:
    """A capped grid whose gap has passed rebuilds as the batch asks (it is painted in the
    batch's frame, not in a frame of its own just after); one asked too early is done by
    the first batch after its gap, or by its timer a frame later if no batch comes."""
    app = GridApp()
    async with app.run_test(size=(40, 5)) as pilot:
        grid = app.query_one(Counting)
        await pilot.pause(0.15)  # the last capped redraw is long past
        before = grid.rebuilds
        grid.rebuild_soon()
        assert grid.rebuilds == before + 1  # at once, not a timer's turn later
        grid.rebuild_soon()  # within the 0.1 s gap: waits
        assert grid.rebuilds == before + 1
        await pilot.pause(0.11)
        grid.rebuild_soon()  # the next batch after the gap does it
        assert grid.rebuilds == before + 2
        grid.rebuild_soon()  # too early again, and then no batch: the timer does it
        await wait_for(pilot, lambda: grid.rebuilds == before + 3, 2)
        await pilot.pause(0.2)
        assert grid.rebuilds == before + 3  # once
