"""An order withdrawn in the cockpit while it waited in OpenAlgo's Action Center, and approved
there afterwards anyway, reaches the broker. OpenAlgo's API cannot reject or delete an Action
Center order (those routes need the web session), so the cockpit takes it back when it shows up
at the broker: it adopts it under a new id, cancels it at once (the trader withdrew it), and
says so loudly — also after an engine restart between the withdrawal and the approval."""

from __future__ import annotations

import pytest

from cockpit.link import protocol as p
from cockpit.sim import SimHandle
from tests.integration.test_engine_crash import (  # noqa: F401  (fixture)
    EngineProc,
    Viewer,
    engine,
    sim_orders,
    wait,
)
from tests.integration.test_held_restart import journaled
from tests.integration.test_semi_auto_restart import approve, place_pending, sim  # noqa: F401  (fixture)


@pytest.mark.parametrize("restart", [False, True], ids=["running", "after-restart"])
def test_a_withdrawn_order_approved_later_is_cancelled_at_the_broker_and_shouted_about(
    sim: SimHandle,  # noqa: F811
    engine: EngineProc,  # noqa: F811
    restart: bool,
) -> None:
    viewer, cid = place_pending(sim, engine)
    withdrawn = viewer.command(p.CancelOrders(id=2, cid=cid))
    assert isinstance(withdrawn, p.Ack), withdrawn
    assert "withdrawn" in withdrawn.message
    wait(lambda: journaled(engine.journal, "order_approval_withdrawn"), 10, "journaled")
    if restart:
        viewer.client.close()
        engine.kill()
        engine.start()
        viewer = Viewer(engine.connect())

    venue_id = approve(sim)  # the trader approves it in the Action Center all the same

    wait(
        lambda: sim_orders(sim, "SBIN") == [("BUY", 2, "cancelled")],
        45,
        "the approved order cancelled at the broker",
    )
    loud = viewer.until(
        lambda m: isinstance(m, p.Alarm) and m.code == "withdrawn_order_at_broker",
        10,
        "the alarm",
    )
    assert loud.level == "error"
    assert cid in loud.message
    assert venue_id in loud.message
    adopted = viewer.until(
        lambda m: (
            isinstance(m, p.OrderEvent)
            and m.order.venue_id == venue_id
            and m.order.status == "cancelled"
        ),
        10,
        "the adopted order cancelled",
    ).order
    assert adopted.cid != cid
    # The withdrawn order itself stays withdrawn, and nothing is left open at the broker.
    with engine.connect() as client:
        orders = client.snapshot(timeout=5).orders
    assert [o.status for o in orders if o.cid == cid] == ["cancelled"]
    assert [o.status for o in orders if o.venue_id == venue_id] == ["cancelled"]
