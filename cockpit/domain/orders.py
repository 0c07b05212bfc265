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
- Following the venue's order updates (``events_from_update``) lives in
  :mod:`cockpit.domain.order_updates`.

Prices are integer ticks (``price = ticks * tick_size``); a fill price may be a
:class:`~fractions.Fraction` of ticks when the venue reports an average that is off the grid
(several fills at different prices). The average fill price is kept exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Final

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
