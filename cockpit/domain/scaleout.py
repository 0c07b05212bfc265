"""Scale-out targets: up to three partial take-profits of one exit plan (TP1, TP2, TP3).

A :class:`TargetLeg` exits ``qty`` once the price reaches ``level``; it fires once, ever, and
its exit order's fills are counted on it (``filled``) until the order is final (``done``).
While a leg's order works, its unfilled part is *committed*: the plan's full exit (stop,
final target, time) closes only what is not committed already, so the two never sell the
same shares twice.

:func:`resolve_targets` turns target specs (distance in ticks, and a quantity, a percent share
of the position, or neither for "the rest") into legs and the plan's final target.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Final

from cockpit.domain.trail import PlanError

MAX_LEGS: Final = 3
"""At most this many scale-out targets per plan."""


@dataclass(slots=True)
class TargetLeg:
    """One scale-out target (levels in ticks)."""

    n: int
    """1 for TP1, 2 for TP2, 3 for TP3."""
    level: int
    qty: Decimal
    """The quantity this target exits."""
    fired: bool = False
    """The price reached it and its exit was decided (never again)."""
    cid: str | None = None
    """The client id of its exit order, once sent."""
    filled: Decimal = Decimal(0)
    """How much of its exit order has filled."""
    done: bool = False
    """Its exit order is final (filled, or cancelled/rejected with the rest unfilled)."""

    @property
    def committed(self) -> Decimal:
        """The part of the position its working exit order may still sell."""
        if not self.fired or self.done:
            return Decimal(0)
        return max(Decimal(0), self.qty - self.filled)

    def to_state(self) -> dict[str, Any]:
        """JSON-safe form for the journal."""
        return {
            "n": self.n,
            "level": self.level,
            "qty": str(self.qty),
            "fired": self.fired,
            "cid": self.cid,
            "filled": str(self.filled),
            "done": self.done,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TargetLeg:
        """Inverse of :meth:`to_state`."""
        return cls(
            n=int(state["n"]),
            level=int(state["level"]),
            qty=Decimal(state["qty"]),
            fired=bool(state["fired"]),
            cid=state.get("cid"),
            filled=Decimal(state.get("filled", "0")),
            done=bool(state.get("done", False)),
        )


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """A target as asked for: ``ticks`` from the entry, and ``qty`` or ``pct`` (neither: the
    rest of the position, i.e. the plan's final target)."""

    ticks: int
    qty: Decimal | None = None
    pct: Decimal | None = None

    def __post_init__(self) -> None:
        if self.ticks <= 0:
            raise PlanError(f"a target must be > 0 ticks from the entry, got {self.ticks}")
        if self.qty is not None and self.pct is not None:
            raise PlanError("a target takes a quantity or a share, not both")
        if self.qty is not None and self.qty <= 0:
            raise PlanError(f"a target quantity must be > 0, got {self.qty}")
        if self.pct is not None and not 0 < self.pct <= 100:
            raise PlanError(f"a target share must be in (0, 100] percent, got {self.pct}")


def resolve_targets(
    specs: list[TargetSpec], sign: int, entry: int, position_qty: Decimal, lot: Decimal
) -> tuple[list[TargetLeg], int | None]:
    """Legs (partial targets) and the final target level for a position.

    Args:
        specs: at most three targets, nearest first; a spec without a quantity or share
            is the rest of the position and must be the last.
        sign: +1 for a long, -1 for a short.
        entry: the entry level in ticks.
        position_qty: the position's quantity (absolute).
        lot: the lot size: a share is rounded down to whole lots.

    Returns:
        ``(legs, final_target)``: a leg whose quantity reaches what the earlier legs left
        becomes the final target (it closes everything), as does a spec without a quantity;
        a share that rounds to zero lots is skipped.

    Raises:
        PlanError: more than three targets, "the rest" before the last, or targets that do
            not go further from the entry one after another.
    """
    if len(specs) > MAX_LEGS:
        raise PlanError(f"at most {MAX_LEGS} targets, got {len(specs)}")
    legs: list[TargetLeg] = []
    left = position_qty
    previous = 0
    for i, spec in enumerate(specs):
        if spec.ticks <= previous:
            raise PlanError("each target must be further from the entry than the one before")
        previous = spec.ticks
        level = entry + sign * spec.ticks
        rest = spec.qty is None and spec.pct is None
        if rest and i != len(specs) - 1:
            raise PlanError("a target without a quantity (the rest) must be the last")
        if rest:
            return legs, level
        if spec.qty is not None:
            qty = spec.qty
        else:
            assert spec.pct is not None
            share = position_qty * spec.pct / 100
            qty = (share / lot).to_integral_value(rounding=ROUND_FLOOR) * lot
            if qty <= 0:
                continue
        if qty >= left:
            return legs, level
        legs.append(TargetLeg(len(legs) + 1, level, qty))
        left -= qty
    return legs, None
