"""Engine loose ends found in review: risk mapping, stale-data gate, working entry quantity,
kill on daily loss, off-grid entry averages, and session volume at price."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from cockpit.config import RiskSettings
from cockpit.domain.market import QuoteTick, TradeTick
from cockpit.domain.risk import RiskLimits
from cockpit.engine.core import EngineTimer
from cockpit.engine.market import VOLUME_RESET_QUOTES
from cockpit.link import protocol as p
from tests.unit.test_engine_core import INFY, SBIN, Recorder, Rig

_NS = 1_000_000_000


def _started(**settings: Any) -> Rig:
    rig = Rig(**settings)
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.tick(INFY, "1500.00")
    return rig


# ---------------------------------------------------------------------------- risk mapping


def _sample(name: str, annotation: Any) -> Any:
    text = str(annotation)
    if "bool" in text:
        return True
    if "int" in text:
        return 7
    return Decimal("7.5")


@pytest.mark.parametrize("name", sorted(RiskSettings.model_fields))
def test_every_risk_setting_reaches_the_domain_limits(name: str) -> None:
    field = RiskSettings.model_fields[name]
    settings = RiskSettings(**{name: _sample(name, field.annotation)})
    assert settings.to_domain() != RiskLimits(), f"[risk] {name} does not reach RiskLimits"


def test_risk_mapping_values() -> None:
    limits = RiskSettings(
        max_order_qty=Decimal(50),
        max_order_value=Decimal(100000),
        max_position_qty=Decimal(200),
        max_position_value=Decimal(500000),
        max_open_orders=4,
        max_orders_per_minute=30,
        max_daily_loss=Decimal(2500),
        max_price_deviation_pct=Decimal(3),
        kill_on_daily_loss=True,
        max_tick_age_s=Decimal("2.5"),
    ).to_domain()
    assert limits == RiskLimits(
        max_order_qty=Decimal(50),
        max_notional=Decimal(100000),
        max_position_qty=Decimal(200),
        max_position_notional=Decimal(500000),
        max_open_orders=4,
        max_orders_per_window=30,
        order_window_ns=60 * _NS,
        daily_loss_limit=Decimal(2500),
        price_band_pct=Decimal(3),
        kill_on_daily_loss=True,
        max_tick_age_ns=2_500_000_000,
    )


def test_engine_uses_the_config_mapping() -> None:
    rig = Rig(risk={"max_position_value": 1000, "max_tick_age_s": 3})
    limits = rig.engine._risk.limits
    assert limits == rig.config.risk.to_domain()
    assert limits.max_position_notional == Decimal(1000)
    assert limits.max_tick_age_ns == 3 * _NS


# ---------------------------------------------------------------------------- stale-data gate


def test_entries_refused_on_an_old_tick_exits_still_go() -> None:
    rig = _started(risk={"max_tick_age_s": 2})
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(none=True))
    rig.clock.now += 3 * _NS  # no tick for 3 s while the feed says it is live
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1))
    assert isinstance(answer, p.Refused)
    assert answer.rule == "stale_data"
    assert "3.001 s old, over the limit 2 s" in answer.message
    before = len(rig.places())
    answer = rig.command(p.Flatten, key=SBIN.key)
    assert isinstance(answer, p.Ack)
    exits = rig.places()[before:]
    assert [(e.action, e.quantity) for e in exits] == [("SELL", 10)]
    rig.tick(INFY, "1500.05")  # a fresh tick of that symbol lets entries through again
    answer = rig.command(p.PlaceEntry, key=INFY.key, side="BUY", qty=Decimal(1))
    assert isinstance(answer, p.Ack), answer


def test_the_tick_age_limit_can_be_switched_off() -> None:
    """On by default since issue 15.2 (tests/unit/test_risk_defaults.py); None switches it off."""
    rig = _started(risk={"max_tick_age_s": None})
    rig.clock.now += 3600 * _NS
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1))
    assert isinstance(answer, p.Ack), answer


# ---------------------------------------------------------------------------- working entry qty


def test_working_entry_quantity_counts_towards_the_position_limit() -> None:
    rig = _started(risk={"max_position_qty": 10})
    first = rig.command(
        p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(8), order_type="LIMIT", price=15990
    )
    assert isinstance(first, p.Ack), first
    rig.accept(rig.places()[-1])  # resting, nothing filled
    second = rig.command(
        p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(5), order_type="LIMIT", price=15980
    )
    assert isinstance(second, p.Refused)
    assert second.rule == "max_position_qty"
    # The other way the working buy does not add to a sell's exposure.
    third = rig.command(p.PlaceEntry, key=SBIN.key, side="SELL", qty=Decimal(5))
    assert isinstance(third, p.Ack), third


def test_working_entries_of_another_symbol_do_not_count() -> None:
    rig = _started(risk={"max_position_qty": 10})
    first = rig.command(
        p.PlaceEntry, key=INFY.key, side="BUY", qty=Decimal(8), order_type="LIMIT", price=29990
    )
    assert isinstance(first, p.Ack), first
    rig.accept(rig.places()[-1])  # INFY resting
    second = rig.command(
        p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(8), order_type="LIMIT", price=15990
    )
    assert isinstance(second, p.Ack), second
    rig.accept(rig.places()[-1])
    third = rig.command(
        p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(3), order_type="LIMIT", price=15980
    )
    assert isinstance(third, p.Refused)
    assert third.rule == "max_position_qty"


# ---------------------------------------------------------------------------- kill on daily loss


def test_kill_on_daily_loss_trips_the_kill_switch() -> None:
    rig = _started(risk={"max_daily_loss": 100, "kill_on_daily_loss": True})
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(none=True))
    rig.tick(SBIN, "791.00")  # -90
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert not rig.engine.kill_switch
    rig.tick(SBIN, "790.00")  # -100: the limit
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert rig.engine.kill_switch
    flatten = [r for r in rig.places() if r.action == "SELL"]
    assert [(r.symbol, r.quantity, r.urgent) for r in flatten] == [("SBIN", 10, True)]
    assert any(a.code == "daily_loss_kill" for a in rig.pub.of(p.Alarm))


def test_daily_loss_without_kill_only_refuses_entries() -> None:
    rig = _started(risk={"max_daily_loss": 100})
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(none=True))
    rig.tick(SBIN, "789.00")
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert not rig.engine.kill_switch
    answer = rig.command(p.PlaceEntry, key=INFY.key, side="BUY", qty=Decimal(1))
    assert isinstance(answer, p.Refused)
    assert answer.rule == "daily_loss_limit"


# ---------------------------------------------------------------------------- off-grid entries


def _build_off_grid(rig: Rig, side: str, prices: list[str]) -> None:
    for price in prices:
        rig.enter(SBIN, side, 1, price, plan=p.PlanSpec(none=True))


def test_breakeven_of_an_off_grid_long_never_locks_in_a_loss() -> None:
    rig = _started()
    _build_off_grid(rig, "BUY", ["800.00", "800.00", "800.05"])  # avg 800.0166: 16000 1/3
    pos = rig.engine.portfolio.get(SBIN.key)
    assert pos.avg_ticks == Fraction(48001, 3)
    answer = rig.command(p.AttachPlan, key=SBIN.key, plan=p.PlanSpec(stop_ticks=10))
    assert isinstance(answer, p.Ack), answer
    rig.tick(SBIN, "800.50")
    answer = rig.command(p.ToBreakeven, key=SBIN.key)
    assert isinstance(answer, p.Ack), answer
    plan = rig.engine.plans[SBIN.key].plan
    assert plan.entry_ticks == 16001  # not round() = 16000
    assert plan.stop == 16001
    assert plan.stop >= pos.avg_ticks


def test_breakeven_of_an_off_grid_short_never_locks_in_a_loss() -> None:
    rig = _started()
    _build_off_grid(rig, "SELL", ["800.05", "800.05", "800.00"])  # avg 16000 2/3
    answer = rig.command(p.AttachPlan, key=SBIN.key, plan=p.PlanSpec(stop_ticks=10))
    assert isinstance(answer, p.Ack), answer
    rig.tick(SBIN, "799.50")
    rig.command(p.ToBreakeven, key=SBIN.key)
    plan = rig.engine.plans[SBIN.key].plan
    assert plan.entry_ticks == 16000  # not round() = 16001
    assert plan.stop == 16000


def test_an_add_moves_the_plan_entry_to_the_new_average() -> None:
    rig = _started()
    rig.enter(SBIN, "BUY", 2, "800.00", plan=p.PlanSpec(stop_ticks=10))
    plan = rig.engine.plans[SBIN.key].plan
    assert plan.entry_ticks == 16000
    rig.enter(SBIN, "BUY", 1, "800.05", plan=p.PlanSpec(stop_ticks=10))
    assert plan.qty == 3
    assert plan.entry_ticks == 16001  # avg 16000 1/3, rounded against the long
    rig.tick(SBIN, "800.50")
    rig.command(p.ToBreakeven, key=SBIN.key)
    assert plan.stop == 16001


# ---------------------------------------------------------------------------- volume at price


class VolumeRecorder(Recorder):
    """The rig's recording publisher, with the optional ``volume`` method."""

    def __init__(self) -> None:
        super().__init__()
        self.volumes: list[p.VolumeAtPrice] = []

    def volume(self, vap: p.VolumeAtPrice) -> None:
        self.volumes.append(vap)


