"""The day's P&L of a symbol the engine does not know (a fill journaled today on a symbol
traded, closed and taken off the watchlist before a restart: never looked up again) is counted
in its exchange's currency, not as an unknown one: under ``max_daily_loss = { INR = ... }``
a rupee loss booked as ``""`` was limited by nothing, and under a plain number it had a limit
of its own beside the rupees' (the day could lose the limit twice over)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.domain.instruments import Exchange, Instrument
from cockpit.engine.core import Engine, EngineOptions
from cockpit.journal.store import Journal
from cockpit.link import protocol as p
from cockpit.link.views import FillView
from tests.unit.test_engine_core import SBIN, Clock, Rig

NOW = Clock().now


@pytest.fixture
def journal_with_a_loss(tmp_path: Path) -> Iterator[Journal]:
    """RELIANCE: INR -110.00 today, and not an instrument of the rig."""
    journal = Journal.open(tmp_path / "j.sqlite3")
    for cid, side, price in (("c1", "BUY", "2500.00"), ("c2", "SELL", "2489.00")):
        journal.fill(FillView(cid, "NSE:RELIANCE", side, Decimal(10), Decimal(price), NOW - 10**9))
    journal.flush()
    yield journal
    journal.close()  # its checkpoint thread with it


def test_a_loss_on_a_symbol_not_looked_up_counts_in_its_currency(
    journal_with_a_loss: Journal,
) -> None:
    rig = Rig(journal=journal_with_a_loss, risk={"max_daily_loss": {"INR": 100}})
    rig.start()
    rig.tick(SBIN, "800.00")
    assert rig.engine._day_pnls() == {"INR": Decimal("-110.00")}
    refused = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1))
    assert isinstance(refused, p.Refused)
    assert refused.message == (
        "daily_loss_limit: day P&L INR -110.00 reached the loss limit INR 100.00"
    )


def test_under_a_plain_limit_the_rupees_share_one_limit(journal_with_a_loss: Journal) -> None:
    rig = Rig(journal=journal_with_a_loss, risk={"max_daily_loss": 200})
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(none=True))
    rig.tick(SBIN, "790.00")  # INR -100.00 more: -210.00 in rupees today
    refused = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1))
    assert isinstance(refused, p.Refused), refused


def with_unknown_currency(**settings: object) -> tuple[Rig, Instrument]:
    aud = Instrument(Exchange.BINANCE, "BTCAUD", Decimal("0.01"), Decimal("0.001"), kind="crypto")
    assert aud.currency == ""  # a quote asset the engine does not know
    rig = Rig(**settings)  # type: ignore[arg-type]
    rig.engine = Engine(
        config=rig.config,
        instruments=[SBIN, aud],
        router=rig.router,
        publisher=rig.pub,
        options=EngineOptions(reconcile_interval_s=0, plan_event_interval_s=0),
        clock=rig.clock,
    )
    rig.start()
    rig.tick(aud, "90000.00")
    return rig, aud


def test_under_a_table_an_entry_in_an_unknown_currency_is_refused() -> None:
    """The table names the currencies it limits; an unknown one cannot be named, so its loss
    was limited by nothing: its entries are refused in words (an exit or a reducing order
    still goes)."""
    rig, aud = with_unknown_currency(risk={"max_daily_loss": {"INR": 100, "USDT": 50}})
    refused = rig.command(p.PlaceEntry, key=aud.key, side="BUY", qty=Decimal(1))
    assert isinstance(refused, p.Refused), refused
    assert refused.message == (
        "daily_loss_limit: the currency of BINANCE:BTCAUD is not known, and [risk] "
        "max_daily_loss limits only INR, USDT: no entries in it (a plain number limits "
        "every currency)"
    )


def test_under_a_plain_number_an_unknown_currency_is_limited_by_it() -> None:
    rig, aud = with_unknown_currency(risk={"max_daily_loss": 100})
    rig.enter(aud, "BUY", 1, "90000.00", plan=p.PlanSpec(none=True))
    rig.tick(aud, "89890.00")  # -110.00 in the unknown currency
    refused = rig.command(p.PlaceEntry, key=aud.key, side="BUY", qty=Decimal(1))
    assert isinstance(refused, p.Refused), refused
    assert refused.message.startswith("daily_loss_limit: day P&L")
