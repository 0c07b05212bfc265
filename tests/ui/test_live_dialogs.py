"""The quit and kill-switch questions count what is open now, not what was open when they came
up: a fill or a cancel while one is up changes its counts, and its answer acts on what is true
when it is given. The real app on a real engine and the paper exchange."""

from __future__ import annotations

from decimal import Decimal

from cockpit.link import protocol as p
from cockpit.link.client import EngineClient
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import ClientLink
from tests.ui.conftest import screen_text, wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc, attached, make_app, running_engine

INFY = "NSE:INFY"


def dialog_text(app: CockpitApp) -> str:
    return str(app.screen.query_one("#dialog-text").render())


async def fresh_tick(pilot: object, app: CockpitApp, engine: EngineProc, key: str) -> None:
    """A new tick of ``key`` at its test price, seen by the app (so the engine has it too):
    the engine refuses entries on a feed with no price yet or none for 5 s (the paper
    exchange is paused; prices move only when a test sets them)."""
    before = app.store.quotes.get(key)
    old = before.recv_ns if before is not None else 0
    engine.price(key.split(":")[1], "800.00" if key == SBIN else "1500.00")
    await wait_for(
        pilot, lambda: (q := app.store.quotes.get(key)) is not None and q.recv_ns > old, 5
    )


async def resting_buy(pilot: object, app: CockpitApp, engine: EngineProc) -> None:
    """A buy limit well under the market (another viewer's: no question asked)."""
    await fresh_tick(pilot, app, engine, SBIN)
    answer = engine.command(
        p.PlaceEntry(id=0, key=SBIN, side="BUY", qty=Decimal(1), order_type="LIMIT", price=15900)
    )
    assert isinstance(answer, p.Ack), answer


def cancel_all(engine: EngineProc) -> None:
    answer = engine.command(p.CancelOrders(id=0))
    assert isinstance(answer, p.Ack), answer


async def buy(pilot: object, app: CockpitApp, engine: EngineProc, key: str) -> None:
    await fresh_tick(pilot, app, engine, key)
    answer = engine.command(p.PlaceEntry(id=0, key=key, side="BUY", qty=Decimal(1)))
    assert isinstance(answer, p.Ack), answer


async def test_the_quit_question_counts_what_is_open_while_it_is_up(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(80, 24)) as pilot:
        await attached(pilot, app)
        await fresh_tick(pilot, app, fresh, SBIN)  # entry keys wait for a fresh price
        await pilot.press("b")
        await wait_for(pilot, lambda: bool(app.store.open_positions()), 10)
        await resting_buy(pilot, app, fresh)
        await wait_for(pilot, lambda: bool(app.store.working_orders()), 10)
        await pilot.press("ctrl+q")
        want = "1 open position(s) and 1 working order(s)"
        await screen_text(pilot, app, "QuitScreen", lambda: dialog_text(app), want)
        cancel_all(fresh)  # the order is cancelled while the question is up
        want = "1 open position(s) and 0 working order(s)"
        await screen_text(pilot, app, "QuitScreen", lambda: dialog_text(app), want)
        await buy(pilot, app, fresh, INFY)  # a fill in another symbol while the question is up
        want = "2 open position(s) and 0 working order(s)"
        await screen_text(pilot, app, "QuitScreen", lambda: dialog_text(app), want)
        await pilot.press("escape")  # stay
        await wait_for(pilot, lambda: type(app.screen).__name__ == "TradeScreen")
    fresh.flatten_all()


async def test_the_kill_switch_question_counts_what_is_open_while_it_is_up(
    fresh: EngineProc,
) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await resting_buy(pilot, app, fresh)
        await wait_for(pilot, lambda: bool(app.store.working_orders()), 10)
        await pilot.press("F")
        want = "Cancel this cockpit's 1 working order(s) and flatten 0 position(s)"
        await screen_text(pilot, app, "ConfirmScreen", lambda: dialog_text(app), want)
        cancel_all(fresh)
        await buy(pilot, app, fresh, SBIN)
        want = "Cancel this cockpit's 0 working order(s) and flatten 1 position(s)"
        await screen_text(pilot, app, "ConfirmScreen", lambda: dialog_text(app), want)
        await pilot.press("y")  # the kill switch flattens what is open now
        await wait_for(pilot, lambda: not app.store.open_positions(), 10)
    fresh.flatten_all()


async def test_detach_when_nothing_is_open_any_more_stops_the_engine_this_cockpit_started() -> None:
    """The position the quit question was about closed while it was up (its stop, another
    viewer): quitting then is a quit with nothing open, which stops the engine this cockpit
    started, and the question says so before the answer."""
    with running_engine() as engine:
        link = ClientLink(EngineClient.connect(path=engine.socket, client="pilot"))
        app = CockpitApp(StaticConnector(link, started_engine=True), UiOptions(remember=False))
        async with app.run_test(size=(80, 24)) as pilot:
            await attached(pilot, app)
            await fresh_tick(pilot, app, engine, SBIN)  # (set once before it subscribed)
            await pilot.press("b")
            await wait_for(pilot, lambda: bool(app.store.open_positions()), 10)
            await pilot.press("ctrl+q")
            await screen_text(
                pilot, app, "QuitScreen", lambda: dialog_text(app), "1 open position(s)"
            )
            engine.flatten_all()
            await screen_text(
                pilot, app, "QuitScreen", lambda: dialog_text(app), "Nothing is open now"
            )
            # flatten_all's own clients were viewers too: quitting stops the engine only when
            # this cockpit is its one viewer (the count comes with the status, once a second).
            await wait_for(pilot, lambda: app.store.viewers() == 1, 10)
            await pilot.press("d")
        engine.proc.wait(20)
        assert engine.proc.returncode is not None
