"""Issue 15: the engine's status carries its own lock (rule and words) and its stale limit, and
its snapshot the day's recent messages (the real engine on the test rig)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from cockpit.engine.core import EngineTimer
from cockpit.journal.store import Journal
from cockpit.link import protocol as p
from tests.unit.test_engine_core import INFY, SBIN, Rig


def test_the_status_names_what_locks_entries(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j.sqlite3")
    rig = Rig(journal=journal, risk={"max_daily_loss": "5", "max_tick_age_s": "3"})
    rig.start()
    rig.tick(SBIN, "800.00")
    st = rig.engine._status_view()
    assert (st.lock, st.lock_detail) == ("", "")
    assert st.stale_after_s == 3
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=None))
    # A journal that cannot write locks entries (the exit still goes).
    journal._conn.close()
    rig.tick(SBIN, "799.00")  # through the stop: the day is 10.00 down
    assert rig.engine.journal_ok is False
    assert rig.engine._status_view().lock == "journal"
    journal._conn = sqlite3.connect(journal.path, isolation_level=None, check_same_thread=False)
    rig.clock.now += 2 * 10**9
    rig.engine.handle(EngineTimer(rig.clock.now))
    # The journal writes again; the day's loss is past the limit: locked, with the numbers.
    st = rig.engine._status_view()
    assert st.lock == "daily_loss_limit"
    assert "loss limit 5" in st.lock_detail
    # The kill switch comes first.
    rig.command(p.KillSwitch)
    assert rig.engine._status_view().lock == "kill_switch"
    journal.close()


def test_the_snapshot_keeps_the_days_messages(tmp_path: Path) -> None:
    rig = Rig()
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=None))
    rig.tick(SBIN, "799.00")  # through the stop
    refused = rig.command(p.PlaceEntry, key=INFY.key, side="BUY", qty=Decimal(1))
    assert isinstance(refused, p.Refused)
    titles = [m.title for m in rig.engine.snapshot().messages]
    assert "Fill: NSE:SBIN" in titles
    # The fill's price as the instrument writes it (it said "at 800" and "at 801.8").
    [fill] = [m.text for m in rig.engine.snapshot().messages if m.title == "Fill: NSE:SBIN"]
    assert fill == "BUY 10 NSE:SBIN at 800.00"
    assert "Exit fired: NSE:SBIN" in titles
    assert f"Refused: {refused.rule}" in titles
    seqs = [m.seq for m in rig.engine.snapshot().messages]
    assert seqs == sorted(seqs)
    # Bounded: the oldest go first.
    log = rig.engine.message_log
    for i in range(600):
        log.event(p.Alarm(seq=10_000 + i, level="info", message=f"a{i}"))
    messages = rig.engine.snapshot().messages
    assert len(messages) == 500
    assert messages[-1].text == "a599"
