"""A reducing order stays one across a SIGKILL: the restarted engine (a real process, the paper
exchange) still cancels it when a partial close leaves less than it would sell."""

from __future__ import annotations

from decimal import Decimal

from cockpit.link import protocol as p
from cockpit.sim import SimHandle
from tests.integration.test_engine_crash import (  # noqa: F401  (fixtures)
    EngineProc,
    Viewer,
    engine,
    sim,
    sim_orders,
    wait,
)

D = Decimal


def position_is(qty: int):  # noqa: ANN201
    return lambda m: (
        isinstance(m, p.PositionEvent) and m.position.key == "NSE:SBIN" and m.position.qty == qty
    )


def test_a_reducing_order_is_still_one_after_sigkill(
    sim: SimHandle,  # noqa: F811
    engine: EngineProc,  # noqa: F811
) -> None:
    engine.start()
    viewer = Viewer(engine.connect())
    viewer.price(sim, "800.00", 16000)
    entry = viewer.command(
        p.PlaceEntry(id=1, key="NSE:SBIN", side="BUY", qty=D(4), plan=p.PlanSpec(none=True))
    )
    assert isinstance(entry, p.Ack), entry
    viewer.until(position_is(4), 15, "long 4")
    sell = viewer.command(
        p.PlaceEntry(
            id=1,
            key="NSE:SBIN",
            side="SELL",
            qty=D(4),
            order_type="LIMIT",
            price=18000,
            plan=p.PlanSpec(none=True),
        )
    )
    assert isinstance(sell, p.Ack), sell
    wait(lambda: len(sim_orders(sim, "SBIN")) == 2, 10, "the limit at the sim")
    viewer.client.close()

    engine.kill()
    engine.start()
    viewer = Viewer(engine.connect())
    tags = {o.cid: o.tag for o in viewer.snapshot.orders}
    assert tags.get(sell.cid) == "reduce"
    viewer.price(sim, "800.00", 16000)
    closed = viewer.command(p.ClosePart(id=1, key="NSE:SBIN", percent=50))
    assert isinstance(closed, p.Ack), closed
    viewer.until(
        lambda m: isinstance(m, p.Alarm) and sell.cid in m.message and "cancelled" in m.message,
        15,
        "the reducing order cancelled",
    )
    wait(
        lambda: ("SELL", 4, "cancelled") in sim_orders(sim, "SBIN"),
        10,
        "the limit cancelled at the sim",
    )
