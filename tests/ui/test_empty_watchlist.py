"""`--broker openalgo` with no watchlist (issue 15 item 8): the engine starts, the screen says
how to add symbols, and `/` adds one — driving the real app against a real engine process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cockpit.ui.app import CockpitApp
from cockpit.ui.widgets.watchlist import Watchlist
from tests.ui.conftest import wait_for
from tests.ui.test_engine_pilot import EngineProc, make_app

EMPTY_HINT = "press / to add one"


@pytest.fixture
def bare() -> Iterator[EngineProc]:
    e = EngineProc(COCKPIT_TRADING__WATCHLIST="[]")
    try:
        e.price("SBIN", "800.00")
        e.wait_ready(subscribed=())  # no watchlist: nothing to subscribe to
        yield e
    finally:
        e.stop()


def _watchlist_text(app: CockpitApp) -> str:
    wl = app.screen.query_one(Watchlist)
    return "\n".join(wl.text_of(y) for y in range(len(wl.lines())))


async def test_no_watchlist_starts_and_says_how_to_add_symbols(bare: EngineProc) -> None:
    assert bare.proc.poll() is None  # the engine did not die for want of instruments
    app = make_app(bare)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.store.connected, 15)
        await wait_for(pilot, lambda: EMPTY_HINT in _watchlist_text(app), 5)
        assert "ENGINE LOST" not in app.screen.status.text_of(0)
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press("S", "B", "I", "N")
        from textual.widgets import OptionList

        results = app.screen.query_one(OptionList)
        await wait_for(
            pilot,
            lambda: any(
                (results.get_option_at_index(i).id or "") == "NSE:SBIN"
                for i in range(results.option_count)
            ),
            10,
        )
        idx = next(
            i
            for i in range(results.option_count)
            if results.get_option_at_index(i).id == "NSE:SBIN"
        )
        results.highlighted = idx
        await pilot.press("enter")
        await wait_for(pilot, lambda: "NSE:SBIN" in app.store.watchlist, 10)
        await wait_for(pilot, lambda: EMPTY_HINT not in _watchlist_text(app), 5)
        assert "SBIN" in _watchlist_text(app)
