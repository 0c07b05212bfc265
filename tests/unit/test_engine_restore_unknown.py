"""A symbol the journal holds a position and an exit plan of, that the restarted engine has no
instrument for (the broker did not answer its lookup, and the journal did not know its tick):
an error alarm in words names what is unmanaged (before: skipped in silence). One rebuilt from
the journal's tick and lot is checked with the broker once it answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.config import Settings
from cockpit.domain.execution import LookupSymbol, RouterResult
from cockpit.domain.instruments import Exchange, Instrument
from cockpit.engine.core import Engine, EngineOptions
from cockpit.journal.store import Journal
from cockpit.link import protocol as p
from tests.unit.test_engine_core import INFY, SBIN, FakeRouter, Recorder, Rig


@pytest.fixture
def opened() -> Iterator[list[Journal]]:
    journals: list[Journal] = []
    yield journals
    for journal in journals:
        journal.close()


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


def _rebuilt_rig(tmp_path: Path, opened: list[Journal]) -> Rig:
    """An engine restarted on a journal holding SBIN long 5 with a stop, SBIN's instrument
    rebuilt from the journal (the broker did not answer its lookup at start)."""
    journal = Journal.open(tmp_path / "j.sqlite3", checkpoint_interval_s=None)
    rig = Rig(journal=journal)
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 5, "800.00", plan=p.PlanSpec(stop_ticks=100))
    journal.close()
    journal = Journal.open(tmp_path / "j.sqlite3", checkpoint_interval_s=None)
    opened.append(journal)
    again = Rig(journal=journal)
    again.engine.options = replace(again.engine.options, from_journal=(SBIN.key,))
    row = {"symbol": "SBIN", "exchange": "NSE", "product": "MIS", "quantity": "5"}
    again.start(positions=[{**row, "average_price": "800.00"}])
    return again


def _answer_lookup(rig: Rig, tick: str) -> list[p.Alarm]:
    (ask,) = rig.router.of(LookupSymbol)
    inst = Instrument(Exchange.NSE, "SBIN", Decimal(tick))
    rig.engine.handle(RouterResult(ask, True, data=inst))
    return [e for e in rig.pub.events if isinstance(e, p.Alarm) and e.code == "from_journal"]


def test_once_the_broker_answers_it_confirms_the_journals_tick(
    tmp_path: Path, opened: list[Journal]
) -> None:
    rig = _rebuilt_rig(tmp_path, opened)
    alarms = _answer_lookup(rig, "0.05")
    assert [a.level for a in alarms] == ["warning", "info"]  # rebuilt, then confirmed
    assert "confirms" in alarms[-1].message
    assert rig.engine.plans[SBIN.key].plan.stop is not None


def test_a_tick_the_broker_changed_is_an_error_alarm(tmp_path: Path, opened: list[Journal]) -> None:
    rig = _rebuilt_rig(tmp_path, opened)
    alarms = _answer_lookup(rig, "0.10")
    assert alarms[-1].level == "error"
    assert "tick 0.10" in alarms[-1].message
    assert "0.05" in alarms[-1].message
    assert rig.engine.instruments[SBIN.key].tick_size == Decimal("0.05")  # the plan's ticks
