"""What the trader is told when the engine stops answering or other viewers share it: the
real app on a real engine process and the paper exchange."""

from __future__ import annotations

import os
import signal

from cockpit.link.client import EngineClient
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import ClientLink
from tests.ui.conftest import wait_for
from tests.ui.test_engine_pilot import attached, running_engine


def bar(app: CockpitApp) -> str:
    return app.screen.status.text_of(0)


async def test_a_hung_engine_is_named_on_the_status_bar_until_it_answers_again() -> None:
    """A stopped (hung) engine process sends no status: after a few seconds the bar says so
    in words, and the words go when its status comes again."""
    with running_engine() as engine:
        app = CockpitApp(
            StaticConnector(ClientLink(EngineClient.connect(path=engine.socket, client="pilot"))),
            UiOptions(remember=False),
        )
        async with app.run_test(size=(160, 48)) as pilot:
            await attached(pilot, app)
            await wait_for(pilot, lambda: "ENGINE" not in bar(app), 5)
            os.kill(engine.proc.pid, signal.SIGSTOP)
            try:
                await wait_for(pilot, lambda: "ENGINE NOT ANSWERING" in bar(app), 15)
                assert "openalgo:live" not in bar(app)  # the engine owns the feeds
            finally:
                os.kill(engine.proc.pid, signal.SIGCONT)
            await wait_for(pilot, lambda: "NOT ANSWERING" not in bar(app), 10)
