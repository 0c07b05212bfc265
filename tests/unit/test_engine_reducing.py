"""Reducing orders (tag ``reduce``) in the engine with a recording router: one cancel and one
alarm while the venue has not answered, a held MIT against the position is a reducing order,
and a failed journal commit does not hold one back."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.domain.execution import CancelOrder, PlaceOrder
from cockpit.engine.core import Engine, EngineOptions, EngineTimer
from cockpit.journal.store import Journal
from cockpit.link import protocol as p
from tests.unit.test_engine_core import SBIN, Rig
from tests.unit.test_journal_writer import CommittedRouter, fail_inserts


@pytest.fixture
def rig() -> Rig:
    r = Rig()
    r.start()
    r.tick(SBIN, "800.00")
    return r


def reducing_limit(rig: Rig, qty: int) -> tuple[PlaceOrder, str]:
    """A sell limit above the market against the long: a reducing order, accepted."""
    answer = rig.command(
        p.PlaceEntry,
        key=SBIN.key,
        side="SELL",
        qty=Decimal(qty),
        order_type="LIMIT",
        price=18_000,
        plan=p.PlanSpec(none=True),
    )
    assert isinstance(answer, p.Ack), answer
    req = rig.places()[-1]
    assert rig.engine.orders[req.cid].tag == "reduce"
    rig.accept(req)
    return req, req.cid


def close_part(rig: Rig, percent: int) -> None:
    assert isinstance(rig.command(p.ClosePart, key=SBIN.key, percent=percent), p.Ack)
    req = rig.places()[-1]
    rig.fill(req, rig.accept(req), "800.00")


def cancels_of(rig: Rig, cid: str) -> list[CancelOrder]:
    return [r for r in rig.router.of(CancelOrder) if r.cid == cid]


def reduce_alarms(rig: Rig, cid: str) -> list[p.Alarm]:
    return [a for a in rig.pub.of(p.Alarm) if a.code == "reduce_cancelled" and cid in a.message]


def test_a_reducing_orders_cancel_in_flight_is_sent_and_alarmed_once(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(none=True))
    _req, cid = reducing_limit(rig, 8)
    close_part(rig, 50)  # 5 left: the 8 would sell more than the position
    assert len(cancels_of(rig, cid)) == 1
    assert len(reduce_alarms(rig, cid)) == 1
    close_part(rig, 50)  # 3 left, the venue has not answered the cancel yet
    assert rig.engine.portfolio.get(SBIN.key).qty == 3
    assert len(cancels_of(rig, cid)) == 1
    assert len(reduce_alarms(rig, cid)) == 1
    assert isinstance(rig.command(p.Flatten, key=SBIN.key), p.Ack)
    flat = rig.places()[-1]
    rig.fill(flat, rig.accept(flat), "800.00")  # flat, still no answer
    assert rig.engine.portfolio.get(SBIN.key).qty == 0
    assert len(reduce_alarms(rig, cid)) == 1
    assert len(cancels_of(rig, cid)) == 1  # the flatten did not cancel it again either


def test_a_reducing_order_whose_cancel_failed_is_cancelled_again_on_the_next_fill(
    rig: Rig,
) -> None:
    """A refused cancel is no longer in flight: the next fill that leaves too little for the
    order cancels it again (the order must not open the other side)."""
    from cockpit.domain.execution import RouterResult

    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(none=True))
    _req, cid = reducing_limit(rig, 8)
    close_part(rig, 50)
    cancel = cancels_of(rig, cid)[0]
    rig.engine.handle(RouterResult(cancel, False, "rejected", "cancel refused"))
    close_part(rig, 50)
    assert len(cancels_of(rig, cid)) == 2


def journaled_rig(tmp_path: Path, writer: bool) -> tuple[Rig, Journal]:
    rig = Rig()
    journal = Journal.open(tmp_path / "journal.sqlite3")
    rig.engine = Engine(
        config=rig.config,
        instruments=[SBIN],
        router=rig.router,
        journal=journal,
        publisher=rig.pub,
        options=EngineOptions(reconcile_interval_s=0, plan_event_interval_s=0),
        clock=rig.clock,
    )
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(none=True))
    journal.use_writer(writer)
    return rig, journal


@pytest.mark.parametrize("writer", [False, True], ids=["decision-thread", "writer-thread"])
def test_a_reducing_order_goes_even_when_its_own_commit_failed(
    tmp_path: Path, writer: bool
) -> None:
    """Full disk: a reducing order lowers risk, so it goes unjournaled as an exit does (an
    entry would be held back: see test_journal_writer)."""
    rig, journal = journaled_rig(tmp_path, writer)
    router = CommittedRouter(journal.path)
    rig.engine.router = router
    other = fail_inserts(journal, "orders")
    answer = rig.command(
        p.PlaceEntry,
        key=SBIN.key,
        side="SELL",
        qty=Decimal(4),
        order_type="LIMIT",
        price=18_000,
        plan=p.PlanSpec(none=True),
    )
    assert isinstance(answer, p.Ack), answer
    journal.flush()
    sent = router.of(PlaceOrder)
    assert [(r.action, r.quantity) for r in sent] == [("SELL", Decimal(4))]
    assert rig.engine.orders[sent[0].cid].tag == "reduce"
    assert rig.engine.counters["not_sent_journal"] == 0
    other.close()
    journal.close()


def sell_mit(rig: Rig, qty: int, level: int) -> str:
    answer = rig.command(
        p.PlaceEntry,
        key=SBIN.key,
        side="SELL",
        qty=Decimal(qty),
        order_type="MIT",
        trigger=level,
        plan=p.PlanSpec(none=True),
    )
    assert isinstance(answer, p.Ack), answer
    assert answer.cid
    return answer.cid


def sells_after(rig: Rig, n: int) -> list[PlaceOrder]:
    return [r for r in rig.places()[n:] if r.action == "SELL"]


def test_a_held_mit_against_the_position_is_a_reducing_order(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(none=True))
    sell_mit(rig, 10, 16_200)  # 810.00
    held = [e.order for e in rig.pub.of(p.OrderEvent) if e.order.order_type == "MIT"]
    assert held[-1].tag == "reduce"
    n = len(rig.places())
    rig.tick(SBIN, "810.00")
    sent = sells_after(rig, n)
    assert len(sent) == 1
    assert rig.engine.orders[sent[0].cid].tag == "reduce"
    assert sent[0].cid not in rig.engine._entry_specs  # no exit plan attaches to its fill


def test_a_reducing_mit_is_dropped_when_another_fill_takes_the_position_flat(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=100, target_ticks=None))
    cid = sell_mit(rig, 10, 16_200)
    rig.tick(SBIN, "794.00")  # through the 795.00 stop
    stop = rig.places()[-1]
    rig.fill(stop, rig.accept(stop), "794.00")
    assert rig.engine.portfolio.get(SBIN.key).qty == 0
    assert len(reduce_alarms(rig, cid)) == 1
    n = len(rig.places())
    rig.tick(SBIN, "810.00")  # would have sold 10 short
    assert sells_after(rig, n) == []


def test_a_reducing_mit_larger_than_what_is_left_is_dropped(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(none=True))
    cid = sell_mit(rig, 8, 16_200)
    close_part(rig, 50)  # 5 left
    assert len(reduce_alarms(rig, cid)) == 1
    n = len(rig.places())
    rig.tick(SBIN, "810.00")
    assert sells_after(rig, n) == []


def test_a_reducing_mit_touched_under_the_daily_loss_lock_still_goes() -> None:
    """The lock refuses entries; a reducing order lowers the risk, as an exit does."""
    rig = Rig(trading={"armed_at_start": True}, risk={"max_daily_loss": 100})
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(none=True))
    rig.tick(SBIN, "791.00")  # -90: not yet the limit
    sell_mit(rig, 5, 15_900)  # 795.00
    rig.tick(SBIN, "789.00")  # -110: the lock
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert rig.engine._daily_loss_locked
    n = len(rig.places())
    rig.tick(SBIN, "796.00")
    rig.tick(SBIN, "795.00")
    sent = sells_after(rig, n)
    assert [(r.quantity, r.pricetype) for r in sent] == [(Decimal(5), "MARKET")]


def test_a_held_reducing_mit_is_journaled_as_one() -> None:
    """After a restart it is held again as a reducing order (its tag is in ``mit_held``)."""
    from cockpit.engine.entries import held_from

    body = {"key": SBIN.key, "side": "SELL", "qty": "4", "level": 16_200, "created_ns": 1}
    assert held_from("c1", body).request.tag == "entry"  # journaled before the tag was
    assert held_from("c1", {**body, "tag": "reduce"}).request.tag == "reduce"


def test_a_reducing_order_being_cancelled_takes_no_room_from_the_next(rig: Rig) -> None:
    """Long 10 with reducing orders of 8 (older) and 2: a partial close to 5 cancels the 8.
    A buy brings the position to 9 before the venue answers the cancel: the 8 is going away,
    so the 2 still fits and must not be cancelled for it."""
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(none=True))
    _big, big = reducing_limit(rig, 8)
    _small, small = reducing_limit(rig, 2)
    close_part(rig, 50)  # 5 left: the 8 goes; the 2 fits
    assert len(cancels_of(rig, big)) == 1
    rig.enter(SBIN, "BUY", 4, "800.00", plan=p.PlanSpec(none=True))  # 9
    assert rig.engine.portfolio.get(SBIN.key).qty == 9
    assert cancels_of(rig, small) == []


def test_a_reducing_order_is_taken_while_the_journal_cannot_write(tmp_path: Path) -> None:
    """Entries are refused while the journal is down; an order that only reduces the position
    is not an entry: it goes, as a partial close would."""
    rig, journal = journaled_rig(tmp_path, False)
    rig.engine.journal_ok = False  # as after a failed write, until a probe goes through
    refused = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1))
    assert isinstance(refused, p.Refused)
    assert refused.rule == "journal"
    n = len(rig.places())
    reducing_limit(rig, 4)
    assert [(r.action, r.quantity) for r in rig.places()[n:]] == [("SELL", Decimal(4))]
    journal.close()


def test_a_reducing_order_is_taken_under_the_daily_loss_lock() -> None:
    rig = Rig(risk={"max_daily_loss": 100})
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(none=True))
    rig.tick(SBIN, "789.00")  # -110
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert rig.engine._status_view().lock == "daily_loss_limit"
    refused = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1))
    assert isinstance(refused, p.Refused)
    n = len(rig.places())
    reducing_limit(rig, 4)
    assert [(r.action, r.quantity) for r in rig.places()[n:]] == [("SELL", Decimal(4))]
