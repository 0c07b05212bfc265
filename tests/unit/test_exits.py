"""Exit plans: stop, target, trailing stop, breakeven and time stop, against a reference model."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.domain.exits import (
    ExitDecision,
    ExitPlan,
    ExitReason,
    PlanError,
    Trail,
    TrailKind,
    entry_level,
)
from cockpit.domain.orders import Side

ENTRY = 1000

steps = st.lists(st.integers(min_value=-6, max_value=6), min_size=1, max_size=60)
sides = st.sampled_from([Side.BUY, Side.SELL])


def walk(start: int, moves: list[int]) -> list[int]:
    """Prices of a random walk (kept positive)."""
    prices = []
    price = start
    for move in moves:
        price = max(1, price + move)
        prices.append(price)
    return prices


def run(plan: ExitPlan, prices: list[int], t0: int = 0) -> list[tuple[int, ExitDecision]]:
    """Feed ``prices`` (one per second from ``t0``); collect every decision with its index."""
    out = []
    for i, price in enumerate(prices):
        decision = plan.on_tick(price, t0 + i * 1_000_000_000)
        if decision is not None:
            out.append((i, decision))
    return out


# -- the reference model ---------------------------------------------------------------------


def reference(
    sign: int,
    prices: list[int],
    *,
    stop: int | None,
    target: int | None,
    trail: int | None,
    be_after: int | None,
    be_offset: int,
    deadline: int | None,
    trail_pct: Decimal | None = None,
) -> tuple[int, str, int | None] | None:
    """First exit (index, kind, level) written independently of ExitPlan.

    Works on "long" coordinates (price * sign), where every level only rises: the effective
    stop at tick i is the max of the fixed stop, best-so-far minus the trail, and the
    breakeven level once the max profit so far reached ``be_after``.
    """
    entry = ENTRY * sign
    fixed = None if stop is None else stop * sign
    goal = None if target is None else target * sign
    candidates: list[int] = []
    best = entry
    be_hit = False
    for i, raw in enumerate(prices):
        p = raw * sign
        best = max(best, p)
        if be_after is not None and p - entry >= be_after:
            be_hit = True
        candidates = []
        if fixed is not None:
            candidates.append(fixed)
        if trail is not None:
            candidates.append(best - trail)
        if trail_pct is not None:
            # percent of the best price in real (positive) terms, rounded up, >= 1 tick
            real_best = abs(best)
            exact = Fraction(real_best) * Fraction(trail_pct) / 100
            candidates.append(best - max(1, math.ceil(exact)))
        if be_hit:
            candidates.append(entry + be_offset)
        eff = max(candidates) if candidates else None
        if eff is not None and p <= eff:
            return i, "stop", eff * sign
        if goal is not None and p >= goal:
            return i, "target", goal * sign
        if deadline is not None and i * 1_000_000_000 >= deadline:
            return i, "time", None
    return None


@settings(max_examples=200, deadline=None)
@given(
    side=sides,
    moves=steps,
    pct=st.decimals(min_value="0.05", max_value="2", places=2),
    target_dist=st.none() | st.integers(min_value=1, max_value=40),
)
def test_percent_trail_matches_reference_model(
    side: Side, moves: list[int], pct: Decimal, target_dist: int | None
) -> None:
    sign = side.sign
    target = None if target_dist is None else ENTRY + sign * target_dist
    plan = ExitPlan(side, 1, ENTRY, target=target, trail=Trail.percent(pct))
    prices = walk(ENTRY, moves)
    got = [(i, d.level_ticks) for i, d in run(plan, prices)]
    want = reference(
        sign,
        prices,
        stop=None,
        target=target,
        trail=None,
        be_after=None,
        be_offset=0,
        deadline=None,
        trail_pct=pct,
    )
    assert got == ([] if want is None else [(want[0], want[2])])


STOPISH = {ExitReason.STOP, ExitReason.TRAILING_STOP, ExitReason.BREAKEVEN}


@settings(max_examples=200, deadline=None)
@given(
    side=sides,
    moves=steps,
    stop_dist=st.none() | st.integers(min_value=1, max_value=30),
    target_dist=st.none() | st.integers(min_value=1, max_value=40),
    trail=st.none() | st.integers(min_value=1, max_value=15),
    be=st.none() | st.tuples(st.integers(min_value=1, max_value=20), st.integers(0, 19)),
    deadline_s=st.none() | st.integers(min_value=0, max_value=70),
)
def test_combined_plan_matches_reference_model(
    side: Side,
    moves: list[int],
    stop_dist: int | None,
    target_dist: int | None,
    trail: int | None,
    be: tuple[int, int] | None,
    deadline_s: int | None,
) -> None:
    sign = side.sign
    stop = None if stop_dist is None else ENTRY - sign * stop_dist
    target = None if target_dist is None else ENTRY + sign * target_dist
    be_after, be_offset = (None, 0) if be is None else (be[0], min(be[1], be[0] - 1))
    deadline = None if deadline_s is None else deadline_s * 1_000_000_000
    plan = ExitPlan(
        side,
        5,
        ENTRY,
        stop=stop,
        target=target,
        trail=None if trail is None else Trail.ticks(trail),
        breakeven_after=be_after,
        breakeven_offset=be_offset,
        time_stop_ns=deadline,
    )
    prices = walk(ENTRY, moves)
    got = run(plan, prices)
    want = reference(
        sign,
        prices,
        stop=stop,
        target=target,
        trail=trail,
        be_after=be_after,
        be_offset=be_offset,
        deadline=deadline,
    )
    if want is None:
        assert got == []
        assert not plan.fired
        return
    assert len(got) == 1
    index, decision = got[0]
    kind = (
        "stop"
        if decision.reason in STOPISH
        else ("target" if decision.reason is ExitReason.TARGET else "time")
    )
    assert (index, kind, decision.level_ticks) == want
    assert decision.side is side.opposite
    assert decision.qty == 5
    assert decision.price_ticks == prices[index]
    # The reason names where the stop came from.
    if decision.reason is ExitReason.STOP:
        assert decision.level_ticks == stop
    elif decision.reason is ExitReason.BREAKEVEN:
        assert decision.level_ticks == ENTRY + sign * be_offset
    elif decision.reason is ExitReason.TRAILING_STOP:
        assert trail is not None
        assert decision.level_ticks is not None
        assert (decision.level_ticks - ENTRY) * sign >= -trail


@settings(max_examples=200, deadline=None)
@given(
    side=sides,
    moves=steps,
    kind=st.sampled_from(list(TrailKind)),
    amount=st.integers(min_value=1, max_value=12),
    be_after=st.none() | st.integers(min_value=1, max_value=10),
    stop_dist=st.none() | st.integers(min_value=1, max_value=40),
)
def test_stop_never_loosens_on_its_own(
    side: Side,
    moves: list[int],
    kind: TrailKind,
    amount: int,
    be_after: int | None,
    stop_dist: int | None,
) -> None:
    trail = {
        TrailKind.TICKS: Trail.ticks(amount),
        TrailKind.POINTS: Trail.points(Decimal(amount) / 4),
        TrailKind.PERCENT: Trail.percent(Decimal(amount) / 10),
    }[kind]
    sign = side.sign
    plan = ExitPlan(
        side,
        1,
        ENTRY,
        stop=None if stop_dist is None else ENTRY - sign * stop_dist,
        trail=trail,
        breakeven_after=be_after,
        tick_size=Decimal("0.05"),
    )
    previous = plan.stop
    assert previous is not None
    for i, price in enumerate(walk(ENTRY, moves)):
        decision = plan.on_tick(price, i)
        assert plan.stop is not None
        assert (plan.stop - previous) * sign >= 0, "the stop loosened"
        # The stop never sits beyond the trail's own level (it is at least as tight).
        distance = trail.distance_ticks(plan.trail_best, Decimal("0.05"))
        assert (plan.stop - (plan.trail_best - sign * distance)) * sign >= 0
        previous = plan.stop
        if decision is not None:
            assert (price - plan.stop) * sign <= 0
            break
        assert (price - plan.stop) * sign > 0


@settings(max_examples=200, deadline=None)
@given(side=sides, moves=steps, extra=st.lists(st.integers(-50, 50), max_size=20))
def test_at_most_one_exit_per_plan(side: Side, moves: list[int], extra: list[int]) -> None:
    sign = side.sign
    plan = ExitPlan(
        side,
        3,
        ENTRY,
        stop=ENTRY - sign * 4,
        target=ENTRY + sign * 4,
        trail=Trail.ticks(2),
        time_stop_ns=30,
    )
    prices = walk(ENTRY, moves) + walk(ENTRY, extra)
    decisions = [plan.on_tick(p, i) for i, p in enumerate(prices)]
    decisions += [plan.on_time(10**12)]
    fired = [d for d in decisions if d is not None]
    assert len(fired) <= 1
    assert plan.fired == bool(fired)
    if fired:
        assert plan.decision == fired[0]
        assert plan.on_tick(ENTRY - sign * 100, 10**13) is None
        assert plan.on_time(10**14) is None


@settings(max_examples=200, deadline=None)
@given(
    side=sides,
    moves=st.lists(st.integers(-6, 6), min_size=2, max_size=60),
    split=st.integers(min_value=0, max_value=60),
    trail_kind=st.sampled_from(list(TrailKind)),
    be_after=st.none() | st.integers(min_value=1, max_value=10),
)
def test_restored_plan_decides_identically(
    side: Side,
    moves: list[int],
    split: int,
    trail_kind: TrailKind,
    be_after: int | None,
) -> None:
    sign = side.sign
    trail = Trail(trail_kind, Decimal("0.5") if trail_kind is not TrailKind.TICKS else Decimal(3))
    plan = ExitPlan(
        side,
        Decimal("2.5"),
        ENTRY,
        stop=ENTRY - sign * 20,
        target=ENTRY + sign * 25,
        trail=trail,
        breakeven_after=be_after,
        breakeven_offset=0,
        time_stop_ns=45 * 1_000_000_000,
        created_ns=7,
        tick_size=Decimal("0.05"),
    )
    prices = walk(ENTRY, moves)
    split = min(split, len(prices))
    head = run(plan, prices[:split])
    state = json.loads(json.dumps(plan.to_state()))
    restored = ExitPlan.from_state(state)
    assert restored.to_state() == plan.to_state()
    tail_original = run(plan, prices[split:], t0=split * 1_000_000_000)
    tail_restored = run(restored, prices[split:], t0=split * 1_000_000_000)
    assert tail_original == tail_restored
    assert restored.to_state() == plan.to_state()
    assert len(head) + len(tail_original) <= 1


@settings(max_examples=150, deadline=None)
@given(
    side=sides,
    after=st.integers(min_value=1, max_value=15),
    offset=st.integers(min_value=0, max_value=14),
    moves=steps,
)
def test_breakeven_moves_the_stop_exactly_once_at_the_threshold(
    side: Side, after: int, offset: int, moves: list[int]
) -> None:
    offset = min(offset, after - 1)
    sign = side.sign
    stop = ENTRY - sign * 50
    plan = ExitPlan(side, 1, ENTRY, stop=stop, breakeven_after=after, breakeven_offset=offset)
    reached = False
    for i, price in enumerate(walk(ENTRY, moves)):
        decision = plan.on_tick(price, i)
        reached = reached or (price - ENTRY) * sign >= after
        assert plan.breakeven_done == reached
        assert plan.stop == (ENTRY + sign * offset if reached else stop)
        if decision is not None:
            if reached:
                assert decision.reason is ExitReason.BREAKEVEN
                assert decision.level_ticks == ENTRY + sign * offset
            else:
                assert decision.reason is ExitReason.STOP
            break


@settings(max_examples=100, deadline=None)
@given(deadline_s=st.integers(min_value=0, max_value=40), n=st.integers(min_value=1, max_value=50))
def test_time_stop_fires_on_the_first_tick_at_the_deadline(deadline_s: int, n: int) -> None:
    plan = ExitPlan(Side.BUY, 1, ENTRY, time_stop_ns=deadline_s * 1_000_000_000)
    got = run(plan, [ENTRY] * n)
    if n > deadline_s:
        assert len(got) == 1
        index, decision = got[0]
        assert index == deadline_s
        assert decision.reason is ExitReason.TIME
        assert decision.level_ticks is None
    else:
        assert got == []


# -- plain unit tests ---------------------------------------------------------------------------


def test_stop_and_target_long() -> None:
    plan = ExitPlan(Side.BUY, 10, 1000, stop=990, target=1020)
    assert plan.on_tick(991, 1) is None
    assert plan.on_tick(1019, 2) is None
    decision = plan.on_tick(1020, 3)
    assert decision == ExitDecision(ExitReason.TARGET, Side.SELL, Decimal(10), 1020, 1020, 3)


def test_stop_and_target_short_gap_through_stop() -> None:
    plan = ExitPlan(Side.SELL, 10, 1000, stop=1010, target=980)
    assert plan.on_tick(1009, 1) is None
    decision = plan.on_tick(1030, 2)  # gaps through the stop
    assert decision is not None
    assert decision.reason is ExitReason.STOP
    assert decision.side is Side.BUY
    assert (decision.level_ticks, decision.price_ticks) == (1010, 1030)


def test_long_trail_ratchets_and_reports_trailing_stop() -> None:
    plan = ExitPlan(Side.BUY, 1, 1000, stop=990, trail=Trail.ticks(5))
    assert plan.stop == 995
    assert plan.stop_reason is ExitReason.TRAILING_STOP
    plan.on_tick(1010, 1)
    assert plan.stop == 1005
    plan.on_tick(1007, 2)
    assert plan.stop == 1005
    decision = plan.on_tick(1005, 3)
    assert decision is not None
    assert decision.reason is ExitReason.TRAILING_STOP
    assert decision.level_ticks == 1005


def test_wide_trail_keeps_the_fixed_stop_until_it_passes_it() -> None:
    plan = ExitPlan(Side.BUY, 1, 1000, stop=995, trail=Trail.ticks(20))
    assert plan.stop == 995
    assert plan.stop_reason is ExitReason.STOP
    plan.on_tick(1016, 1)
    assert plan.stop == 996
    assert plan.stop_reason is ExitReason.TRAILING_STOP


def test_trail_distance_conversions_round_up() -> None:
    tick = Decimal("0.05")
    assert Trail.ticks(7).distance_ticks(1000, tick) == 7
    assert Trail.points("2.5").distance_ticks(1000, tick) == 50
    assert Trail.points("2.51").distance_ticks(1000, tick) == 51  # never tighter than asked
    assert Trail.percent("1").distance_ticks(1000, tick) == 10
    assert Trail.percent("0.33").distance_ticks(1000, tick) == 4  # 3.3 ticks -> 4
    assert Trail.percent("0.01").distance_ticks(10, tick) == 1  # at least one tick
    with pytest.raises(PlanError, match="tick size"):
        Trail.points(1).distance_ticks(1000, None)
    with pytest.raises(PlanError):
        Trail.ticks(0)
    with pytest.raises(PlanError):
        Trail(TrailKind.TICKS, Decimal("1.5"))
    with pytest.raises(PlanError):
        Trail.percent(100)
    with pytest.raises(PlanError, match="tick size"):
        ExitPlan(Side.BUY, 1, 1000, trail=Trail.points(1))


def test_percent_trail_follows_the_best_price() -> None:
    plan = ExitPlan(Side.BUY, 1, 1000, trail=Trail.percent(1))
    assert plan.stop == 990
    plan.on_tick(2000, 1)
    assert plan.stop == 1980
    assert plan.trail_distance() == 20


def test_validation() -> None:
    with pytest.raises(PlanError, match="below the target"):
        ExitPlan(Side.BUY, 1, 1000, stop=1010, target=1005)
    with pytest.raises(PlanError, match="above the target"):
        ExitPlan(Side.SELL, 1, 1000, stop=990, target=995)
    with pytest.raises(PlanError, match="quantity"):
        ExitPlan(Side.BUY, 0, 1000)
    with pytest.raises(PlanError, match="offset"):
        ExitPlan(Side.BUY, 1, 1000, breakeven_after=5, breakeven_offset=5)
    with pytest.raises(PlanError):
        ExitPlan(Side.BUY, 1, 1000, breakeven_after=0)


def test_user_moves_report_changes_and_may_loosen() -> None:
    plan = ExitPlan(Side.BUY, 1, 1000, stop=990, target=1020)
    plan.on_tick(1000, 1)
    version = plan.version
    change = plan.move_stop(980)
    assert change.action == "move_stop"
    assert change.as_dict() == {"stop": (990, 980)}
    assert plan.version == version + 1
    assert plan.move_stop(980).changed is False
    assert plan.move_target(1030).as_dict() == {"target": (1020, 1030)}
    with pytest.raises(PlanError, match="already crossed"):
        plan.move_stop(1000)
    with pytest.raises(PlanError, match="already reached"):
        plan.move_target(999)
    with pytest.raises(PlanError, match="below the target"):
        plan.move_stop(1035)
    assert plan.move_stop(None).as_dict() == {"stop": (980, None)}
    assert plan.on_tick(500, 2) is None  # no stop any more


def test_manual_loosening_is_pulled_back_by_an_active_trail() -> None:
    plan = ExitPlan(Side.BUY, 1, 1000, trail=Trail.ticks(5))
    plan.on_tick(1010, 1)
    assert plan.stop == 1005
    plan.move_stop(1000)
    assert plan.stop == 1000
    assert plan.stop_reason is ExitReason.STOP
    plan.on_tick(1009, 2)
    assert plan.stop == 1005


def test_toggle_and_set_trail_start_from_the_last_price() -> None:
    plan = ExitPlan(Side.BUY, 1, 1000, stop=990, trail=Trail.ticks(5))
    plan.on_tick(1020, 1)
    assert plan.stop == 1015
    off = plan.toggle_trail()
    assert off.as_dict()["trail_active"] == (True, False)
    plan.on_tick(1030, 2)
    assert plan.stop == 1015  # the trail is off: the stop stays where it was
    plan.on_tick(1025, 3)
    on = plan.toggle_trail()
    assert on.as_dict()["trail_best"] == (1020, 1025)
    assert plan.stop == 1020  # trails from 1025, not from the 1030 high
    change = plan.set_trail(Trail.ticks(2))
    assert plan.stop == 1023
    assert change.as_dict()["stop"] == (1020, 1023)
    plan.set_trail(None)
    assert plan.trail is None
    assert not plan.trail_active
    with pytest.raises(PlanError, match="no trail"):
        plan.toggle_trail()


def test_to_breakeven_and_time_stop_actions() -> None:
    plan = ExitPlan(Side.SELL, 1, 1000, stop=1010, breakeven_offset=2)
    plan.on_tick(990, 1)
    change = plan.to_breakeven()
    assert change.as_dict()["stop"] == (1010, 998)
    assert plan.breakeven_done
    decision = plan.on_tick(998, 2)
    assert decision is not None
    assert decision.reason is ExitReason.BREAKEVEN
    other = ExitPlan(Side.BUY, 1, 1000, stop=990, time_stop_ns=50)
    other.on_tick(995, 1)
    with pytest.raises(PlanError, match="already crossed"):
        other.to_breakeven()  # 1000 is above the market for a long
    assert other.on_time(49) is None
    decision = other.on_time(50)
    assert decision is not None
    assert decision.reason is ExitReason.TIME
    assert decision.price_ticks is None


def test_resize_close_and_detach() -> None:
    plan = ExitPlan(Side.BUY, 10, 1000, stop=990)
    assert plan.resize(4).as_dict() == {"qty": (Decimal(10), Decimal(4))}
    decision_plan = ExitPlan.from_state(plan.to_state())
    decision = decision_plan.on_tick(990, 1)
    assert decision is not None
    assert decision.qty == 4
    plan.resize(0)
    assert plan.closed
    assert not plan.active
    assert plan.on_tick(900, 2) is None
    assert plan.resize(0).changed is False
    with pytest.raises(PlanError, match="closed"):
        plan.move_stop(980)
    other = ExitPlan(Side.BUY, 1, 1000, stop=990)
    other.detach()
    assert other.on_tick(900, 1) is None
    assert not other.fired
    with pytest.raises(PlanError, match="detached"):
        other.move_target(1100)
    fired = ExitPlan(Side.BUY, 1, 1000, target=1001)
    fired.on_tick(1001, 1)
    with pytest.raises(PlanError, match="already decided"):
        fired.move_stop(990)


def test_stop_wins_when_one_price_crosses_stop_and_target() -> None:
    # Possible only with the stop at or above the target, e.g. a breakeven offset past it.
    plan = ExitPlan(Side.BUY, 1, 1000, target=1003, breakeven_after=2, breakeven_offset=1)
    plan.on_tick(1002, 1)
    assert plan.stop == 1001
    decision = plan.on_tick(1001, 2)
    assert decision is not None
    assert decision.reason is ExitReason.BREAKEVEN


def test_attaching_late_trails_from_the_given_best_price() -> None:
    plan = ExitPlan(Side.BUY, 1, 1000, trail=Trail.ticks(10), best_ticks=1050)
    assert plan.stop == 1040


def test_from_state_rejects_unknown_version() -> None:
    state = ExitPlan(Side.BUY, 1, 1000).to_state()
    state["v"] = 99
    with pytest.raises(PlanError, match="version"):
        ExitPlan.from_state(state)


actions = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.integers(-6, 6)),
        st.tuples(st.just("move_stop"), st.integers(-30, 30)),
        st.tuples(st.just("move_target"), st.integers(-30, 30)),
        st.tuples(st.just("set_trail"), st.integers(0, 8)),
        st.tuples(st.just("toggle_trail"), st.just(0)),
        st.tuples(st.just("to_breakeven"), st.just(0)),
        st.tuples(st.just("resize"), st.integers(0, 6)),
        st.tuples(st.just("time"), st.integers(0, 80)),
    ),
    max_size=50,
)


def act(plan: ExitPlan, op: str, arg: int, price: int, t: int) -> object:
    """Run one action; return its result or the text of the error it raised."""
    try:
        match op:
            case "tick":
                return plan.on_tick(price, t)
            case "move_stop":
                return plan.move_stop(price + arg)
            case "move_target":
                return plan.move_target(price + arg)
            case "set_trail":
                return plan.set_trail(Trail.ticks(arg) if arg else None)
            case "toggle_trail":
                return plan.toggle_trail()
            case "to_breakeven":
                return plan.to_breakeven()
            case "resize":
                return plan.resize(arg)
            case "time":
                return plan.on_time(arg * 1_000_000_000)
    except Exception as exc:  # noqa: BLE001 - compared between the two plans
        return f"{type(exc).__name__}: {exc}"
    raise AssertionError(op)


@settings(max_examples=200, deadline=None)
@given(side=sides, ops=actions)
def test_user_actions_and_ticks_behave_identically_after_every_restore(
    side: Side, ops: list[tuple[str, int]]
) -> None:
    """A plan restored from its state after every step tracks the original exactly."""
    sign = side.sign
    kwargs = {
        "stop": ENTRY - sign * 10,
        "target": ENTRY + sign * 20,
        "trail": Trail.ticks(4),
        "breakeven_after": 6,
        "breakeven_offset": 1,
        "time_stop_ns": 60 * 1_000_000_000,
    }
    plan = ExitPlan(side, 3, ENTRY, **kwargs)  # type: ignore[arg-type]
    shadow = ExitPlan.from_state(json.loads(json.dumps(plan.to_state())))
    price = ENTRY
    fired = 0
    last_stop = plan.stop
    for t, (op, arg) in enumerate(ops):
        if op == "tick":
            price = max(1, price + arg)
        result = act(plan, op, arg, price, t)
        assert act(shadow, op, arg, price, t) == result
        assert shadow.to_state() == plan.to_state()
        shadow = ExitPlan.from_state(json.loads(json.dumps(plan.to_state())))
        if isinstance(result, ExitDecision):
            fired += 1
        # Only an explicit user action may loosen the stop.
        if op in ("tick", "time", "toggle_trail", "resize") and plan.stop is not None:
            assert last_stop is None or (plan.stop - last_stop) * sign >= 0
        last_stop = plan.stop
    assert fired <= 1
    assert plan.fired == (fired == 1)


def test_off_grid_entry_is_rounded_against_the_position() -> None:
    assert entry_level(Side.BUY, Fraction(30201, 3)) == 10067  # 10067.0
    assert entry_level(Side.BUY, Fraction(302, 3)) == 101  # 100.67 -> 101
    assert entry_level(Side.SELL, Fraction(302, 3)) == 100
    assert entry_level(Side.SELL, 7) == 7
    plan = ExitPlan(Side.BUY, 3, Fraction(302, 3), breakeven_after=2)
    assert plan.entry_ticks == 101
    plan.on_tick(103, 1)
    assert plan.stop == 101  # a breakeven stop at 101 cannot lose on a 100.67 average


def test_resize_after_an_add_moves_the_entry() -> None:
    plan = ExitPlan(Side.SELL, 2, 1000, stop=1010, breakeven_after=5)
    change = plan.resize(Decimal(4), entry_ticks=Fraction(2010, 2))
    assert change.as_dict() == {"qty": (Decimal(2), Decimal(4)), "entry_ticks": (1000, 1005)}
    plan.on_tick(1000, 1)
    assert plan.breakeven_done
    assert plan.stop == 1005
    decision = plan.on_tick(1005, 2)
    assert decision is not None
    assert decision.qty == 4
    plan.resize(1)  # after the decision (a partial exit fill) the quantity still follows
    assert plan.qty == 1


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_breakeven_never_loosens_a_stop_already_in_profit(side: Side) -> None:
    """Issue 15.4: `e` moved a stop already in profit back to the entry."""
    sign = side.sign
    plan = ExitPlan(side, 1, ENTRY, stop=ENTRY - sign * 10, tick_size=Decimal("0.05"))
    plan.on_tick(ENTRY + sign * 20, 1)
    plan.move_stop(ENTRY + sign * 5)  # the trader locked in 5 ticks with `]`
    with pytest.raises(PlanError, match="already past breakeven"):
        plan.to_breakeven()
    assert plan.stop == ENTRY + sign * 5
    # At exactly breakeven: nothing to move either.
    plan.move_stop(ENTRY)
    with pytest.raises(PlanError, match="already at breakeven"):
        plan.to_breakeven()
    assert plan.stop == ENTRY


def test_breakeven_refusal_names_prices_not_ticks() -> None:
    plan = ExitPlan(Side.BUY, 1, 25670, stop=25660, tick_size=Decimal("0.05"))
    plan.on_tick(25690, 1)
    plan.move_stop(25675)
    with pytest.raises(PlanError, match=r"1283\.75") as info:
        plan.to_breakeven()
    assert "25675" not in str(info.value)


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_breakeven_with_the_trail_on_does_not_drop_the_stop_until_the_next_tick(
    side: Side,
) -> None:
    sign = side.sign
    plan = ExitPlan(side, 1, ENTRY, trail=Trail.ticks(5))
    plan.on_tick(ENTRY + sign * 30, 1)  # the trail pulls the stop to entry + 25
    assert plan.stop == ENTRY + sign * 25
    with pytest.raises(PlanError):
        plan.to_breakeven()
    assert plan.stop == ENTRY + sign * 25


@settings(max_examples=300, deadline=None)
@given(side=sides, ops=actions)
def test_the_stop_never_moves_against_the_position_but_by_an_explicit_move(
    side: Side, ops: list[tuple[str, int]]
) -> None:
    """Breakeven, the trail, ticks, resizing and time never loosen the stop; only move_stop can."""
    sign = side.sign
    plan = ExitPlan(side, 3, ENTRY, stop=ENTRY - sign * 10, breakeven_after=6, breakeven_offset=1)
    price = ENTRY
    for t, (op, arg) in enumerate(ops, start=1):
        if op == "tick":
            price = max(1, price + arg)
        before = plan.stop
        act(plan, op, arg, price, t)
        if op != "move_stop" and before is not None:
            assert plan.stop is not None
            assert (plan.stop - before) * sign >= 0, (op, before, plan.stop)


def test_level_refusals_name_prices_not_raw_ticks() -> None:
    """Issue 15.11: `the stop 25672 is already crossed…` showed tick integers to the trader."""
    plan = ExitPlan(Side.BUY, 1, 25670, stop=25660, tick_size=Decimal("0.05"))
    plan.on_tick(25671, 1)
    with pytest.raises(
        PlanError, match=r"the stop 1283\.60 is already crossed by the last price 1283\.55"
    ):
        plan.move_stop(25672)
    restored = ExitPlan.from_state(plan.to_state())
    with pytest.raises(PlanError, match=r"1283\.60"):
        restored.move_stop(25672)
