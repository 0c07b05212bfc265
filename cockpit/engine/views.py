"""Conversions from the engine's domain state to the protocol's views (pure functions)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from cockpit.domain.exits import ExitPlan
from cockpit.domain.instruments import Instrument
from cockpit.domain.orders import Order
from cockpit.domain.positions import Position, to_money
from cockpit.link.protocol import (
    InstrumentView,
    OrderView,
    PlanView,
    PositionView,
    TargetView,
    TrailView,
)
from cockpit.link.volume import volume_view

__all__ = [
    "instrument_view",
    "order_view",
    "plan_view",
    "position_view",
    "ticks_to_money",
    "volume_view",
]


def instrument_view(inst: Instrument) -> InstrumentView:
    """The viewer's description of an instrument."""
    return InstrumentView(
        key=inst.key,
        exchange=str(inst.exchange),
        symbol=inst.symbol,
        tick_size=inst.tick_size,
        lot_size=inst.lot_size,
        precision=inst.precision,
        name=inst.name,
        kind=inst.kind,
        tradable=inst.tradable,
    )


def ticks_to_money(value: Fraction | int, tick_size: Decimal) -> Decimal:
    """A (possibly fractional) tick price as Decimal money (an int price builds no Fraction)."""
    if type(value) is not int and not isinstance(value, Fraction):
        value = Fraction(value)  # a Decimal or other rational: as before
    return to_money(value, tick_size)


def order_view(order: Order, tick_size: Decimal) -> OrderView:
    """The viewer's description of an order."""
    avg = order.avg_fill_ticks
    return OrderView(
        cid=order.cid,
        key=order.key,
        side=str(order.side),
        order_type=str(order.type),
        qty=order.qty,
        status=str(order.status),
        ts_ns=order.updated_ns,
        product=str(order.product),
        venue_id=order.venue_id,
        price=order.price_ticks,
        trigger=order.trigger_ticks,
        filled=order.filled_qty,
        avg_price=None if avg is None else ticks_to_money(avg, tick_size),
        tag=order.tag,
        reason=order.reason,
    )


def position_view(pos: Position, mark: int | None) -> PositionView:
    """The viewer's description of a position (unrealized at ``mark``)."""
    avg = pos.avg_price
    return PositionView(
        key=pos.key,
        qty=pos.qty,
        avg_price=avg if avg is not None else Decimal(0),
        realized=pos.realized_pnl,
        unrealized=pos.unrealized_pnl(mark) if mark is not None else Decimal(0),
        ltp=mark,
    )


def plan_view(key: str, plan: ExitPlan, exit_cid: str | None = None) -> PlanView:
    """The viewer's description of an exit plan."""
    trail = plan.trail
    return PlanView(
        key=key,
        side="long" if plan.sign > 0 else "short",
        qty=plan.qty,
        entry=plan.entry_ticks,
        stop=plan.stop,
        target=plan.target,
        trail=None if trail is None else TrailView(str(trail.kind), trail.distance),
        trail_active=plan.trail_active,
        high_water=plan.trail_best if plan.trail_active else plan.best_ticks,
        breakeven_after=plan.breakeven_after,
        breakeven_done=plan.breakeven_done,
        time_stop_ns=plan.time_stop_ns,
        fired=None if plan.decision is None else str(plan.decision.reason),
        exit_cid=exit_cid,
        initial_risk=(
            abs(plan.entry_ticks - plan.initial_stop) or None
            if plan.initial_stop is not None
            else None
        ),
        targets=[TargetView(leg.n, leg.level, leg.qty, leg.fired, leg.filled) for leg in plan.legs],
        breakeven_after_tp1=plan.breakeven_after_tp1,
    )
