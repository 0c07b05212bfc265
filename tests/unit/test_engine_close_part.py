"""Partial close (issue 20 item 3): a share of the position at market, rounded down to the
lot, the plan shrinking with the fill; a part in flight is not closed twice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cockpit.domain.execution import CancelOrder, PlaceOrder
from cockpit.domain.feed import OrderUpdate
from cockpit.engine.core import EngineTimer
from cockpit.link import protocol as p
from tests.unit.test_engine_core import NIFTY, SBIN, Rig, plan_of


@pytest.fixture
def rig() -> Rig:
    r = Rig()
    r.start()
    r.tick(SBIN, "800.00")
    return r


def test_half_of_a_long_closes_at_market_and_the_plan_and_stop_shrink(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00")
    stop = plan_of(rig, SBIN.key).stop
    answer = rig.command(p.ClosePart, key=SBIN.key, percent=50)
    assert isinstance(answer, p.Ack), answer
    close = rig.places()[-1]
    assert (close.action, close.quantity, close.pricetype) == ("SELL", 5, "MARKET")
    rig.fill(close, rig.accept(close), "800.10")
    assert rig.engine.portfolio.get(SBIN.key).qty == 5
    plan = plan_of(rig, SBIN.key)
    assert plan.qty == 5
    assert plan.stop == stop


def test_a_quarter_rounds_down_to_the_lot_and_a_short_buys_back(rig: Rig) -> None:
    rig.tick(NIFTY, "22000.00")
    rig.enter(NIFTY, "SELL", 150, "22000.00")  # three lots of 50
    answer = rig.command(p.ClosePart, key=NIFTY.key, percent=25)  # 37.5 → under a lot
    assert isinstance(answer, p.Refused)
    assert answer.rule == "quantity"
    answer = rig.command(p.ClosePart, key=NIFTY.key, percent=50)  # 75 → one lot
    assert isinstance(answer, p.Ack)
    close = rig.places()[-1]
    assert (close.action, close.quantity) == ("BUY", 50)


def test_a_part_in_flight_is_not_closed_twice(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 8, "800.00")
    rig.command(p.ClosePart, key=SBIN.key, percent=50)
    first = rig.places()[-1]
    rig.accept(first)  # working, not filled yet
    rig.command(p.ClosePart, key=SBIN.key, percent=50)
    second = rig.places()[-1]
    assert second is not first
    assert (first.quantity, second.quantity) == (4, 2)  # half of what is not yet closing


def test_nothing_to_close_and_odd_shares_are_refused(rig: Rig) -> None:
    answer = rig.command(p.ClosePart, key=SBIN.key, percent=50)
    assert isinstance(answer, p.Refused)
    assert answer.rule == "no_position"
    rig.enter(SBIN, "BUY", 4, "800.00")
    for percent in (0, 100, 150):
        answer = rig.command(p.ClosePart, key=SBIN.key, percent=percent)
        assert isinstance(answer, p.Refused)
        assert answer.rule == "invalid"
    assert len(rig.router.of(PlaceOrder)) == 1


# -- flatten and the kill switch against a partial close still working (issue 20 loose end 5)


def _cancelled(rig: Rig, req: PlaceOrder, venue_id: str) -> None:
    rig.engine.handle(
        OrderUpdate(
            venue_id, req.exchange, req.symbol, req.action, "cancelled", rig.clock.now,
            quantity=req.quantity,
        )
    )  # fmt: skip


def _sold(rig: Rig, filled: list[PlaceOrder]) -> Decimal:
    return sum((r.quantity for r in filled if r.action == "SELL"), Decimal(0))


def _working(rig: Rig) -> list[str]:
    return [o.tag for o in rig.engine.working.values() if o.is_working]


def _working_partial(rig: Rig, qty: int) -> tuple[PlaceOrder, str]:
    rig.enter(SBIN, "BUY", qty, "800.00")
    assert isinstance(rig.command(p.ClosePart, key=SBIN.key, percent=50), p.Ack)
    part = rig.places()[-1]
    return part, rig.accept(part)


@pytest.mark.parametrize("part_ends", ["cancelled", "filled"])
def test_flatten_with_a_partial_working_sells_the_position_exactly_once(
    rig: Rig, part_ends: str
) -> None:
    part, part_id = _working_partial(rig, 10)
    before = len(rig.places())
    assert isinstance(rig.command(p.Flatten, key=SBIN.key), p.Ack)
    assert [c.cid for c in rig.router.of(CancelOrder)] == [part.cid]
    close = rig.places()[-1]
    assert len(rig.places()) == before + 1
    assert (close.action, close.quantity) == ("SELL", 5)  # the part's 5 are left to it
    filled = [close]
    if part_ends == "cancelled":
        _cancelled(rig, part, part_id)
    else:
        rig.fill(part, part_id, "800.00")  # the cancel came too late
        filled.append(part)
    rig.fill(close, rig.accept(close), "800.00")
    rig.engine.handle(EngineTimer(rig.clock.now))
    if part_ends == "cancelled":  # the rest goes now
        rest = rig.places()[-1]
        assert rest is not close
        assert (rest.action, rest.quantity) == ("SELL", 5)
        rig.fill(rest, rig.accept(rest), "800.00")
        filled.append(rest)
    rig.engine.handle(EngineTimer(rig.clock.now + 10 * 10**9))
    assert len(rig.places()) == before + len(filled) - (part_ends == "filled")
    assert _sold(rig, filled) == 10
    assert rig.engine.portfolio.get(SBIN.key).qty == 0
    assert _working(rig) == []


@pytest.mark.parametrize("part_ends", ["cancelled", "filled", "late"])
def test_the_kill_switch_with_a_partial_working_sells_once_and_leaves_nothing_working(
    rig: Rig, part_ends: str
) -> None:
    part, part_id = _working_partial(rig, 10)
    before = len(rig.places())
    assert isinstance(rig.command(p.KillSwitch), p.Ack)
    assert part.cid in [c.cid for c in rig.router.of(CancelOrder)]
    assert len(rig.places()) == before  # the flatten waits for the part's cancel
    filled: list[PlaceOrder] = []
    if part_ends == "cancelled":
        _cancelled(rig, part, part_id)
    elif part_ends == "filled":
        rig.fill(part, part_id, "800.00")
        filled.append(part)
    else:  # no answer within 2 s: the flatten goes for what the part does not cover
        rig.clock.now += 3 * 10**9
    rig.engine.handle(EngineTimer(rig.clock.now))
    close = rig.places()[-1]
    assert close is not part
    assert close.action == "SELL"
    assert close.quantity == (10 if part_ends == "cancelled" else 5)
    if part_ends == "late":
        _cancelled(rig, part, part_id)
    rig.fill(close, rig.accept(close), "800.00")
    filled.append(close)
    rig.engine.handle(EngineTimer(rig.clock.now))
    if part_ends == "late":  # the part was cancelled after all: its 5 go now
        rest = rig.places()[-1]
        assert (rest.action, rest.quantity) == ("SELL", 5)
        rig.fill(rest, rig.accept(rest), "800.00")
        filled.append(rest)
    rig.clock.now += 10 * 10**9
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert _sold(rig, filled) == 10
    assert rig.engine.portfolio.get(SBIN.key).qty == 0
    assert _working(rig) == []
    assert [r.action for r in rig.places()[before:]] == ["SELL"] * len(
        [r for r in filled if r is not part]
    )


def test_the_kill_switch_with_a_partial_not_yet_acknowledged_cancels_it_once_known(
    rig: Rig,
) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00")
    assert isinstance(rig.command(p.ClosePart, key=SBIN.key, percent=50), p.Ack)
    part = rig.places()[-1]
    before = len(rig.places())
    assert isinstance(rig.command(p.KillSwitch), p.Ack)
    assert len(rig.places()) == before  # the flatten waits for the part
    part_id = rig.accept(part)  # its id known: cancelled at once
    assert part.cid in [c.cid for c in rig.router.of(CancelOrder)]
    _cancelled(rig, part, part_id)
    rig.engine.handle(EngineTimer(rig.clock.now))
    close = rig.places()[-1]
    assert (close.action, close.quantity) == ("SELL", 10)
    rig.fill(close, rig.accept(close), "800.00")
    rig.clock.now += 10 * 10**9
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert len(rig.places()) == before + 1
    assert rig.engine.portfolio.get(SBIN.key).qty == 0
    assert _working(rig) == []
