"""Pilot tests driving the real app against a real engine process and the paper exchange.

The paper exchange runs in this process (random walk paused: prices move only when a test
sets them through its control API); the engine is `cockpit engine run` as a child process
pointed at it over loopback; the app attaches to the engine's Unix socket like `cockpit` does.
"""

from __future__ import annotations

import contextlib
import gc
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx

from cockpit.link import protocol as p
from cockpit.link.client import EngineClient, EngineNotRunning
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.fmt import fmt_volume
from cockpit.ui.link import ClientLink
from tests.engine_child import REPO, child_env, engine_run_argv
from tests.ui.conftest import screen_text, showing, wait_for

SBIN = "NSE:SBIN"


def _die_with_parent() -> None:
    """In the engine child: SIGTERM if the test process dies (nothing left behind)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass


class EngineProc:
    """Paper exchange (in-process) + `cockpit engine run` (child) in private XDG dirs."""

    def __init__(self, sim: SimConfig | None = None, **settings: str) -> None:
        """``sim``: the paper exchange (default: paused, prices set by the test);
        ``settings``: more ``COCKPIT_*`` variables for the engine (its config)."""
        self.root = Path(tempfile.mkdtemp(prefix="ckui", dir="/tmp"))
        self.sim: SimHandle = start_in_thread(sim or SimConfig(seed=7, rate=20.0, paused=True))
        defaults = {
            "COCKPIT_TRADING__ARMED_AT_START": "true",
            "COCKPIT_TRADING__WATCHLIST": '["NSE:SBIN","NSE:INFY"]',
            "COCKPIT_EXITS__STOP_TICKS": "6",
            "COCKPIT_EXITS__TARGET_TICKS": "10",
            "COCKPIT_EXITS__TRAIL_DEFAULT_DISTANCE": "4",
            "COCKPIT_TRADING__CONFIRM_QTY_OVER": "5",
        }
        env = child_env(self.root, OPENALGO_API_KEY=self.sim.api_key, **{**defaults, **settings})
        self.env = env
        self.log = open(self.root / "engine.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            engine_run_argv(self.sim),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=str(REPO),
            preexec_fn=_die_with_parent,
        )
        self.socket = self.root / "run" / "cockpit" / "default.sock"

    def wait_ready(
        self, timeout: float = 30.0, subscribed: tuple[str, ...] = ("NSE:SBIN", "NSE:INFY")
    ) -> None:
        """Until the engine's feeds are live and the sim holds ``subscribed``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with EngineClient.connect(path=self.socket) as c:
                    snap = c.snapshot(timeout=5)
                    if snap.feeds and all(f.state == "live" for f in snap.feeds):
                        # No snapshot on subscribe: prices set before the sim holds the
                        # engine's subscriptions would reach nobody.
                        if subscribed:
                            self.sim.wait_subscribed(list(subscribed))
                        return
            except EngineNotRunning:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(f"engine exited: {self.log_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"engine not ready: {self.log_text()}")
            time.sleep(0.1)

    def log_text(self) -> str:
        self.log.flush()
        return (self.root / "engine.log").read_text()[-3000:]

    def price(self, symbol: str, ltp: str) -> None:
        self.sim.set_price("NSE", symbol, ltp)

    def command(self, cmd: p.Command) -> p.Msg:
        with EngineClient.connect(path=self.socket, client="test") as c:
            return c.request(cmd, timeout=10)

    def flatten_all(self) -> None:
        self.command(p.KillSwitch(id=0))
        with EngineClient.connect(path=self.socket, client="test") as c:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                snap = c.snapshot(timeout=5)
                working = [o for o in snap.orders if o.status in ("open", "trigger pending")]
                if not working and not any(pos.qty for pos in snap.positions):
                    break
                c.close()
                time.sleep(0.1)
                c = EngineClient.connect(path=self.socket, client="test")  # noqa: PLW2901
        self.command(p.SetArmed(id=0, armed=True))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        self.sim.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_engine(sim: SimConfig | None = None, **settings: str) -> Iterator[EngineProc]:
    """An engine process at SBIN 800.00 and INFY 1500.00, ready, stopped afterwards."""
    e = EngineProc(sim, **settings)
    try:
        e.price("SBIN", "800.00")
        e.price("INFY", "1500.00")
        e.wait_ready()
        yield e
    finally:
        e.stop()


def make_app(engine: EngineProc, **options: object) -> CockpitApp:
    link = ClientLink(EngineClient.connect(path=engine.socket, client="pilot"))
    return CockpitApp(StaticConnector(link), UiOptions(remember=False, **options))  # type: ignore[arg-type]


async def test_what_startup_made_is_frozen_once_the_snapshot_is_shown(fresh: EngineProc) -> None:
    """As ``cockpit`` runs the app: a full collection then skips the widgets and modules
    startup made (it walked them all every few seconds under a busy feed). The app works on
    after it, and the default (tests, embedders) freezes nothing."""
    # An engine run in this process by an earlier test froze its objects; frozen objects still
    # die by reference count, which lowers the count: start from none frozen.
    gc.unfreeze()
    before = gc.get_freeze_count()
    plain = make_app(fresh)
    async with plain.run_test(size=(160, 48)) as pilot:
        await attached(pilot, plain)
        await pilot.pause(0.2)
    assert gc.get_freeze_count() == before

    link = ClientLink(EngineClient.connect(path=fresh.socket, client="pilot"))
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False, freeze_after_start=True))
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await attached(pilot, app)
            await wait_for(pilot, lambda: gc.get_freeze_count() > before, 5)
            fresh.price("SBIN", "802.50")
            await wait_for(pilot, lambda: (row_with(app, "◀LTP") or "").find("802.50") >= 0, 10)
    finally:
        gc.unfreeze()


