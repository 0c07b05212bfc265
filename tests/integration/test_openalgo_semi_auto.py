"""Issue 17 item 5: OpenAlgo's semi-auto mode queues an order in its Action Center and answers
success with no orderid. The cockpit shows it as pending approval (not rejected) and adopts it
when the user approves it and it reaches the order book."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from cockpit.adapters.openalgo.broker import OpenAlgoRouter
from cockpit.domain.execution import PENDING_APPROVAL, PlaceOrder, RouterResult
from cockpit.link import protocol as p
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from tests.integration.external_stack import RunnerStack, entry, tick_until_quoted

pytest.importorskip("cockpit.engine.core")

KEY = "NSE:SBIN"


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    handle = start_in_thread(SimConfig(seed=3, rate=20.0, paused=True, semi_auto=True))
    handle.set_price("NSE", "SBIN", "800.00", bid="799.95", ask="800.05")
    yield handle
    handle.stop()


def approve(sim: SimHandle) -> list[str]:
    body = httpx.post(f"{sim.rest_url}/sim/approve", json={"apikey": sim.api_key}).json()
    return list(body["orderids"])


def test_router_reports_a_queued_order_as_pending_approval(sim: SimHandle) -> None:
    results: queue.SimpleQueue[object] = queue.SimpleQueue()
    router = OpenAlgoRouter(sim.rest_url, sim.api_key, results.put)
    router.start()
    try:
        router.submit(
            PlaceOrder("c1", "NSE", "SBIN", "BUY", Decimal(1), "LIMIT", "MIS", Decimal("795"))
        )
        result = results.get(timeout=10)
    finally:
        router.stop()
    assert isinstance(result, RouterResult)
    assert result.code == PENDING_APPROVAL
    assert result.venue_id is None
    assert "queued for approval" in (result.error or "")


@pytest.mark.parametrize("updates", ["push", "poll"])
def test_engine_shows_pending_approval_then_adopts_the_approved_order(
    xdg: Path, sim: SimHandle, updates: str
) -> None:
    stack = RunnerStack(
        xdg,
        {
            "venue": {
                "broker": "openalgo",
                "host": sim.rest_url,
                "ws_url": sim.ws_url,
                "api_key": sim.api_key,
                "order_updates": updates,
            },
            "trading": {"watchlist": [KEY]},
        },
    ).start()
    try:
        v = stack.viewer()
        v.wait(lambda: v.feed_live("openalgo"), what="the feed live")
        tick_until_quoted(v, sim, KEY, ("800.00", "800.05"))
        answer = entry(v, KEY, "BUY", "1", order_type="LIMIT", price=15900)  # 795.00
        assert isinstance(answer, p.Ack), answer

        def statuses() -> list[str]:
            return [e.order.status for e in v.of(p.OrderEvent)]

        v.wait(lambda: "pending approval" in statuses(), what="the order pending approval")
        assert "rejected" not in statuses()
        alarm = v.wait(
            lambda: [a for a in v.of(p.Alarm) if "pending approval" in a.message],
            what="the pending-approval message",
        )[0]
        assert "Action Center" in alarm.message
        # The user approves it in the Action Center: it reaches the order book.
        [venue_id] = approve(sim)
        adopted = v.wait(
            lambda: [e.order for e in v.of(p.OrderEvent) if e.order.venue_id == venue_id],
            timeout=45,  # poll mode; push mode: the pushed accept
            what="the approved order adopted",
        )[-1]
        assert adopted.status == "open"
        # It is ours now: it fills, and the position follows.
        sim.set_price("NSE", "SBIN", "794.95", bid="794.90", ask="795.00")
        v.wait(lambda: v.of(p.FillEvent), what="its fill")
        assert "rejected" not in statuses()
        # Semi-auto queues exits too: the position stays open until approved, said loudly.
        v.client.request(p.Flatten(id=0, key=KEY), timeout=10)
        loud = v.wait(
            lambda: [a for a in v.of(p.Alarm) if "position stays open" in a.message],
            what="the exit pending approval",
        )[0]
        assert loud.level == "error"
    finally:
        stack.stop()


def test_cockpit_sim_flags_turn_the_switches_on() -> None:
    from cockpit.cli import build_parser
    from cockpit.sim.main import config_from_args

    on = config_from_args(build_parser().parse_args(["sim", "--semi-auto", "--zerodha-order-rows"]))
    assert on.semi_auto
    assert on.zerodha_order_rows
    off = config_from_args(build_parser().parse_args(["sim"]))
    assert not off.semi_auto
    assert not off.zerodha_order_rows
