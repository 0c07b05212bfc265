"""A gap through many stops is a burst of notices: a few toasts show, then one summary of the
rest, while the message log keeps every one. Each toast is a Textual notification that every
later one walks (to drop the expired): 150 toasts for a gap through 50 stops cost the TUI's
thread CPU the engine's exits wait for on a small host, and no trader reads them."""

from __future__ import annotations

import time
from decimal import Decimal

from textual.widgets._toast import Toast

from cockpit.link import protocol as p
from tests.ui.conftest import wait_for
from tests.ui.test_app_keys import make_app, started


def fills(seq: int, n: int) -> list[p.FillEvent]:
    now = time.time_ns()
    return [
        p.FillEvent(
            seq=seq + i,
            fill=p.FillView(f"c{seq + i}", "NSE:SBIN", "SELL", Decimal(1), Decimal("800.05"), now),
        )
        for i in range(n)
    ]


def toast_texts(app: object) -> str:
    return "\n".join(str(t.render()) for t in app.screen.query(Toast))  # type: ignore[attr-defined]


async def test_sixty_fills_at_once_are_three_toasts_and_one_summary_all_in_the_log() -> None:
    app, link = make_app()
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await started(pilot, app)
        logged = app.store.messages_total
        link.feed(*fills(100, 60))
        await wait_for(pilot, lambda: app.store.messages_total - logged == 60)
        await pilot.pause(0.1)
        assert len(app._notifications) == 3  # noqa: SLF001 - Textual's live notifications
        await wait_for(pilot, lambda: "57 more: Fill ×57" in toast_texts(app), 3)
        assert len(app._notifications) == 4  # noqa: SLF001


async def test_toasts_per_s_zero_shows_every_notice() -> None:
    app, link = make_app(toast_rate=0)
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await started(pilot, app)
        link.feed(*fills(100, 20))
        await wait_for(pilot, lambda: len(app._notifications) == 20)  # noqa: SLF001