def ladder_rows(app: CockpitApp) -> list[str]:
    lad = app.screen.ladder
    return [lad.text_of(y) for y in range(lad.rows + 1)]


def row_with(app: CockpitApp, mark: str) -> str | None:
    return next((r for r in ladder_rows(app) if mark in r), None)


async def attached(pilot, app: CockpitApp) -> None:
    await wait_for(pilot, lambda: app.store.connected and app.selected is not None, 15)
    if app.selected != SBIN:
        app.select_symbol(SBIN)
    await pilot.pause()


def qty(app: CockpitApp) -> Decimal:
    pos = app.store.positions.get(SBIN)
    return pos.qty if pos is not None else Decimal(0)


async def test_ticks_reach_watchlist_and_ladder(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        fresh.price("SBIN", "801.25")
        await wait_for(pilot, lambda: (row_with(app, "◀LTP") or "").find("801.25") >= 0, 10)

        def watchlist_shows_it() -> bool:
            rows = [app.screen.watchlist.text_of(y) for y in range(1, 4)]
            return any("SBIN" in r and "801.25" in r for r in rows)

        await wait_for(pilot, watchlist_shows_it, 5)


async def test_buy_shows_stop_and_target_then_stop_moves_trails_and_flattens(
    fresh: EngineProc,
) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: qty(app) == 1, 10)
        await wait_for(pilot, lambda: SBIN in app.store.plans, 10)
        plan = app.store.plans[SBIN]
        assert plan.stop is not None
        assert plan.target is not None
        stop_txt = app.store.fmt_price(SBIN, plan.stop)
        tgt_txt = app.store.fmt_price(SBIN, plan.target)
        await wait_for(pilot, lambda: stop_txt in app.screen.positions.text_of(1))
        assert tgt_txt in app.screen.positions.text_of(1)
        await wait_for(pilot, lambda: row_with(app, "STOP") is not None)
        assert stop_txt in (row_with(app, "STOP") or "")
        assert tgt_txt in (row_with(app, "TGT") or "")

        # `]` moves the stop up one tick.
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: app.store.plans[SBIN].stop == plan.stop + 1, 10)
        new_stop = app.store.fmt_price(SBIN, plan.stop + 1)
        await wait_for(pilot, lambda: new_stop in (row_with(app, "STOP") or ""))

        # `t` trails (4 ticks); a scripted rising price ratchets the stop up.
        await pilot.press("t")
        await wait_for(pilot, lambda: app.store.plans[SBIN].trail_active, 10)
        stops = []
        for price in ("800.10", "800.20", "800.30", "800.40"):
            fresh.price("SBIN", price)
            ticks = app.store.instruments[SBIN].tick_size
            want = int(Decimal(price) / ticks)
            await wait_for(pilot, lambda w=want: app.store.quotes[SBIN].ltp == w, 10)
            await wait_for(pilot, lambda w=want: app.store.plans[SBIN].stop == w - 4, 10)
            stops.append(app.store.plans[SBIN].stop)
            await pilot.pause()
            assert app.store.fmt_price(SBIN, stops[-1]) in (row_with(app, "STOP⇡") or "")
        assert stops == sorted(stops)
        assert stops[-1] > plan.stop + 1

        # `f` flattens.
        await pilot.press("f")
        await wait_for(pilot, lambda: qty(app) == 0, 10)
        await wait_for(pilot, lambda: row_with(app, "STOP") is None)


