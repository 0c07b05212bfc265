"""An engine batch that comes while the app is closing (its screens already gone) is dropped,
not a crash: a busy venue feed makes that likely at every exit."""

from __future__ import annotations

import time

from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import MemoryLink
from cockpit.ui.store import Changes
from tests.ui import scenario as sc
from tests.ui.conftest import wait_for


async def test_a_batch_after_the_screens_went_is_dropped() -> None:
    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))  # type: ignore[arg-type]
    link.feed(sc.welcome(), sc.snapshot(time.time_ns()))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.batches_applied >= 1)
    assert not app.screen_stack
    app._update_views(Changes(everything=True))  # what a late batch does: no ScreenStackError
