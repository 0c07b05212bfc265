"""Exits first (``cockpit/engine/exits_first.py``): in a batch off the inbound queue, a tick
that crosses a plan's line is handled, journaled and handed to the router before the other
market data of its run -- and a plan still sees every price of its symbol, in order; other
items (commands, order updates, the timer) are never passed; each plan exits exactly once."""

from __future__ import annotations

import dataclasses
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cockpit.domain.execution import PlaceOrder
from cockpit.domain.market import LtpTick
from cockpit.engine import exits_first
from cockpit.journal.store import Journal
from cockpit.link import protocol as p
from cockpit.link.bus import ViewerCommand
from tests.unit.test_engine_core import INFY, SBIN, Rig


def started(first: bool = True) -> Rig:
    r = Rig()
    r.engine.options = dataclasses.replace(r.engine.options, exits_first=first)
    r.start()
    r.tick(SBIN, "800.00")
    r.tick(INFY, "1500.00")
    return r


def ltp(r: Rig, inst: Any, price: str) -> LtpTick:
    r.clock.now += 1_000
    return LtpTick(r.clock.now, str(inst.exchange), inst.symbol, Decimal(price))


def spy(r: Rig) -> tuple[list[Any], dict[str, int]]:
    """The items the engine handles, in order, and how many it had handled when each exit
    (a SELL) reached the router."""
    handled: list[Any] = []
    at_submit: dict[str, int] = {}
    handle, submit = r.engine.handle, r.router.submit

    def noting_handle(item: Any) -> None:
        handled.append(item)
        handle(item)

    def noting_submit(request: Any) -> None:
        if isinstance(request, PlaceOrder) and request.action == "SELL":
            at_submit[request.symbol] = len(handled)
        submit(request)

    r.engine.handle = noting_handle  # type: ignore[method-assign]
    r.router.submit = noting_submit  # type: ignore[method-assign]
    return handled, at_submit


@pytest.mark.parametrize("lagging", [False, True])
def test_a_crossing_tick_exits_before_the_ticks_around_it_in_its_batch(lagging: bool) -> None:
    r = started()
    r.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=None))
    if lagging:  # a batch long enough to be folded (engine/fold.py) too
        r.engine.options = dataclasses.replace(r.engine.options, fold_over=5)
    batch = [ltp(r, INFY, str(Decimal("1500.05") + i * INFY.tick_size)) for i in range(20)]
    batch.insert(12, ltp(r, SBIN, "799.00"))  # through the stop 799.50
    handled, at_submit = spy(r)
    ticks = r.engine.counters["ticks"]
    r.engine.handle_items(batch)
    # Only the crossing tick was handled before its exit went to the router; then the rest.
    assert at_submit == {"SBIN": 1}
    assert handled[0] is batch[12]
    infy = [ev for ev in handled if ev.symbol == "INFY"]
    if lagging:  # INFY's ticks but the last were folded (counted, not handled in full)
        assert infy == [batch[-1]]
        assert r.engine.counters["folded"] == 19
    else:
        assert infy == batch[:12] + batch[13:]
    assert r.engine.counters["ticks"] == ticks + 21
    assert r.engine._syms[INFY.key].ltp == 30001 + 19  # every INFY tick handled, in order
    assert len(r.pub.of(p.ExitFired)) == 1


def test_without_exits_first_the_exit_waited_for_its_whole_batch() -> None:
    """The A of the A/B (``exits_first=False``): arrival order, one commit at the end."""
    r = started(first=False)
    r.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=None))
    batch = [ltp(r, INFY, str(Decimal("1500.05") + i * INFY.tick_size)) for i in range(20)]
    batch.insert(12, ltp(r, SBIN, "799.00"))
    handled, at_submit = spy(r)
    r.engine.handle_items(batch)
    assert handled == batch
    assert at_submit == {"SBIN": 21}


@pytest.mark.parametrize("first", [False, True])
def test_a_plan_sees_every_price_of_its_symbol_in_order_and_its_trail_ratchets_exactly(
    first: bool,
) -> None:
    """A trail ratchets on SBIN's first tick of the batch; a later tick crosses only the
    ratcheted stop and fires there (not at the initial stop that the last tick crosses too).
    Both ways the same decision, once."""
    r = started(first)
    spec = p.PlanSpec(stop_ticks=10, target_ticks=None, trail=p.TrailView("ticks", Decimal(10)))
    r.enter(SBIN, "BUY", 10, "800.00", plan=spec)
    assert r.engine.plans[SBIN.key].plan.stop == 16000 - 10
    batch = [
        ltp(r, INFY, "1500.05"),
        ltp(r, SBIN, "801.00"),  # the trail's best: the stop goes to 800.50
        ltp(r, INFY, "1500.10"),
        ltp(r, SBIN, "800.40"),  # through 800.50 only: the exit, at the trail
        ltp(r, INFY, "1500.15"),
        ltp(r, SBIN, "799.00"),  # through the initial 799.50 too (the scan sees this one)
        ltp(r, INFY, "1500.20"),
    ]
    handled, at_submit = spy(r)
    before = len(r.places())
    r.engine.handle_items(batch)
    sbin = [ev for ev in handled if ev.symbol == "SBIN"]
    assert sbin == [batch[1], batch[3], batch[5]]  # in order, none skipped
    [fired] = r.pub.of(p.ExitFired)
    assert fired.reason == "trailing_stop"
    assert fired.level == 16010
    assert fired.price == 16008
    exits = r.places()[before:]
    assert [e.action for e in exits] == ["SELL"]
    if first:  # SBIN's three ticks, then the commit and the exit, then INFY's
        assert at_submit == {"SBIN": 3}
        assert handled[3:] == [batch[0], batch[2], batch[4], batch[6]]


