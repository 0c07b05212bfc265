"""An order queued for approval in OpenAlgo's Action Center (semi-auto mode) is journaled as
such: after a SIGKILL the restarted engine still shows it pending approval (it is not taken
for a lost placement and rejected), and adopts it when the user approves it. The rig is the
crash test's, against a semi-auto paper exchange."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from cockpit.link import protocol as p
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from tests.integration.test_engine_crash import (  # noqa: F401  (fixture)
    EngineProc,
    Viewer,
    engine,
    wait,
)
from tests.integration.test_held_restart import journaled


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    handle = start_in_thread(SimConfig(seed=3, rate=20.0, paused=True, semi_auto=True))
    try:
        yield handle
    finally:
        handle.stop()


def approve(sim: SimHandle) -> str:
    body = httpx.post(f"{sim.rest_url}/sim/approve", json={"apikey": sim.api_key}).json()
    [venue_id] = body["orderids"]
    return str(venue_id)


def place_pending(sim: SimHandle, engine: EngineProc) -> tuple[Viewer, str]:  # noqa: F811
    """Start the engine and place a limit BUY that waits in the Action Center; the viewer
    and the order's cid."""
    engine.start()
    viewer = Viewer(engine.connect())
    viewer.price(sim, "800.00", 16000)
    answer = viewer.command(
        p.PlaceEntry(
            id=1, key="NSE:SBIN", side="BUY", qty=Decimal(2), order_type="LIMIT", price=15900
        )
    )
    assert isinstance(answer, p.Ack), answer
    assert answer.cid
    viewer.until(
        lambda m: isinstance(m, p.OrderEvent) and m.order.status == "pending approval",
        10,
        "the order pending approval",
    )
    return viewer, answer.cid


def place_pending_then_kill(sim: SimHandle, engine: EngineProc) -> str:  # noqa: F811
    viewer, cid = place_pending(sim, engine)
    wait(lambda: journaled(engine.journal, "order_pending_approval"), 10, "journaled")
    viewer.client.close()
    engine.kill()
    return cid


def test_an_order_approved_while_the_engine_was_down_is_adopted_on_restart(
    sim: SimHandle,
    engine: EngineProc,  # noqa: F811
) -> None:
    cid = place_pending_then_kill(sim, engine)
    venue_id = approve(sim)
    engine.start()

    def seen() -> list[tuple[str | None, str]]:
        with engine.connect() as client:  # a fresh snapshot each time
            orders = client.snapshot(timeout=5).orders
        return [(o.venue_id, o.status) for o in orders if o.cid == cid and o.venue_id]

    # Reconciliation at start finds it in the order book (maybe before a viewer attaches).
    assert wait(seen, 20, "the approved order adopted") == [(venue_id, "open")]


def test_an_order_pending_approval_stays_pending_across_sigkill_and_is_adopted(
    sim: SimHandle,
    engine: EngineProc,  # noqa: F811
) -> None:
    cid = place_pending_then_kill(sim, engine)
    engine.start()
    viewer = Viewer(engine.connect())
    assert [(o.cid, o.status) for o in viewer.snapshot.orders if o.cid == cid] == [
        (cid, "pending approval")
    ]
    viewer.price(sim, "800.05", 16001)
    time.sleep(2.5)  # past the wait for a lost placement and a reconciliation round
    viewer.pump()
    mine = [
        m.order.status for m in viewer.msgs if isinstance(m, p.OrderEvent) and m.order.cid == cid
    ]
    assert "rejected" not in mine
    venue_id = approve(sim)
    adopted = viewer.until(
        lambda m: (
            isinstance(m, p.OrderEvent) and m.order.cid == cid and m.order.venue_id == venue_id
        ),
        45,
        "the approved order adopted",
    ).order
    assert adopted.status == "open"


def reject(sim: SimHandle) -> int:
    """The user rejects every order waiting in the Action Center; how many."""
    body = httpx.post(f"{sim.rest_url}/sim/reject", json={"apikey": sim.api_key}).json()
    return int(body["rejected"])


def test_an_order_rejected_in_the_action_center_is_withdrawn_here_and_stays_gone(
    sim: SimHandle,
    engine: EngineProc,  # noqa: F811
) -> None:
    """The Action Center tells no API client of a rejection: the trader, having rejected it
    there, cancels it in the cockpit. It leaves pending approval at once (it never reaches
    the venue, so nothing waits for an acknowledgement), the viewer is answered, and a
    restarted engine does not hold it pending again."""
    cid = place_pending_then_kill(sim, engine)
    engine.start()
    viewer = Viewer(engine.connect())
    assert [o.status for o in viewer.snapshot.orders if o.cid == cid] == ["pending approval"]
    assert reject(sim) == 1
    answer = viewer.command(p.CancelOrders(id=2, cid=cid))
    assert isinstance(answer, p.Ack), answer
    assert "withdrawn" in answer.message
    gone = viewer.until(
        lambda m: (
            isinstance(m, p.OrderEvent) and m.order.cid == cid and m.order.status == "cancelled"
        ),
        10,
        "the order withdrawn",
    ).order
    assert "Action Center" in gone.reason
    viewer.client.close()

    engine.kill()
    engine.start()
    viewer = Viewer(engine.connect())
    mine = [o.status for o in viewer.snapshot.orders if o.cid == cid]
    assert mine == ["cancelled"]  # among the day's ended orders, not pending
    assert approve_none(sim)


def approve_none(sim: SimHandle) -> bool:
    """Nothing is left waiting in the Action Center."""
    body = httpx.post(f"{sim.rest_url}/sim/approve", json={"apikey": sim.api_key}).json()
    return body["orderids"] == []
