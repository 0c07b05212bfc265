"""After a journal outage, the journal holds each open plan as the engine has it.

Found in a tmux trial (a file size limit on the engine's journal): a 60-tick trail ratcheted
the stop from 1288.05 to 1288.20 while every write failed. The engine marks a plan journaled
as it hands the write over, so when the journal wrote again nothing wrote the plan: its row kept
1288.05 until the plan next changed, and a SIGKILL then restored the stop three ticks looser
than the one the engine had been holding.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

from cockpit.engine.core import EngineTimer
from cockpit.link import protocol as p
from tests.unit.test_engine_core import SBIN
from tests.unit.test_engine_exit_path import _peeking_rig


def _journaled_stop(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT state FROM plans WHERE key=? AND open=1", (SBIN.key,)).fetchone()
    finally:
        conn.close()
    return int(json.loads(row[0])["stop"])


def test_a_stop_moved_while_the_journal_failed_is_journaled_once_it_writes_again(
    tmp_path: Path,
) -> None:
    rig, _router, journal = _peeking_rig(tmp_path)
    trail = p.TrailView("ticks", 4)
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10, trail=trail))
    journal.flush()
    before = _journaled_stop(journal.path)
    journal._conn.close()  # every write fails from here (as on a full disk)
    rig.tick(SBIN, "801.00")  # the trail ratchets: the stop moves up, its write fails
    for _ in range(3):
        rig.clock.now += 2 * 10**9
        rig.engine.handle(EngineTimer(rig.clock.now))
    held = rig.engine.plans[SBIN.key].plan.stop
    assert held > before
    journal._conn = sqlite3.connect(journal.path, isolation_level=None, check_same_thread=False)
    for _ in range(3):  # the probe writes: the journal is back
        rig.clock.now += 2 * 10**9
        rig.engine.handle(EngineTimer(rig.clock.now))
    assert rig.engine.journal_ok
    journal.flush()
    assert _journaled_stop(journal.path) == held  # a restart now restores the stop held
    journal.close()


def _open_plans(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT key FROM plans WHERE open=1")]
    finally:
        conn.close()


def test_a_plan_detached_while_the_journal_failed_is_not_restored_once_it_writes_again(
    tmp_path: Path,
) -> None:
    """The trader detached the exit plan (the position stays, unmanaged) while every write
    failed: once the journal writes again it must not still hold that plan as open, or a
    restart restores the stop the trader removed and it sells the position he keeps."""
    rig, _router, journal = _peeking_rig(tmp_path)
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10))
    journal.flush()
    assert _open_plans(journal.path) == [SBIN.key]
    journal._conn.close()  # every write fails from here (as on a full disk)
    assert isinstance(rig.command(p.DetachPlan, key=SBIN.key), p.Ack)
    assert SBIN.key not in rig.engine.plans
    journal._conn = sqlite3.connect(journal.path, isolation_level=None, check_same_thread=False)
    for _ in range(3):  # the probe writes: the journal is back
        rig.clock.now += 2 * 10**9
        rig.engine.handle(EngineTimer(rig.clock.now))
    assert rig.engine.journal_ok
    journal.flush()
    assert _open_plans(journal.path) == []
    assert journal.recover().plans == {}
    journal.close()


def test_a_position_closed_while_the_journal_failed_is_journaled_flat_once_it_writes_again(
    tmp_path: Path,
) -> None:
    """The stop fired and its exit filled while every write failed: once the journal writes
    again it holds the position flat (with the day's realized loss) and no open plan, not the
    long a restart would restore (and then call a mismatch with the broker)."""
    rig, router, journal = _peeking_rig(tmp_path)
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10))
    journal.flush()
    journal._conn.close()  # every write fails from here (as on a full disk)
    rig.tick(SBIN, "799.00")  # through the stop 799.50: the exit goes anyway
    exit_req = router.exits()[0]
    rig.fill(exit_req, rig.accept(exit_req), "799.00")
    assert rig.engine.portfolio.get(SBIN.key).qty == 0
    assert SBIN.key not in rig.engine.plans
    journal._conn = sqlite3.connect(journal.path, isolation_level=None, check_same_thread=False)
    for _ in range(3):  # the probe writes: the journal is back
        rig.clock.now += 2 * 10**9
        rig.engine.handle(EngineTimer(rig.clock.now))
    assert rig.engine.journal_ok
    journal.flush()
    recovery = journal.recover()
    assert recovery.plans == {}
    assert recovery.positions[SBIN.key]["qty"] == "0"
    assert recovery.positions[SBIN.key]["realized"] != "0"
    journal.close()


def test_a_fill_while_the_journal_failed_is_journaled_once_it_writes_again(
    tmp_path: Path,
) -> None:
    """The stop's exit filled while every write failed: once the journal writes again the
    fill is in it, once (a restart replays today's journaled fills into the day's P&L: without
    it the day's loss, and so the daily loss limit, forgot the stop's loss)."""
    rig, router, journal = _peeking_rig(tmp_path)
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10))
    journal.flush()
    journal._conn.close()  # every write fails from here (as on a full disk)
    rig.tick(SBIN, "799.00")  # through the stop 799.50: the exit goes anyway
    exit_req = router.exits()[0]
    rig.fill(exit_req, rig.accept(exit_req), "799.00")
    journal._conn = sqlite3.connect(journal.path, isolation_level=None, check_same_thread=False)
    for _ in range(6):  # the probe writes: the journal is back (and the timer runs on)
        rig.clock.now += 2 * 10**9
        rig.engine.handle(EngineTimer(rig.clock.now))
    assert rig.engine.journal_ok
    journal.flush()
    fills = [(f.side, f.qty, f.price) for f in journal.fills()]
    assert fills == [
        ("BUY", Decimal(10), Decimal("800.00")),
        ("SELL", Decimal(10), Decimal("799.00")),
    ]
    journal.close()
