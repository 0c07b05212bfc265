"""The exit path: one journal commit (the plan fired, the exit order), then the order's request.

A fired plan's state and its exit order are committed to SQLite before the router gets the
request, so an engine that dies at any point either never sent the exit (and the restored
plan sends it) or has it in the journal as sent (and reconciliation finds it at the broker):
never lost, never sent twice. Feed threads only put events on the engine's queue; the
decision thread alone handles them, in order. A journal that cannot write never holds an exit
back: the failure is alarmed and entries are refused until a write goes through again.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cockpit.daemon.external import UpstreamTee
from cockpit.daemon.runner import external_sink
from cockpit.domain.execution import PlaceOrder, QueryBook, RouterResult
from cockpit.domain.feed import FeedState, FeedStatus, OrderUpdate
from cockpit.domain.market import LtpTick
from cockpit.engine.core import EngineTimer
from cockpit.journal.store import Journal
from cockpit.link import protocol as p
from cockpit.link.bus import ViewerCommand
from tests.unit.test_engine_core import INFY, SBIN, Rig


class PeekingRouter:
    """Records, for every request, what the database held right then (committed rows)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[Any] = []
        self.seen: dict[int, tuple[list[tuple[str, str, int]], list[str]]] = {}
        self.threads: set[str] = set()

    def drop_queued_entries(self) -> int:
        return 0  # nothing waits here: every request is "sent" as it is submitted

    def submit(self, request: Any) -> None:
        self.threads.add(threading.current_thread().name)
        conn = sqlite3.connect(self.path)
        try:
            orders = conn.execute("SELECT cid, tag, open FROM orders").fetchall()
            changes = [r[0] for r in conn.execute("SELECT change FROM plan_events ORDER BY id")]
        finally:
            conn.close()
        self.seen[id(request)] = (orders, changes)
        self.requests.append(request)

    def of(self, kind: type) -> list[Any]:
        return [r for r in self.requests if isinstance(r, kind)]

    def exits(self) -> list[PlaceOrder]:
        return [r for r in self.of(PlaceOrder) if r.action == "SELL"]


def _peeking_rig(tmp_path: Path) -> tuple[Rig, PeekingRouter, Journal]:
    """A started rig with a journal and a :class:`PeekingRouter`, SBIN at 800.00."""
    path = tmp_path / "j.sqlite3"
    journal = Journal.open(path)
    rig = Rig(journal=journal)
    router = PeekingRouter(path)
    rig.router = router  # type: ignore[assignment]
    rig.engine.router = router
    rig.start()
    rig.tick(SBIN, "800.00")
    return rig, router, journal


def test_the_exit_is_committed_before_the_router_gets_it(tmp_path: Path) -> None:
    rig, router, journal = _peeking_rig(tmp_path)
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=None))
    rig.tick(SBIN, "799.00")  # through the stop 799.50
    exits = router.exits()
    assert len(exits) == 1
    exit_req = exits[0]
    assert exit_req.urgent
    orders, changes = router.seen[id(exit_req)]
    # When the router got it, the order and the plan's fired state were committed.
    assert (exit_req.cid, "exit", 1) in orders
    assert changes[-1].startswith("fired: stop")
    # More ticks through the stop send nothing more.
    rig.tick(SBIN, "798.00")
    assert router.exits() == [exit_req]
    journal.close()


