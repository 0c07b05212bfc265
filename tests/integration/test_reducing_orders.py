"""A manual order placed against the open position (reducing it) never opens the other side.

The engine against the paper exchange over real sockets: when the position goes flat by
another fill the reducing order is cancelled and the trader is told; after partial exits it
may not sell more than the position holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from engine_stack import Stack

from cockpit.link import protocol as p


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path).start()
    try:
        yield s
    finally:
        s.stop()


def long_sbin(stack: Stack, qty: int, plan: p.PlanSpec | None = None) -> None:
    stack.price("SBIN", "800.00")
    answer = stack.command(
        p.PlaceEntry,
        key="NSE:SBIN",
        side="BUY",
        qty=Decimal(qty),
        plan=plan or p.PlanSpec(none=True),
    )
    assert isinstance(answer, p.Ack), answer
    stack.wait_position("SBIN", qty)


def sell_limit(stack: Stack, qty: int, price_ticks: int) -> str:
    answer = stack.command(
        p.PlaceEntry,
        key="NSE:SBIN",
        side="SELL",
        qty=Decimal(qty),
        order_type="LIMIT",
        price=price_ticks,
        plan=p.PlanSpec(none=True),
    )
    assert isinstance(answer, p.Ack), answer
    assert answer.cid
    return answer.cid


def test_a_reducing_limit_is_cancelled_when_the_stop_closes_the_position(stack: Stack) -> None:
    long_sbin(stack, 10, p.PlanSpec(stop_ticks=100, target_ticks=400))
    stack.rec.wait(lambda: stack.plan("SBIN") is not None, what="the plan")
    cid = sell_limit(stack, 10, 18000)  # 900.00, above the market: rests
    stack.settle("SBIN", 2)
    stack.price("SBIN", "794.00")  # through the 795.00 stop
    stack.wait_position("SBIN", 0)
    rows = stack.settle("SBIN", 3)
    assert [r["order_status"] for r in rows].count("cancelled") == 1
    stack.rec.wait(
        lambda: any(cid in a.message and "cancelled" in a.message for a in stack.rec.of(p.Alarm)),
        what="an alarm that says the reducing order was cancelled",
    )
    stack.price("SBIN", "905.00")  # would have filled the limit and opened a short
    assert stack.sim_position("SBIN") == 0


def test_a_reducing_limit_larger_than_the_position_after_a_partial_close_is_cancelled(
    stack: Stack,
) -> None:
    long_sbin(stack, 10)
    cid = sell_limit(stack, 8, 18000)
    stack.settle("SBIN", 2)
    assert isinstance(stack.command(p.ClosePart, key="NSE:SBIN", percent=50), p.Ack)
    stack.wait_position("SBIN", 5)
    stack.rec.wait(
        lambda: any(cid in a.message and "cancelled" in a.message for a in stack.rec.of(p.Alarm)),
        what="an alarm that says the reducing order was cancelled",
    )
    stack.poll(
        lambda: [r["order_status"] for r in stack.sim_orders("SBIN")].count("cancelled") == 1,
        what="the reducing order cancelled at the sim",
    )
    stack.price("SBIN", "905.00")
    assert stack.sim_position("SBIN") == 5


def test_a_sell_limit_placed_while_flat_is_an_entry_and_stays(stack: Stack) -> None:
    stack.price("SBIN", "800.00")
    cid = sell_limit(stack, 3, 18000)  # a short entry above the market
    long_sbin(stack, 2, p.PlanSpec(stop_ticks=100, target_ticks=400))
    stack.rec.wait(lambda: stack.plan("SBIN") is not None, what="the plan")
    stack.price("SBIN", "794.00")  # the stop closes the long
    stack.wait_position("SBIN", 0)
    rows = stack.settle("SBIN", 3)
    assert [r["order_status"] for r in rows].count("open") == 1
    assert stack.engine.orders[cid].is_working


def test_a_reducing_order_cannot_be_modified_beyond_the_position(stack: Stack) -> None:
    long_sbin(stack, 4)
    cid = sell_limit(stack, 3, 18000)
    stack.settle("SBIN", 2)
    refused = stack.command(p.ModifyOrder, cid=cid, qty=Decimal(6))
    assert isinstance(refused, p.Refused), refused
    assert refused.rule == "quantity"
    assert isinstance(stack.command(p.ModifyOrder, cid=cid, qty=Decimal(4)), p.Ack)


def test_a_reducing_mit_is_dropped_when_the_stop_closes_the_position(stack: Stack) -> None:
    """A sell MIT held by the engine against the long is a reducing order: the stop takes the
    position flat, the MIT goes with an alarm, and its level reached later sells nothing."""
    long_sbin(stack, 10, p.PlanSpec(stop_ticks=100, target_ticks=400))
    stack.rec.wait(lambda: stack.plan("SBIN") is not None, what="the plan")
    answer = stack.command(
        p.PlaceEntry,
        key="NSE:SBIN",
        side="SELL",
        qty=Decimal(10),
        order_type="MIT",
        trigger=16_400,  # 820.00
        plan=p.PlanSpec(none=True),
    )
    assert isinstance(answer, p.Ack), answer
    assert "reduces the position" in answer.message
    cid = answer.cid
    assert cid
    stack.price("SBIN", "794.00")  # through the 795.00 stop
    stack.wait_position("SBIN", 0)
    stack.rec.wait(
        lambda: any(cid in a.message and "cancelled" in a.message for a in stack.rec.of(p.Alarm)),
        what="an alarm that says the reducing MIT was cancelled",
    )
    stack.price("SBIN", "821.00")  # through its level: it would have sold 10 short
    stack.settle("SBIN", 2)  # the entry and the stop's exit: nothing more
    assert stack.sim_position("SBIN") == 0
