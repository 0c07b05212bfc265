"""The exit path: intent-log line, then the order's bytes, then one journal commit.

A fired plan writes its exit order to the intent log (one line), sends it on the deciding
thread (``router.send_urgent``), and only then commits the plan's fired state and the order
to SQLite. An engine that dies between the send and the commit is recovered from the intent
log: the order as sent and the plan as fired, so no second exit goes out.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec

from cockpit.adapters.openalgo.broker import PlaceOrder, QueryBook, RouterResult
from cockpit.daemon.external import UpstreamTee
from cockpit.daemon.runner import external_sink
from cockpit.domain.feed import FeedState, FeedStatus, OrderUpdate
from cockpit.domain.market import LtpTick
from cockpit.journal.store import _INTENT_ROLL_BYTES, Journal
from cockpit.link import protocol as p
from cockpit.link.bus import ViewerCommand
from tests.unit.test_engine_core import INFY, SBIN, Rig

ROOT = Path(__file__).resolve().parents[2]


class PeekingRouter:
    """Records, for every request, the intent log and the database as they are right then."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[Any] = []
        self.urgent: list[Any] = []
        self.seen: dict[
            int, tuple[list[dict[str, Any]], list[tuple[str, str, int]], list[str]]
        ] = {}

    def _peek(self, request: Any) -> None:
        intents_file = self.path.with_name(self.path.name + ".intents")
        data = intents_file.read_bytes() if intents_file.exists() else b""
        lines = data.split(b"\0", 1)[0].splitlines()  # the unwritten rest is zeros
        intents = [msgspec.json.decode(line) for line in lines]
        conn = sqlite3.connect(self.path)
        try:
            orders = conn.execute("SELECT cid, tag, open FROM orders").fetchall()
            changes = [r[0] for r in conn.execute("SELECT change FROM plan_events ORDER BY id")]
        finally:
            conn.close()
        self.seen[id(request)] = (intents, orders, changes)

    def submit(self, request: Any) -> None:
        self.requests.append(request)
        self._peek(request)

    def send_urgent(self, request: Any) -> bool:
        self.urgent.append(request)
        self.submit(request)
        return True

    def of(self, kind: type) -> list[Any]:
        return [r for r in self.requests if isinstance(r, kind)]


def _peeking_rig(tmp_path: Path) -> tuple[Rig, PeekingRouter, Journal, Path]:
    """A started rig with a journal and a :class:`PeekingRouter`, SBIN at 800.00."""
    path = tmp_path / "j.sqlite3"
    journal = Journal.open(path)
    rig = Rig(journal=journal)
    router = PeekingRouter(path)
    rig.router = router  # type: ignore[assignment]
    rig.engine.router = router
    rig.start()
    rig.tick(SBIN, "800.00")
    return rig, router, journal, path


def test_exit_is_in_the_intent_log_when_sent_and_committed_right_after(tmp_path: Path) -> None:
    rig, router, journal, path = _peeking_rig(tmp_path)
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=None))
    rig.tick(SBIN, "799.00")  # through the stop 799.50
    exits = [r for r in router.of(PlaceOrder) if r.action == "SELL"]
    assert len(exits) == 1
    exit_req = exits[0]
    # Written by the deciding thread itself, not queued behind it.
    assert router.urgent == [exit_req]
    intents, orders, _changes = router.seen[id(exit_req)]
    # When its bytes left: its intent line was written (the order and the plan's decision)...
    assert [(i["cid"], i["key"], i["side"], i["qty"], i["tag"]) for i in intents] == [
        (exit_req.cid, SBIN.key, "SELL", "10", "exit")
    ]
    assert intents[0]["decision"]["reason"] == "stop"
    assert intents[0]["decision"]["level_ticks"] == 15990
    # ...and its transaction had not been committed yet.
    assert exit_req.cid not in [cid for cid, _tag, _open in orders]
    # Committed right after, in the same handling of the tick.
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT tag, open FROM orders WHERE cid=?", (exit_req.cid,)).fetchall()
        last_change = conn.execute(
            "SELECT change FROM plan_events ORDER BY id DESC LIMIT 1"
        ).fetchone()[0]
    finally:
        conn.close()
    assert rows == [("exit", 1)]
    assert last_change.startswith("fired: stop")
    # More ticks through the stop send nothing more.
    rig.tick(SBIN, "798.00")
    assert [r for r in router.of(PlaceOrder) if r.action == "SELL"] == [exit_req]
    journal.close()


