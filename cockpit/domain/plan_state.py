"""The journal form of an exit plan: ``ExitPlan.to_state``/``ExitPlan.from_state`` (JSON-safe
values; a restored plan behaves identically)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from cockpit.domain.exit_decision import ExitDecision, ExitReason
from cockpit.domain.orders import Side
from cockpit.domain.scaleout import TargetLeg
from cockpit.domain.trail import PlanError, Trail, TrailKind

if TYPE_CHECKING:
    from cockpit.domain.exits import ExitPlan

STATE_VERSION: Final = 1
PLAIN_STATE: Final = (
    "entry_ticks",
    "stop",
    "target",
    "initial_stop",
    "trail_active",
    "trail_best",
    "best_ticks",
    "breakeven_after",
    "breakeven_offset",
    "breakeven_done",
    "time_stop_ns",
    "created_ns",
    "last_ticks",
    "closed",
    "detached",
    "version",
    "breakeven_after_tp1",
)
"""Plan attributes journaled as they are (ints, bools, None)."""
PLAIN_DEFAULTS: Final[dict[str, Any]] = {"breakeven_after_tp1": False}
"""Values of attributes added after the first state version, for older journals."""


def to_state(plan: ExitPlan) -> dict[str, Any]:
    """Everything needed to restore ``plan``, as JSON-safe values."""
    trail = plan.trail
    return {
        "v": STATE_VERSION,
        **{name: getattr(plan, name) for name in PLAIN_STATE},
        "side": str(plan.side),
        "qty": str(plan.qty),
        "stop_source": str(plan.stop_source),
        "trail": None
        if trail is None
        else {"kind": str(trail.kind), "distance": str(trail.distance)},
        "tick_size": None if plan.tick_size is None else str(plan.tick_size),
        "decision": None if plan.decision is None else plan.decision.to_state(),
        "legs": [leg.to_state() for leg in plan.legs],
    }


def from_state(cls: type[ExitPlan], state: dict[str, Any]) -> ExitPlan:
    """Restore a plan saved with :func:`to_state` (a state from before scale-out targets
    restores without them)."""
    if state.get("v") != STATE_VERSION:
        raise PlanError(f"unknown exit-plan state version {state.get('v')!r}")
    plan = cls.__new__(cls)
    for name in PLAIN_STATE:
        setattr(plan, name, state[name] if name in state else PLAIN_DEFAULTS[name])
    trail = state["trail"]
    plan.side = Side(state["side"])
    plan._sign = plan.side.sign
    plan.qty = Decimal(state["qty"])
    plan.stop_source = ExitReason(state["stop_source"])
    plan.trail = (
        None if trail is None else Trail(TrailKind(trail["kind"]), Decimal(trail["distance"]))
    )
    plan.tick_size = None if state["tick_size"] is None else Decimal(state["tick_size"])
    decision = state["decision"]
    plan.decision = None if decision is None else ExitDecision.from_state(decision)
    plan.legs = [TargetLeg.from_state(leg) for leg in state.get("legs", ())]
    plan._trail_fixed = None if plan.trail is None else plan.trail.fixed_ticks(plan.tick_size)
    return plan
