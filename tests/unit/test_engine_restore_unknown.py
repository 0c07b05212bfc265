"""A symbol the journal holds a position and an exit plan of, that the restarted engine has no
instrument for (the broker did not answer its lookup, and the journal did not know its tick):
an error alarm in words names what is unmanaged (before: skipped in silence)."""

from __future__ import annotations

from pathlib import Path

from cockpit.config import Settings
from cockpit.engine.core import Engine, EngineOptions
from cockpit.journal.store import Journal
from cockpit.link import protocol as p
from tests.unit.test_engine_core import INFY, SBIN, FakeRouter, Recorder, Rig


def test_what_the_journal_holds_of_an_unknown_symbol_is_alarmed_as_unmanaged(
    tmp_path: Path,
) -> None:
    journal = Journal.open(tmp_path / "j.sqlite3", checkpoint_interval_s=None)
    rig = Rig(journal=journal)
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 5, "800.00", plan=p.PlanSpec(stop_ticks=100))
    journal.close()

    journal = Journal.open(tmp_path / "j.sqlite3", checkpoint_interval_s=None)
    try:
        pub = Recorder()
        engine = Engine(
            config=Settings(trading={"armed_at_start": True}),
            instruments=[INFY],  # SBIN: the broker did not answer
            router=FakeRouter(),
            journal=journal,
            publisher=pub,
            options=EngineOptions(reconcile_interval_s=0),
            clock=rig.clock,
        )
        engine.start()
        errors = [e.message for e in pub.events if isinstance(e, p.Alarm) and e.level == "error"]
        assert any(
            SBIN.key in m and "UNMANAGED" in m and "position 5" in m and "exit plan" in m
            for m in errors
        ), errors
    finally:
        journal.close()
