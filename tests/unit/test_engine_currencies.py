"""Day P&L per currency: rupees and tethers in one engine are never added together, and the
daily loss limit applies in the currency it names (a plain number: in each currency).

The real engine with the recording router; an NSE symbol (INR) beside a Binance one (USDT),
as an OpenAlgo engine with ``--feed binance`` holds them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cockpit.domain.instruments import Exchange, Instrument
from cockpit.engine.core import Engine, EngineOptions, EngineTimer
from cockpit.link import protocol as p
from tests.unit.test_engine_core import SBIN, Rig

BTC = Instrument(Exchange.BINANCE, "BTCUSDT", Decimal("0.01"), Decimal("0.001"), kind="crypto")


def two_currencies(**settings: Any) -> Rig:
    rig = Rig(**settings)
    rig.engine = Engine(
        config=rig.config,
        instruments=[SBIN, BTC],
        router=rig.router,
        publisher=rig.pub,
        options=EngineOptions(reconcile_interval_s=0, plan_event_interval_s=0),
        clock=rig.clock,
    )
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.tick(BTC, "60000.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(none=True))
    rig.enter(BTC, "BUY", 1, "60000.00", plan=p.PlanSpec(none=True))
    return rig


def timer(rig: Rig) -> None:
    rig.engine.handle(EngineTimer(rig.clock.now))


def test_instruments_know_their_currency() -> None:
    assert SBIN.currency == "INR"
    assert BTC.currency == "USDT"
    assert Instrument(Exchange.BINANCE_FUTURES, "BTCUSDT_260327", Decimal("0.1")).currency == (
        "USDT"
    )
    assert Instrument(Exchange.BYBIT, "ETHUSDC", Decimal("0.01")).currency == "USDC"
    assert Instrument(Exchange.CCXT, "BTC/USDT:USDT", Decimal("0.1")).currency == "USDT"
    assert Instrument(Exchange.CCXT, "ETH/BTC", Decimal("0.00001")).currency == "BTC"
    assert Instrument(Exchange.HYPERLIQUID, "BTC", Decimal("1")).currency == "USDC"
    assert Instrument(Exchange.MCX, "GOLDM", Decimal("1")).currency == "INR"


def test_the_status_carries_the_day_pnl_per_currency_never_their_sum() -> None:
    rig = two_currencies()
    rig.tick(SBIN, "795.00")  # INR -50.00
    rig.tick(BTC, "60030.00")  # USDT +30.00
    st = rig.engine._status_view()
    assert st.day_pnls == {"INR": Decimal("-50.00"), "USDT": Decimal("30.00")}
    assert st.day_pnl != Decimal("-20.00")  # not rupees plus tethers


def test_a_limit_in_rupees_is_not_reached_by_a_loss_in_tethers() -> None:
    rig = two_currencies(risk={"max_daily_loss": {"INR": 100}})
    rig.tick(SBIN, "794.00")  # INR -60.00
    rig.tick(BTC, "59920.00")  # USDT -80.00: together 140 "money", over the 100
    timer(rig)
    assert rig.engine._status_view().lock == ""
    assert isinstance(rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1)), p.Ack)
    rig.tick(SBIN, "789.00")  # INR -110.00
    timer(rig)
    st = rig.engine._status_view()
    assert st.lock == "daily_loss_limit"
    assert st.lock_detail == "day P&L INR -110.00 reached the loss limit INR 100.00"


def test_a_plain_limit_applies_in_each_currency_apart() -> None:
    rig = two_currencies(risk={"max_daily_loss": 100})
    rig.tick(SBIN, "794.00")  # INR -60.00
    rig.tick(BTC, "59940.00")  # USDT -60.00
    timer(rig)
    assert rig.engine._status_view().lock == ""
    rig.tick(BTC, "59890.00")  # USDT -110.00
    timer(rig)
    refused = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1))
    assert isinstance(refused, p.Refused)
    assert refused.message == (
        "daily_loss_limit: day P&L USDT -110.00 reached the loss limit USDT 100.00"
    )


def test_the_kill_on_daily_loss_reads_the_currency_of_the_limit() -> None:
    rig = two_currencies(risk={"max_daily_loss": {"USDT": 50}, "kill_on_daily_loss": True})
    rig.tick(SBIN, "780.00")  # INR -200.00: no limit in rupees
    timer(rig)
    assert not rig.engine.kill_switch
    rig.tick(BTC, "59950.00")  # USDT -50.00
    timer(rig)
    assert rig.engine.kill_switch
    [kill] = [a for a in rig.pub.of(p.Alarm) if a.code == "daily_loss_kill"]
    assert kill.message == "day P&L USDT -50.00 reached the loss limit USDT 50.00: kill switch"


def test_one_currency_reads_as_before() -> None:
    """The common case: one currency, a plain limit: words and figures as they always were."""
    rig = Rig(risk={"max_daily_loss": 100})
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(none=True))
    rig.tick(SBIN, "789.00")
    timer(rig)
    st = rig.engine._status_view()
    assert st.day_pnl == Decimal("-110.00")
    assert st.day_pnls == {}
    assert st.lock_detail == "day P&L -110.00 reached the loss limit 100.00"


def test_engine_status_prints_and_documents_each_currency() -> None:
    from cockpit.daemon.main import status_document
    from cockpit.domain.positions import pnls_text

    rig = two_currencies()
    rig.tick(SBIN, "795.00")
    rig.tick(BTC, "60030.00")
    snap = rig.engine.snapshot()
    st = snap.status
    assert pnls_text(st.day_pnl, st.day_pnls) == "INR -50.00  USDT +30.00"
    welcome = p.Welcome(version=1, engine_pid=1, profile="default", venue="sim")
    doc = status_document(welcome, snap)
    assert doc["day_pnls"] == {"INR": "-50", "USDT": "30"}  # as day_pnl is written
    one = p.StatusView(venue="sim", armed=True, day_pnl=Decimal("-50.00"))
    assert pnls_text(one.day_pnl, one.day_pnls) == "-50.00"  # one currency: as before


def test_a_pnl_alert_reads_each_currency_apart() -> None:
    rig = two_currencies()
    assert isinstance(rig.command(p.AddAlert, kind="pnl", amount=Decimal(-100)), p.Ack)
    rig.tick(SBIN, "794.00")  # INR -60.00
    rig.tick(BTC, "59940.00")  # USDT -60.00: together 120 "money"
    timer(rig)
    assert rig.pub.of(p.AlertFired) == []
    rig.tick(BTC, "59890.00")  # USDT -110.00
    timer(rig)
    [fired] = rig.pub.of(p.AlertFired)
    assert fired.text == "day P&L USDT -110.00 reached -100.00"
