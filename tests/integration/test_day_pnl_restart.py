"""Issue 15.6 (engine part): the day's P&L comes from the journal's fills.

Real processes: ``cockpit engine run`` and the paper exchange (which keeps its account when the
engine dies). A losing round trip reaches the daily loss limit; the engine is SIGKILLed; the
trader buys at the broker meanwhile; after the restart the engine learns that position from
the broker. The day's loss must still count: the limit still holds and entries are refused.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from cockpit.link import protocol as p
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from tests.integration.test_engine_crash import EngineProc, Viewer, wait


@pytest.fixture
def paper() -> Iterator[SimHandle]:
    handle = start_in_thread(SimConfig(seed=3, rate=20.0, paused=True))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def proc(paper: SimHandle) -> Iterator[EngineProc]:
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"cp{os.getpid()}{time.monotonic_ns() % 10**6}"
    root.mkdir()
    engine = EngineProc(root, paper)
    try:
        yield engine
    finally:
        engine.stop()
        shutil.rmtree(root, ignore_errors=True)


def _manual_buy(sim: SimHandle, qty: int) -> None:
    reply = httpx.post(
        f"{sim.rest_url}/api/v1/placeorder",
        json={
            "apikey": sim.api_key, "strategy": "manual", "exchange": "NSE", "symbol": "SBIN",
            "action": "BUY", "quantity": str(qty), "pricetype": "MARKET", "product": "MIS",
        },
    )  # fmt: skip
    assert reply.json()["status"] == "success", reply.text


def _day_pnl(engine: EngineProc) -> Decimal:
    """The day's P&L in a fresh snapshot's status (what any viewer is shown)."""
    client = engine.connect()
    try:
        return Decimal(client.snapshot().status.day_pnl)
    finally:
        client.close()


def test_the_days_loss_survives_a_sigkill_and_a_position_learned_from_the_broker(
    paper: SimHandle, proc: EngineProc
) -> None:
    sim, engine = paper, proc
    engine.env["COCKPIT_RISK__MAX_DAILY_LOSS"] = "5"
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
    viewer.price(sim, "799.00", 15980)  # through the stop: a loss of 10.00 or more
    viewer.until(lambda m: isinstance(m, p.ExitFired), 15, "the exit")
    viewer.until(lambda m: isinstance(m, p.PositionEvent) and m.position.qty == 0, 10, "flat again")
    before = _day_pnl(engine)
    assert before <= Decimal(-10)  # sold at the bid, 799.00 or below
    refused = viewer.command(p.PlaceEntry(id=0, key="NSE:SBIN", side="BUY", qty=Decimal(1)))
    assert isinstance(refused, p.Refused), refused
    assert refused.rule == "daily_loss_limit", refused
    viewer.client.close()

    engine.kill()
    _manual_buy(sim, 10)  # the trader buys at the broker while the engine is down
    time.sleep(0.2)

    engine.start()
    viewer = Viewer(engine.connect())

    def broker_position_learned() -> bool:
        client = engine.connect()
        try:
            return [(x.key, x.qty) for x in client.snapshot().positions if x.qty] == [
                ("NSE:SBIN", 10)
            ]
        finally:
            client.close()

    wait(broker_position_learned, 15, "the position learned from the broker")
    viewer.price(sim, "799.00", 15980)
    after = _day_pnl(engine)  # the new position bought at the ask, marked at 799.00
    assert before - Decimal(2) <= after <= before, (before, after)
    refused = viewer.command(p.PlaceEntry(id=0, key="NSE:SBIN", side="BUY", qty=Decimal(1)))
    assert isinstance(refused, p.Refused), refused
    assert refused.rule == "daily_loss_limit", refused