@pytest.mark.parametrize("lagging", [False, True])
def test_an_exit_decided_in_a_batch_goes_out_before_the_rest_of_the_batch(
    tmp_path: Path, lagging: bool
) -> None:
    """What arrived together is handled in order, but an exit does not wait for the items
    after it that are not market data (here the timer; an answer or a fill alike): it is
    committed and handed over first. Consecutive crossing ticks still share a commit."""
    rig, router, journal = _peeking_rig(tmp_path)
    rig.tick(INFY, "1500.00")
    spec = p.PlanSpec(stop_ticks=10, target_ticks=None)
    rig.enter(SBIN, "BUY", 10, "800.00", plan=spec)
    rig.enter(INFY, "BUY", 5, "1500.00", plan=spec)
    engine = rig.engine
    handled: list[object] = []
    handle = engine.handle

    def spy(item: object) -> None:  # the real handler runs; the spy notes the order
        handled.append(item)
        handle(item)

    engine.handle = spy  # type: ignore[method-assign]
    at_submit: dict[str, int] = {}
    submit = router.submit

    def noting(request: Any) -> None:
        if isinstance(request, PlaceOrder) and request.action == "SELL":
            at_submit[request.symbol] = len(handled)
        submit(request)

    router.submit = noting  # type: ignore[method-assign]
    now = rig.clock.now + 1
    if lagging:  # a batch long enough to be folded (engine/fold.py) keeps the same order
        engine.options = dataclasses.replace(engine.options, fold_over=2)
    engine.handle_items(
        [
            LtpTick(now, "NSE", "SBIN", Decimal("799.00")),  # through 799.50
            EngineTimer(now),
            LtpTick(now, "NSE", "INFY", Decimal("1499.00")),  # through 1499.50
        ]
    )
    exits = router.exits()
    assert [r.symbol for r in exits] == ["SBIN", "INFY"]
    # SBIN's exit went out after its tick, before the timer; INFY's after the last item.
    assert at_submit == {"SBIN": 1, "INFY": 3}
    for exit_req in exits:
        orders, changes = router.seen[id(exit_req)]
        assert (exit_req.cid, "exit", 1) in orders  # committed before it was handed over
    journal.close()


def test_a_journal_that_cannot_write_still_exits_then_refuses_entries_until_it_can(
    tmp_path: Path,
) -> None:
    rig, router, journal = _peeking_rig(tmp_path)
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=None))
    # The disk is gone from under the journal: every write now fails (as on a full disk).
    journal._conn.close()
    rig.tick(SBIN, "799.00")  # through the stop
    assert len(router.exits()) == 1  # the exit still went out
    alarms = [a for a in rig.pub.of(p.Alarm) if a.code == "journal"]
    assert alarms
    assert "exits still go" in alarms[0].message
    assert rig.engine.counters["journal_errors"] >= 1
    rig.tick(INFY, "1500.00")  # a price: the journal is the only reason left to refuse
    answer = rig.command(p.PlaceEntry, key=INFY.key, side="BUY", qty=Decimal(1))
    assert isinstance(answer, p.Refused)
    assert answer.rule == "journal"
    # The timer tries a write now and then; once one goes through, entries are allowed again.
    journal._conn = sqlite3.connect(journal.path, isolation_level=None, check_same_thread=False)
    rig.clock.now += 2 * 10**9
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert rig.engine.journal_ok
    assert [a for a in rig.pub.of(p.Alarm) if a.code == "journal_ok"]
    rig.tick(INFY, "1500.00")
    answer = rig.command(p.PlaceEntry, key=INFY.key, side="BUY", qty=Decimal(1))
    assert isinstance(answer, p.Ack), answer
    journal.close()


