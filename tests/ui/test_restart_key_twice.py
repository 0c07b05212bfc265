"""`r` restarts the engine on the lost-engine dialog and reverses the position on the trading
screen. Pressed twice (a double tap, a held key) the second `r` reached the trading screen:
refused while the engine came back, but after a fast re-attach it reversed the position (found
in a tmux trial at 80×24: `r r` on the dialog). A reverse that soon after the dialog's restart
is not sent; the trader is told to press `r` again."""

from __future__ import annotations

import time

import pytest

from cockpit.link import protocol as p
from cockpit.ui import exits
from cockpit.ui.app import CockpitApp, UiOptions
from cockpit.ui.link import MemoryLink
from tests.ui import scenario as sc
from tests.ui.conftest import showing, wait_for
from tests.ui.test_app_keys import sent, started


class Reattach:
    """Hands out a fresh in-memory link on each restart (the engine back at once)."""

    started_engine = False

    def __init__(self) -> None:
        self.links = [self._new()]

    @staticmethod
    def _new() -> MemoryLink:
        link = MemoryLink()
        link.feed(sc.welcome(), sc.snapshot(time.time_ns(), with_position=True))
        return link

    def connect(self) -> MemoryLink:
        return self.links[-1]

    def restart(self) -> MemoryLink:
        self.links.append(self._new())
        return self.links[-1]


async def test_a_second_r_right_after_the_dialogs_restart_does_not_reverse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The window held wide: a loaded host may take a second to re-attach and redraw.
    monkeypatch.setattr(exits, "REVERSE_AFTER_RESTART_S", 30.0)
    conn = Reattach()
    app = CockpitApp(conn, UiOptions(remember=False))  # type: ignore[arg-type]
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        conn.links[0].drop()
        await wait_for(pilot, lambda: showing(app, "EngineLostScreen"))
        await pilot.press("r")
        await wait_for(pilot, lambda: len(conn.links) == 2 and app.link_state == "live")
        await wait_for(pilot, lambda: showing(app, "TradeScreen"))
        await pilot.press("r")  # the same tap again, a moment later
        await pilot.pause()
        assert sent(conn.links[1], p.Reverse) == []
        assert any("press r again" in m.message for m in app.store.messages)
        # Once the window has passed, r reverses as always.
        monkeypatch.setattr(exits, "REVERSE_AFTER_RESTART_S", 0.0)
        await pilot.press("r")
        await wait_for(pilot, lambda: len(sent(conn.links[1], p.Reverse)) == 1)
