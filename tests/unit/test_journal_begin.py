"""A journal whose BEGIN fails (mostly on the synchronous path, without the writer thread):
counted, alarmed once, every exit still goes, nothing that opens exposure goes unjournaled,
and a transaction left open by an earlier failure does not swallow every later write.

The real engine and a real SQLite file; BEGIN is refused by SQLite itself (an authorizer that
denies it), as a full or locked database refuses it."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cockpit.engine.core import EngineTimer
from cockpit.link import protocol as p
from tests.unit.test_journal_writer import (
    INSTRUMENTS,
    CommittedRouter,
    crash,
    exits,
    fail_inserts,
    holding,
    refused_not_journaled,
)


def deny_begin(action: int, arg1: Any, *_: Any) -> int:
    if action == sqlite3.SQLITE_TRANSACTION and arg1 == "BEGIN":
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def test_a_failed_begin_is_counted_and_alarmed_once_and_every_exit_goes(tmp_path: Path) -> None:
    rig, journal = holding(tmp_path)
    router = CommittedRouter(journal.path)
    rig.engine.router = router
    journal._conn.set_authorizer(deny_begin)
    errors = rig.engine.counters["journal_errors"]
    rig.engine._handle_together(crash(rig))
    assert len(exits(router)) == len(INSTRUMENTS)  # no exit decision lost
    assert rig.engine.counters["journal_errors"] > errors
    alarms = [a for a in rig.pub.of(p.Alarm) if a.code == "journal"]
    assert len(alarms) == 1
    assert "not authorized" in alarms[0].message
    assert not rig.engine.journal_ok
    journal._conn.set_authorizer(None)
    rig.clock.now += 10 * 10**9
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert rig.engine.journal_ok  # it writes again
    journal.close()


def test_a_modify_of_an_entry_is_not_sent_when_begin_failed_and_its_record_too(
    tmp_path: Path,
) -> None:
    """BEGIN failed, so the batch's writes go one by one; the modify's record fails too: it
    must not go (it could add exposure), as when its commit fails."""
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
    other = fail_inserts(journal, "commands")
    journal._conn.set_authorizer(deny_begin)
    answer = rig.command(p.ModifyOrder, cid=entry.cid, qty=Decimal(5))
    assert isinstance(answer, p.Ack), answer
    assert router.requests == []
    assert len(refused_not_journaled(rig)) == 1
    assert rig.engine.orders[entry.cid].qty == 1
    journal._conn.set_authorizer(None)
    other.close()
    journal.close()


@pytest.mark.parametrize("writer", [False, True], ids=["decision-thread", "writer-thread"])
def test_a_transaction_left_open_by_an_earlier_failure_does_not_swallow_later_writes(
    tmp_path: Path, writer: bool
) -> None:
    """A ROLLBACK that failed leaves the connection inside a transaction: every BEGIN after it
    fails and every write would join that transaction, never committed. The next batch ends
    it and commits its own records: a second connection sees the exits."""
    rig, journal = holding(tmp_path)
    router = CommittedRouter(journal.path)
    rig.engine.router = router
    journal._conn.execute("BEGIN")  # as a failed ROLLBACK leaves it
    journal.use_writer(writer)
    rig.engine._handle_together(crash(rig))
    journal.flush()
    assert len(exits(router)) == len(INSTRUMENTS)
    assert all(router.committed), router.committed  # each exit's row committed before it went
    conn = sqlite3.connect(f"file:{journal.path}?mode=ro", uri=True)
    sells = conn.execute("SELECT COUNT(*) FROM orders WHERE side='SELL'").fetchone()[0]
    conn.close()
    assert sells == len(INSTRUMENTS)
    journal.close()
