"""The TUI attaches as ``cockpit`` does, saying in its hello that it shows nothing yet (its
snapshot then carries no books or volume at price: at 3,000 symbols that was 438k levels built
on the decision thread), and says what it draws once the snapshot is shown: the selected
symbol's ladder gets its whole volume map, and so does a symbol selected later (issue 19)."""

from __future__ import annotations

import time
from decimal import Decimal

from cockpit.link.client import EngineClient
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import ClientLink
from tests.ui.conftest import wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc

INFY = "NSE:INFY"


def engine_maps(engine: EngineProc) -> dict[str, dict[int, Decimal]]:
    with EngineClient.connect(path=engine.socket, client="test") as c:  # a script: every map
        snap = c.snapshot(timeout=5)
    return {v.key: dict(v.levels) for v in snap.volume_at_price}


def settled_maps(engine: EngineProc, timeout: float = 15.0) -> dict[str, dict[int, Decimal]]:
    """The engine's maps once the scripted trades reached it (on a loaded host they may still
    be on their way when the first snapshot is asked for)."""
    deadline = time.monotonic() + timeout
    while True:
        maps = engine_maps(engine)
        if len(maps.get(SBIN, {})) >= 2 and maps.get(INFY) or time.monotonic() > deadline:
            return maps
        time.sleep(0.05)


async def test_the_tui_gets_the_whole_map_of_what_it_shows_after_a_lean_snapshot(
    fresh: EngineProc,
) -> None:
    for price in ("800.05", "800.10", "800.05"):  # each scripted price is one trade
        fresh.price("SBIN", price)
    for price in ("1500.05", "1500.10"):
        fresh.price("INFY", price)
    maps = settled_maps(fresh)
    assert len(maps[SBIN]) >= 2  # traded before the TUI attached
    assert maps[INFY]
    link = ClientLink(EngineClient.connect(path=fresh.socket, client="pilot", showing=[]))
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))  # type: ignore[arg-type]
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.store.connected and app.selected is not None, 15)
        app.select_symbol(SBIN)
        await wait_for(pilot, lambda: app.store.vap.get(SBIN) == maps[SBIN], 10)
        app.select_symbol(INFY)
        await wait_for(pilot, lambda: app.store.vap.get(INFY) == maps[INFY], 10)
