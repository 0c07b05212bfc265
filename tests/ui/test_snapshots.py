"""SVG snapshots of the trade screen at fixed sizes, fed with deterministic protocol messages.

Review changes with `pytest tests/ui/test_snapshots.py --snapshot-update` and the report.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import MemoryLink
from cockpit.ui.screens.ticket import OrderTicket
from tests.ui import scenario as sc
from tests.ui.conftest import wait_for


def frozen_app(theme: str = "cockpit-dark", *, with_position: bool = True) -> CockpitApp:
    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False, theme=theme))
    app.store.clock = lambda: sc.T0 + 300_000_000
    app.store.mono = lambda: 0
    link.feed(sc.welcome(), sc.snapshot(sc.T0, with_position=with_position))
    link.feed(sc.market(2, "NSE:SBIN", 16_004, sc.T0))
    return app


async def settle(pilot) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.store.seq >= 2 and app.selected is not None)
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", [(160, 48), (120, 40), (80, 24)])
def test_trade_screen(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(frozen_app(), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("theme", ["cockpit-light", "cockpit-colorblind", "cockpit-contrast"])
def test_themes(snap_compare, theme: str) -> None:
    assert snap_compare(frozen_app(theme), terminal_size=(120, 40), run_before=settle)


def test_order_ticket(snap_compare) -> None:
    async def open_ticket(pilot) -> None:
        await settle(pilot)
        await pilot.press("n")
        # The ticket is up (not a fixed wait: on a busy host it may take longer), then drawn.
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, OrderTicket))
        # A blinking cursor is drawn or not by when the picture is taken: hold it shown.
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause(0.3)

    assert snap_compare(frozen_app(), terminal_size=(120, 40), run_before=open_ticket)
