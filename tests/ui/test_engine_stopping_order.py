"""The engine's last words come before its hang-up: a ``Stopping`` that arrived with the
connection's end is applied before the link is declared lost, so the screen says the engine
STOPPED (``cockpit engine stop``), not that the connection broke — however busy the app is
when both reach it (a TUI at a low priority on a loaded host often has both queued: the
link worker posts the last batch, then the loss, and the app takes neither before both are in
its queue)."""

from __future__ import annotations

from cockpit.link import protocol as p
from cockpit.ui.messages import EngineLinkLost, EngineMessagesReceived
from tests.ui.conftest import showing, wait_for
from tests.ui.test_app_keys import make_app, started


async def test_a_stopping_engine_is_shown_as_stopped_when_the_hang_up_is_queued_behind() -> None:
    app, _link = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        # What the link worker posts when the engine stops: its last batch, then the loss,
        # both queued before the app handles the first.
        app.post_message(EngineMessagesReceived([p.Stopping(reason="cockpit engine stop")]))
        app.post_message(EngineLinkLost("engine connection lost: the engine closed it"))
        await wait_for(pilot, lambda: showing(app, "EngineLostScreen"))
        await pilot.pause()
        assert app.screen.stopped  # type: ignore[attr-defined]
        assert app.link_state == "lost"
        assert "ENGINE STOPPED" in str(app.screen.query_one("#dialog-title").render())
