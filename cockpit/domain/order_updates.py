"""Following venue order updates: the events that bring an :class:`~cockpit.domain.orders.Order`
in line with an OpenAlgo :class:`~cockpit.domain.feed.OrderUpdate`.

:func:`events_from_update` compares the update (cumulative ``filled_qty``/``average_price``)
with the order, so a duplicate or stale update yields no events: venue updates can be followed
idempotently. An unknown status raises :class:`UnmappedUpdate`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Final

from cockpit.domain.orders import (
    Order,
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderStatus,
    OrderTriggered,
    TickPrice,
    num_den,
    ratio,
)

if TYPE_CHECKING:
    from cockpit.domain.feed import OrderUpdate


class UnmappedUpdate(ValueError):
    """A venue order update this module cannot map to events (unknown status, no price)."""


_TRANSIENT: Final = frozenset(
    {
        "pending",
        "validation pending",
        "put order req received",
        "open pending",
        "modify pending",
        "modify validation pending",
        "cancel pending",
        "after market order req received",
        "modified",
        "update",
    }
)
"""Broker statuses that carry no state change we model (the order is in flight)."""

_STATUS_ALIASES: Final = {
    "open": "open",
    "trigger pending": "trigger pending",
    "trigger_pending": "trigger pending",
    "complete": "complete",
    "completed": "complete",
    "filled": "complete",
    "rejected": "rejected",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}


def _to_ticks(price: Decimal, tick_size: Decimal) -> TickPrice:
    pn, pd = price.as_integer_ratio()
    tn, td = tick_size.as_integer_ratio()
    return ratio(pn * td, pd * tn)


def events_from_update(order: Order, update: OrderUpdate, tick_size: Decimal) -> list[OrderEvent]:
    """The events that bring ``order`` in line with the venue's ``update``.

    The update is compared with the order's current state, never counted: applying the same
    update twice (or an older one after a newer one) yields no events the second time. Fills
    are derived from the cumulative ``filled_qty`` and ``average_price``; the price of the new
    part is ``(avg_new * filled_new - fill_value_so_far) / (filled_new - filled_so_far)`` in
    ticks (a Fraction if off the grid).

    Args:
        order: the order the update is about (matched by the caller on venue id).
        update: the venue's view of the order.
        tick_size: the instrument's tick size, to turn prices into ticks.

    Returns:
        The events to apply, in order (possibly empty).

    Raises:
        UnmappedUpdate: an unknown status, or a fill without any price to attribute.
    """
    raw = update.status.strip().lower()
    if raw in _TRANSIENT:
        return []
    status = _STATUS_ALIASES.get(raw)
    if status is None:
        raise UnmappedUpdate(f"order {order.cid}: unknown venue status {update.status!r}")
    if order.status.is_final:
        return []
    ts = update.recv_ns
    events: list[OrderEvent] = []
    current = order.status
    venue_id = update.orderid or order.venue_id or ""

    if status == "rejected" and order.filled_qty == 0 and update.filled_qty == 0:
        if current is OrderStatus.PENDING_NEW and venue_id:
            # Keep the venue's id for the journal: accepted, then refused (an RMS rejection).
            events.append(OrderAccepted(venue_id, ts))
        events.append(OrderRejected(ts, update.rejection_reason or "rejected by the venue"))
        return events

    if current is OrderStatus.PENDING_NEW:
        accepted = OrderStatus.TRIGGER_PENDING if status == "trigger pending" else OrderStatus.OPEN
        events.append(OrderAccepted(venue_id, ts, accepted))
        current = accepted

    # A venue-side modification (quantity, price, trigger), only while the order works.
    if status in ("open", "trigger pending"):
        modified = _modification(order, update, tick_size, ts)
        if modified is not None:
            events.append(modified)

    # Fills: the cumulative filled quantity says what is new.
    target = update.filled_qty
    if status == "complete" and target == 0:
        target = update.quantity if update.quantity > 0 else order.qty
    qty = order.qty
    for event in events:
        if isinstance(event, OrderModified) and event.qty is not None:
            qty = event.qty
    if status == "complete" and target > qty:
        # The venue completed more than we think the order is for: it was modified upwards.
        events.append(OrderModified(ts, qty=target))
    if target > order.filled_qty:
        delta = target - order.filled_qty
        events.append(OrderFilled(delta, _fill_price(order, update, tick_size, target), ts))
        current = OrderStatus.PARTIALLY_FILLED

    if status == "open" and current is OrderStatus.TRIGGER_PENDING:
        events.append(OrderTriggered(ts))
    if max(target, order.filled_qty) >= qty:
        return events  # fully filled: nothing is left to cancel
    if status == "cancelled":
        events.append(OrderCancelled(ts, update.rejection_reason or "cancelled"))
    elif status == "rejected":
        # Rejected after (part of) it filled: the fills stand, the remainder is dead.
        reason = update.rejection_reason or "rejected by the venue"
        events.append(OrderCancelled(ts, f"rejected after a partial fill: {reason}"))
    return events


def _fill_price(
    order: Order, update: OrderUpdate, tick_size: Decimal, target: Decimal
) -> TickPrice:
    delta = target - order.filled_qty
    if update.average_price > 0:
        # (average / tick * target - value so far) / delta, over integer ratios, divided once.
        an, ad = update.average_price.as_integer_ratio()
        tn, td = tick_size.as_integer_ratio()
        gn, gd = target.as_integer_ratio()
        vn, vd = num_den(order.fill_value_ticks)
        dn, dd = delta.as_integer_ratio()
        total_den = ad * tn * gd
        num = (an * td * gn * vd - vn * total_den) * dd
        den = total_den * vd * dn
        if den < 0:
            num, den = -num, -den
        if num > 0:
            return ratio(num, den)
    # No usable average: fall back to a price the order itself carries.
    for fallback in (order.price_ticks, order.trigger_ticks):
        if fallback is not None:
            return fallback
    if update.price > 0:
        return _to_ticks(update.price, tick_size)
    raise UnmappedUpdate(
        f"order {order.cid}: filled quantity rose to {target} but the update carries no price"
    )


def _modification(
    order: Order, update: OrderUpdate, tick_size: Decimal, ts: int
) -> OrderModified | None:
    qty = update.quantity if update.quantity > 0 and update.quantity != order.qty else None
    if qty is not None and qty <= order.filled_qty:
        qty = None
    price = None
    if order.type.has_price and update.price > 0:
        ticks = _to_ticks(update.price, tick_size)
        if isinstance(ticks, int) and ticks != order.price_ticks:
            price = ticks
    trigger = None
    if order.type.has_trigger and update.trigger_price > 0:
        ticks = _to_ticks(update.trigger_price, tick_size)
        if isinstance(ticks, int) and ticks != order.trigger_ticks:
            trigger = ticks
    if qty is None and price is None and trigger is None:
        return None
    return OrderModified(ts, qty=qty, price_ticks=price, trigger_ticks=trigger)
