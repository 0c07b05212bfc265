"""OpenAlgo in live semi-auto mode refuses an API client's cancel, modify, cancel-all and
close-position with a 403 (``services/cancel_order_service.py`` and its siblings). The paper
exchange answers exactly so (``--semi-auto-live``), and the cockpit tells the trader what that
means: the order still works at the broker, cancel or modify it in OpenAlgo."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from cockpit.link import protocol as p
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from cockpit.sim.rest import SEMI_AUTO_BLOCKED
from tests.integration.test_engine_crash import (  # noqa: F401  (fixture)
    EngineProc,
    Viewer,
    engine,
    sim_orders,
    wait,
)
from tests.integration.test_semi_auto_restart import approve, place_pending


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    handle = start_in_thread(
        SimConfig(seed=3, rate=20.0, paused=True, semi_auto=True, semi_auto_live=True)
    )
    try:
        yield handle
    finally:
        handle.stop()


def test_the_paper_exchange_answers_as_openalgo_live_semi_auto(sim: SimHandle) -> None:
    order = {"exchange": "NSE", "symbol": "SBIN", "action": "BUY", "product": "MIS"}
    calls = {
        "cancelorder": {"orderid": "1"},
        "modifyorder": {
            **order,
            "orderid": "1",
            "pricetype": "LIMIT",
            "price": "799",
            "quantity": "1",
            "disclosed_quantity": "0",
            "trigger_price": "0",
        },
        "cancelallorder": {},
        "closeposition": {},
    }
    for path, body in calls.items():
        reply = httpx.post(
            f"{sim.rest_url}/api/v1/{path}",
            json={"apikey": sim.api_key, "strategy": "cockpit", **body},
        )
        assert reply.status_code == 403, path
        assert reply.json() == {"status": "error", "message": SEMI_AUTO_BLOCKED[path]}
    assert SEMI_AUTO_BLOCKED["cancelorder"] == (
        "Cancel order operation is not allowed in Semi-Auto mode. Please switch to Auto mode "
        "to cancel orders."
    )
    # A bad key is still the key's 403, and a bad body still the schema's 400.
    bad_key = httpx.post(f"{sim.rest_url}/api/v1/cancelorder", json={"apikey": "x" * 64})
    assert bad_key.status_code == 403
    assert bad_key.json()["message"] == "Invalid openalgo apikey"
    no_id = httpx.post(
        f"{sim.rest_url}/api/v1/cancelorder", json={"apikey": sim.api_key, "strategy": "c"}
    )
    assert no_id.status_code == 400


def blocked(viewer: Viewer, what: str) -> p.Alarm:
    alarm: p.Alarm = viewer.until(
        lambda m: isinstance(m, p.Alarm) and m.code == "semi_auto_blocked" and what in m.message,
        15,
        f"the alarm on the {what}",
    )
    return alarm


def test_a_cancel_or_modify_refused_in_live_semi_auto_leaves_the_order_working_and_says_where(
    sim: SimHandle,
    engine: EngineProc,  # noqa: F811
) -> None:
    viewer, cid = place_pending(sim, engine)
    venue_id = approve(sim)
    viewer.until(
        lambda m: isinstance(m, p.OrderEvent) and m.order.venue_id == venue_id,
        15,
        "the approved order at the broker",
    )
    assert isinstance(viewer.command(p.CancelOrders(id=2, cid=cid)), p.Ack)
    loud = blocked(viewer, "cancel")
    assert loud.level == "error"
    assert loud.key == "NSE:SBIN"
    assert loud.message == (
        f"NSE:SBIN: OpenAlgo refuses an API cancel in its semi-auto mode: order {cid} "
        f"({venue_id}) still works at the broker; cancel it in OpenAlgo's order book, or "
        "switch OpenAlgo to auto mode"
    )
    assert isinstance(viewer.command(p.ModifyOrder(id=3, cid=cid, price=15898)), p.Ack)
    assert "modify it in OpenAlgo's order book" in blocked(viewer, "modify").message
    # The kill switch cancels one by one: each is refused the same way.
    viewer.msgs.clear()
    assert isinstance(viewer.command(p.KillSwitch(id=4)), p.Ack)
    assert cid in blocked(viewer, "cancel").message
    # Nothing was cancelled or changed: the engine and the broker both show it working.
    with engine.connect() as client:
        orders = client.snapshot(timeout=5).orders
    [mine] = [o for o in orders if o.cid == cid]
    assert (mine.status, mine.price) == ("open", 15900)
    assert sim_orders(sim, "SBIN") == [("BUY", 2, "open")]
