"""What an exit plan decides (:class:`ExitDecision`, why: :class:`ExitReason`) and what a
user action changed in it (:class:`PlanChange`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from cockpit.domain.orders import Side


class ExitReason(StrEnum):
    """Why a plan decided to exit."""

    STOP = "stop"
    TRAILING_STOP = "trailing_stop"
    BREAKEVEN = "breakeven"
    """The stop that was hit had been moved to breakeven."""
    TARGET = "target"
    TIME = "time"


@dataclass(frozen=True, slots=True)
class ExitDecision:
    """The plan's one decision: exit ``qty`` on ``side`` now."""

    reason: ExitReason
    side: Side
    """The side of the exit order (opposite of the position)."""
    qty: Decimal
    level_ticks: int | None
    """The stop or target level that was crossed; ``None`` for a time stop."""
    price_ticks: int | None
    """The price that crossed it (``None`` for a time stop decided without a tick)."""
    ts_ns: int
    leg: int | None = None
    """A scale-out target (1 for TP1…): exit ``qty`` of the position, the plan goes on."""

    def to_state(self) -> dict[str, Any]:
        """JSON-safe form for the journal."""
        return {
            "reason": str(self.reason),
            "side": str(self.side),
            "qty": str(self.qty),
            "level_ticks": self.level_ticks,
            "price_ticks": self.price_ticks,
            "ts_ns": self.ts_ns,
            "leg": self.leg,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ExitDecision:
        """Inverse of :meth:`to_state`."""
        return cls(
            reason=ExitReason(state["reason"]),
            side=Side(state["side"]),
            qty=Decimal(state["qty"]),
            level_ticks=state["level_ticks"],
            price_ticks=state["price_ticks"],
            ts_ns=state["ts_ns"],
            leg=state.get("leg"),
        )


@dataclass(frozen=True, slots=True)
class PlanChange:
    """What a user action (or the trail) changed: ``{field: (old, new)}``."""

    action: str
    changes: tuple[tuple[str, Any, Any], ...]

    @property
    def changed(self) -> bool:
        """False when the action was a no-op."""
        return bool(self.changes)

    def as_dict(self) -> dict[str, tuple[Any, Any]]:
        """``{field: (old, new)}``."""
        return {name: (old, new) for name, old, new in self.changes}