def test_a_command_before_the_crossing_tick_keeps_its_place() -> None:
    """The scan looks at the plan as it stands when the batch is taken; a command in the
    batch that moves the stop away is still handled before the tick after it."""
    r = started()
    r.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=None))
    move = ViewerCommand(7, p.MoveStop(id=99, key=SBIN.key, to=15960))  # 798.00
    batch = [ltp(r, INFY, "1500.05"), move, ltp(r, INFY, "1500.10"), ltp(r, SBIN, "799.00")]
    handled, _ = spy(r)
    r.engine.handle_items(batch)
    assert isinstance(r.pub.answer(99), p.Ack)
    assert handled.index(move) < handled.index(batch[3])
    assert r.pub.of(p.ExitFired) == []  # 799.00 is above the moved stop
    assert r.engine.plans[SBIN.key].plan.stop == 15960


def test_a_gap_through_many_plans_exits_each_once_crossings_first() -> None:
    """Both symbols cross; each exits once although later ticks cross again."""
    r = started()
    spec = p.PlanSpec(stop_ticks=10, target_ticks=None)
    r.enter(SBIN, "BUY", 10, "800.00", plan=spec)
    r.enter(INFY, "BUY", 5, "1500.00", plan=spec)
    batch = [
        ltp(r, INFY, "1500.05"),
        ltp(r, SBIN, "800.05"),
        ltp(r, SBIN, "799.00"),
        ltp(r, INFY, "1499.00"),
        ltp(r, SBIN, "798.00"),
        ltp(r, INFY, "1498.00"),
    ]
    handled, at_submit = spy(r)
    before = len(r.places())
    r.engine.handle_items(batch)
    assert sorted(e.symbol for e in r.places()[before:]) == ["INFY", "SBIN"]
    assert len(r.pub.of(p.ExitFired)) == 2
    assert at_submit == {"SBIN": 4, "INFY": 4}  # both in the first commit
    assert handled[4:] == [batch[4], batch[5]]


def test_crosses_reads_the_plan_without_changing_it() -> None:
    r = started()
    spec = p.PlanSpec(stop_ticks=10, target_ticks=20)
    r.enter(SBIN, "BUY", 10, "800.00", plan=spec)
    plan = r.engine.plans[SBIN.key].plan
    version = plan.version
    assert exits_first.crosses(plan, 15990, 0)  # the stop, touched
    assert not exits_first.crosses(plan, 15991, 0)
    assert exits_first.crosses(plan, 16020, 0)  # the target
    assert not exits_first.crosses(plan, 16019, 0)
    assert plan.version == version
    assert plan.last_ticks != 15990
    r.enter(INFY, "SELL", 5, "1500.00", plan=spec)  # a short: the lines the other way
    short = r.engine.plans[INFY.key].plan
    assert exits_first.crosses(short, 30010, 0)
    assert not exits_first.crosses(short, 30009, 0)
    assert exits_first.crosses(short, 29980, 0)


def test_with_the_journal_writer_the_exit_is_committed_and_sent_before_the_rest(
    tmp_path: Path,
) -> None:
    """The writer thread commits and hands the exit over; the decision thread waits for that
    before it handles the rest of the batch (else the writer, needing the GIL, would wait for
    the rest of the batch). Journal before send still holds: the exit's order is committed
    when the router gets it."""
    journal = Journal.open(tmp_path / "j.sqlite3")
    journal.use_writer(True)
    r = Rig(journal=journal)
    r.start()
    r.tick(SBIN, "800.00")
    r.tick(INFY, "1500.00")
    spec = p.PlanSpec(stop_ticks=10, target_ticks=None)
    r.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(10), plan=spec)
    journal.flush()  # the entry's request reaches the router after its commit
    entry = r.places()[-1]
    r.fill(entry, r.accept(entry), "800.00")
    journal.flush()
    assert SBIN.key in r.engine.plans
    batch = [ltp(r, INFY, str(Decimal("1500.05") + i * INFY.tick_size)) for i in range(200)]
    batch.insert(3, ltp(r, SBIN, "799.00"))  # through the stop 799.50
    handled, at_submit = spy(r)
    committed: list[bool] = []
    submit = r.router.submit

    def peeking(request: Any) -> None:
        if isinstance(request, PlaceOrder) and request.action == "SELL":
            with sqlite3.connect(tmp_path / "j.sqlite3") as conn:
                rows = conn.execute("SELECT tag FROM orders WHERE cid=?", (request.cid,))
                committed.append(rows.fetchall() == [("exit",)])
        submit(request)

    r.router.submit = peeking  # type: ignore[method-assign]
    r.engine.handle_items(batch)
    assert at_submit == {"SBIN": 1}
    assert committed == [True]
    assert len(handled) == 201
    journal.close()