def test_the_exit_made_ready_follows_adds_and_the_product(tmp_path: Path) -> None:
    """The plan's exit is built when the plan attaches and rebuilt as the position grows."""
    rig, router, journal, _path = _peeking_rig(tmp_path)
    plan = p.PlanSpec(stop_ticks=10, target_ticks=None)
    rig.enter(SBIN, "BUY", 2, "800.00", plan=plan, product="CNC")
    rig.enter(SBIN, "BUY", 1, "800.00", plan=plan, product="CNC")
    prep = rig.engine.plans[SBIN.key].exit_prep  # rebuilt for the add, before any crossing
    assert prep is not None
    assert (prep.qty, prep.place.product) == (3, "CNC")
    rig.tick(SBIN, "799.00")  # through the stop 799.50
    assert [(r.action, r.quantity, r.product, r.pricetype) for r in router.urgent] == [
        ("SELL", 3, "CNC", "MARKET")
    ]
    exit_req = router.urgent[0]
    assert exit_req.cid not in {r.cid for r in router.requests[:-1]}  # a cid of its own
    assert [o.qty for o in rig.engine.snapshot().orders if o.cid == exit_req.cid] == [3]
    journal.close()


_CRASH_AFTER_SEND = """
import os, sys
sys.path.insert(0, sys.argv[2])
from cockpit.link import protocol as p
from cockpit.journal.store import Journal
from tests.unit.test_engine_core import SBIN, Rig

journal = Journal.open(sys.argv[1], checkpoint_interval_s=None)
rig = Rig(journal=journal)
rig.start()
rig.tick(SBIN, "800.00")
rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=None))

def send_urgent(request):
    print(request.cid, flush=True)
    os._exit(9)  # the engine dies as the exit's bytes leave, before its commit

rig.router.send_urgent = send_urgent
rig.tick(SBIN, "799.00")
"""


