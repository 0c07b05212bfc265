"""Issue 15, what the screen shows comes from the engine: LOCKED with the engine's own reason,
STALE against the limit the engine's gate enforces, and the message log kept by the engine
(a viewer that attaches later reads the day's fills, exits and refusals).

The real app against the real engine (`cockpit engine run`) and the paper exchange.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal

import pytest

from cockpit.link import protocol as p
from cockpit.link.client import EngineClient
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import ClientLink
from tests.ui.conftest import wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc, attached, make_app, qty, running_engine
from tests.ui.test_trader_safety import ltp_is


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineProc]:
    """Daily loss limit 50 paise, stale-data gate at 3 s (the app's own config says neither)."""
    with running_engine(COCKPIT_RISK__MAX_DAILY_LOSS="0.5", COCKPIT_RISK__MAX_TICK_AGE_S="3") as e:
        yield e


async def test_stale_is_shown_against_the_engines_limit(engine: EngineProc) -> None:
    # The app's own setting would wait ten minutes; the engine refuses entries after 3 s.
    app = make_app(engine, stale_after_s=Decimal(600))
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        bar = app.screen.status
        engine.price("SBIN", "800.00")
        await ltp_is(pilot, app, "800.00")
        assert app.store.status is not None
        assert app.store.status.stale_after_s == 3
        await wait_for(pilot, lambda: "STALE" in bar.text_of(0), 10)
        engine.price("SBIN", "800.05")
        await wait_for(pilot, lambda: "STALE" not in bar.text_of(0), 5)


async def test_the_message_log_survives_a_reattach(engine: EngineProc) -> None:
    first = make_app(engine)
    async with first.run_test(size=(160, 48)) as pilot:
        await attached(pilot, first)
        engine.price("SBIN", "800.00")
        await ltp_is(pilot, first, "800.00")
        await pilot.press("b")
        await wait_for(pilot, lambda: qty(first) == 1, 10)
        engine.price("SBIN", "800.60")  # through the target: a profit
        await wait_for(pilot, lambda: qty(first) == 0, 10)
        await pilot.pause(0.2)
    # Refused while disarmed, from another viewer: the log keeps refusals too.
    engine.command(p.SetArmed(id=1, armed=False))
    refused = engine.command(p.PlaceEntry(id=2, key=SBIN, side="BUY", qty=Decimal(1)))
    assert isinstance(refused, p.Refused)
    assert refused.rule == "disarmed"
    engine.command(p.SetArmed(id=3, armed=True))

    later = make_app(engine)
    async with later.run_test(size=(160, 48)) as pilot:
        await attached(pilot, later)
        await pilot.press("M")
        await wait_for(pilot, lambda: type(later.screen).__name__ == "LogScreen")
        await pilot.pause(0.2)
        text = "\n".join(later.screen.lines())
        assert "Fill: NSE:SBIN  BUY 1 NSE:SBIN at 800.05" in text
        assert "Exit fired: NSE:SBIN  target at 800.60 (level 800.55)" in text
        assert re.search(r"Exit filled: NSE:SBIN  target: SELL 1 NSE:SBIN at 800\.\d\d", text)
        assert "Refused: disarmed  trading is disarmed" in text
        # Not twice: the snapshot's messages are added once.
        assert text.count("Fill: NSE:SBIN  BUY 1") == 1


async def test_a_read_only_viewer_offers_no_order_keys(engine: EngineProc) -> None:
    link = ClientLink(EngineClient.connect(path=engine.socket, client="pilot", read_only=True))
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        engine.price("SBIN", "800.00")
        await ltp_is(pilot, app, "800.00")
        bar = app.screen.status
        await wait_for(pilot, lambda: " READ-ONLY " in bar.text_of(0))
        assert " ARMED " not in bar.text_of(0)
        # The footer offers none of them; pressed anyway, nothing is sent.
        shown = {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}
        for action in ("buy_market", "sell_market", "flatten", "kill_switch", "arm"):
            assert app.check_action(action, ()) is False
        assert "limit_here" not in shown
        await pilot.press("b", "f", "a", "enter")
        await pilot.pause(0.3)
        assert qty(app) == 0
        assert not app.store.working_orders(SBIN)
        assert any("read-only viewer" in text for _, text in app.refusals)
        assert app.store.status is not None
        assert app.store.status.armed  # "a" did not disarm the engine
        # Watching works: prices still arrive.
        engine.price("SBIN", "800.10")
        await ltp_is(pilot, app, "800.10")


def status_cli(engine: EngineProc, *more: str) -> subprocess.CompletedProcess[str]:
    """`cockpit engine status` against the engine, as a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "cockpit.cli", "engine", "status", *more],
        env=engine.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_bar_says_locked_with_the_engines_reason(engine: EngineProc) -> None:
    # The app is not told the loss limit: LOCKED is the engine's word.
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        bar = app.screen.status
        engine.price("SBIN", "800.00")
        await ltp_is(pilot, app, "800.00")
        await pilot.press("b")
        await wait_for(pilot, lambda: qty(app) == 1, 10)
        engine.price("SBIN", "798.00")  # the stop exits; the day is over 0.50 down
        await wait_for(pilot, lambda: qty(app) == 0, 10)
        await wait_for(pilot, lambda: "LOCKED daily loss" in bar.text_of(0), 10)
        assert " ARMED " not in bar.text_of(0)
        st = app.store.status
        assert st is not None
        assert st.lock == "daily_loss_limit"
        assert st.lock_detail.endswith("reached the loss limit 0.50")  # money, not "0.5"
    # `cockpit engine status` says it too, in words and in JSON; the day P&L as money.
    out = await asyncio.to_thread(status_cli, engine)
    money = r"-\d[\d,]*\.\d\d"
    locked = rf"locked   daily_loss_limit: day P&L {money} reached the loss limit 0\.50$"
    assert re.search(locked, out.stdout, re.M), out.stdout + out.stderr
    assert re.search(rf"^venue .* day P&L {money}$", out.stdout, re.M), out.stdout
    doc = json.loads((await asyncio.to_thread(status_cli, engine, "--json")).stdout)
    assert doc["locked"] == "daily_loss_limit"
    assert "loss limit 0.50" in doc["lock_detail"]


def test_a_resync_adds_only_the_messages_missed() -> None:
    """A snapshot after a dropped link adds what came after the last event this viewer saw,
    once; a snapshot from a new engine (its sequence restarted) adds all of its messages."""
    import msgspec

    from cockpit.ui.store import Store
    from tests.ui import scenario as sc

    def msg(seq: int, text: str) -> p.MessageView:
        return p.MessageView(seq=seq, ts_ns=seq, level="info", title="Fill: NSE:SBIN", text=text)

    def snap(seq: int, *texts: tuple[int, str]) -> p.Snapshot:
        base = sc.snapshot()
        return msgspec.structs.replace(base, seq=seq, messages=[msg(s, t) for s, t in texts])

    store = Store()
    store.apply(snap(10, (4, "one"), (9, "two")))
    assert [n.message for n in store.messages] == ["one", "two"]
    store.apply(p.Alarm(seq=12, level="info", message="live", code="x"))
    for n in store.drain_notices():
        store.remember(n)
    # The link dropped after seq 12; the engine logged 15 meanwhile.
    store.apply(snap(16, (4, "one"), (9, "two"), (12, "live"), (15, "missed")))
    assert [n.message for n in store.messages] == ["one", "two", "live", "missed"]
    # A restarted engine: its sequence starts again, all its messages are new.
    store.apply(snap(3, (2, "new engine")))
    assert [n.message for n in store.messages][-1] == "new engine"


async def test_an_entry_the_engine_refuses_is_logged_as_refused_never_as_sent() -> None:
    """The log says what happened: a refused entry (stale data) is a refusal in words, and
    no "sent"; an entry the engine takes is logged once it took it. (Its own engine: the
    module's may be locked by the daily loss limit.)"""
    with running_engine(COCKPIT_RISK__MAX_TICK_AGE_S="3") as engine:
        app = make_app(engine)
        async with app.run_test(size=(160, 48)) as pilot:
            await attached(pilot, app)
            engine.price("SBIN", "800.00")
            await ltp_is(pilot, app, "800.00")
            await wait_for(pilot, lambda: "STALE" in app.screen.status.text_of(0), 10)
            await pilot.press("b")
            await wait_for(pilot, lambda: any(r == "stale_data" for r, _ in app.refusals), 10)
            await pilot.pause(0.2)
            titles = [m.title for m in app.store.messages]
            assert any(t.startswith("Refused (stale_data)") for t in titles), titles
            assert not any("sent" in t.lower() or "accepted" in t.lower() for t in titles), titles
            engine.price("SBIN", "800.05")
            await ltp_is(pilot, app, "800.05")
            await pilot.press("b")
            await wait_for(pilot, lambda: qty(app) == 1, 10)
            await wait_for(
                pilot, lambda: any(m.title == "Order accepted" for m in app.store.messages), 5
            )
