"""The ladder's cursor, left behind when the market moved away and the ladder re-centred on it,
comes back into sight on the next ``j``/``k``: found in a tmux trial at 80×24, where each press
moved the cursor and the window together a row, so the cursor stayed off the screen (the header
said ``↑CUR``) and ``B`` then asked about a limit at a price nobody could see. The real app on a
real engine."""

from __future__ import annotations

from tests.ui.conftest import wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc, attached, make_app


async def test_a_cursor_left_off_the_screen_comes_back_on_the_next_move(
    fresh: EngineProc,
) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        ladder = app.screen.ladder
        ladder.work_s = 0.2  # the trader stops working the ladder soon (5 s in use)
        await pilot.press("k", "k", "k")  # the cursor three ticks above the market
        await wait_for(pilot, lambda: ladder.row_of(ladder.cursor) is not None)
        await pilot.pause(0.3)
        fresh.price("SBIN", "805.00")  # 100 ticks up: the ladder re-centres there
        await wait_for(pilot, lambda: app.store.quotes[SBIN].ltp == 16100, 5)
        await wait_for(pilot, lambda: ladder.row_of(ladder.cursor or 0) is None, 5)
        assert "↓CUR" in ladder.text_of(0)
        await pilot.press("j")
        await wait_for(pilot, lambda: ladder.row_of(ladder.cursor or 0) is not None, 2)
        # From the market, where the trader's eyes are: one tick under it.
        assert ladder.cursor == 16099
