"""What the trader is told when the engine stops answering or other viewers share it: the
real app on a real engine process and the paper exchange."""

from __future__ import annotations

import asyncio
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


async def test_quitting_the_cockpit_that_started_the_engine_leaves_it_to_another_viewer() -> None:
    """ctrl+q with nothing open in the cockpit that started the engine stops it only when it
    is the engine's one viewer: with another attached it detaches, and the other keeps its
    engine."""
    with running_engine() as engine:
        other = EngineClient.connect(path=engine.socket, client="other")
        try:
            link = ClientLink(EngineClient.connect(path=engine.socket, client="pilot"))
            app = CockpitApp(StaticConnector(link, started_engine=True), UiOptions(remember=False))
            async with app.run_test(size=(160, 48)) as pilot:
                await attached(pilot, app)
                await wait_for(pilot, lambda: app.store.viewers() == 2, 10)
                await pilot.press("ctrl+q")
                await wait_for(pilot, lambda: app.link_state == "quitting", 5)
            await asyncio.sleep(2.0)
            assert engine.proc.poll() is None, "the engine stopped under another viewer"
            assert other.recv(2.0) is not None  # still served
        finally:
            other.close()


async def test_quitting_the_cockpit_that_started_the_engine_stops_it_when_alone() -> None:
    with running_engine() as engine:
        link = ClientLink(EngineClient.connect(path=engine.socket, client="pilot"))
        app = CockpitApp(StaticConnector(link, started_engine=True), UiOptions(remember=False))
        async with app.run_test(size=(160, 48)) as pilot:
            await attached(pilot, app)
            await wait_for(pilot, lambda: app.store.viewers() == 1, 10)
            await pilot.press("ctrl+q")
        engine.proc.wait(20)
        assert engine.proc.returncode is not None