async def test_kill_switch_with_confirmation_clears_everything(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: qty(app) == 1, 10)
        await pilot.press("down", "down", "down", "down", "B")  # resting buy limit below
        await wait_for(pilot, lambda: len(app.store.working_orders(SBIN)) >= 1, 10)
        await pilot.press("F")
        await wait_for(pilot, lambda: showing(app, "ConfirmScreen"))
        await pilot.press("y")
        await wait_for(pilot, lambda: qty(app) == 0 and not app.store.working_orders(), 10)


def other_strategy_order(engine: EngineProc) -> str:
    """A resting buy limit another client placed at the venue (same account, its own
    ``strategy``): not this cockpit's order."""
    reply = httpx.post(
        f"{engine.sim.rest_url}/api/v1/placeorder",
        json={
            "apikey": engine.sim.api_key,
            "strategy": "other-strategy",
            "exchange": "NSE",
            "symbol": "SBIN",
            "action": "BUY",
            "quantity": "3",
            "pricetype": "LIMIT",
            "price": "790.00",
            "product": "MIS",
        },
    )
    assert reply.json()["status"] == "success", reply.text
    return str(reply.json()["orderid"])


def venue_status(engine: EngineProc, orderid: str) -> str:
    reply = httpx.post(
        f"{engine.sim.rest_url}/api/v1/orderstatus",
        json={"apikey": engine.sim.api_key, "strategy": "other-strategy", "orderid": orderid},
    )
    return str(reply.json()["data"]["order_status"])


def cancel_at_venue(engine: EngineProc, orderid: str) -> None:
    """(Clean-up) the other strategy's order, if still open."""
    if venue_status(engine, orderid) == "open":
        httpx.post(
            f"{engine.sim.rest_url}/api/v1/cancelorder",
            json={"apikey": engine.sim.api_key, "strategy": "other-strategy", "orderid": orderid},
        )


async def test_account_wide_kill_is_a_confirmed_palette_choice_and_f_stays_ours(
    fresh: EngineProc,
) -> None:
    """Issue 17.2: `F` cancels this cockpit's orders only; the palette's "Kill switch: whole
    account" also cancels another strategy's order at the venue, and only once confirmed."""
    other = other_strategy_order(fresh)
    app = make_app(fresh)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await attached(pilot, app)
            await pilot.press("down", "down", "down", "down", "B")  # our resting buy limit
            await wait_for(pilot, lambda: len(app.store.working_orders(SBIN)) >= 1, 10)

            # The account-wide choice, dismissed: nothing is sent.
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"whole account")
            await pilot.pause(0.5)
            await pilot.press("enter")
            text = await screen_text(
                pilot,
                app,
                "ConfirmScreen",
                lambda: str(app.screen.text),  # type: ignore[attr-defined]
                "EVERY open order of the broker account",
            )
            assert "other strategies'" in text
            await pilot.press("n")
            await wait_for(pilot, lambda: type(app.screen).__name__ != "ConfirmScreen", 5)

            # `F`: ours go, the other strategy's order stays.
            await pilot.press("F")
            await pilot.pause()
            assert "Other strategies' orders are left alone" in str(app.screen.text)  # type: ignore[attr-defined]
            await pilot.press("y")
            await wait_for(pilot, lambda: not app.store.working_orders(), 10)
            await wait_for(
                pilot, lambda: app.store.status is not None and app.store.status.kill_switch, 5
            )
            await pilot.pause(0.5)
            assert venue_status(fresh, other) == "open"

            # Confirmed: the venue's cancel-all takes the other strategy's order too.
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"whole account")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await wait_for(pilot, lambda: showing(app, "ConfirmScreen"), 5)
            await pilot.press("y")
            await wait_for(pilot, lambda: venue_status(fresh, other) == "cancelled", 10)
    finally:
        cancel_at_venue(fresh, other)