def _vap_rig() -> Rig:
    rig = Rig()
    rig.pub = VolumeRecorder()
    rig.engine.publisher = rig.pub
    rig.start()
    return rig


def _quote(
    rig: Rig, price: str, volume: str | None, ltq: str | None = None, ltt: int | None = None
) -> None:
    rig.clock.now += 1_000_000
    rig.engine.handle(
        QuoteTick(
            rig.clock.now,
            "NSE",
            "SBIN",
            Decimal(price),
            volume=None if volume is None else Decimal(volume),
            ltq=None if ltq is None else Decimal(ltq),
            ltt_ns=ltt,
        )
    )


def _trade(rig: Rig, price: str, qty: str) -> None:
    rig.clock.now += 1_000_000
    rig.engine.handle(TradeTick(rig.clock.now, "NSE", "SBIN", Decimal(price), ltq=Decimal(qty)))


def _timer(rig: Rig) -> list[p.VolumeAtPrice]:
    pub = rig.pub
    assert isinstance(pub, VolumeRecorder)
    before = len(pub.volumes)
    rig.engine.handle(EngineTimer(rig.clock.now))
    return pub.volumes[before:]


def _vap_of(rig: Rig) -> dict[int, Decimal]:
    snap = rig.engine.snapshot()
    return {t: q for v in snap.volume_at_price if v.key == SBIN.key for t, q in v.levels}


