"""Issue 16.2: an exit lost in transit is never matched to a stale order of the same shape.

Real processes: ``cockpit engine run`` talks to the in-thread paper exchange through a loopback
proxy that can lose ``placeorder`` requests (no answer, never forwarded). Earlier that day the
account already had a SELL 10 SBIN that completed. The engine's stop fires, its SELL 10 is lost
on the way, the engine is SIGKILLed while it waits and restarted: the uncertain exit must not be
matched to the old SELL; once reconciliation shows the position still open the exit is sent
again, and the plan goes only when the broker says flat.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from cockpit.link import protocol as p
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from tests.engine_child import REPO, engine_run_argv
from tests.integration.test_engine_crash import EngineProc, Viewer, sim_orders, wait
from tests.servers.dropping_proxy import DroppingProxy


class ProxiedEngine(EngineProc):
    """The engine's REST calls go through ``proxy``; its WebSocket goes to the sim directly."""

    proxy: DroppingProxy

    def start(self) -> None:
        argv = engine_run_argv(self.sim, "--journal", str(self.journal))
        argv[argv.index(self.sim.rest_url)] = self.proxy.url
        log = open(self.root / "engine.log", "ab")  # noqa: SIM115 (closed in stop)
        self._logs.append(log)
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=log, env=self.env, cwd=str(REPO)
        )


@pytest.fixture
def paper() -> Iterator[SimHandle]:
    handle = start_in_thread(SimConfig(seed=3, rate=20.0, paused=True))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def proxy(paper: SimHandle) -> Iterator[DroppingProxy]:
    with DroppingProxy(paper.rest_url) as server:
        assert isinstance(server, DroppingProxy)
        yield server


@pytest.fixture
def engine(paper: SimHandle, proxy: DroppingProxy) -> Iterator[ProxiedEngine]:
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"cl{os.getpid()}{time.monotonic_ns() % 10**6}"
    root.mkdir()
    proc = ProxiedEngine(root, paper)
    proc.proxy = proxy
    try:
        yield proc
    finally:
        proc.stop()
        shutil.rmtree(root, ignore_errors=True)


def sim_net(sim: SimHandle, symbol: str) -> int:
    reply = httpx.post(f"{sim.rest_url}/api/v1/positionbook", json={"apikey": sim.api_key})
    rows = [r for r in reply.json()["data"] if r["symbol"] == symbol]
    return sum(int(Decimal(str(r["quantity"]))) for r in rows)


def manual_order(sim: SimHandle, action: str, qty: int) -> None:
    """The trader's own order at the broker (not the engine's)."""
    reply = httpx.post(
        f"{sim.rest_url}/api/v1/placeorder",
        json={
            "apikey": sim.api_key,
            "strategy": "manual",
            "exchange": "NSE",
            "symbol": "SBIN",
            "action": action,
            "quantity": str(qty),
            "pricetype": "MARKET",
            "product": "MIS",
        },
    )
    assert reply.json()["status"] == "success", reply.text


def test_a_lost_exit_after_sigkill_is_sent_again_not_matched_to_an_old_sell(
    paper: SimHandle, engine: ProxiedEngine, proxy: DroppingProxy
) -> None:
    sim = paper
    sim.set_price("NSE", "SBIN", "800.00")
    manual_order(sim, "BUY", 10)  # earlier that day: a round trip of the same size
    manual_order(sim, "SELL", 10)
    wait(lambda: sim_orders(sim, "SBIN") == [("BUY", 10, "complete"), ("SELL", 10, "complete")],
         10, "the old round trip")  # fmt: skip
    time.sleep(3.2)  # the broker's timestamps have whole seconds: the old SELL is older

    engine.start()
    viewer = Viewer(engine.connect())
    viewer.price(sim, "800.00", 16000)
    answer = viewer.command(
        p.PlaceEntry(
            id=1, key="NSE:SBIN", side="BUY", qty=Decimal(10),
            plan=p.PlanSpec(stop_ticks=10, target_ticks=None),
        )
    )  # fmt: skip
    assert isinstance(answer, p.Ack), answer
    viewer.until(lambda m: isinstance(m, p.PlanEvent) and m.change == "attached", 10, "plan")
    wait(lambda: sim_net(sim, "SBIN") == 10, 10, "long 10 at the broker")

    proxy.hold = True
    viewer.price(sim, "799.00", 15980)  # through the stop 799.50
    viewer.until(lambda m: isinstance(m, p.ExitFired), 15, "the exit")
    wait(lambda: len(proxy.held) == 1, 10, "the exit lost on the way")
    viewer.client.close()
    engine.kill()  # while the exit's placement is unanswered
    proxy.hold = False

    engine.start()
    viewer = Viewer(engine.connect())
    # The exit is sent again: the broker ends flat, through a new SELL that reached it.
    try:
        wait(lambda: sim_net(sim, "SBIN") == 0, 20, "the position closed at the broker")
    except AssertionError as exc:
        log = (engine.root / "engine.log").read_text(errors="replace")[-3000:]
        raise AssertionError(f"{exc}; orders {sim_orders(sim, 'SBIN')}\n{log}") from None
    assert sim_orders(sim, "SBIN") == [("BUY", 10, "complete"), ("SELL", 10, "complete")] * 2

    def plans_now() -> list[str]:
        client = engine.connect()
        try:
            return [plan.key for plan in client.snapshot().plans]
        finally:
            client.close()

    wait(lambda: plans_now() == [], 10, "the plan removed once flat")
    viewer.pump()
    found = [m for m in viewer.msgs if isinstance(m, p.Alarm) and m.code == "order_found"]
    assert found == []  # the old SELL was never taken for the lost exit


def test_a_lost_exit_is_not_recovered_as_an_old_sell_of_the_same_shape(
    paper: SimHandle, engine: ProxiedEngine, proxy: DroppingProxy
) -> None:
    """The router's own recovery (no answer to placeorder: look in the orderbook) must not take
    the old SELL for the lost exit either: the exit counts as not placed and is sent again."""
    sim = paper
    sim.set_price("NSE", "SBIN", "800.00")
    manual_order(sim, "BUY", 10)
    manual_order(sim, "SELL", 10)
    time.sleep(3.2)
    engine.start()
    viewer = Viewer(engine.connect())
    viewer.price(sim, "800.00", 16000)
    answer = viewer.command(
        p.PlaceEntry(
            id=1, key="NSE:SBIN", side="BUY", qty=Decimal(10),
            plan=p.PlanSpec(stop_ticks=10, target_ticks=None),
        )
    )  # fmt: skip
    assert isinstance(answer, p.Ack), answer
    viewer.until(lambda m: isinstance(m, p.PlanEvent) and m.change == "attached", 10, "plan")
    wait(lambda: sim_net(sim, "SBIN") == 10, 10, "long 10 at the broker")

    proxy.cut = True
    viewer.price(sim, "799.00", 15980)
    viewer.until(lambda m: isinstance(m, p.ExitFired), 15, "the exit")
    wait(lambda: len(proxy.held) >= 1, 10, "the exit lost on the way")
    proxy.cut = False
    viewer.until(
        lambda m: isinstance(m, p.Alarm) and m.code == "order_uncertain", 15, "uncertain exit"
    )
    wait(lambda: sim_net(sim, "SBIN") == 0, 20, "the exit sent again and filled")
    assert sim_orders(sim, "SBIN") == [("BUY", 10, "complete"), ("SELL", 10, "complete")] * 2