class LiveRig:
    """An engine whose run loop is live in a thread; feed events are put on its queue."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal = Journal.open(path, checkpoint_interval_s=None)
        self.rig = Rig(journal=self.journal)
        self.router = PeekingRouter(path)
        self.rig.router = self.router  # type: ignore[assignment]
        self.rig.engine.router = self.router
        self.engine = self.rig.engine
        self.put = self.engine.inbound.put
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self.engine.run, args=(self.stop,), name="decision", daemon=True
        )

    def __enter__(self) -> LiveRig:
        self.thread.start()
        wait_for(lambda: len(self.router.of(QueryBook)) == 2, "the start-up reconciliation")
        for req in self.router.of(QueryBook):
            data: list[Any] = []
            self.put(RouterResult(req, True, data=data))
        wait_for(lambda: self.engine.reconciled, "reconciled")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.journal.close()

    def committed(self, sql: str) -> list[Any]:
        conn = sqlite3.connect(self.path)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def open_long(self, inst: Any, price: str, venue_id: str, cmd_id: int) -> None:
        """A 1-lot long in ``inst`` at ``price`` with a stop 10 ticks under it."""
        self.put(LtpTick(time.time_ns(), str(inst.exchange), inst.symbol, Decimal(price)))
        cmd = p.PlaceEntry(
            id=cmd_id, key=inst.key, side="BUY", qty=Decimal(1),
            plan=p.PlanSpec(stop_ticks=10, target_ticks=None),
        )  # fmt: skip
        before = len(self.router.of(PlaceOrder))
        self.put(ViewerCommand(7, cmd))
        wait_for(lambda: len(self.router.of(PlaceOrder)) > before, "the entry order")
        entry = self.router.of(PlaceOrder)[-1]
        self.put(RouterResult(entry, True, venue_id=venue_id))
        self.put(
            OrderUpdate(
                venue_id, str(inst.exchange), inst.symbol, "BUY", "complete", time.time_ns(),
                quantity=Decimal(1), filled_qty=Decimal(1), average_price=Decimal(price),
            )
        )  # fmt: skip
        wait_for(lambda: inst.key in self.engine.plans, f"the {inst.symbol} plan")


def wait_for(pred: Any, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)


def test_feed_events_are_handled_on_the_decision_thread_journaled_before_sent(
    tmp_path: Path,
) -> None:
    with LiveRig(tmp_path / "j.sqlite3") as live:
        engine, router = live.engine, live.router
        fed: list[Any] = []

        def feed() -> None:  # a feed thread: it only puts decoded events on the queue
            live.put(FeedStatus("openalgo", FeedState.LIVE, time.time_ns()))
            fed.append(True)

        t = threading.Thread(target=feed, name="feed")
        t.start()
        t.join()
        live.open_long(SBIN, "800.00", "v1", 1)
        entry = router.of(PlaceOrder)[0]
        orders, _changes = router.seen[id(entry)]
        assert (entry.cid, "entry", 1) in orders  # committed before the request went out
        wait_for(lambda: live.committed("SELECT cid FROM fills"), "the fill committed")
        threading.Thread(
            target=live.put, args=(LtpTick(time.time_ns(), "NSE", "SBIN", Decimal("799.00")),)
        ).start()
        wait_for(lambda: router.exits(), "the exit")
        exit_req = router.exits()[0]
        orders, changes = router.seen[id(exit_req)]
        assert (exit_req.cid, "exit", 1) in orders
        assert changes[-1].startswith("fired: stop")
        # Every request was handed over by the decision thread, never by a feed thread.
        assert router.threads == {"decision"}
        assert engine.counters["errors"] == 0


def test_stops_crossed_by_one_batch_each_send_exactly_one_exit(tmp_path: Path) -> None:
    """A market-wide drop: every crossed plan exits once, in the order of the ticks."""
    with LiveRig(tmp_path / "j.sqlite3") as live:
        engine, router = live.engine, live.router
        live.put(FeedStatus("openalgo", FeedState.LIVE, time.time_ns()))
        live.open_long(SBIN, "800.00", "v1", 1)
        live.open_long(INFY, "1500.00", "v2", 2)
        now = time.time_ns()
        for _ in range(3):  # the drop, and the ticks after it
            live.put(LtpTick(now, "NSE", "SBIN", Decimal("799.00")))  # through 799.50
            live.put(LtpTick(now, "NSE", "INFY", Decimal("1499.00")))  # through 1499.50
        wait_for(lambda: len(router.exits()) == 2, "both exits")
        time.sleep(0.05)
        exits = router.exits()
        assert [r.symbol for r in exits] == ["SBIN", "INFY"]
        assert {k: engine.plans[k].exit_cid for k in (SBIN.key, INFY.key)} == {
            SBIN.key: exits[0].cid,
            INFY.key: exits[1].cid,
        }
        assert engine.counters["exits"] == 2
        assert engine.counters["errors"] == 0


def test_an_external_feeds_sink_tees_market_events_and_drops_its_order_updates() -> None:
    """Kite / Binance / replay: their events reach the engine's queue through the tee."""
    got: list[object] = []
    tee = UpstreamTee(1, "k", [])  # never started: what it queued stays in its buffer
    sink = external_sink(got.append, tee)
    now = time.time_ns()
    tick = LtpTick(now, "NSE", "INFY", Decimal("1501.00"))
    update = OrderUpdate("kite-postback", "NSE", "INFY", "BUY", "complete", now)
    sink(tick)
    sink(update)
    assert got == [tick]  # the feed's own order update is not a paper order
    assert tee.stats()["pending"] == 1  # the tick queued for the paper exchange