def test_quote_volume_increase_is_put_at_the_ltp() -> None:
    rig = _vap_rig()
    _quote(rig, "800.00", "50000")  # baseline: earlier volume has no known price
    assert _vap_of(rig) == {}
    _quote(rig, "800.00", "50010")
    _quote(rig, "800.05", "50010")  # a book change, no trade
    _quote(rig, "800.05", "50013")
    _quote(rig, "800.00", "50020")
    assert _vap_of(rig) == {16000: Decimal(17), 16001: Decimal(3)}
    sent = _timer(rig)
    assert [(v.key, v.levels) for v in sent] == [
        (SBIN.key, [(16000, Decimal(17)), (16001, Decimal(3))])
    ]
    assert _timer(rig) == []  # nothing changed since
    _quote(rig, "800.05", "50021")
    assert [v.levels for v in _timer(rig)] == [[(16001, Decimal(4))]]  # only the changed level


def test_trades_add_their_quantity() -> None:
    rig = _vap_rig()
    _trade(rig, "800.00", "0.5")
    _trade(rig, "800.00", "1.25")
    _trade(rig, "800.10", "2")
    assert _vap_of(rig) == {16000: Decimal("1.75"), 16002: Decimal(2)}


def test_a_volume_drop_starts_a_new_session() -> None:
    rig = _vap_rig()
    _quote(rig, "800.00", "100")
    _quote(rig, "800.00", "110")
    _timer(rig)
    _quote(rig, "801.00", "5")  # the day rolled over: cumulative volume restarted
    assert _vap_of(rig) == {16000: Decimal(10)}  # or a frame behind: not yet a new session
    for _ in range(VOLUME_RESET_QUOTES - 2):
        _quote(rig, "801.00", "5")
    _quote(rig, "801.00", "6")  # it held: a new session, 1 traded since the restart
    assert _vap_of(rig) == {16020: Decimal(1)}
    sent = [v.levels for v in _timer(rig)]
    assert sent == [[(16000, Decimal(0)), (16020, Decimal(1))]]  # 0: level removed
    _quote(rig, "801.00", "8")
    assert _vap_of(rig) == {16020: Decimal(3)}