async def test_disarmed_keys_are_refused(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("a")  # disarm
        await wait_for(pilot, lambda: app.store.status is not None and not app.store.status.armed)
        await pilot.press("b", "s")
        await pilot.pause(0.3)
        assert qty(app) == 0
        assert any("disarmed" in msg for rule, msg in app.refusals if rule == "gate")
        assert "DISARMED" in app.screen.status.text_of(0)


async def test_slash_searches_the_venue_and_adds_the_symbol(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        assert "NSE:TCS" not in app.store.watchlist
        await pilot.press("slash")
        await wait_for(pilot, lambda: showing(app, "SymbolSearchScreen"))
        await pilot.press("T", "C", "S")
        from textual.widgets import OptionList

        results = app.screen.query_one(OptionList)
        await wait_for(
            pilot,
            lambda: any(
                (results.get_option_at_index(i).id or "") == "NSE:TCS"
                for i in range(results.option_count)
            ),
            10,
        )
        idx = next(
            i for i in range(results.option_count) if results.get_option_at_index(i).id == "NSE:TCS"
        )
        results.highlighted = idx
        await pilot.press("enter")
        await wait_for(pilot, lambda: "NSE:TCS" in app.store.watchlist, 10)
        assert app.selected == "NSE:TCS"
    fresh.command(p.Unsubscribe(id=0, keys=["NSE:TCS"]))


async def test_engine_asks_to_confirm_a_large_order(fresh: EngineProc) -> None:
    app = make_app(fresh)  # the app itself has no threshold: the engine's rule applies
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press(*["plus"] * 5, "b")  # qty 6 > 5
        await wait_for(pilot, lambda: showing(app, "ConfirmScreen"), 10)
        assert qty(app) == 0
        await pilot.press("y")
        await wait_for(pilot, lambda: qty(app) == 6, 10)
        await pilot.press("f")
        await wait_for(pilot, lambda: qty(app) == 0, 10)


async def test_reverse_and_cancel_keys(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: qty(app) == 1, 10)
        await pilot.press("r")
        await wait_for(pilot, lambda: qty(app) == -1, 10)
        assert "SHORT" in app.screen.positions.text_of(1)
        await pilot.press("down", "down", "down", "B")  # a buy limit resting below the market
        await wait_for(pilot, lambda: len(app.store.working_orders("NSE:SBIN")) >= 1, 10)
        rows = [app.screen.ladder.text_of(y) for y in range(app.screen.ladder.rows + 1)]
        assert any(r.strip().startswith("1 ") and "799.85" in r for r in rows)  # my order's row
        await pilot.press("x")
        await wait_for(pilot, lambda: not app.store.working_orders("NSE:SBIN"), 10)
        await pilot.press("f")
        await wait_for(pilot, lambda: qty(app) == 0, 10)


async def test_traded_volume_shows_on_the_ladder(fresh: EngineProc) -> None:
    app = make_app(fresh)
    async with app.run_test(size=(180, 48)) as pilot:  # -xwide: the volume column
        await attached(pilot, app)
        level = 16_067  # 803.35: a price no other test trades at
        before = app.store.vap.get(SBIN, {}).get(level, Decimal(0))
        other = app.store.vap.get(SBIN, {}).get(level - 1, Decimal(0))
        fresh.price("SBIN", "803.30")  # each scripted price is one trade of one share
        fresh.price("SBIN", "803.35")
        fresh.price("SBIN", "803.35")
        want = before + 2
        await wait_for(pilot, lambda: app.store.vap.get(SBIN, {}).get(level) == want, 10)
        volume_then_ltp = re.compile(r"803\.35\s+(\S+)\s+◀LTP")

        def ladder_shows_it() -> bool:
            m = volume_then_ltp.search(row_with(app, "◀LTP") or "")
            return m is not None and m.group(1) == fmt_volume(want)

        await pilot.pause()
        await wait_for(pilot, ladder_shows_it, 10)
    # A viewer attaching now gets the whole map in its snapshot.
    with EngineClient.connect(path=fresh.socket, client="test") as c:
        snap = c.snapshot(timeout=5)
    levels = {t: q for v in snap.volume_at_price if v.key == SBIN for t, q in v.levels}
    assert levels[level] == want
    assert levels[level - 1] == other + 1  # every level, not only the last one traded
