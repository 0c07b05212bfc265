"""A journal that cannot write is alarmed once per outage, not once per failed write.

With the disk full every batch fails (each tick that moves a trail, each fill, each refused
entry): an alarm (a toast and a line in the 500-line message log) for each of them buried
the fills and exits the trader needs to read in "journal write failed" lines. The failures
are still counted and logged; the status bar says LOCKED journal until a write goes through.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from cockpit.engine.core import EngineTimer
from cockpit.link import protocol as p
from tests.unit.test_engine_core import INFY, SBIN, Rig
from tests.unit.test_engine_exit_path import _peeking_rig


def _journal_alarms(rig: Rig) -> list[p.Alarm]:
    return [a for a in rig.pub.of(p.Alarm) if a.code == "journal"]


def test_a_journal_that_keeps_failing_is_alarmed_once_per_outage(tmp_path: Path) -> None:
    rig, router, journal = _peeking_rig(tmp_path)
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=None))
    rig.tick(INFY, "1500.00")
    rig.enter(INFY, "BUY", 5, "1500.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=None))
    journal._conn.close()  # every write fails from here (as on a full disk)
    rig.tick(SBIN, "799.00")  # through the stop: the exit goes, its records fail
    for _ in range(3):
        answer = rig.command(p.PlaceEntry, key=INFY.key, side="BUY", qty=Decimal(1))
        assert isinstance(answer, p.Refused)
        assert answer.rule == "journal"
    rig.tick(INFY, "1499.00")  # through INFY's stop: a second failed batch
    for _ in range(3):  # the probe fails too
        rig.clock.now += 2 * 10**9
        rig.engine.handle(EngineTimer(rig.clock.now))
    assert len(router.exits()) == 2  # every exit still went out
    errors = rig.engine.counters["journal_errors"]
    assert errors >= 2  # each failure is counted
    assert len(_journal_alarms(rig)) == 1, [a.message for a in _journal_alarms(rig)]
    # It writes again, then fails again: a new outage, alarmed again.
    journal._conn = sqlite3.connect(journal.path, isolation_level=None, check_same_thread=False)
    rig.clock.now += 2 * 10**9
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert rig.engine.journal_ok
    journal._conn.close()
    rig.tick(SBIN, "798.00")
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1))
    rig.clock.now += 2 * 10**9
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert not rig.engine.journal_ok, answer
    assert len(_journal_alarms(rig)) == 2
    assert rig.engine.counters["journal_errors"] > errors
    journal._conn = sqlite3.connect(journal.path, isolation_level=None, check_same_thread=False)
    journal.close()
