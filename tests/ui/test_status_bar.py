"""The status bar against the real app fed through an in-memory link."""

from __future__ import annotations

import time
from decimal import Decimal

from cockpit.domain.feed import FeedState, FeedStatus
from cockpit.link import protocol as p
from tests.ui.conftest import wait_for
from tests.ui.test_app_keys import make_app, started


async def test_status_bar_shows_a_quantity_of_a_thousand_or_more() -> None:
    """The bar is handed the quantity already formatted ("1,000"), and shows it as it is."""
    app, _link = make_app(default_qty=Decimal(999))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        await pilot.press("plus")
        assert app.qty == Decimal(1000)
        status = app.screen.status
        await wait_for(pilot, lambda: "qty 1,000" in status.text_of(0))


async def test_status_bar_says_why_a_feed_is_quiet_and_forgets_it_when_data_comes() -> None:
    """The feed stays live through a quiet market but says why ("quiet: no market data for
    30 s"): the bar shows the reason in words beside the feed, until the feed's next state."""
    app, link = make_app()
    async with app.run_test(size=(200, 48)) as pilot:
        await started(pilot, app)
        status = app.screen.status
        await wait_for(pilot, lambda: "openalgo:live" in status.text_of(0))
        quiet = FeedStatus(
            "openalgo", FeedState.LIVE, time.time_ns(), reason="quiet: no market data for 30 s"
        )
        link.feed(p.FeedEvent(seq=2, status=quiet))
        await wait_for(pilot, lambda: "quiet: no market data for 30 s" in status.text_of(0))
        link.feed(p.FeedEvent(seq=3, status=FeedStatus("openalgo", FeedState.LIVE, time.time_ns())))
        await wait_for(pilot, lambda: "quiet" not in status.text_of(0))
        assert "openalgo:live" in status.text_of(0)


async def test_the_risk_budget_question_says_enter_sets_and_esc_cancels() -> None:
    app, _link = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        await pilot.press("Z")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "AskScreen")
        await pilot.pause()
        texts = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert "enter sets" in texts, texts
        assert "esc cancels" in texts, texts
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ != "AskScreen")