def test_a_crash_between_send_and_commit_is_recovered_from_the_intent_log(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite3"
    done = subprocess.run(
        [sys.executable, "-c", _CRASH_AFTER_SEND, str(path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 9, done.stderr
    cid = done.stdout.strip()
    assert cid
    # The transaction never happened: the database alone does not know the exit.
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT 1 FROM orders WHERE cid=?", (cid,)).fetchone() is None
    finally:
        conn.close()

    journal = Journal.open(path)
    assert journal.intents_recovered == 1
    recovery = journal.recover()
    exit_orders = [o for o in recovery.open_orders if o.cid == cid]
    assert [(o.tag, o.side, o.status, str(o.qty)) for o in exit_orders] == [
        ("exit", "SELL", "pending_new", "10")
    ]
    assert recovery.plans[SBIN.key]["decision"]["reason"] == "stop"
    # The intent log was emptied once its content was in the database.
    assert journal.intent_path.read_bytes().strip(b"\0") == b""

    # A new engine restores the plan as fired, bound to that order: no second exit.
    rig = Rig(journal=journal)
    rig.start(positions=[], orders=[])
    slot = rig.engine.plans[SBIN.key]
    assert slot.plan.fired
    assert rig.engine._closers[SBIN.key].cid == cid
    rig.tick(SBIN, "798.00")
    assert [r for r in rig.router.of(PlaceOrder) if r.action == "SELL"] == []
    journal.close()


def test_a_torn_intent_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    Journal.open(path).close()
    path.with_name(path.name + ".intents").write_bytes(b'{"cid":"c1","key":"NSE:SB')
    journal = Journal.open(path)
    assert journal.intents_recovered == 0
    assert journal.recover().open_orders == []
    journal.close()


def _exit_order(n: int) -> SimpleNamespace:
    """What the journal reads of an exit order (a domain ``Order`` has more)."""
    return SimpleNamespace(
        cid=f"c{n}", key=SBIN.key, side="SELL", type="MARKET", qty=Decimal(1),
        product="MIS", price_ticks=None, trigger_ticks=None, tag="exit", created_ns=n,
    )  # fmt: skip


def _intent_cids(path: Path) -> list[str]:
    data = path.read_bytes().split(b"\0", 1)[0]
    return [msgspec.json.decode(line)["cid"] for line in data.splitlines()]


def test_the_intent_log_starts_again_only_once_every_intent_is_committed(
    tmp_path: Path,
) -> None:
    """An intent written after the batch that settles the others was closed (its order not
    yet committed) stays in the log when the log starts again from the top."""
    journal = Journal.open(tmp_path / "j.sqlite3", checkpoint_interval_s=None)

    def intent(n: int) -> None:
        journal.exit_intent(_exit_order(n), {"reason": "stop"})

    n = 2000
    for i in range(n):
        intent(i)  # more than the log holds before it starts again (_INTENT_ROLL_BYTES)
    assert len(journal.intent_path.read_bytes().split(b"\0", 1)[0]) > _INTENT_ROLL_BYTES
    intent(n)  # written after the batch that settles the first n was closed
    journal.intents_settled(n)  # the first n are committed, the last is not: it must stay
    assert _intent_cids(journal.intent_path)[-1] == f"c{n}"
    assert len(_intent_cids(journal.intent_path)) == n + 1
    journal.intents_settled(n + 1)  # every one committed: the log starts again
    assert _intent_cids(journal.intent_path) == []
    intent(n + 1)
    assert _intent_cids(journal.intent_path) == [f"c{n + 1}"]
    journal.close()


def test_unsettled_intents_past_the_mapped_size_grow_the_log(tmp_path: Path) -> None:
    """Commits failing for long: every intent is kept, none written over."""
    path = tmp_path / "j.sqlite3"
    journal = Journal.open(path, checkpoint_interval_s=None)
    n = 6000  # about 1.3 MB of lines: past the 1 MB mapped at open
    for i in range(n):
        journal.exit_intent(_exit_order(i), {"reason": "stop"})
    assert journal.intent_path.stat().st_size > 1024 * 1024
    assert _intent_cids(journal.intent_path) == [f"c{i}" for i in range(n)]
    journal.close()


class LiveRig:
    """An engine whose run loop is live in a thread: feed events come through deliver()."""

    def __init__(self, path: Path) -> None:

        self.journal = Journal.open(path, checkpoint_interval_s=None)
        self.rig = Rig(journal=self.journal)
        self.router = PeekingRouter(path)
        self.rig.router = self.router  # type: ignore[assignment]
        self.rig.engine.router = self.router
        self.engine = self.rig.engine
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.engine.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> LiveRig:

        self.thread.start()
        wait_for(lambda: len(self.router.of(QueryBook)) == 2, "the start-up reconciliation")
        for req in self.router.of(QueryBook):
            data = {"orders": []} if req.book == "orderbook" else []
            self.engine.inbound.put(RouterResult(req, True, data=data))
        wait_for(lambda: self.engine.reconciled, "reconciled")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.journal.close()


def wait_for(pred: Any, what: str, timeout: float = 5.0) -> None:

    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)


def test_with_the_loop_live_writes_are_committed_before_the_requests_they_hold(
    tmp_path: Path,
) -> None:

    path = tmp_path / "j.sqlite3"
    with LiveRig(path) as live:
        engine, router = live.engine, live.router
        # Feed events arrive on another thread, as from a feed.
        engine.deliver(FeedStatus("openalgo", FeedState.LIVE, time.time_ns()))
        engine.deliver(LtpTick(time.time_ns(), "NSE", "SBIN", Decimal("800.00")))
        cmd = p.PlaceEntry(
            id=1, key=SBIN.key, side="BUY", qty=Decimal(10),
            plan=p.PlanSpec(stop_ticks=10, target_ticks=None),
        )  # fmt: skip
        engine.inbound.put(ViewerCommand(7, cmd))
        wait_for(lambda: router.of(PlaceOrder), "the entry order")
        entry = router.of(PlaceOrder)[0]
        # The entry's order row (written while the command was handled, under the lock) was
        # committed before the request went out.
        _intents, orders, _changes = router.seen[id(entry)]
        assert (entry.cid, "entry", 1) in orders
        engine.inbound.put(RouterResult(entry, True, venue_id="v1"))
        # The fill comes from the feed thread: its writes are kept, then committed by the
        # decision thread, in order with the command's.
        engine.deliver(
            OrderUpdate(
                "v1", "NSE", "SBIN", "BUY", "complete", time.time_ns(),
                quantity=Decimal(10), filled_qty=Decimal(10), average_price=Decimal("800.00"),
            )
        )  # fmt: skip
        wait_for(lambda: SBIN.key in engine.plans, "the plan")

        def committed(sql: str) -> list[Any]:
            conn = sqlite3.connect(path)
            try:
                return conn.execute(sql).fetchall()
            finally:
                conn.close()

        wait_for(lambda: committed("SELECT cid FROM fills"), "the fill committed")
        wait_for(lambda: committed("SELECT key FROM plans WHERE open=1"), "the plan committed")
        # Through the stop on the feed thread: exactly one exit, written as an intent and
        # sent at once, then committed.
        engine.deliver(LtpTick(time.time_ns(), "NSE", "SBIN", Decimal("799.00")))
        exits = [r for r in router.of(PlaceOrder) if r.action == "SELL"]
        assert len(exits) == 1
        wait_for(
            lambda: committed(f"SELECT open FROM orders WHERE cid='{exits[0].cid}'") == [(1,)],
            "the exit order committed",
        )
        assert engine.counters["errors"] == 0


def _open_long_live(live: LiveRig) -> None:
    """SBIN long 10 at 800.00, stop 799.50; INFY at 1500.00 (the loop live, feed-thread fills)."""

    engine, router = live.engine, live.router
    engine.deliver(FeedStatus("openalgo", FeedState.LIVE, time.time_ns()))
    engine.deliver(LtpTick(time.time_ns(), "NSE", "SBIN", Decimal("800.00")))
    engine.deliver(LtpTick(time.time_ns(), "NSE", "INFY", Decimal("1500.00")))
    cmd = p.PlaceEntry(
        id=1, key=SBIN.key, side="BUY", qty=Decimal(10),
        plan=p.PlanSpec(stop_ticks=10, target_ticks=None),
    )  # fmt: skip
    engine.inbound.put(ViewerCommand(7, cmd))
    wait_for(lambda: router.of(PlaceOrder), "the entry order")
    engine.inbound.put(RouterResult(router.of(PlaceOrder)[0], True, venue_id="v1"))
    wait_for(lambda: engine.snapshot().orders and engine.snapshot().orders[0].venue_id, "ack")
    engine.deliver(
        OrderUpdate(
            "v1", "NSE", "SBIN", "BUY", "complete", time.time_ns(),
            quantity=Decimal(10), filled_qty=Decimal(10), average_price=Decimal("800.00"),
        )
    )  # fmt: skip
    wait_for(lambda: SBIN.key in engine.plans, "the plan")


def _ltps_at_exit(live: LiveRig) -> dict[str, dict[str, int]]:
    """Each urgent request's cid -> every symbol's last price (ticks) as it was sent."""
    seen: dict[str, dict[str, int]] = {}
    send = live.router.send_urgent

    def peek(request: Any) -> bool:
        seen[request.cid] = {q.key: q.ltp for q in live.engine.snapshot().quotes}
        return send(request)

    live.router.send_urgent = peek  # type: ignore[method-assign]
    return seen


def _infy_update(orderid: str, status: str, now: int) -> OrderUpdate:
    """A venue update of a 1-lot INFY buy (filled if ``complete``)."""
    filled = status == "complete"
    return OrderUpdate(
        orderid, "NSE", "INFY", "BUY", status, now, quantity=Decimal(1),
        filled_qty=Decimal(1 if filled else 0), average_price=Decimal(1501 if filled else 0),
    )  # fmt: skip


def _one_read_with_an_exit(live: LiveRig, items: list[Any], many: Any = None) -> dict[str, int]:
    """Hand ``items`` over as one read (to ``many``, by default the engine's
    ``deliver_many``); the one exit it sends and every last price then."""
    seen = _ltps_at_exit(live)
    (many or live.engine.deliver_many)(items, None)
    exits = [r for r in live.router.of(PlaceOrder) if r.action == "SELL"]
    assert len(exits) == 1
    return seen[exits[0].cid]


def test_a_read_hands_its_exit_tick_over_before_the_other_symbols(tmp_path: Path) -> None:

    with LiveRig(tmp_path / "j.sqlite3") as live:
        _open_long_live(live)
        now = time.time_ns()
        # One read off the socket: INFY moves, an update for some other order, the crash
        # through SBIN's stop, INFY again.
        at_exit = _one_read_with_an_exit(
            live,
            [
                LtpTick(now, "NSE", "INFY", Decimal("1501.00")),
                _infy_update("zz", "open", now),  # an order the engine does not know
                LtpTick(now, "NSE", "SBIN", Decimal("799.00")),
                LtpTick(now, "NSE", "INFY", Decimal("1502.00")),
            ],
        )
        # The exit left before INFY's ticks were handled...
        assert at_exit[INFY.key] == INFY.ticks(Decimal("1500.00"))
        # ...and they all were, in their order, right after.
        quotes = {q.key: q.ltp for q in live.engine.snapshot().quotes}
        assert quotes[INFY.key] == INFY.ticks(Decimal("1502.00"))
        assert live.engine.counters["unmatched_updates"] == 1
        assert live.engine.counters["errors"] == 0


def test_an_external_feeds_read_also_goes_exit_first_through_the_tee(tmp_path: Path) -> None:
    """Kite / Binance / replay feeds get the engine's whole-read sink too (the runner's)."""

    with LiveRig(tmp_path / "j.sqlite3") as live:
        _open_long_live(live)
        tee = UpstreamTee(1, "k", [])  # never started: what it queued stays in its buffer
        sink = external_sink(live.engine, tee)
        assert sink.many is not None  # WsConnection hands whole reads to it
        updates = live.engine.counters["order_updates"]
        now = time.time_ns()
        at_exit = _one_read_with_an_exit(
            live,
            [
                LtpTick(now, "NSE", "INFY", Decimal("1501.00")),
                _infy_update("kite-postback", "complete", now),
                LtpTick(now, "NSE", "SBIN", Decimal("799.00")),
            ],
            sink.many,
        )
        assert at_exit[INFY.key] == INFY.ticks(Decimal("1500.00"))  # the exit first
        quotes = {q.key: q.ltp for q in live.engine.snapshot().quotes}
        assert quotes[INFY.key] == INFY.ticks(Decimal("1501.00"))  # then the rest
        assert live.engine.counters["order_updates"] == updates  # the feed's update dropped
        assert tee.stats()["pending"] == 2  # both ticks queued for the paper exchange
        sink(LtpTick(now, "NSE", "INFY", Decimal("1502.00")))  # one event at a time (replay)
        assert tee.stats()["pending"] == 3


def test_a_symbol_with_an_earlier_item_in_the_read_keeps_its_place(tmp_path: Path) -> None:

    with LiveRig(tmp_path / "j.sqlite3") as live:
        _open_long_live(live)
        now = time.time_ns()
        at_exit = _one_read_with_an_exit(
            live,
            [
                LtpTick(now, "NSE", "INFY", Decimal("1501.00")),
                LtpTick(now, "NSE", "SBIN", Decimal("800.50")),  # SBIN's first item: no fire
                LtpTick(now, "NSE", "SBIN", Decimal("799.00")),
            ],
        )
        # Not moved ahead of SBIN's own earlier tick, so not ahead of INFY's either.
        assert at_exit[INFY.key] == INFY.ticks(Decimal("1501.00"))
        assert at_exit[SBIN.key] == SBIN.ticks(Decimal("799.00"))


def test_a_feed_thread_takes_waiting_commands_after_its_read_in_order(tmp_path: Path) -> None:
    """Items on ``inbound`` are handled by the feed thread after a read (lock held)."""

    with LiveRig(tmp_path / "j.sqlite3") as live:
        engine, router = live.engine, live.router
        engine.deliver(FeedStatus("openalgo", FeedState.LIVE, time.time_ns()))
        engine.deliver(LtpTick(time.time_ns(), "NSE", "SBIN", Decimal("800.00")))
        handled_on: list[tuple[int, int]] = []
        reply = live.rig.pub.reply

        def record(conn_id: int, msg: Any) -> None:
            handled_on.append((getattr(msg, "id", 0), threading.get_ident()))
            reply(conn_id, msg)

        live.rig.pub.reply = record  # type: ignore[method-assign]
        with engine.lock:  # the decision thread cannot take them now
            for cmd_id, side in ((1, "BUY"), (2, "SELL")):
                cmd = p.PlaceEntry(id=cmd_id, key=SBIN.key, side=side, qty=Decimal(1))
                engine.inbound.put(ViewerCommand(7, cmd))
            time.sleep(0.05)  # the decision thread woke and waits for the lock
            assert len(engine.inbound) == 2
            # A read on this ("feed") thread: its tick, then the waiting commands, in order.
            engine.deliver_many([LtpTick(time.time_ns(), "NSE", "SBIN", Decimal("800.05"))])
            assert len(engine.inbound) == 0
        me = threading.get_ident()
        assert [(i, t == me) for i, t in handled_on if i in (1, 2)] == [(1, True), (2, True)]
        # The decision thread was woken to commit them and send the orders they hold.
        wait_for(lambda: len(router.of(PlaceOrder)) == 2, "both entry orders sent")
        assert [r.action for r in router.of(PlaceOrder)] == ["BUY", "SELL"]
        assert engine.counters["errors"] == 0


def test_waiting_commands_give_way_to_a_feed_with_more_to_read(tmp_path: Path) -> None:

    with LiveRig(tmp_path / "j.sqlite3") as live:
        engine = live.engine
        engine.deliver(FeedStatus("openalgo", FeedState.LIVE, time.time_ns()))
        engine.deliver(LtpTick(time.time_ns(), "NSE", "SBIN", Decimal("800.00")))
        with engine.lock:
            for cmd_id in (1, 2, 3):
                engine.inbound.put(ViewerCommand(7, p.Ping(id=cmd_id)))
            tick = LtpTick(time.time_ns(), "NSE", "SBIN", Decimal("800.05"))
            # More is waiting on the socket: one command, then back to reading.
            engine.deliver_many([tick], lambda: True)
            assert len(engine.inbound) == 2
            engine.deliver_many([tick], lambda: True)
            assert len(engine.inbound) == 1
            # Nothing waiting: the rest.
            engine.deliver_many([tick], lambda: False)
            assert len(engine.inbound) == 0
        answered = [m.id for _c, m in live.rig.pub.replies if isinstance(m, p.Ack)]
        assert answered == [1, 2, 3]


def test_stops_crossed_in_one_read_all_send_before_any_is_recorded(tmp_path: Path) -> None:
    """A market-wide drop: each exit's bytes leave before the exits' bookkeeping runs."""

    with LiveRig(tmp_path / "j.sqlite3") as live:
        engine, router = live.engine, live.router
        _open_long_live(live)
        cmd = p.PlaceEntry(
            id=2, key=INFY.key, side="BUY", qty=Decimal(1),
            plan=p.PlanSpec(stop_ticks=10, target_ticks=None),
        )  # fmt: skip
        engine.inbound.put(ViewerCommand(7, cmd))
        wait_for(lambda: len(router.of(PlaceOrder)) == 2, "the INFY entry order")
        engine.inbound.put(RouterResult(router.of(PlaceOrder)[1], True, venue_id="v2"))
        wait_for(lambda: all(o.venue_id for o in engine.snapshot().orders), "ack")
        engine.deliver(LtpTick(time.time_ns(), "NSE", "INFY", Decimal("1501.00")))
        engine.deliver(_infy_update("v2", "complete", time.time_ns()))  # stop 1500.50
        wait_for(lambda: INFY.key in engine.plans, "the INFY plan")
        recorded_at_send: dict[str, set[str]] = {}
        send = router.send_urgent

        def peek(request: Any) -> bool:
            recorded_at_send[request.cid] = {o.cid for o in engine.snapshot().orders}
            return send(request)

        router.send_urgent = peek  # type: ignore[method-assign]
        now = time.time_ns()
        engine.deliver_many(
            [
                LtpTick(now, "NSE", "SBIN", Decimal("799.00")),  # through 799.50
                LtpTick(now, "NSE", "INFY", Decimal("1499.00")),  # through 1500.50
            ]
        )
        exits = [r for r in router.of(PlaceOrder) if r.action == "SELL"]
        assert [r.symbol for r in exits] == ["SBIN", "INFY"]
        # INFY's exit left before SBIN's exit order was recorded...
        assert exits[0].cid not in recorded_at_send[exits[1].cid]
        # ...and both were recorded right after, one exit each.
        orders = {o.cid: o for o in engine.snapshot().orders}
        assert all(orders[r.cid].tag == "exit" for r in exits)
        assert {k: engine.plans[k].exit_cid for k in (SBIN.key, INFY.key)} == {
            SBIN.key: exits[0].cid,
            INFY.key: exits[1].cid,
        }
        assert engine.counters["exits"] == 2
        assert engine.counters["errors"] == 0


def _split_read(live: LiveRig, prices: list[str]) -> None:
    """One read of INFY ticks handed over while the socket has more: after the first
    (a slice of 1 µs) the feed thread leaves the rest for after its next read."""
    live.engine.options.read_slice_us = 1
    now = time.time_ns()
    ticks = [LtpTick(now, "NSE", "INFY", Decimal(price)) for price in prices]
    live.engine.deliver_many(ticks, lambda: True)


def _infy_ltp(live: LiveRig) -> int:
    return {q.key: q.ltp for q in live.engine.snapshot().quotes}[INFY.key]


def test_a_long_read_gives_way_to_the_next_reads_exit(tmp_path: Path) -> None:
    with LiveRig(tmp_path / "j.sqlite3") as live:
        _open_long_live(live)
        _split_read(live, ["1501.00", "1502.00", "1503.00"])
        assert live.engine.counters["reads_split"] == 1
        assert _infy_ltp(live) == INFY.ticks(Decimal("1501.00"))  # the rest waits
        at_exit = _one_read_with_an_exit(
            live, [LtpTick(time.time_ns(), "NSE", "SBIN", Decimal("799.00"))]
        )
        # The next read's crossing tick went ahead of what the first one left...
        assert at_exit[INFY.key] == INFY.ticks(Decimal("1501.00"))
        # ...which was handled right after, in order.
        assert _infy_ltp(live) == INFY.ticks(Decimal("1503.00"))
        assert live.engine.counters["errors"] == 0


def test_what_a_read_left_holds_back_its_own_symbols_crossing_tick(tmp_path: Path) -> None:
    with LiveRig(tmp_path / "j.sqlite3") as live:
        _open_long_live(live)
        live.engine.options.read_slice_us = 1
        now = time.time_ns()
        live.engine.deliver_many(
            [
                LtpTick(now, "NSE", "INFY", Decimal("1501.00")),
                LtpTick(now, "NSE", "SBIN", Decimal("800.50")),  # left behind
                LtpTick(now, "NSE", "INFY", Decimal("1502.00")),
            ],
            lambda: True,
        )
        at_exit = _one_read_with_an_exit(live, [LtpTick(now, "NSE", "SBIN", Decimal("799.00"))])
        # SBIN's earlier tick came first, and with it everything before it in the reads.
        assert at_exit[SBIN.key] == SBIN.ticks(Decimal("799.00"))
        assert at_exit[INFY.key] == INFY.ticks(Decimal("1502.00"))


def test_what_a_feed_left_is_handled_when_the_feed_does_not_come_back(tmp_path: Path) -> None:
    with LiveRig(tmp_path / "j.sqlite3") as live:
        _open_long_live(live)
        _split_read(live, ["1501.00", "1502.00", "1503.00"])
        assert _infy_ltp(live) == INFY.ticks(Decimal("1501.00"))
        # No other read comes: the decision thread handles the rest by its next timer.
        wait_for(lambda: _infy_ltp(live) == INFY.ticks(Decimal("1503.00")), "the rest", 1.0)
        assert live.engine.counters["errors"] == 0


def test_a_socket_check_that_fails_loses_nothing_of_the_read(tmp_path: Path) -> None:
    def broken() -> bool:
        raise OSError(9, "Bad file descriptor")  # the socket went away mid-read

    with LiveRig(tmp_path / "j.sqlite3") as live:
        _open_long_live(live)
        live.engine.options.read_slice_us = 1
        now = time.time_ns()
        ticks = [LtpTick(now, "NSE", "INFY", Decimal(f"150{n}.00")) for n in range(1, 4)]
        live.engine.deliver_many(ticks, broken)
        assert _infy_ltp(live) == INFY.ticks(Decimal("1503.00"))  # all of it, now
        assert live.engine.counters["errors"] == 0
