"""Named watchlists from the palette, against a real engine: create one by typing its name,
switch back, and the sort order and column choice are remembered by the engine (a new
screen attaching shows the list as it was left)."""

from __future__ import annotations

from tests.ui.conftest import showing, wait_for
from tests.ui.test_engine_pilot import attached, make_app, running_engine


async def palette(pilot: object, text: str) -> None:
    await pilot.press("ctrl+p")  # type: ignore[attr-defined]
    await pilot.pause(0.2)  # type: ignore[attr-defined]
    await pilot.press(*text)  # type: ignore[attr-defined]
    await pilot.pause(0.5)  # type: ignore[attr-defined]
    await pilot.press("enter")  # type: ignore[attr-defined]


async def test_watchlists_switch_from_the_palette_and_keep_their_view() -> None:
    with running_engine() as engine:
        app = make_app(engine)
        async with app.run_test(size=(160, 48)) as pilot:
            await attached(pilot, app)
            assert app.store.active_watchlist == "default"
            assert app.store.watchlist == ["NSE:SBIN", "NSE:INFY"]
            await palette(pilot, "new watchlist swing")
            await wait_for(pilot, lambda: app.store.active_watchlist == "swing", 10)
            await wait_for(pilot, lambda: app.store.watchlist == [], 5)
            await palette(pilot, "Watchlist default")
            await wait_for(pilot, lambda: app.store.active_watchlist == "default", 10)
            await wait_for(pilot, lambda: app.store.watchlist == ["NSE:SBIN", "NSE:INFY"], 5)
            await pilot.press("w")
            await wait_for(pilot, lambda: showing(app, "WatchlistScreen"))
            await pilot.press("o")  # sort: added -> symbol
            await wait_for(pilot, lambda: app.store.watchlists["default"].sort == "symbol", 10)
            await palette(pilot, "Watchlist column Volume: hide")
            await wait_for(pilot, lambda: app.store.watchlists["default"].columns, 10)
            assert "volume" not in app.store.watchlists["default"].columns
        again = make_app(engine)
        async with again.run_test(size=(160, 48)) as pilot:
            await attached(pilot, again)
            await pilot.press("w")
            await pilot.pause(0.3)
            grid = again.screen.watchlist
            assert grid.sort == "symbol"
            assert "volume" not in [c.name for c in grid._columns()]
            assert "ltp" in [c.name for c in grid._columns()]
            assert sorted(again.store.watchlists) == ["default", "swing"]
