"""The journal's writer thread: a burst's records are committed before any of its exits is
handed to the router, reads wait for what was queued, a failed commit is alarmed while the
exits still go, and closing drains the queue. The real engine and a real SQLite file; the
router is a recorder that looks at the file (a second connection sees only what is committed)
as each request reaches it."""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cockpit.domain.execution import NOT_JOURNALED, PlaceOrder, RouterResult
from cockpit.domain.instruments import Exchange, Instrument
from cockpit.domain.market import LtpTick
from cockpit.engine.core import Engine, EngineOptions, EngineTimer
from cockpit.journal.store import Journal
from cockpit.link import protocol as p
from tests.unit.test_engine_core import Rig

N = 20
INSTRUMENTS = [Instrument(Exchange.NSE, f"S{i:02d}", Decimal("0.05")) for i in range(N)]


class CommittedRouter:
    """Records each request with whether its order row was committed when it arrived."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[Any] = []
        self.committed: list[bool] = []
        self.threads: list[str] = []

    def drop_queued_entries(self) -> int:
        return 0

    def submit(self, request: Any) -> None:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT 1 FROM orders WHERE cid=?", (request.cid,)).fetchone()
        finally:
            conn.close()
        self.requests.append(request)
        self.committed.append(row is not None)
        self.threads.append(threading.current_thread().name)

    def of(self, kind: type) -> list[Any]:
        return [r for r in self.requests if isinstance(r, kind)]


def holding(tmp_path: Path) -> tuple[Rig, Journal]:
    """N symbols, each long 1 with a 20-tick stop (set up without the writer)."""
    rig = Rig()
    journal = Journal.open(tmp_path / "journal.sqlite3")
    rig.engine = Engine(
        config=rig.config,
        instruments=INSTRUMENTS,
        router=rig.router,
        journal=journal,
        publisher=rig.pub,
        options=EngineOptions(reconcile_interval_s=0, plan_event_interval_s=0),
        clock=rig.clock,
    )
    rig.start()
    for inst in INSTRUMENTS:
        rig.tick(inst, "1000.00")
        rig.enter(inst, "BUY", 1, "1000.00", plan=p.PlanSpec(stop_ticks=20, target_ticks=None))
    assert len(rig.engine.plans) == N
    return rig, journal


def crash(rig: Rig) -> list[LtpTick]:
    at = rig.clock.now + 1
    return [LtpTick(at, "NSE", i.symbol, Decimal("997.50")) for i in INSTRUMENTS]


def exits(router: Any) -> list[PlaceOrder]:
    return [r for r in router.of(PlaceOrder) if r.action == "SELL"]


def test_a_burst_decided_while_the_commit_waits_is_not_sent_until_it_is_committed(
    tmp_path: Path,
) -> None:
    rig, journal = holding(tmp_path)
    router = CommittedRouter(journal.path)
    rig.engine.router = router
    journal.use_writer(True)
    with journal._conn_lock:  # the writer cannot commit meanwhile
        rig.engine._handle_together(crash(rig))
        assert len(rig.pub.of(p.ExitFired)) == N  # every exit is decided...
        assert router.requests == []  # ...none is on the wire
        conn = sqlite3.connect(f"file:{journal.path}?mode=ro", uri=True)
        sells = conn.execute("SELECT COUNT(*) FROM orders WHERE side='SELL'").fetchone()[0]
        conn.close()
        assert sells == 0  # and none is journaled yet
    journal.flush()
    assert len(exits(router)) == N
    assert all(router.committed), router.committed
    assert set(router.threads) == {"journal-writer"}
    journal.close()


def one_crash(rig: Rig) -> list[LtpTick]:
    return crash(rig)[:1]


def test_an_exit_decided_while_the_writer_is_idle_goes_from_the_deciding_thread_committed(
    tmp_path: Path,
) -> None:
    """No hop to the writer thread on a lone exit's way: committed and sent by the thread
    that decided it, before the batch returns."""
    rig, journal = holding(tmp_path)
    router = CommittedRouter(journal.path)
    rig.engine.router = router
    journal.use_writer(True)
    rig.engine._handle_together(one_crash(rig))
    assert len(exits(router)) == 1  # no flush: already sent
    assert all(router.committed), router.committed
    assert router.threads == [threading.current_thread().name]
    journal.close()


def test_a_gap_through_many_stops_is_committed_and_sent_by_the_writer(tmp_path: Path) -> None:
    """Groups of more than ``HERE_MAX`` exits go through the writer thread, whose commit
    overlaps the next decisions."""
    rig, journal = holding(tmp_path)
    router = CommittedRouter(journal.path)
    rig.engine.router = router
    journal.use_writer(True)
    rig.engine._handle_together(crash(rig))
    journal.flush()
    assert len(exits(router)) == N
    assert all(router.committed)
    assert set(router.threads) == {"journal-writer"}
    journal.close()


def test_an_exit_waits_behind_what_the_writer_holds_and_keeps_its_order(tmp_path: Path) -> None:
    rig, journal = holding(tmp_path)
    router = CommittedRouter(journal.path)
    rig.engine.router = router
    journal.use_writer(True)
    gate = threading.Event()
    ran: list[str] = []
    journal.after_commit(lambda: (gate.wait(10), ran.append("before")))  # the writer is held
    rig.engine._handle_together(one_crash(rig))
    assert router.requests == []  # not sent ahead of what was queued before it
    gate.set()
    journal.flush()
    assert ran == ["before"]
    assert len(exits(router)) == 1
    assert all(router.committed)
    assert router.threads == ["journal-writer"]
    journal.close()


def test_the_writer_sends_the_same_exits_and_journals_the_same_rows_as_the_decision_thread(
    tmp_path: Path,
) -> None:
    outcome = []
    for writer in (False, True):
        rig, journal = holding(tmp_path / str(writer))
        router = CommittedRouter(journal.path)
        rig.engine.router = router
        journal.use_writer(writer)
        rig.engine._handle_together(crash(rig))
        journal.flush()
        sent = exits(router)
        assert all(router.committed)
        rows = {t: journal.count(t) for t in ("orders", "plans", "plan_events", "positions")}
        outcome.append(([(r.symbol, r.quantity) for r in sent], rows))
        journal.close()
    assert outcome[0] == outcome[1]
    assert len(outcome[0][0]) == N


def test_a_read_sees_every_write_queued_before_it(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "journal.sqlite3", writer=True)
    assert journal.deferred
    gate = threading.Event()
    journal.after_commit(lambda: gate.wait(10))  # the writer is held: writes queue behind
    for n in range(200):
        journal.plan(f"NSE:S{n}", {"stop": n, "qty": "1"}, "attached")
    journal.event("mit_held", {"cid": "c1"})
    seen: list[Any] = []
    reader = threading.Thread(target=lambda: seen.append(journal.recover()))
    reader.start()
    reader.join(0.3)
    assert reader.is_alive()  # the read waits for the writes queued before it
    gate.set()
    reader.join(10)
    assert len(seen[0].plans) == 200
    assert journal.events_of("mit_held") == [("mit_held", {"cid": "c1"})]
    journal.close()


def test_closing_drains_the_queue_and_runs_what_waits_for_it(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal.open(path, writer=True)
    ran: list[int] = []
    with journal._conn_lock:
        for n in range(50):
            journal.plan(f"NSE:S{n}", {"stop": n}, "attached")
            journal.after_commit(lambda n=n: ran.append(n))
        assert ran == []
        closer = threading.Thread(target=journal.close)
        closer.start()
    closer.join(10)
    assert ran == list(range(50))
    again = Journal.open(path, start_session=False)
    assert len(again.recover().plans) == 50
    again.close()


def full_disk(tmp_path: Path, writer: bool) -> tuple[Rig, Journal, CommittedRouter, Any]:
    """A held book whose journal can no longer write an order row (as on a full disk); the
    other connection (it drops the trigger to free the disk)."""
    rig, journal = holding(tmp_path)
    router = CommittedRouter(journal.path)
    rig.engine.router = router
    journal.use_writer(writer)
    return rig, journal, router, fail_inserts(journal, "orders")


def fail_inserts(journal: Journal, table: str) -> sqlite3.Connection:
    """Make every insert into ``table`` fail from now on, as on a full disk; the connection
    that did it (it drops the trigger ``full`` to free the disk)."""
    other = sqlite3.connect(journal.path)
    other.execute(
        f"CREATE TRIGGER full BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    other.commit()
    return other


@pytest.mark.parametrize("writer", [False, True], ids=["decision-thread", "writer-thread"])
def test_a_failed_commit_is_alarmed_and_the_exits_still_go(tmp_path: Path, writer: bool) -> None:
    rig, journal, router, other = full_disk(tmp_path, writer)
    rig.engine._handle_together(crash(rig))
    journal.flush()
    assert len(exits(router)) == N  # every exit went, unjournaled
    rig.clock.now += 1_000_000
    rig.engine.handle(EngineTimer(rig.clock.now))
    alarms = [a for a in rig.pub.of(p.Alarm) if a.code == "journal"]
    assert alarms
    assert "disk full" in alarms[0].message
    assert not rig.engine.journal_ok  # entries are refused
    other.execute("DROP TRIGGER full")
    other.commit()
    other.close()
    rig.clock.now += 10 * 10**9
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert rig.engine.journal_ok  # it writes again
    journal.close()


def test_urgent_and_queued_groups_racing_the_writer_go_once_in_order_and_committed(
    tmp_path: Path,
) -> None:
    """The deciding thread ships groups as ``Writes._ship`` does (a few urgent ones tried
    here, the rest queued) while the writer thread commits the queued ones and another
    thread takes the connection's lock now and then (a read): the writer goes from idle to
    busy and back at every moment. Every callback runs once, in the order shipped, and only
    once its row is committed (a second connection sees it)."""
    from cockpit.journal.writer import JournalWriter

    path = tmp_path / "race.sqlite3"
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (n INTEGER)")
    lock = threading.Lock()
    writer = JournalWriter(conn, lock)
    seen = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    ran: list[int] = []
    committed: list[bool] = []
    here: list[bool] = []
    stop = threading.Event()

    def reads() -> None:
        while not stop.is_set():
            with lock:
                time.sleep(0.0002)
            time.sleep(0.001)

    def sent(n: int) -> None:
        row = seen.execute("SELECT 1 FROM t WHERE n=?", (n,)).fetchone()
        committed.append(row is not None)
        ran.append(n)

    reader = threading.Thread(target=reads, daemon=True)
    reader.start()
    try:
        for n in range(600):
            group = [("INSERT INTO t VALUES (?)", (n,))]
            then: list[Callable[[], None]] = [functools.partial(sent, n)]
            urgent = n % 3 != 0  # every third queued: the writer is busy with it meanwhile
            done_here = urgent and writer.run_here(group, then)
            here.append(done_here)
            if not done_here:
                writer.put(group, then)
            if n % 7 == 0:
                time.sleep(0.001)  # the writer may catch up: idle again
        assert writer.barrier(30)
    finally:
        stop.set()
        reader.join(5)
        writer.close()
    assert ran == list(range(600))
    assert all(committed), committed.index(False)
    assert any(here)  # both ways were taken
    assert not all(here)
    seen.close()
    conn.close()


def refused_not_journaled(rig: Rig) -> list[Any]:
    """Hand the engine what came back on its queue (the test drives it by hand)."""
    results = [r for r in rig.engine.inbound.take_all(0) if isinstance(r, RouterResult)]
    for result in results:
        rig.engine.handle(result)
    return [r for r in results if r.code == NOT_JOURNALED]


@pytest.mark.parametrize(
    ("writer", "command"),
    [
        (False, "entry"),
        (True, "entry"),  # the writer thread sends it
        (True, "reverse"),  # urgent: committed and sent on the deciding thread (run_here)
    ],
    ids=["decision-thread-entry", "writer-thread-entry", "run-here-reverse"],
)
def test_an_order_that_opens_exposure_is_not_sent_when_its_own_commit_failed(
    tmp_path: Path, writer: bool, command: str
) -> None:
    """Full disk: an entry whose records could not be written never reaches the wire; the
    trader is told in words, it is counted, and the order is not left working."""
    rig, journal, router, other = full_disk(tmp_path, writer)
    inst = INSTRUMENTS[0]
    if command == "entry":
        rig.tick(INSTRUMENTS[1], "1000.00")
        answer = rig.command(p.PlaceEntry, key=INSTRUMENTS[1].key, side="BUY", qty=Decimal(1))
    else:
        answer = rig.command(p.Reverse, key=inst.key)
    assert isinstance(answer, p.Ack), answer
    journal.flush()
    assert router.requests == []  # nothing unjournaled that opens exposure went out
    refused = refused_not_journaled(rig)
    assert len(refused) == 1
    order = rig.engine.orders[refused[0].request.cid]
    assert not order.is_working
    assert rig.engine.counters["not_sent_journal"] == 1
    words = [a.message for a in rig.pub.of(p.Alarm) if a.code == "not_journaled"]
    assert words
    assert "not sent: the journal cannot write" in words[0]
    # An exit decided meanwhile still goes, unjournaled.
    rig.engine._handle_together(crash(rig)[2:3])
    journal.flush()
    assert len(exits(router)) == 1
    other.close()
    journal.close()


@pytest.mark.parametrize("writer", [False, True], ids=["decision-thread", "writer-thread"])
def test_a_modify_of_an_entry_is_not_sent_when_its_command_could_not_be_journaled(
    tmp_path: Path, writer: bool
) -> None:
    """Raising a working entry's quantity adds exposure: with its command record unwritten it
    does not go; the trader reads why, and the order works on unchanged."""
    rig, journal = holding(tmp_path)
    inst = INSTRUMENTS[1]
    answer = rig.command(
        p.PlaceEntry, key=inst.key, side="BUY", qty=Decimal(1), order_type="LIMIT", price=19_000
    )
    assert isinstance(answer, p.Ack), answer
    entry = rig.places()[-1]
    rig.accept(entry)
    router = CommittedRouter(journal.path)
    rig.engine.router = router
    journal.use_writer(writer)
    other = fail_inserts(journal, "commands")
    answer = rig.command(p.ModifyOrder, cid=entry.cid, qty=Decimal(5))
    assert isinstance(answer, p.Ack), answer
    journal.flush()
    assert router.requests == []
    assert len(refused_not_journaled(rig)) == 1
    order = rig.engine.orders[entry.cid]
    assert order.is_working
    assert order.qty == 1
    assert rig.engine.counters["not_sent_journal"] == 1
    words = [a.message for a in rig.pub.of(p.Alarm) if a.code == "modify_failed"]
    assert words
    assert "not sent: the journal cannot write" in words[0]
    other.close()
    journal.close()
