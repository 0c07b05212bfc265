"""Partial close (issue 20 item 3): a share of the position at market, rounded down to the
lot, the plan shrinking with the fill; a part in flight is not closed twice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cockpit.domain.execution import PlaceOrder
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


def test_a_read_only_viewer_cannot_close_part(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 4, "800.00")
    answer = rig.command(p.ClosePart, read_only=True, key=SBIN.key, percent=50)
    assert isinstance(answer, p.Refused)
    assert rig.engine.portfolio.get(SBIN.key).qty == Decimal(4)
