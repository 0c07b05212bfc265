"""Orders: sides, types, statuses, order events and the transition table that guards them.

API summary
-----------
- Enums: :class:`Side` (``BUY``/``SELL``, ``.sign`` +1/-1, ``.opposite``), :class:`OrderType`
  (``MARKET``, ``LIMIT``, ``SL``, ``SL-M``), :class:`Product` (``MIS``, ``CNC``, ``NRML``),
  :class:`OrderStatus` (``.is_working``, ``.is_final``).
- :class:`OrderRequest`: what the caller wants (risk checks it, :meth:`Order.from_request`
  makes an order of it).
- :class:`Order`: mutable aggregate. It changes ONLY through ``order.apply(event)``; the
  event must be allowed by the transition table for the current status, otherwise
  :class:`InvalidTransition` names both. A fill beyond the order quantity raises
  :class:`OverFill`; a modification below the filled quantity raises :class:`InvalidModification`.
- Events (frozen, past tense, each with ``ts_ns``): :class:`OrderSubmitted`,
  :class:`OrderAccepted` (``venue_id``, status ``OPEN`` or ``TRIGGER_PENDING``),
  :class:`OrderTriggered`, :class:`OrderFilled` (``fill_qty``, ``price_ticks``; partial or
  complete is decided by the quantities), :class:`OrderModified` (``qty``, ``price_ticks``,
  ``trigger_ticks``), :class:`OrderCancelled` (``reason``), :class:`OrderRejected` (``reason``).
- Journal form: ``event_to_state(event)``/``event_from_state(d)`` and
  ``order.to_state()``/``Order.from_state(d)`` (JSON-safe dicts, exact).
- :func:`events_from_update`: the events that bring an :class:`Order` in line with an OpenAlgo
  :class:`~cockpit.domain.feed.OrderUpdate` (cumulative ``filled_qty``/``average_price``).
  It compares the update with the order, so a duplicate or stale update yields no events:
  venue updates can be followed idempotently. An unknown status raises :class:`UnmappedUpdate`.

Prices are integer ticks (``price = ticks * tick_size``); a fill price may be a
:class:`~fractions.Fraction` of ticks when the venue reports an average that is off the grid
(several fills at different prices). The average fill price is kept exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from cockpit.domain.feed import OrderUpdate

TickPrice = int | Fraction
"""A price in ticks: an ``int`` on the grid, a ``Fraction`` for an off-grid average."""

Exact = int | Fraction
"""An exact rational amount: an ``int`` whenever it is whole, a ``Fraction`` otherwise.

