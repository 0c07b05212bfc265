"""An order withdrawn while it waited in OpenAlgo's Action Center that reaches the broker
anyway, already filled (approved, then filled before the cockpit heard of it): its fill moves
the position and the day's P&L (not a mismatch nobody explains), and the alarm says it filled
with no exit plan. One the broker reports cancelled or rejected is left alone."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cockpit.domain.execution import PENDING_APPROVAL, CancelOrder, RouterResult
from cockpit.domain.feed import OrderUpdate
from cockpit.link import protocol as p
from tests.unit.test_engine_core import SBIN, Rig


def withdrawn_entry(rig: Rig) -> str:
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(5))
    assert isinstance(answer, p.Ack), answer
    assert answer.cid is not None
    req = rig.places()[-1]
    rig.engine.handle(RouterResult(req, True, code=PENDING_APPROVAL, error="queued"))
    assert rig.pub.of(p.OrderEvent)[-1].order.status == "pending approval"
    withdrawn = rig.command(p.CancelOrders, cid=answer.cid)
    assert isinstance(withdrawn, p.Ack), withdrawn
    assert rig.engine.orders[answer.cid].status == "cancelled"
    return answer.cid


def update(rig: Rig, status: str, filled: int) -> OrderUpdate:
    rig.clock.now += 1_000_000
    return OrderUpdate(
        "9001",
        "NSE",
        "SBIN",
        "BUY",
        status,
        rig.clock.now,
        quantity=Decimal(5),
        filled_qty=Decimal(filled),
        pending_qty=Decimal(5 - filled),
        average_price=Decimal("800.10") if filled else Decimal(0),
        pricetype="MARKET",
    )


def test_a_withdrawn_order_found_filled_at_the_broker_counts_and_is_shouted() -> None:
    rig = Rig()
    rig.start()
    rig.tick(SBIN, "800.00")
    cid = withdrawn_entry(rig)
    rig.engine.handle(update(rig, "complete", 5))
    pos = rig.engine.portfolio.get(SBIN.key)
    assert pos is not None
    assert pos.qty == 5
    [alarm] = [a for a in rig.pub.of(p.Alarm) if a.code == "withdrawn_order_at_broker"]
    assert alarm.level == "error"
    assert cid in alarm.message
    assert "filled" in alarm.message
    assert "9001" in alarm.message
    assert not rig.router.of(CancelOrder)  # nothing left to cancel
    assert SBIN.key not in rig.engine.plans  # no bracket was asked of it


@pytest.mark.parametrize("status", ["cancelled", "rejected"])
def test_a_withdrawn_order_the_broker_ended_is_left_alone(status: str) -> None:
    rig = Rig()
    rig.start()
    rig.tick(SBIN, "800.00")
    withdrawn_entry(rig)
    rig.engine.handle(update(rig, status, 0))
    assert not [a for a in rig.pub.of(p.Alarm) if a.code == "withdrawn_order_at_broker"]
    pos = rig.engine.portfolio.get(SBIN.key)
    assert pos is None or pos.qty == 0


def test_another_order_of_the_same_shape_is_not_taken_for_a_withdrawn_one() -> None:
    """Another strategy's order at the account (another limit price, another product) or a
    withdrawal from an earlier day is not adopted, nor cancelled."""
    rig = Rig()
    rig.start()
    rig.tick(SBIN, "800.00")
    answer = rig.command(
        p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(5), order_type="LIMIT", price=15_990
    )
    assert isinstance(answer, p.Ack), answer
    req = rig.places()[-1]
    rig.engine.handle(RouterResult(req, True, code=PENDING_APPROVAL, error="queued"))
    assert isinstance(rig.command(p.CancelOrders, cid=answer.cid), p.Ack)

    def broker_order(orderid: str, price: str, product: str = "MIS") -> None:
        rig.clock.now += 1_000_000
        rig.engine.handle(
            OrderUpdate(
                orderid, "NSE", "SBIN", "BUY", "open", rig.clock.now, quantity=Decimal(5),
                pending_qty=Decimal(5), price=Decimal(price), pricetype="LIMIT", product=product,
            )
        )  # fmt: skip

    broker_order("7001", "799.00")  # another price
    broker_order("7002", "799.50", product="CNC")  # another product
    assert not [a for a in rig.pub.of(p.Alarm) if a.code == "withdrawn_order_at_broker"]
    assert not rig.router.of(CancelOrder)
    rig.clock.now += 86_400 * 10**9  # the next day: yesterday's withdrawal is not matched
    rig.tick(SBIN, "800.00")
    broker_order("7003", "799.50")
    assert not [a for a in rig.pub.of(p.Alarm) if a.code == "withdrawn_order_at_broker"]
    assert not rig.router.of(CancelOrder)
