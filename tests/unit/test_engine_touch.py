"""Stop and market-if-touched entries in the engine: triggers on the right side of the market,
MIT entries held until touched then sent at market (gated again), the plan on the fill."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cockpit.domain.execution import PlaceOrder
from cockpit.domain.feed import FeedState, FeedStatus
from cockpit.link import protocol as p
from tests.unit.test_engine_core import SBIN, Rig

D = Decimal


@pytest.fixture
def rig() -> Rig:
    r = Rig()
    r.start()
    r.tick(SBIN, "800.00")
    return r


def entry(rig: Rig, **kw: object) -> p.Msg:
    return rig.command(p.PlaceEntry, key=SBIN.key, qty=D(10), **kw)


@pytest.mark.parametrize(
    ("side", "kind", "trigger", "price", "why"),
    [
        ("BUY", "SL-M", 15990, None, "a BUY stop triggers above"),
        ("BUY", "SL-M", 16000, None, "a BUY stop triggers above"),
        ("SELL", "SL-M", 16010, None, "a SELL stop triggers below"),
        ("BUY", "SL", 16010, 16005, "limit must be at or above its trigger"),
        ("BUY", "MIT", 16010, None, "a BUY MIT triggers below"),
        ("SELL", "MIT", 15990, None, "a SELL MIT triggers above"),
    ],
)
def test_a_trigger_on_the_wrong_side_of_the_market_is_refused(
    rig: Rig, side: str, kind: str, trigger: int, price: int | None, why: str
) -> None:
    before = len(rig.places())
    answer = entry(rig, side=side, order_type=kind, trigger=trigger, price=price)
    assert isinstance(answer, p.Refused)
    assert answer.rule == "trigger"
    assert why in answer.message
    assert len(rig.places()) == before


def test_a_buy_stop_goes_to_the_venue_as_sl_m_and_the_plan_attaches_on_its_fill(rig: Rig) -> None:
    answer = entry(
        rig, side="BUY", order_type="SL-M", trigger=16010, plan=p.PlanSpec(stop_ticks=10)
    )
    assert isinstance(answer, p.Ack), answer
    req = rig.places()[-1]
    assert (req.pricetype, req.trigger_price, req.action) == ("SL-M", D("800.50"), "BUY")
    venue_id = rig.accept(req)
    assert rig.engine.orders[req.cid].status == "trigger_pending"
    assert SBIN.key not in rig.engine.plans
    rig.tick(SBIN, "800.50")
    rig.fill(req, venue_id, "800.55")
    plan = rig.engine.plans[SBIN.key].plan
    assert (plan.entry_ticks, plan.stop) == (16011, 16001)


def test_an_mit_entry_is_held_then_sent_at_market_once_touched(rig: Rig) -> None:
    before = len(rig.places())
    answer = entry(rig, side="BUY", order_type="MIT", trigger=15990, plan=p.PlanSpec(stop_ticks=6))
    assert isinstance(answer, p.Ack), answer
    held = rig.pub.of(p.OrderEvent)[-1].order
    assert (held.cid, held.order_type, held.status, held.trigger) == (
        answer.cid,
        "MIT",
        "trigger_pending",
        15990,
    )
    assert [o.cid for o in rig.engine.snapshot().orders if o.order_type == "MIT"] == [answer.cid]
    rig.tick(SBIN, "799.55")
    assert len(rig.places()) == before  # not touched yet
    rig.tick(SBIN, "799.50")
    sent = rig.places()[before:]
    assert [(r.cid, r.pricetype, r.action, r.quantity) for r in sent] == [
        (answer.cid, "MARKET", "BUY", D(10))
    ]
    rig.tick(SBIN, "799.40")
    assert len(rig.places()) == before + 1  # once
    rig.fill(sent[0], rig.accept(sent[0]), "799.50")
    assert rig.engine.plans[SBIN.key].plan.stop == 15990 - 6


def test_a_held_mit_is_dropped_by_a_cancel_and_by_disarming_and_gated_when_touched(
    rig: Rig,
) -> None:
    first = entry(rig, side="SELL", order_type="MIT", trigger=16010)
    assert isinstance(first, p.Ack)
    answer = rig.command(p.CancelOrders, cid=first.cid)
    assert isinstance(answer, p.Ack), answer
    assert rig.pub.of(p.OrderEvent)[-1].order.status == "cancelled"
    second = entry(rig, side="SELL", order_type="MIT", trigger=16010)
    assert isinstance(second, p.Ack)
    rig.command(p.SetArmed, armed=False)
    assert rig.pub.of(p.OrderEvent)[-1].order.cid == second.cid
    assert rig.pub.of(p.OrderEvent)[-1].order.status == "cancelled"
    rig.tick(SBIN, "800.50")
    assert not [r for r in rig.places() if isinstance(r, PlaceOrder) and r.action == "SELL"]

    # Touched while the feed is down: not sent, said so.
    rig.command(p.SetArmed, armed=True)
    third = entry(rig, side="SELL", order_type="MIT", trigger=16020)
    assert isinstance(third, p.Ack)
    rig.engine.handle(FeedStatus("openalgo", FeedState.STALE, rig.clock.now))
    rig.tick(SBIN, "801.00")
    assert not [r for r in rig.places() if r.action == "SELL"]
    # (the feed left live, so its first price judges the level as after an outage)
    assert (
        "not sent: its level was reached while the feed was down" in rig.pub.of(p.Alarm)[-1].message
    )


@pytest.mark.parametrize("outage", ["reconnect", "silence"])
def test_a_held_mit_whose_level_passed_during_a_feed_outage_expires_instead_of_going_out_blind(
    rig: Rig, outage: str
) -> None:
    """The first price after a feed outage (a reconnect, or silence past the stale-data limit)
    that is already through the level came while nobody saw the market: the same rule as after
    an engine restart (``mit_passed``), not a market order."""
    answer = entry(rig, side="BUY", order_type="MIT", trigger=15990)
    assert isinstance(answer, p.Ack), answer
    before = len(rig.places())
    if outage == "reconnect":
        rig.engine.handle(FeedStatus("openalgo", FeedState.RECONNECTING, rig.clock.now))
        rig.clock.now += 2 * 10**9
        rig.engine.handle(FeedStatus("openalgo", FeedState.LIVE, rig.clock.now))
    else:
        rig.clock.now += 6 * 10**9  # past the 5 s stale-data limit, not a tick meanwhile
    rig.tick(SBIN, "799.00")  # through 799.50
    assert rig.places()[before:] == []
    alarm = rig.pub.of(p.Alarm)[-1]
    assert alarm.code == "mit_passed"
    assert answer.cid in alarm.message
    assert "feed" in alarm.message
    assert rig.pub.of(p.OrderEvent)[-1].order.status == "cancelled"


def test_a_held_mit_seen_above_its_level_after_an_outage_fires_on_its_next_touch(rig: Rig) -> None:
    answer = entry(rig, side="BUY", order_type="MIT", trigger=15990)
    assert isinstance(answer, p.Ack), answer
    before = len(rig.places())
    rig.engine.handle(FeedStatus("openalgo", FeedState.STALE, rig.clock.now))
    rig.engine.handle(FeedStatus("openalgo", FeedState.LIVE, rig.clock.now))
    rig.tick(SBIN, "799.80")  # the first fresh price is still above the level: seen
    rig.tick(SBIN, "799.50")
    assert [(r.cid, r.pricetype) for r in rig.places()[before:]] == [(answer.cid, "MARKET")]