Whole amounts stay ``int`` so that the usual case (whole quantities at prices on the grid)
never builds a :class:`~fractions.Fraction` (pure Python, slow); ``int`` and ``Fraction``
compare, hash and print alike for the same value (``str(5) == str(Fraction(5))``).
"""


def ratio(num: int, den: int) -> Exact:
    """``num / den`` exactly: an ``int`` when ``den`` divides ``num``, else a Fraction."""
    if den == 1:
        return num
    q, r = divmod(num, den)
    if not r:
        return q
    return Fraction(num, den)


def exact(value: Decimal | int | Fraction | str) -> Exact:
    """``value`` as an exact :data:`Exact` (a Decimal via its integer ratio, no rounding).

    A string is parsed as a Fraction (``"7"``, ``"-302/3"``, ``"1.5"``): the journal form.
    """
    if type(value) is int:
        return value
    if isinstance(value, Decimal):
        num, den = value.as_integer_ratio()
        return num if den == 1 else Fraction(num, den)
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else value
    if isinstance(value, str):
        value = Fraction(value)
        return value.numerator if value.denominator == 1 else value
    if isinstance(value, int):  # bool and other int subclasses
        return int(value)
    raise TypeError(f"not an exact number: {value!r}")


def num_den(value: Exact | Decimal) -> tuple[int, int]:
    """``(numerator, denominator)`` of ``value`` (``(value, 1)`` for an int), reduced."""
    if type(value) is int:
        return value, 1
    return value.as_integer_ratio()


class Side(StrEnum):
    """The side of an order (``BUY``/``SELL`` as OpenAlgo's ``action``)."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the sign of the position change."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        """The other side (the side of an order that closes a position of this side)."""
        return Side.SELL if self is Side.BUY else Side.BUY

    @classmethod
    def parse(cls, text: str) -> Side:
        """Parse ``buy``/``BUY``/``b``/``sell``/``S`` (case-insensitive)."""
        value = text.strip().upper()
        if value in ("B", "BUY", "LONG"):
            return cls.BUY
        if value in ("S", "SELL", "SHORT"):
            return cls.SELL
        raise ValueError(f"not a side: {text!r} (expected BUY or SELL)")


class OrderType(StrEnum):
    """Order types as OpenAlgo's ``pricetype``."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"
    SL = "SL"
    """Stop-limit: triggers at ``trigger``, then rests as a limit at ``price``."""
    SL_M = "SL-M"
    """Stop-market: triggers at ``trigger``, then fills at market."""

    @property
    def has_price(self) -> bool:
        """Whether the type carries a limit price."""
        return self in (OrderType.LIMIT, OrderType.SL)

    @property
    def has_trigger(self) -> bool:
        """Whether the type carries a trigger price."""
        return self in (OrderType.SL, OrderType.SL_M)


class Product(StrEnum):
    """Products as OpenAlgo names them."""

    MIS = "MIS"
    """Intraday (squared off by the broker at the end of the session)."""
    CNC = "CNC"
    """Cash and carry (delivery equity)."""
    NRML = "NRML"
    """Normal (carry-forward derivatives)."""


class OrderStatus(StrEnum):
    """Where an order is in its life."""

    PENDING_NEW = "pending_new"
    """Created locally; the venue has not acknowledged it yet."""
    OPEN = "open"
    TRIGGER_PENDING = "trigger_pending"
    PARTIALLY_FILLED = "partially_filled"
    COMPLETE = "complete"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        """No event can change the order any more."""
        return self in _FINAL

    @property
    def is_working(self) -> bool:
        """The order may still fill (including before the venue acknowledged it)."""
        return not self.is_final


_FINAL: Final = frozenset({OrderStatus.COMPLETE, OrderStatus.REJECTED, OrderStatus.CANCELLED})


class OrderError(ValueError):
    """Base of the errors an order raises on an event it cannot take."""


class InvalidTransition(OrderError):
    """An event that the transition table does not allow from the order's status."""

    def __init__(self, cid: str, status: OrderStatus, event: OrderEvent, to: str) -> None:
        super().__init__(
            f"order {cid}: invalid transition from {status} to {to} ({type(event).__name__})"
        )
        self.status = status
        self.event = event
        self.to = to


class OverFill(OrderError):
    """A fill that would take the filled quantity beyond the order quantity."""


class InvalidModification(OrderError):
    """A modification the order cannot take (quantity below the filled quantity, bad values)."""


class UnmappedUpdate(ValueError):
    """A venue order update this module cannot map to events (unknown status, no price)."""


# -- events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderSubmitted:
    """The order was sent to the venue (the request left; no answer yet)."""

    ts_ns: int


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    """The venue acknowledged the order and gave it an id."""

    venue_id: str
    ts_ns: int
    status: OrderStatus = OrderStatus.OPEN
    """``OPEN`` or ``TRIGGER_PENDING`` (stop orders wait for their trigger)."""

    def __post_init__(self) -> None:
        if self.status not in (OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING):
            raise ValueError(f"OrderAccepted status must be open or trigger_pending: {self.status}")


@dataclass(frozen=True, slots=True)
class OrderTriggered:
    """A stop order's trigger was reached; it now works as a limit (SL) or market (SL-M)."""

    ts_ns: int


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """A (partial or complete) fill of ``fill_qty`` at ``price_ticks``."""

    fill_qty: Decimal
    price_ticks: TickPrice
    ts_ns: int
    trade_id: str = ""

    def __post_init__(self) -> None:
        if self.fill_qty <= 0:
            raise ValueError(f"fill quantity must be > 0, got {self.fill_qty}")


@dataclass(frozen=True, slots=True)
class OrderModified:
    """The venue confirmed new values; ``None`` leaves a value unchanged."""

    ts_ns: int
    qty: Decimal | None = None
    price_ticks: int | None = None
    trigger_ticks: int | None = None


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    """The order (its unfilled remainder) was cancelled."""

    ts_ns: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """The venue (or the router, before sending) refused the order."""

    ts_ns: int
    reason: str = ""


OrderEvent = (
    OrderSubmitted
    | OrderAccepted
    | OrderTriggered
    | OrderFilled
    | OrderModified
    | OrderCancelled
    | OrderRejected
)
"""Every event an :class:`Order` takes."""


# -- the transition table --------------------------------------------------------------------

_S = OrderStatus
_TABLE: Final[dict[OrderStatus, frozenset[type]]] = {
    _S.PENDING_NEW: frozenset(
        {OrderSubmitted, OrderAccepted, OrderFilled, OrderCancelled, OrderRejected}
    ),
    _S.OPEN: frozenset({OrderFilled, OrderModified, OrderCancelled, OrderRejected}),
    _S.TRIGGER_PENDING: frozenset(
        {OrderTriggered, OrderFilled, OrderModified, OrderCancelled, OrderRejected}
    ),
    _S.PARTIALLY_FILLED: frozenset({OrderFilled, OrderModified, OrderCancelled}),
    _S.COMPLETE: frozenset(),
    _S.REJECTED: frozenset(),
    _S.CANCELLED: frozenset(),
}
"""Which events each status accepts. The resulting status is decided in :meth:`Order.apply`."""


def allowed_events(status: OrderStatus) -> frozenset[type]:
    """The event types an order in ``status`` accepts (for tests and documentation)."""
    return _TABLE[status]


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What the caller wants sent: checked by risk, turned into an :class:`Order`."""

    key: str
    """``EXCH:SYMBOL``."""
    side: Side
    qty: Decimal
    type: OrderType = OrderType.MARKET
    product: Product = Product.MIS
    price_ticks: int | None = None
    """Limit price (``LIMIT``, ``SL``)."""
    trigger_ticks: int | None = None
    """Trigger price (``SL``, ``SL-M``)."""
    tag: str = "entry"
    """``entry``, ``exit``, ``protective``…: why the order exists."""

    def __post_init__(self) -> None:
        if self.qty <= 0:
            raise ValueError(f"{self.key}: order quantity must be > 0, got {self.qty}")
        if self.type.has_price and self.price_ticks is None:
            raise ValueError(f"{self.key}: a {self.type} order needs a price")
        if self.type.has_trigger and self.trigger_ticks is None:
            raise ValueError(f"{self.key}: a {self.type} order needs a trigger price")
        for name in ("price_ticks", "trigger_ticks"):
            check_price_ticks(self.key, name, getattr(self, name))


MAX_PRICE_TICKS: Final = 10**15
"""No price has more ticks (a 0.0001 tick at 10^11): beyond it a price is a typo or an attack."""


def check_price_ticks(key: str, name: str, value: int | None) -> None:
    """Refuse (``ValueError``) an order price in ticks that is not positive or beyond any real
    price; ``None`` (no price) passes."""
    if value is None:
        return
    if value <= 0:
        raise ValueError(f"{key}: {name} must be > 0, got {value}")
    if value > MAX_PRICE_TICKS:
        raise ValueError(f"{key}: {name} {value:.3g} is beyond any real price")


@dataclass(slots=True)
class Order:
    """One order and its state. Mutate only through :meth:`apply`."""

    cid: str
    """Our client id (unique per engine run, journaled)."""
    key: str
    side: Side
    type: OrderType
    qty: Decimal
    product: Product = Product.MIS
    price_ticks: int | None = None
    trigger_ticks: int | None = None
    tag: str = "entry"
    created_ns: int = 0
    venue_id: str | None = None
    status: OrderStatus = OrderStatus.PENDING_NEW
    filled_qty: Decimal = Decimal(0)
    fill_value_ticks: Exact = 0
    """Sum of ``fill_qty * price_ticks`` over the fills (exact; an int when whole)."""
    submitted_ns: int | None = None
    updated_ns: int = 0
    reason: str = ""
    """Why the order was rejected or cancelled."""
    history: list[OrderEvent] = field(default_factory=list)
    """Every event applied, in order."""

    @classmethod
    def from_request(cls, cid: str, request: OrderRequest, ts_ns: int) -> Order:
        """A new ``PENDING_NEW`` order for ``request``."""
        return cls(
            cid=cid,
            key=request.key,
            side=request.side,
            type=request.type,
            qty=request.qty,
            product=request.product,
            price_ticks=request.price_ticks,
            trigger_ticks=request.trigger_ticks,
            tag=request.tag,
            created_ns=ts_ns,
            updated_ns=ts_ns,
        )

    # -- derived ---------------------------------------------------------------------------

    @property
    def remaining_qty(self) -> Decimal:
        """Quantity still to fill (0 once final)."""
        if self.status.is_final:
            return Decimal(0)
        return self.qty - self.filled_qty

    @property
    def avg_fill_ticks(self) -> Exact | None:
        """The exact average fill price in ticks (an int when whole), ``None`` before any fill."""
        qn, qd = self.filled_qty.as_integer_ratio()
        if qn == 0:
            return None
        vn, vd = num_den(self.fill_value_ticks)
        return ratio(vn * qd, vd * qn)

    @property
    def is_working(self) -> bool:
        """Shortcut for ``status.is_working``."""
        return self.status.is_working

    # -- the only mutator ------------------------------------------------------------------

    def apply(self, event: OrderEvent) -> OrderStatus:
        """Apply ``event`` and return the new status.

        Raises:
            InvalidTransition: the event is not allowed from the current status.
            OverFill: a fill beyond the order quantity.
            InvalidModification: a modification below the filled quantity.
        """
        status = self.status
        if type(event) not in _TABLE[status]:
            raise InvalidTransition(self.cid, status, event, _target_name(event))
        match event:
            case OrderSubmitted():
                if self.submitted_ns is not None:
                    raise InvalidTransition(self.cid, status, event, "submitted again")
                self.submitted_ns = event.ts_ns
            case OrderAccepted():
                self.venue_id = event.venue_id
                self.status = event.status
            case OrderTriggered():
                self.status = OrderStatus.OPEN
            case OrderFilled():
                filled = self.filled_qty + event.fill_qty
                if filled > self.qty:
                    raise OverFill(
                        f"order {self.cid}: fill of {event.fill_qty} takes the filled quantity "
                        f"to {filled}, over the order quantity {self.qty}"
                    )
                self.filled_qty = filled
                # value += qty * price over integer numerators/denominators: an int when whole.
                qn, qd = event.fill_qty.as_integer_ratio()
                pn, pd = num_den(event.price_ticks)
                vn, vd = num_den(self.fill_value_ticks)
                den = qd * pd
                self.fill_value_ticks = ratio(vn * den + qn * pn * vd, vd * den)
                self.status = (
                    OrderStatus.COMPLETE if filled == self.qty else OrderStatus.PARTIALLY_FILLED
                )
            case OrderModified():
                self._modify(event)
            case OrderCancelled():
                self.status = OrderStatus.CANCELLED
                self.reason = event.reason
            case OrderRejected():
                self.status = OrderStatus.REJECTED
                self.reason = event.reason
        self.updated_ns = event.ts_ns
        self.history.append(event)
        return self.status

    def to_state(self) -> dict[str, Any]:
        """The order as JSON-safe values (without ``history``: journal the events)."""
        return {
            "cid": self.cid,
            "key": self.key,
            "side": str(self.side),
            "type": str(self.type),
            "qty": str(self.qty),
            "product": str(self.product),
            "price_ticks": self.price_ticks,
            "trigger_ticks": self.trigger_ticks,
            "tag": self.tag,
            "created_ns": self.created_ns,
            "venue_id": self.venue_id,
            "status": str(self.status),
            "filled_qty": str(self.filled_qty),
            "fill_value_ticks": str(self.fill_value_ticks),
            "submitted_ns": self.submitted_ns,
            "updated_ns": self.updated_ns,
            "reason": self.reason,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Order:
        """Inverse of :meth:`to_state` (``history`` starts empty)."""
        return cls(
            cid=state["cid"],
            key=state["key"],
            side=Side(state["side"]),
            type=OrderType(state["type"]),
            qty=Decimal(state["qty"]),
            product=Product(state["product"]),
            price_ticks=state["price_ticks"],
            trigger_ticks=state["trigger_ticks"],
            tag=state["tag"],
            created_ns=state["created_ns"],
            venue_id=state["venue_id"],
            status=OrderStatus(state["status"]),
            filled_qty=Decimal(state["filled_qty"]),
            fill_value_ticks=exact(state["fill_value_ticks"]),
            submitted_ns=state["submitted_ns"],
            updated_ns=state["updated_ns"],
            reason=state["reason"],
        )

    def _modify(self, event: OrderModified) -> None:
        if event.qty is not None:
            if event.qty <= self.filled_qty:
                raise InvalidModification(
                    f"order {self.cid}: new quantity {event.qty} is not above the filled "
                    f"quantity {self.filled_qty}"
                )
            self.qty = event.qty
        for name in ("price_ticks", "trigger_ticks"):
            value = getattr(event, name)
            if value is not None:
                if value <= 0:
                    raise InvalidModification(f"order {self.cid}: {name} must be > 0: {value}")
                setattr(self, name, value)


def _target_name(event: OrderEvent) -> str:
    """The status an event would lead to, for error messages."""
    match event:
        case OrderSubmitted():
            return "submitted"
        case OrderAccepted():
            return str(event.status)
        case OrderTriggered():
            return str(OrderStatus.OPEN)
        case OrderFilled():
            return "filled"
        case OrderModified():
            return "modified"
        case OrderCancelled():
            return str(OrderStatus.CANCELLED)
        case OrderRejected():
            return str(OrderStatus.REJECTED)
    return type(event).__name__  # pragma: no cover


# -- journal form ----------------------------------------------------------------------------

_EVENT_TYPES: Final[dict[str, type]] = {
    "submitted": OrderSubmitted,
    "accepted": OrderAccepted,
    "triggered": OrderTriggered,
    "filled": OrderFilled,
    "modified": OrderModified,
    "cancelled": OrderCancelled,
    "rejected": OrderRejected,
}
_EVENT_NAMES: Final[dict[type, str]] = {kind: name for name, kind in _EVENT_TYPES.items()}


def _tick_text(value: TickPrice | None) -> str | int | None:
    if value is None or isinstance(value, int):
        return value
    return f"{value.numerator}/{value.denominator}"


def _tick_value(value: str | int | None) -> TickPrice | None:
    if value is None or isinstance(value, int):
        return value
    fraction = Fraction(value)
    return fraction.numerator if fraction.denominator == 1 else fraction


def event_to_state(event: OrderEvent) -> dict[str, Any]:
    """A JSON-safe dict of ``event`` (``{"event": "filled", ...}``) for the journal."""
    state: dict[str, Any] = {"event": _EVENT_NAMES[type(event)], "ts_ns": event.ts_ns}
    match event:
        case OrderAccepted():
            state["venue_id"] = event.venue_id
            state["status"] = str(event.status)
        case OrderFilled():
            state["fill_qty"] = str(event.fill_qty)
            state["price_ticks"] = _tick_text(event.price_ticks)
            state["trade_id"] = event.trade_id
        case OrderModified():
            state["qty"] = None if event.qty is None else str(event.qty)
            state["price_ticks"] = event.price_ticks
            state["trigger_ticks"] = event.trigger_ticks
        case OrderCancelled() | OrderRejected():
            state["reason"] = event.reason
    return state


def event_from_state(state: dict[str, Any]) -> OrderEvent:
    """Inverse of :func:`event_to_state`."""
    kind = state["event"]
    ts = state["ts_ns"]
    match kind:
        case "submitted":
            return OrderSubmitted(ts)
        case "accepted":
            return OrderAccepted(state["venue_id"], ts, OrderStatus(state["status"]))
        case "triggered":
            return OrderTriggered(ts)
        case "filled":
            price = _tick_value(state["price_ticks"])
            assert price is not None
            return OrderFilled(Decimal(state["fill_qty"]), price, ts, state.get("trade_id", ""))
        case "modified":
            qty = state.get("qty")
            return OrderModified(
                ts,
                qty=None if qty is None else Decimal(qty),
                price_ticks=state.get("price_ticks"),
                trigger_ticks=state.get("trigger_ticks"),
            )
        case "cancelled":
            return OrderCancelled(ts, state.get("reason", ""))
        case "rejected":
            return OrderRejected(ts, state.get("reason", ""))
    raise ValueError(f"unknown order event {kind!r}")


# -- following venue updates ------------------------------------------------------------------

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
