"""Scale-out plans and templates in the engine: each target sends one exit order for its
quantity on the tick that crosses it, the stop closes what is left (never what a target's
working order will sell), breakeven after TP1's fill, and templates from the config."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.config import ConfigError, load_settings
from cockpit.domain.execution import CancelOrder, PlaceOrder
from cockpit.engine.core import EngineTimer
from cockpit.journal.store import Journal
from cockpit.link import protocol as p
from tests.unit.test_engine_core import NIFTY, SBIN, Rig

D = Decimal
SCALE = p.PlanSpec(
    stop_ticks=10,
    targets=[p.TargetSpec(10, qty=D(3)), p.TargetSpec(20, qty=D(3)), p.TargetSpec(30)],
)
"""Long 10 @ 800.00: stop 799.50, TP1 3 @ 800.50, TP2 3 @ 801.00, the rest at 801.50."""


@pytest.fixture
def rig() -> Rig:
    r = Rig()
    r.start()
    r.tick(SBIN, "800.00")
    return r


def exits(rig: Rig, since: int) -> list[PlaceOrder]:
    return [r for r in rig.places()[since:] if r.action == "SELL"]


def test_each_target_sends_one_exit_for_its_quantity_then_the_stop_closes_the_rest(
    rig: Rig,
) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00", plan=SCALE)
    slot = rig.engine.plans[SBIN.key]
    assert [(leg.level, leg.qty) for leg in slot.plan.legs] == [(16010, D(3)), (16020, D(3))]
    assert slot.plan.target == 16030
    view = rig.pub.of(p.PlanEvent)[-1].plan
    assert [(t.n, t.level, t.qty) for t in view.targets] == [(1, 16010, D(3)), (2, 16020, D(3))]

    before = len(rig.places())
    rig.tick(SBIN, "800.45")
    assert exits(rig, before) == []
    rig.tick(SBIN, "800.50")  # TP1
    tp1 = exits(rig, before)
    assert [(r.quantity, r.pricetype) for r in tp1] == [(D(3), "MARKET")]
    fired = rig.pub.of(p.ExitFired)[-1]
    assert (fired.reason, fired.level, fired.cid) == ("tp1", 16010, tp1[0].cid)
    rig.tick(SBIN, "800.55")
    rig.tick(SBIN, "800.50")  # crossing TP1 again sends nothing
    assert len(exits(rig, before)) == 1
    rig.fill(tp1[0], rig.accept(tp1[0]), "800.50")
    assert rig.engine.portfolio.get(SBIN.key).qty == 7
    assert slot.plan.qty == D(7)
    assert slot.plan.legs[0].filled == D(3)

    rig.tick(SBIN, "799.50")  # the stop: the whole remaining 7, once
    rig.tick(SBIN, "799.00")
    sells = exits(rig, before)
    assert [r.quantity for r in sells] == [D(3), D(7)]
    assert rig.pub.of(p.ExitFired)[-1].reason == "stop"


def test_a_gap_through_two_targets_sends_both_and_the_final_target_the_rest(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00", plan=SCALE)
    before = len(rig.places())
    rig.tick(SBIN, "801.10")  # through TP1 and TP2 at once
    assert [r.quantity for r in exits(rig, before)] == [D(3), D(3)]
    assert [f.reason for f in rig.pub.of(p.ExitFired)] == ["tp1", "tp2"]
    # Both still working: the final target closes only the 4 they leave.
    rig.tick(SBIN, "801.50")
    assert [r.quantity for r in exits(rig, before)] == [D(3), D(3), D(4)]


def test_the_stop_never_sells_what_a_working_target_order_will(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00", plan=SCALE)
    before = len(rig.places())
    rig.tick(SBIN, "800.50")  # TP1 sent, not filled yet
    rig.tick(SBIN, "799.50")  # the stop
    assert [r.quantity for r in exits(rig, before)] == [D(3), D(7)]
    tp1, stop = exits(rig, before)
    rig.fill(stop, rig.accept(stop), "799.50")
    assert rig.engine.portfolio.get(SBIN.key).qty == 3
    # TP1 is then rejected: the closer sends the 3 it left, once.
    rig.fill(tp1, rig.accept(tp1), "800.50", qty=D(0), status="rejected")
    rig.clock.now += 10**9
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert [r.quantity for r in exits(rig, before)][2:] == [D(3)]
    assert [a for a in rig.pub.of(p.Alarm) if a.code == "target_failed"]


def test_breakeven_after_tp1_moves_the_stop_when_tp1_fills(rig: Rig) -> None:
    spec = p.PlanSpec(
        stop_ticks=10,
        targets=[p.TargetSpec(10, qty=D(5)), p.TargetSpec(30)],
        breakeven_after_tp1=True,
    )
    rig.enter(SBIN, "BUY", 10, "800.00", plan=spec)
    plan = rig.engine.plans[SBIN.key].plan
    before = len(rig.places())
    rig.tick(SBIN, "800.50")
    assert plan.stop == 15990  # TP1 decided, not filled: the stop stays
    (tp1,) = exits(rig, before)
    rig.fill(tp1, rig.accept(tp1), "800.50")
    assert plan.stop == 16000
    assert plan.qty == D(5)
    assert rig.pub.of(p.PlanEvent)[-1].plan.stop == 16000
    rig.tick(SBIN, "800.00")  # back to the entry: the rest exits at breakeven
    assert [r.quantity for r in exits(rig, before)] == [D(5), D(5)]
    assert rig.pub.of(p.ExitFired)[-1].reason == "breakeven"


def test_shares_round_down_to_lots_and_a_target_row_moves_from_the_ladder(rig: Rig) -> None:
    rig.tick(NIFTY, "20000.00")
    spec = p.PlanSpec(
        stop_ticks=20, targets=[p.TargetSpec(10, pct=D(30)), p.TargetSpec(20, pct=D(50))]
    )
    rig.enter(NIFTY, "BUY", 200, "20000.00", plan=spec)  # 4 lots of 50
    plan = rig.engine.plans[NIFTY.key].plan
    assert [leg.qty for leg in plan.legs] == [D(50), D(100)]  # 30% of 200 = 60 -> one lot
    assert plan.target is None  # the rest has no final target (it rides the stop)
    answer = rig.command(p.MoveTarget, key=NIFTY.key, leg=2, delta=5)
    assert isinstance(answer, p.Ack), answer
    assert plan.legs[1].level == 400000 + 25
    refused = rig.command(p.MoveTarget, key=NIFTY.key, leg=3, delta=1)
    assert isinstance(refused, p.Refused)


def test_the_journal_keeps_the_targets_and_a_restart_restores_them(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "j.sqlite3")
    rig = Rig(journal=journal)
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=SCALE)
    rig.tick(SBIN, "800.50")
    tp1 = rig.places()[-1]
    rig.fill(tp1, rig.accept(tp1), "800.50")
    journal.close()

    journal = Journal.open(tmp_path / "j.sqlite3")
    again = Rig(journal=journal)
    again.start(positions=[{"symbol": "SBIN", "exchange": "NSE", "product": "MIS",
                            "quantity": "7", "average_price": "800.00"}])  # fmt: skip
    plan = again.engine.plans[SBIN.key].plan
    assert [(leg.level, leg.fired, leg.filled) for leg in plan.legs] == [
        (16010, True, D(3)),
        (16020, False, D(0)),
    ]
    assert plan.qty == D(7)
    before = len(again.places())
    again.tick(SBIN, "800.60")
    again.tick(SBIN, "801.00")
    assert [r.quantity for r in exits(again, before)] == [D(3)]  # TP2 only, not TP1 again
    journal.close()


# ----------------------------------------------------------------------------- templates


def test_templates_and_instrument_defaults_parse(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        """
[templates.scalp]
stop_ticks = 8
targets = [{ticks = 6, qty = 2}, {ticks = 12, pct = 50}, {ticks = 24}]
trail_distance = 4
breakeven_after_tp1 = true
time_stop_s = 300

