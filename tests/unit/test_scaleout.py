"""Scale-out plans: up to three targets, each firing once for its quantity; the stop covers the
rest; breakeven after TP1; the journal form restores them."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.domain.exits import ExitPlan, ExitReason, PlanError
from cockpit.domain.orders import Side
from cockpit.domain.scaleout import TargetLeg, TargetSpec, resolve_targets

D = Decimal


def long_plan(**kw: object) -> ExitPlan:
    """Long 10 @ 1000, stop 990, TP1 3 @ 1010, TP2 3 @ 1020, final target 1030."""
    legs = [TargetLeg(1, 1010, D(3)), TargetLeg(2, 1020, D(3))]
    return ExitPlan(Side.BUY, 10, 1000, stop=990, target=1030, legs=legs, **kw)  # type: ignore[arg-type]


def test_each_target_fires_once_for_its_quantity_on_the_tick_that_crosses_it() -> None:
    plan = long_plan()
    assert plan.on_tick(1009, 1) is None
    tp1 = plan.on_tick(1010, 2)
    assert tp1 is not None
    assert (tp1.leg, tp1.qty, tp1.side, tp1.level_ticks, tp1.reason) == (
        1,
        D(3),
        Side.SELL,
        1010,
        ExitReason.TARGET,
    )
    assert not plan.fired  # the plan goes on
    assert plan.on_tick(1010, 3) is None  # never twice
    assert plan.on_tick(1005, 4) is None
    assert plan.on_tick(1012, 5) is None  # crossing it again: still never twice
    tp2 = plan.on_tick(1021, 6)
    assert tp2 is not None
    assert (tp2.leg, tp2.qty) == (2, D(3))
    assert plan.on_tick(1025, 7) is None
    final = plan.on_tick(1030, 8)
    assert final is not None
    assert final.leg is None
    assert plan.fired


def test_a_gap_through_two_targets_gives_one_decision_per_target_at_that_price() -> None:
    plan = long_plan()
    first = plan.on_tick(1025, 1)
    second = plan.on_tick(1025, 1)  # the same price again: the next target it crossed
    third = plan.on_tick(1025, 1)
    assert first is not None
    assert second is not None
    assert [first.leg, second.leg] == [1, 2]
    assert third is None


def test_the_stop_covers_the_remaining_quantity_and_wins_over_targets() -> None:
    plan = long_plan()
    assert plan.on_tick(1010, 1) is not None  # TP1 decided
    plan.leg_filled(plan.legs[0], D(3))
    plan.leg_done(plan.legs[0])
    plan.resize(7)  # the position after TP1's fill
    stop = plan.on_tick(990, 2)
    assert stop is not None
    assert stop.reason is ExitReason.STOP
    assert stop.qty == D(7)
    assert stop.leg is None
    assert plan.fired


def test_a_target_that_covers_what_is_left_is_the_full_exit() -> None:
    # TP2 asks for 3 of a position cut to 3 by a partial close: it closes everything.
    plan = long_plan()
    plan.on_tick(1010, 1)
    plan.leg_filled(plan.legs[0], D(3))
    plan.leg_done(plan.legs[0])
    plan.resize(3)
    decision = plan.on_tick(1020, 2)
    assert decision is not None
    assert decision.leg is None
    assert decision.qty == D(3)
    assert plan.fired


def test_a_working_target_order_is_committed_so_the_next_target_covers_only_the_rest() -> None:
    # Position 6: TP1 (3) decided and not filled yet; TP2 (3) is then all that is left.
    legs = [TargetLeg(1, 1010, D(3)), TargetLeg(2, 1020, D(3))]
    plan = ExitPlan(Side.BUY, 6, 1000, stop=990, legs=legs)
    tp1 = plan.on_tick(1010, 1)
    assert tp1 is not None
    assert tp1.leg == 1
    assert plan.legs[0].committed == D(3)
    tp2 = plan.on_tick(1020, 2)
    assert tp2 is not None
    assert tp2.leg is None  # the full exit (the engine closes what TP1 does not)
    assert plan.fired


def test_breakeven_after_tp1_moves_the_stop_on_tp1s_fill_never_loosening() -> None:
    plan = long_plan(breakeven_after_tp1=True)
    plan.on_tick(1010, 1)
    assert plan.stop == 990  # decided, not filled: the stop has not moved
    change = plan.leg_filled(plan.legs[0], D(1))
    assert plan.stop == 1000
    assert plan.stop_source is ExitReason.BREAKEVEN
    assert "stop" in change.as_dict()
    plan.leg_filled(plan.legs[0], D(2))
    assert plan.stop == 1000

    # A stop the trader already has past breakeven stays where it is.
    tight = long_plan(breakeven_after_tp1=True)
    tight.on_tick(1008, 1)
    tight.move_stop(1005)
    tight.on_tick(1010, 2)
    tight.leg_filled(tight.legs[0], D(3))
    assert tight.stop == 1005

    # Without the rule TP1's fill leaves the stop alone.
    plain = long_plan()
    plain.on_tick(1010, 1)
    plain.leg_filled(plain.legs[0], D(3))
    assert plain.stop == 990


def test_short_targets_are_mirrored() -> None:
    legs = [TargetLeg(1, 990, D(2))]
    plan = ExitPlan(Side.SELL, 5, 1000, stop=1010, target=980, legs=legs)
    assert plan.on_tick(991, 1) is None
    tp1 = plan.on_tick(990, 2)
    assert tp1 is not None
    assert (tp1.leg, tp1.qty, tp1.side) == (1, D(2), Side.BUY)


def test_targets_must_lie_beyond_the_stop_and_a_moved_one_not_reached() -> None:
    with pytest.raises(PlanError, match="beyond the stop"):
        ExitPlan(Side.BUY, 10, 1000, stop=990, legs=[TargetLeg(1, 985, D(1))])
    plan = long_plan()
    plan.on_tick(1005, 1)
    with pytest.raises(PlanError, match="already reached"):
        plan.move_leg(1, 1004)
    change = plan.move_leg(1, 1012)
    assert change.as_dict() == {"tp1": (1010, 1012)}
    assert plan.on_tick(1011, 2) is None
    assert plan.on_tick(1012, 3) is not None
    with pytest.raises(PlanError, match="fired already"):
        plan.move_leg(1, 1015)


def test_the_journal_form_restores_levels_fired_targets_and_fills() -> None:
    plan = long_plan(breakeven_after_tp1=True)
    plan.on_tick(1010, 1)
    plan.legs[0].cid = "c7"
    plan.leg_filled(plan.legs[0], D(2))
    restored = ExitPlan.from_state(json.loads(json.dumps(plan.to_state())))
    assert restored.legs == plan.legs
    assert restored.breakeven_after_tp1
    assert restored.leg_of("c7") is restored.legs[0]
    assert restored.on_tick(1012, 2) is None  # TP1 stays fired after the restore
    tp2 = restored.on_tick(1020, 3)
    assert tp2 is not None
    assert tp2.leg == 2
    # A state journaled before scale-out targets existed restores without them.
    old = long_plan().to_state()
    del old["legs"], old["breakeven_after_tp1"]
    assert ExitPlan.from_state(old).legs == []


@settings(max_examples=200, deadline=None)
@given(
    prices=st.lists(st.integers(min_value=980, max_value=1040), min_size=1, max_size=60),
    fill=st.booleans(),
)
def test_never_more_is_decided_than_the_position(prices: list[int], fill: bool) -> None:
    """Whatever the path: each target fires at most once, and the quantities decided never
    exceed the position (targets' exits plus the one full exit of what is left)."""
    plan = long_plan(breakeven_after_tp1=True)
    position = D(10)
    decided = D(0)
    legs_seen: list[int] = []
    for ts, price in enumerate(prices):
        while (decision := plan.on_tick(price, ts)) is not None:
            if decision.leg is None:
                free = position - sum((leg.committed for leg in plan.legs), D(0))
                decided += free
                break
            legs_seen.append(decision.leg)
            decided += decision.qty
            if fill:
                leg = plan.legs[decision.leg - 1]
                plan.leg_filled(leg, leg.qty)
                plan.leg_done(leg)
                position -= leg.qty
                plan.resize(position)
        if plan.fired:
            break
    assert len(legs_seen) == len(set(legs_seen))
    assert decided <= D(10)


def test_resolve_targets_quantities_shares_and_the_rest() -> None:
    specs = [TargetSpec(10, qty=D(2)), TargetSpec(20, pct=D(50)), TargetSpec(40)]
    legs, final = resolve_targets(specs, 1, 1000, D(10), D(1))
    assert [(leg.n, leg.level, leg.qty) for leg in legs] == [(1, 1010, D(2)), (2, 1020, D(5))]
    assert final == 1040
    # A short, shares rounded down to whole lots; one that rounds to nothing is skipped.
    legs, final = resolve_targets(
        [TargetSpec(5, pct=D(10)), TargetSpec(8, pct=D(60))], -1, 1000, D(100), D(25)
    )
    assert [(leg.n, leg.level, leg.qty) for leg in legs] == [(1, 992, D(50))]
    assert final is None
    # A target covering what is left is the final target.
    legs, final = resolve_targets(
        [TargetSpec(10, qty=D(4)), TargetSpec(20, qty=D(9))], 1, 0, D(10), D(1)
    )
    assert [leg.qty for leg in legs] == [D(4)]
    assert final == 20
    with pytest.raises(PlanError, match="must be the last"):
        resolve_targets([TargetSpec(10), TargetSpec(20, qty=D(1))], 1, 0, D(10), D(1))
    with pytest.raises(PlanError, match="further from the entry"):
        resolve_targets([TargetSpec(10, qty=D(1)), TargetSpec(10, qty=D(1))], 1, 0, D(10), D(1))
    with pytest.raises(PlanError, match="at most 3"):
        resolve_targets([TargetSpec(i, qty=D(1)) for i in range(1, 5)], 1, 0, D(10), D(1))
    with pytest.raises(PlanError, match="not both"):
        TargetSpec(10, qty=D(1), pct=D(5))