def test_a_frame_behind_is_ignored_and_the_next_counts_once() -> None:
    rig = _vap_rig()
    _quote(rig, "800.00", "100")
    _quote(rig, "800.00", "110")
    for _ in range(VOLUME_RESET_QUOTES - 1):
        _quote(rig, "801.00", "104")  # late frames, fewer than make a new session
    _quote(rig, "801.00", "110")
    for _ in range(VOLUME_RESET_QUOTES - 1):
        _quote(rig, "801.00", "105")  # a new candidate: the old one ended
    _quote(rig, "801.00", "112")
    assert _vap_of(rig) == {16000: Decimal(10), 16020: Decimal(2)}
    assert rig.engine.counters["volume_behind"] == 2 * (VOLUME_RESET_QUOTES - 1)


def test_quote_without_volume_counts_ltq_once_per_trade_time() -> None:
    rig = _vap_rig()
    _quote(rig, "800.00", None, ltq="4", ltt=1)
    _quote(rig, "800.00", None, ltq="4", ltt=1)  # same trade repeated with a book change
    _quote(rig, "800.05", None, ltq="2", ltt=2)
    _quote(rig, "800.05", None, ltq="2")  # no trade time: cannot tell, not counted
    assert _vap_of(rig) == {16000: Decimal(4), 16001: Decimal(2)}


def test_ltp_ticks_and_bad_prices_add_nothing() -> None:
    rig = _vap_rig()
    rig.tick(SBIN, "800.00")
    _trade(rig, "0", "5")  # unusable price: counted as a bad tick
    assert _vap_of(rig) == {}
    assert _timer(rig) == []


def test_the_daily_loss_messages_show_money_not_raw_decimals() -> None:
    """The lock alert and the kill alarm word the day P&L and the limit as money (two places,
    thousands separated), not as raw Decimals (``-1005`` / ``1000``)."""
    rig = _started(risk={"max_daily_loss": 1000, "kill_on_daily_loss": True})
    assert isinstance(rig.command(p.AddAlert, kind="lock"), p.Ack)
    rig.enter(SBIN, "BUY", 100, "800.00", plan=p.PlanSpec(none=True))
    rig.tick(SBIN, "789.95")  # -1,005
    rig.engine.handle(EngineTimer(rig.clock.now))
    [lock] = [a for a in rig.pub.of(p.AlertFired) if a.kind == "lock"]
    assert lock.text == "day P&L -1,005.00 reached the loss limit 1,000.00: entries refused"
    [kill] = [a for a in rig.pub.of(p.Alarm) if a.code == "daily_loss_kill"]
    assert kill.message == "day P&L -1,005.00 reached the loss limit 1,000.00: kill switch"


def test_the_daily_loss_lock_and_refusals_show_money_not_raw_decimals() -> None:
    """The status bar's lock words, an entry's refusal and a P&L alert's refusal word the day
    P&L as money too (they read ``day P&L -1005 reached the loss limit 1000`` and
    ``the day P&L is -1005 now``)."""
    rig = _started(risk={"max_daily_loss": 1000})
    rig.enter(SBIN, "BUY", 100, "800.00", plan=p.PlanSpec(none=True))
    rig.tick(SBIN, "789.95")  # -1,005
    rig.engine.handle(EngineTimer(rig.clock.now))
    st = rig.engine._status_view()
    assert st.lock == "daily_loss_limit"
    assert st.lock_detail == "day P&L -1,005.00 reached the loss limit 1,000.00"
    refused = rig.command(p.PlaceEntry, key=INFY.key, side="BUY", qty=Decimal(1))
    assert isinstance(refused, p.Refused)
    assert refused.message == "daily_loss_limit: day P&L -1,005.00 reached the loss limit 1,000.00"
    same = rig.command(p.AddAlert, kind="pnl", amount=Decimal(-1005))
    assert isinstance(same, p.Refused)
    assert same.message == "the day P&L is -1,005.00 now"
