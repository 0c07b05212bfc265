"""Exit plans: stop-loss, target, trailing stop, move-to-breakeven and time stop per position.

API summary
-----------
- :class:`~cockpit.domain.trail.Trail` ``(kind, distance)``: a trailing distance in ticks,
  points or percent, as whole ticks rounded UP (never tighter than asked), at least one.
- :class:`ExitPlan` ``(side, qty, entry_ticks, stop=, target=, trail=, breakeven_after=,
  breakeven_offset=, time_stop_ns=, created_ns=, tick_size=, best_ticks=, legs=,
  breakeven_after_tp1=)``. ``side`` is the side of the POSITION (``Side.BUY`` = long); the
  exit order goes the other way (``plan.exit_side``).
- ``plan.on_tick(price_ticks, ts_ns) -> ExitDecision | None``: first ratchets the trail and
  applies breakeven, then checks stop, scale-out targets, target and time.
  ``plan.on_time(ts_ns)`` checks the time stop alone. At most one full decision per plan,
  ever (``plan.fired``); a scale-out target (``decision.leg``) fires once and the plan goes
  on: call ``on_tick`` again with the same price for the next target that price crossed.
- User actions, each returning a :class:`PlanChange`: ``move_stop``, ``move_target``,
  ``move_leg``, ``set_trail``, ``toggle_trail``, ``to_breakeven``, ``resize`` (qty 0 closes
  the plan), ``detach``. ``plan.version`` increases on every change, including the trail
  moving on a tick, so the caller can tell when to journal ``to_state()``. The engine reports
  a target's exit order with ``leg_filled``/``leg_done`` (:mod:`cockpit.domain.scaleout`).
- ``entry_level(side, avg)``: an off-grid average entry (a Fraction of ticks) as whole
  ticks, rounded against the position (what the plan does with a Fraction entry).
- ``to_state() -> dict`` (JSON-safe) and ``ExitPlan.from_state(d)``: a restored plan behaves
  identically.

Semantics (long; a short is mirrored)
-------------------------------------
- Trail: ``stop = max(stop, trail_best - distance)``, where ``trail_best`` is the highest
  price since the trail was switched on (the entry price, or ``best_ticks``, for a trail given
  at creation; the last price for a trail switched on later, so turning a trail on never
  exits at once). It only ever tightens. Switching the trail off leaves the stop where it is.
- Breakeven: once ``price - entry >= breakeven_after`` ticks, the stop moves (only tighter) to
  ``entry + breakeven_offset``, once. ``breakeven_offset`` must be below ``breakeven_after``.
- Checks on each tick, in this order: stop (``price <= stop``), target (``price >= target``),
  time (``ts_ns >= time_stop_ns``). A single price can cross both stop and target only when
  the stop is at or above the target (a stop moved there by the user, or a trail/breakeven
  beyond the target); then the STOP wins: the position exits and the reason says stop.
- The reason of a stop exit tells where the stop came from: ``stop`` (set by the user or at
  creation), ``trailing_stop`` (last moved by the trail) or ``breakeven`` (last moved to
  breakeven).
- ``move_stop``/``move_target``/``to_breakeven`` refuse a level the last price has already
  crossed (it would exit at once: use a market exit for that).
- One rule for the stop: it never moves against the position except by ``move_stop`` (the
  trader's explicit ``[``/``]``). Breakeven (automatic or ``to_breakeven``), the trail, resizing
  and time only tighten it; ``to_breakeven`` on a stop already at or past breakeven is refused.
  With a trail on, after an explicit loosening the next tick pulls the stop back up to
  ``trail_best - distance``.
- Scale-out targets (up to three, beyond the stop): each fires once, on the tick that reaches
  it, for its own quantity; one that covers all that the other targets' working exits leave
  is the full exit. The stop always covers the whole remaining position. With
  ``breakeven_after_tp1``, TP1's first fill moves the stop to breakeven (only tighter).
- A plan that fired, is closed (qty 0) or detached never decides again.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final

from cockpit.domain import plan_state
from cockpit.domain.exit_decision import ExitDecision as ExitDecision
from cockpit.domain.exit_decision import ExitReason as ExitReason
from cockpit.domain.exit_decision import PlanChange as PlanChange
from cockpit.domain.orders import Side
from cockpit.domain.scaleout import MAX_LEGS, TargetLeg
from cockpit.domain.trail import PlanError as PlanError
from cockpit.domain.trail import Trail as Trail
from cockpit.domain.trail import TrailKind as TrailKind

_WATCHED: Final = (
    "entry_ticks",
    "stop",
    "target",
    "stop_source",
    "trail",
    "trail_active",
    "trail_best",
    "breakeven_done",
    "time_stop_ns",
    "qty",
    "closed",
    "detached",
)


def entry_level(side: Side, entry_ticks: int | Fraction) -> int:
    """An entry price as whole ticks, rounding an off-grid average against the position."""
    if isinstance(entry_ticks, int):
        return entry_ticks
    value = Fraction(entry_ticks)
    if value.denominator == 1:
        return value.numerator
    return math.ceil(value) if side is Side.BUY else math.floor(value)


class ExitPlan:
    """The exit plan of one position (long or short). See the module docstring."""

    __slots__ = (
        "side",
        "qty",
        "entry_ticks",
        "stop",
        "target",
        "stop_source",
        "initial_stop",
        "trail",
        "trail_active",
        "trail_best",
        "best_ticks",
        "breakeven_after",
        "breakeven_offset",
        "breakeven_done",
        "time_stop_ns",
        "created_ns",
        "tick_size",
        "last_ticks",
        "decision",
        "closed",
        "detached",
        "version",
        "legs",
        "breakeven_after_tp1",
        "_trail_fixed",
        "_sign",
    )

    def __init__(
        self,
        side: Side,
        qty: Decimal | int,
        entry_ticks: int | Fraction,
        *,
        stop: int | None = None,
        target: int | None = None,
        trail: Trail | None = None,
        breakeven_after: int | None = None,
        breakeven_offset: int = 0,
        time_stop_ns: int | None = None,
        created_ns: int = 0,
        tick_size: Decimal | None = None,
        best_ticks: int | None = None,
        legs: list[TargetLeg] | None = None,
        breakeven_after_tp1: bool = False,
    ) -> None:
        """Create a plan; levels are integer ticks.

        Args:
            side: the side of the position (``BUY`` = long, ``SELL`` = short).
            qty: the position quantity the plan protects (> 0).
            entry_ticks: the average entry price; an off-grid average (a Fraction, after
                fills at several prices) is rounded against the position (up for a long,
                down for a short), so that a breakeven stop never locks in a loss.
            stop: a fixed stop level (long: below the price; short: above).
            target: a target level (long: above; short: below).
            trail: a trailing distance; the trail starts from ``best_ticks`` (default: entry).
            breakeven_after: ticks of profit after which the stop moves to breakeven (once).
            breakeven_offset: ticks beyond the entry for the breakeven stop (< breakeven_after).
            time_stop_ns: exit at this wall-clock deadline (ns since the epoch).
            created_ns: when the plan started.
            tick_size: the instrument's tick size (needed for a trail in points).
            best_ticks: the best price so far, when attaching to a position that moved already.
            legs: scale-out targets (TP1…TP3), each exiting part of the position once.
            breakeven_after_tp1: once TP1's exit order fills, the stop moves (only tighter)
                to breakeven.
        """
        self.side = Side(side)
        self._sign = self.side.sign
        self.qty = Decimal(qty)
        if self.qty <= 0:
            raise PlanError(f"plan quantity must be > 0, got {self.qty}")
        self.entry_ticks = entry_level(self.side, entry_ticks)
        self.stop: int | None = None
        self.target: int | None = None
        self.stop_source = ExitReason.STOP
        self.trail: Trail | None = trail
        self.trail_active = trail is not None
        self.best_ticks = self.entry_ticks if best_ticks is None else int(best_ticks)
        self.trail_best = self.best_ticks
        if breakeven_after is not None and breakeven_after <= 0:
            raise PlanError(f"breakeven_after must be > 0 ticks, got {breakeven_after}")
        if breakeven_after is not None and breakeven_offset >= breakeven_after:
            raise PlanError(
                f"breakeven offset {breakeven_offset} must be below breakeven_after "
                f"{breakeven_after} ticks, or the stop would land beyond the price"
            )
        self.breakeven_after = breakeven_after
        self.breakeven_offset = int(breakeven_offset)
        self.breakeven_done = False
        self.time_stop_ns = time_stop_ns
        self.created_ns = created_ns
        self.tick_size = tick_size
        self.last_ticks: int | None = None
        self.decision: ExitDecision | None = None
        self.closed = False
        self.detached = False
        self.version = 0
        self.stop = stop
        self.target = target
        self._check_levels(self.stop, self.target)
        self._trail_fixed: int | None = None
        if self.trail is not None:
            self._trail_fixed = self.trail.fixed_ticks(tick_size)  # validates points/tick size
            self._ratchet_trail()
        self.initial_stop = self.stop
        self.legs: list[TargetLeg] = list(legs or ())
        self.breakeven_after_tp1 = breakeven_after_tp1
        if len(self.legs) > MAX_LEGS:
            raise PlanError(f"at most {MAX_LEGS} scale-out targets, got {len(self.legs)}")
        for leg in self.legs:
            self._check_leg(leg.level)

    # -- derived ---------------------------------------------------------------------------

    @property
    def sign(self) -> int:
        """+1 for a long plan, -1 for a short one."""
        return self._sign

    @property
    def exit_side(self) -> Side:
        """The side of the exit order."""
        return self.side.opposite

    @property
    def fired(self) -> bool:
        """The plan decided to exit (it never decides again)."""
        return self.decision is not None

    @property
    def active(self) -> bool:
        """The plan still watches prices."""
        return not (self.fired or self.closed or self.detached)

    @property
    def stop_reason(self) -> ExitReason:
        """What the current stop is: ``stop``, ``trailing_stop`` or ``breakeven``."""
        return self.stop_source

    @property
    def breakeven_level(self) -> int:
        """The breakeven stop level (entry plus the offset, in the profitable direction)."""
        return self.entry_ticks + self.sign * self.breakeven_offset

    def trail_distance(self) -> int | None:
        """The current trail distance in ticks (``None`` without an active trail)."""
        if self.trail is None or not self.trail_active:
            return None
        return self.trail.distance_ticks(self.trail_best, self.tick_size)

    # -- the hot path ----------------------------------------------------------------------

    def on_tick(self, price_ticks: int, ts_ns: int) -> ExitDecision | None:
        """Feed one price. Updates trail and breakeven, then returns a decision or ``None``."""
        if self.decision is not None or self.closed or self.detached:
            return None
        sign = self._sign
        self.last_ticks = price_ticks
        if (price_ticks - self.best_ticks) * sign > 0:
            self.best_ticks = price_ticks
        if (
            self.breakeven_after is not None
            and not self.breakeven_done
            and (price_ticks - self.entry_ticks) * sign >= self.breakeven_after
        ):
            self.breakeven_done = True
            self._tighten(self.breakeven_level, ExitReason.BREAKEVEN)
            self.version += 1
        if self.trail_active and self.trail is not None:
            if (price_ticks - self.trail_best) * sign > 0:
                self.trail_best = price_ticks
                self.version += 1
            self._ratchet_trail()
        stop = self.stop
        if stop is not None and (price_ticks - stop) * sign <= 0:
            return self._fire(self.stop_source, stop, price_ticks, ts_ns)
        if self.legs:
            for leg in self.legs:
                if not leg.fired and (price_ticks - leg.level) * sign >= 0:
                    return self._fire_leg(leg, price_ticks, ts_ns)
        target = self.target
        if target is not None and (price_ticks - target) * sign >= 0:
            return self._fire(ExitReason.TARGET, target, price_ticks, ts_ns)
        if self.time_stop_ns is not None and ts_ns >= self.time_stop_ns:
            return self._fire(ExitReason.TIME, None, price_ticks, ts_ns)
        return None

    def on_time(self, ts_ns: int) -> ExitDecision | None:
        """Check the time stop without a tick (call it from a timer)."""
        if not self.active or self.time_stop_ns is None or ts_ns < self.time_stop_ns:
            return None
        return self._fire(ExitReason.TIME, None, None, ts_ns)

    def _ratchet_trail(self) -> None:
        trail = self.trail
        assert trail is not None
        distance = self._trail_fixed
        if distance is None:
            distance = trail.distance_ticks(self.trail_best, None)
        sign = self._sign
        level = self.trail_best - sign * distance
        if self.stop is None or (level - self.stop) * sign > 0:  # as _tighten, inline: per tick
            self.stop = level
            self.stop_source = ExitReason.TRAILING_STOP
            self.version += 1

    def _tighten(self, level: int, source: ExitReason) -> bool:
        """The one rule of the automatic moves: the stop goes to ``level`` only if that is
        tighter (never against the position); True when it moved."""
        if self.stop is None or (level - self.stop) * self._sign > 0:
            self.stop = level
            self.stop_source = source
            return True
        return False

    def _fire_leg(self, leg: TargetLeg, price: int, ts_ns: int) -> ExitDecision:
        """A scale-out target was reached: exit its quantity, or everything when it covers
        all that the other targets' working exits leave."""
        free = self.qty - sum((other.committed for other in self.legs), Decimal(0))
        leg.fired = True
        if leg.qty >= free:
            leg.done = True
            return self._fire(ExitReason.TARGET, leg.level, price, ts_ns)
        self.version += 1
        return ExitDecision(
            ExitReason.TARGET, self.exit_side, leg.qty, leg.level, price, ts_ns, leg.n
        )

    def _fire(
        self, reason: ExitReason, level: int | None, price: int | None, ts_ns: int
    ) -> ExitDecision:
        decision = ExitDecision(reason, self.exit_side, self.qty, level, price, ts_ns)
        self.decision = decision
        self.version += 1
        return decision

    # -- user actions ----------------------------------------------------------------------

    def _snapshot(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _WATCHED}

    def _change(self, action: str, before: dict[str, Any]) -> PlanChange:
        changes = tuple(
            (name, before[name], getattr(self, name))
            for name in _WATCHED
            if before[name] != getattr(self, name)
        )
        if changes:
            self.version += 1
        return PlanChange(action, changes)

    def _require_active(self, action: str) -> None:
        if self.fired:
            raise PlanError(f"{action}: the plan already decided to exit ({self.decision})")
        if self.closed:
            raise PlanError(f"{action}: the plan is closed")
        if self.detached:
            raise PlanError(f"{action}: the plan is detached")

    def _text(self, ticks: int) -> str:
        """A level as the trader reads it: a price with the tick size, else ``N ticks``."""
        tick = self.tick_size
        if tick is None:
            return f"{ticks} ticks"
        exponent = tick.normalize().as_tuple().exponent
        places = max(0, -exponent) if isinstance(exponent, int) else 0
        return f"{tick * ticks:.{places}f}"

    def _check_levels(self, stop: int | None, target: int | None) -> None:
        sign = self.sign
        if stop is not None and target is not None and (target - stop) * sign <= 0:
            side = "below" if sign > 0 else "above"
            raise PlanError(
                f"the stop {self._text(stop)} must be {side} the target {self._text(target)}"
            )
        last = self.last_ticks
        if last is None:
            return
        if stop is not None and (last - stop) * sign <= 0:
            raise PlanError(
                f"the stop {self._text(stop)} is already crossed by the last price "
                f"{self._text(last)}: "
                "it would exit at once (exit at market instead)"
            )
        if target is not None and (last - target) * sign >= 0:
            raise PlanError(
                f"the target {self._text(target)} is already reached by the last price "
                f"{self._text(last)}: "
                "it would exit at once (exit at market instead)"
            )

    def move_stop(self, ticks: int | None) -> PlanChange:
        """Set the stop to ``ticks`` (``None`` removes it). May loosen: it is the user's call."""
        self._require_active("move_stop")
        before = self._snapshot()
        self._check_levels(ticks, self.target if ticks is not None else None)
        self.stop = ticks
        self.stop_source = ExitReason.STOP
        if self.initial_stop is None:
            self.initial_stop = ticks
        return self._change("move_stop", before)

    def move_target(self, ticks: int | None) -> PlanChange:
        """Set the target to ``ticks`` (``None`` removes it)."""
        self._require_active("move_target")
        before = self._snapshot()
        self._check_levels(self.stop if ticks is not None else None, ticks)
        self.target = ticks
        return self._change("move_target", before)

    def _check_leg(self, level: int) -> None:
        """A scale-out target beyond the stop and not reached by the last price."""
        sign = self.sign
        if self.stop is not None and (level - self.stop) * sign <= 0:
            raise PlanError(
                f"the target {self._text(level)} must be beyond the stop {self._text(self.stop)}"
            )
        if self.last_ticks is not None and (self.last_ticks - level) * sign >= 0:
            raise PlanError(
                f"the target {self._text(level)} is already reached by the last price "
                f"{self._text(self.last_ticks)}: it would exit at once"
            )

    def move_leg(self, n: int, ticks: int) -> PlanChange:
        """Move scale-out target ``n`` (1 for TP1) that has not fired to ``ticks``."""
        self._require_active("move_leg")
        leg = next((leg for leg in self.legs if leg.n == n), None)
        if leg is None:
            raise PlanError(f"there is no TP{n}")
        if leg.fired:
            raise PlanError(f"TP{n} has fired already")
        self._check_leg(ticks)
        old, leg.level = leg.level, ticks
        change = PlanChange("move_leg", ((f"tp{n}", old, ticks),) if old != ticks else ())
        if change.changed:
            self.version += 1
        return change

    def leg_of(self, cid: str) -> TargetLeg | None:
        """The scale-out target whose exit order is ``cid``."""
        return next((leg for leg in self.legs if leg.cid == cid), None)

    def leg_filled(self, leg: TargetLeg, qty: Decimal) -> PlanChange:
        """``qty`` of ``leg``'s exit order filled; after TP1's first fill the stop goes to
        breakeven (only tighter) if the plan asks for it."""
        before = self._snapshot()
        leg.filled += qty
        if leg.n == 1 and self.breakeven_after_tp1 and not self.breakeven_done and self.active:
            self.breakeven_done = True
            self._tighten(self.breakeven_level, ExitReason.BREAKEVEN)
        change = self._change("leg_filled", before)
        if not change.changed:
            self.version += 1  # the leg itself changed
        return change

    def leg_done(self, leg: TargetLeg) -> None:
        """``leg``'s exit order is final: what it did not fill is no longer committed."""
        if not leg.done:
            leg.done = True
            self.version += 1

    def set_trail(self, trail: Trail | None) -> PlanChange:
        """Replace the trail (``None`` removes it). A new trail starts from the last price."""
        self._require_active("set_trail")
        before = self._snapshot()
        fixed = None if trail is None else trail.fixed_ticks(self.tick_size)  # validates
        self.trail = trail
        self._trail_fixed = fixed
        self.trail_active = trail is not None
        if trail is not None:
            self._restart_trail()
        return self._change("set_trail", before)

    def toggle_trail(self) -> PlanChange:
        """Switch the configured trail off or on (on again: it trails from the last price)."""
        self._require_active("toggle_trail")
        if self.trail is None:
            raise PlanError("toggle_trail: no trail configured (set one first)")
        before = self._snapshot()
        self.trail_active = not self.trail_active
        if self.trail_active:
            self._restart_trail()
        return self._change("toggle_trail", before)

    def _restart_trail(self) -> None:
        if self.last_ticks is not None:
            self.trail_best = self.last_ticks
        self._ratchet_trail()
        if self.initial_stop is None:
            self.initial_stop = self.stop

    def to_breakeven(self) -> PlanChange:
        """Move the stop to entry + offset now (and mark breakeven done).

        Only ever tightens: a stop already at or past breakeven (the trader's, the trail's)
        is refused with the reason, never moved back towards the entry.
        """
        self._require_active("to_breakeven")
        before = self._snapshot()
        level = self.breakeven_level
        stop = self.stop
        if stop is not None and (stop - level) * self.sign >= 0:
            where = "at" if stop == level else "past"
            raise PlanError(
                f"the stop {self._text(stop)} is already {where} breakeven "
                f"{self._text(level)}: not moved (move it with [ / ] to loosen it)"
            )
        self._check_levels(level, self.target)
        self.stop = level
        self.stop_source = ExitReason.BREAKEVEN
        self.breakeven_done = True
        return self._change("to_breakeven", before)

    def resize(self, qty: Decimal | int, entry_ticks: int | Fraction | None = None) -> PlanChange:
        """Follow the position's quantity (adds, partial exits); 0 closes the plan.

        Args:
            qty: the position's new quantity (absolute).
            entry_ticks: the new average entry after an add (rounded as in ``__init__``);
                breakeven, P&L and R-multiples then measure from it.
        """
        value = Decimal(qty)
        if value < 0:
            raise PlanError(f"resize: quantity must be >= 0, got {value}")
        if self.closed:
            if value == 0:
                return PlanChange("resize", ())
            raise PlanError("resize: the plan is closed")
        before = self._snapshot()
        if value == 0:
            self.closed = True
        else:
            self.qty = value
            if entry_ticks is not None:
                self.entry_ticks = entry_level(self.side, entry_ticks)
        return self._change("resize", before)

    def detach(self) -> PlanChange:
        """Stop managing the position (it stays open; the plan never decides again)."""
        before = self._snapshot()
        self.detached = True
        return self._change("detach", before)

    # -- persistence -----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Everything needed to restore the plan, as JSON-safe values."""
        return plan_state.to_state(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ExitPlan:
        """Restore a plan saved with :meth:`to_state` (:mod:`cockpit.domain.plan_state`)."""
        return plan_state.from_state(cls, state)

    def __repr__(self) -> str:
        trail = self.trail.describe() if self.trail is not None and self.trail_active else "-"
        return (
            f"ExitPlan({self.side} {self.qty} @ {self.entry_ticks}, stop={self.stop} "
            f"({self.stop_source}), target={self.target}, {trail}, "
            f"breakeven_after={self.breakeven_after}, time={self.time_stop_ns}, "
            f"fired={self.fired}, closed={self.closed}, detached={self.detached})"
        )