[instruments."NSE:SBIN"]
default_qty = 25
template = "scalp"
""",
        encoding="utf-8",
    )
    settings = load_settings(path)
    scalp = settings.templates["scalp"]
    assert [(t.ticks, t.qty, t.pct) for t in scalp.targets] == [
        (6, D(2), None),
        (12, None, D(50)),
        (24, None, None),
    ]
    assert scalp.breakeven_after_tp1
    assert settings.instruments["NSE:SBIN"].default_qty == D(25)
    path.write_text('[instruments."NSE:SBIN"]\ntemplate = "swing"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="no \\[templates.swing\\]"):
        load_settings(path)
    path.write_text("[templates.bad]\ntargets = [{ticks = 6}, {ticks = 9, qty = 1}]\n")
    with pytest.raises(ConfigError, match="must be the last"):
        load_settings(path)


def _template_rig() -> Rig:
    rig = Rig(
        templates={
            "scalp": {
                "stop_ticks": 8,
                "targets": [{"ticks": 6, "qty": 2}, {"ticks": 24}],
                "breakeven_after_tp1": True,
            },
            "wide": {"stop_ticks": 40, "target_ticks": 80},
        },
        instruments={"NSE:SBIN": {"template": "scalp"}},
    )
    rig.start()
    rig.tick(SBIN, "800.00")
    return rig


def test_an_entry_gets_the_plan_of_its_template() -> None:
    rig = _template_rig()
    rig.enter(SBIN, "BUY", 10, "800.00", template="wide")
    plan = rig.engine.plans[SBIN.key].plan
    assert (plan.stop, plan.target, plan.legs) == (16000 - 40, 16000 + 80, [])


def test_an_entry_without_a_template_takes_the_instruments_and_its_own_fields_win() -> None:
    rig = _template_rig()
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=5))
    plan = rig.engine.plans[SBIN.key].plan
    assert plan.stop == 16000 - 5  # the entry's own stop
    assert [(leg.level, leg.qty) for leg in plan.legs] == [(16006, D(2))]  # the template's
    assert plan.target == 16024
    assert plan.breakeven_after_tp1


def test_an_unknown_template_is_refused_before_anything_is_sent() -> None:
    rig = _template_rig()
    before = len(rig.places())
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=D(1), template="nope")
    assert isinstance(answer, p.Refused)
    assert answer.rule == "template"
    assert "scalp, wide" in answer.message
    assert len(rig.places()) == before


def test_flatten_cancels_working_targets_and_closes_what_they_leave(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00", plan=SCALE)
    before = len(rig.places())
    rig.tick(SBIN, "800.50")  # TP1 (3) working
    (tp1,) = exits(rig, before)
    rig.accept(tp1)
    answer = rig.command(p.Flatten, key=SBIN.key)
    assert isinstance(answer, p.Ack)
    assert [c.cid for c in rig.router.of(CancelOrder)] == [tp1.cid]
    assert [r.quantity for r in exits(rig, before)] == [D(3), D(7)]


def test_the_stop_leaves_a_partial_close_in_flight_to_sell_its_part(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10))
    answer = rig.command(p.ClosePart, key=SBIN.key, percent=50)
    assert isinstance(answer, p.Ack), answer
    before = len(rig.places())
    rig.tick(SBIN, "799.50")  # the stop, while the half (5) is still working
    assert [r.quantity for r in exits(rig, before)] == [D(5)]


def test_a_target_partly_filled_before_a_crash_and_done_while_down_is_reconciled(
    tmp_path: Path,
) -> None:
    journal = Journal.open(tmp_path / "j.sqlite3")
    rig = Rig(journal=journal)
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=SCALE)
    rig.tick(SBIN, "800.50")
    tp1 = rig.places()[-1]
    venue_id = rig.accept(tp1)
    rig.fill(tp1, venue_id, "800.50", qty=D(2), status="open")  # 2 of 3, then the crash
    assert rig.engine.plans[SBIN.key].plan.legs[0].filled == D(2)
    journal.close()

    journal = Journal.open(tmp_path / "j.sqlite3")
    again = Rig(journal=journal)
    # While it was down the rest of TP1 filled: the broker has 7 and TP1 complete.
    again.start(
        positions=[{"symbol": "SBIN", "exchange": "NSE", "product": "MIS",
                    "quantity": 7, "average_price": 800.0}],
        orders=[{"orderid": venue_id, "symbol": "SBIN", "exchange": "NSE", "action": "SELL",
                 "quantity": 3, "filled_quantity": 3, "order_status": "complete",
                 "pricetype": "MARKET", "price": 0, "average_price": 800.5}],
    )  # fmt: skip
    plan = again.engine.plans[SBIN.key].plan
    assert again.engine.portfolio.get(SBIN.key).qty == 7
    assert (plan.qty, plan.legs[0].filled, plan.legs[0].done) == (D(7), D(3), True)
    assert not [a for a in again.pub.of(p.Alarm) if a.code == "reconcile_mismatch"]
    before = len(again.places())
    again.tick(SBIN, "799.50")  # the stop: all 7, nothing left to TP1
    assert [r.quantity for r in exits(again, before)] == [D(7)]
    journal.close()


def test_reverse_waits_while_a_target_order_works(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00", plan=SCALE)
    rig.tick(SBIN, "800.50")  # TP1 (3) working: reversing 2 x 10 would overshoot
    answer = rig.command(p.Reverse, key=SBIN.key)
    assert isinstance(answer, p.Refused)
    assert answer.rule == "closing"


def test_a_limit_target_left_unfilled_is_cancelled_when_the_stop_fires_and_the_rest_closed() -> (
    None
):
    rig = Rig(exits={"exit_order_type": "limit", "exit_offset_ticks": 2})
    rig.start()
    rig.tick(SBIN, "800.00", quote=True)
    rig.enter(SBIN, "BUY", 10, "800.00", plan=SCALE)
    before = len(rig.places())
    rig.tick(SBIN, "800.50", quote=True)  # TP1 as a marketable limit; it does not fill
    (tp1,) = exits(rig, before)
    assert (tp1.pricetype, tp1.quantity) == ("LIMIT", D(3))
    tp1_venue = rig.accept(tp1)
    rig.tick(SBIN, "799.50", quote=True)  # the stop: 7 now, and TP1's limit is cancelled
    assert [r.quantity for r in exits(rig, before)] == [D(3), D(7)]
    assert [c.cid for c in rig.router.of(CancelOrder)] == [tp1.cid]
    stop = exits(rig, before)[1]
    rig.fill(stop, rig.accept(stop), "799.45")
    rig.fill(tp1, tp1_venue, "800.45", qty=D(0), status="cancelled")
    rig.clock.now += 10**9
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert [r.quantity for r in exits(rig, before)][2:] == [D(3)]  # the rest, once
    rig.clock.now += 10**9
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert len(exits(rig, before)) == 3


def test_targets_never_sell_more_than_a_partial_close_in_flight_leaves(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00", plan=SCALE)
    before = len(rig.places())
    answer = rig.command(p.ClosePart, key=SBIN.key, percent=50)  # 5, working
    assert isinstance(answer, p.Ack), answer
    rig.tick(SBIN, "801.10")  # TP1 (3) and TP2 (3) at once: only 2 are left for TP2
    assert [r.quantity for r in exits(rig, before)] == [D(5), D(3), D(2)]
    rig.tick(SBIN, "801.50")  # the final target: nothing left unsold, nothing sent
    assert [r.quantity for r in exits(rig, before)] == [D(5), D(3), D(2)]


def test_a_target_order_working_at_a_crash_still_holds_its_part_after_the_restart(
    tmp_path: Path,
) -> None:
    journal = Journal.open(tmp_path / "j.sqlite3")
    rig = Rig(journal=journal)
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=SCALE)
    rig.tick(SBIN, "800.50")
    tp1 = rig.places()[-1]
    venue_id = rig.accept(tp1)  # TP1 (3) working at the venue, then the crash
    journal.close()

    journal = Journal.open(tmp_path / "j.sqlite3")
    again = Rig(journal=journal)
    again.start(
        positions=[{"symbol": "SBIN", "exchange": "NSE", "product": "MIS",
                    "quantity": 10, "average_price": 800.0}],
        orders=[{"orderid": venue_id, "symbol": "SBIN", "exchange": "NSE", "action": "SELL",
                 "quantity": 3, "filled_quantity": 0, "order_status": "open",
                 "pricetype": "MARKET", "price": 0, "average_price": 0}],
    )  # fmt: skip
    before = len(again.places())
    again.tick(SBIN, "799.50")  # the stop sells the 7 the restored TP1 order leaves
    assert [r.quantity for r in exits(again, before)] == [D(7)]
    journal.close()
