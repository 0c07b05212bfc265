"""The jump guard (issue 16.3): a print far outside the recent range never fires an exit alone."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.domain.exits import ExitPlan
from cockpit.domain.guard import JumpGuard, JumpLimit, Verdict
from cockpit.domain.orders import Side

LIMIT = JumpLimit(max_jump_pct=Decimal(5), min_jump_ticks=20, window=10)


def warmed(prices: list[int], limit: JumpLimit = LIMIT) -> JumpGuard:
    guard = JumpGuard(limit)
    for price in prices:
        assert guard.check(price).verdict is Verdict.PASS
    return guard


def test_prints_inside_the_limit_pass() -> None:
    guard = warmed([10_000, 10_010, 9_990])
    # 5% of 9,990 is 500 ticks: 9,490 is just inside, a new low that passes.
    checked = guard.check(9_490)
    assert (checked.verdict, checked.price, checked.alarm) == (Verdict.PASS, 9_490, "")


def test_a_lone_bad_print_is_held_with_an_alarm_and_then_dropped() -> None:
    guard = warmed([10_000, 10_010, 9_990])
    held = guard.check(1)
    assert held.verdict is Verdict.HOLD
    assert held.price is None
    assert "far outside the recent range 9990-10010" in held.alarm
    assert guard.held == 1
    back = guard.check(10_000)
    assert back.verdict is Verdict.PASS
    assert back.price == 10_000
    assert "not confirmed" in back.alarm
    assert guard.held is None
    assert guard.dropped == 1


def test_a_second_print_near_the_first_confirms_the_jump() -> None:
    guard = warmed([10_000, 10_010, 9_990])
    assert guard.check(8_000).verdict is Verdict.HOLD
    confirmed = guard.check(8_010)
    assert confirmed.verdict is Verdict.CONFIRMED
    assert confirmed.price == 8_010
    assert "confirmed" in confirmed.alarm
    # The range restarted at the new level: prints there pass.
    assert guard.check(8_005).verdict is Verdict.PASS
    assert guard.confirmed == 1


def test_a_far_print_far_from_the_held_one_replaces_it() -> None:
    guard = warmed([10_000])
    assert guard.check(1).verdict is Verdict.HOLD
    assert guard.check(20_000).verdict is Verdict.HOLD
    assert guard.held == 20_000
    assert guard.check(20_001).verdict is Verdict.CONFIRMED


def test_small_moves_are_never_held_below_min_ticks() -> None:
    guard = warmed([40], JumpLimit(max_jump_pct=Decimal(5), min_jump_ticks=20, window=5))
    assert guard.check(60).verdict is Verdict.PASS  # 20 ticks: not more than the minimum
    assert guard.check(81).verdict is Verdict.HOLD


def test_no_limit_passes_everything_and_the_first_print_passes() -> None:
    off = JumpGuard(None)
    assert off.check(10_000).verdict is Verdict.PASS
    assert off.check(1).verdict is Verdict.PASS
    guard = JumpGuard(LIMIT)
    assert guard.check(1).verdict is Verdict.PASS  # nothing to judge it by


def test_a_seeded_guard_holds_a_bad_first_print() -> None:
    guard = JumpGuard(LIMIT)
    assert not guard.primed
    guard.seed(10_000)
    assert guard.primed
    assert guard.check(1).verdict is Verdict.HOLD
    unlimited = JumpGuard(None)
    unlimited.seed(10_000)
    assert unlimited.check(1).verdict is Verdict.PASS


def test_alarm_text_uses_the_formatter() -> None:
    guard = warmed([25_670])
    held = guard.check(1, fmt=lambda t: f"{Decimal(t) * Decimal('0.05'):.2f}")
    assert "0.05 is far outside the recent range 1283.50-1283.50" in held.alarm


def test_would_hold_matches_check() -> None:
    guard = warmed([10_000])
    assert guard.would_hold(1)
    assert not guard.would_hold(10_001)
    guard.check(1)
    assert not guard.would_hold(2)  # it would confirm
    assert guard.would_hold(20_000)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_jump_pct": Decimal(0)},
        {"max_jump_pct": Decimal("NaN")},
        {"min_jump_ticks": 0},
        {"window": 0},
    ],
)
def test_bad_limits_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        JumpLimit(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    side=st.sampled_from([Side.BUY, Side.SELL]),
    moves=st.lists(st.integers(-3, 3), min_size=1, max_size=30),
    spike=st.one_of(st.integers(1, 9_300), st.integers(10_700, 30_000)),
    at=st.integers(0, 29),
)
def test_a_lone_spike_never_fires_the_plan(
    side: Side, moves: list[int], spike: int, at: int
) -> None:
    """Prints near the entry (the walk stays within 90 ticks) with one spike far outside the
    limit (5%: about 500 ticks beyond the range): the stop 300 ticks away never fires when the
    plan only sees what the guard passes."""
    guard = JumpGuard(LIMIT)
    plan = ExitPlan(side, 1, 10_000, stop=10_000 - side.sign * 300)
    guard.seed(plan.entry_ticks)
    price = 10_000
    walk = []
    for move in moves:
        price += move
        walk.append(price)
    walk.insert(min(at, len(walk)), spike)
    for t, p in enumerate(walk, start=1):
        checked = guard.check(p)
        if checked.price is not None:
            plan.on_tick(checked.price, t)
    assert plan.decision is None, (walk, plan.decision)


@settings(max_examples=300, deadline=None)
@given(
    prints=st.lists(st.integers(1, 40_000), min_size=1, max_size=200),
    window=st.integers(1, 12),
)
def test_the_kept_range_is_the_range_of_the_recent_accepted_prints(
    prints: list[int], window: int
) -> None:
    """The cached low/high always equal min/max of the last ``window`` accepted prints."""
    guard = JumpGuard(JumpLimit(Decimal(5), 20, window))
    accepted: list[int] = []
    for price in prints:
        before_held = guard.held
        checked = guard.check(price)
        if checked.verdict is Verdict.CONFIRMED:
            assert before_held is not None
            accepted = [before_held, price]
        elif checked.verdict is Verdict.PASS:
            accepted.append(price)
        recent = accepted[-window:]
        assert (guard._lo, guard._hi) == (min(recent), max(recent))  # noqa: SLF001


@settings(max_examples=300, deadline=None)
@given(
    prints=st.lists(st.integers(1, 40_000), min_size=1, max_size=200),
    window=st.integers(1, 12),
    limited=st.booleans(),
)
def test_passes_then_check_is_check(prints: list[int], window: int, limited: bool) -> None:
    """The engine asks ``passes`` first and ``check`` only when it says no: every print's
    outcome and the guard's state are those of ``check`` alone."""
    limit = JumpLimit(Decimal(5), 20, window) if limited else None
    alone, fast = JumpGuard(limit), JumpGuard(limit)
    for price in prints:
        checked = alone.check(price)
        if fast.passes(price):
            assert checked == (Verdict.PASS, price, "")
        else:
            assert fast.check(price) == checked
        assert (fast.held, fast.dropped, fast.confirmed) == (
            alone.held,
            alone.dropped,
            alone.confirmed,
        )
        assert (list(fast._recent), fast._lo, fast._hi) == (  # noqa: SLF001
            list(alone._recent),  # noqa: SLF001
            alone._lo,  # noqa: SLF001
            alone._hi,  # noqa: SLF001
        )
