"""The paper exchange's data: orders, fills and positions, in integer ticks and steps.

Average prices and P&L are exact rationals (``Fraction``) until a response turns them into
Decimals (:func:`_dec`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final

from cockpit.sim.market import SymbolState
from cockpit.sim.universe import IST

CAPITAL: Final = Decimal(10_000_000)
"""Virtual capital, as OpenAlgo's sandbox (one crore)."""
PRICE_BAND: Final = Fraction(1, 5)
"""Limit and trigger prices must lie within ±20% of the last price."""
DEFAULT_MAX_QTY: Final = Decimal(1_000_000)

OPEN: Final = "open"
TRIGGER_PENDING: Final = "trigger pending"
COMPLETE: Final = "complete"
REJECTED: Final = "rejected"
CANCELLED: Final = "cancelled"
WORKING: Final = frozenset({OPEN, TRIGGER_PENDING})

Reply = tuple[int, dict[str, Any]]
"""An HTTP status and a JSON body."""


def _now_text() -> str:
    return dt.datetime.now(IST).strftime("%Y-%m-%d %H:%M:%S")


def _dec(value: Fraction | int, places: int = 2) -> Decimal:
    """An exact rational as a Decimal rounded half-up to ``places``."""
    frac = Fraction(value)
    scaled = frac * 10**places
    n = (abs(scaled.numerator) * 2 + scaled.denominator) // (2 * scaled.denominator)
    return Decimal(n if scaled >= 0 else -n).scaleb(-places)


@dataclass(slots=True)
class Order:
    """One paper order."""

    orderid: str
    strategy: str
    state: SymbolState
    action: str
    pricetype: str
    product: str
    steps: int
    price: int
    """Limit price in ticks (the reference LTP for MARKET / SL-M, as the sandbox stores)."""
    trigger: int
    disclosed: int = 0
    status: str = OPEN
    filled: int = 0
    value: int = 0
    """Sum of fill ticks x steps."""
    triggered: bool = False
    rejection_reason: str = ""
    timestamp: str = field(default_factory=_now_text)

    @property
    def side(self) -> int:
        """+1 for BUY, -1 for SELL."""
        return 1 if self.action == "BUY" else -1

    @property
    def pending(self) -> int:
        """Steps still to fill (0 once the order is no longer working)."""
        return self.steps - self.filled if self.status in WORKING else 0

    def avg(self) -> Fraction:
        """Average fill price in ticks (0 before any fill)."""
        return Fraction(self.value, self.filled) if self.filled else Fraction(0)


def stop_fill_price(order: Order, ltp: int) -> int | None:
    """Where a triggered stop order fills, as OpenAlgo's sandbox fills it: an ``SL-M`` at the
    last price; an ``SL`` at the last price while that is within its limit (else it waits).
    The whole quantity fills at once (the sandbox has no partial fills)."""
    if order.pricetype == "SL-M":
        return ltp
    if order.pricetype == "SL" and (ltp - order.price) * order.side <= 0:
        return ltp
    return None


@dataclass(slots=True)
class Trade:
    """One fill."""

    tradeid: str
    order: Order
    price: int
    steps: int
    timestamp: str


@dataclass(slots=True)
class Position:
    """Net position of one symbol and product."""

    state: SymbolState
    product: str
    net: int = 0
    avg: Fraction = Fraction(0)
    realized: Fraction = Fraction(0)
    """Realized P&L in tick-steps (multiply by tick x lot for money)."""

    def fill(self, side: int, price: int, steps: int) -> None:
        """Apply a fill of ``steps`` at ``price`` on ``side``."""
        signed = side * steps
        if self.net == 0 or (self.net > 0) == (side > 0):
            total = abs(self.net) + steps
            self.avg = (self.avg * abs(self.net) + price * steps) / total
            self.net += signed
            return
        closing = min(steps, abs(self.net))
        direction = 1 if self.net > 0 else -1
        self.realized += (price - self.avg) * closing * direction
        self.net += signed
        if self.net == 0:
            self.avg = Fraction(0)
        elif (self.net > 0) != (direction > 0):
            self.avg = Fraction(price)

    def unrealized(self) -> Fraction:
        """Open P&L at the last price, in tick-steps."""
        return (self.state.ltp - self.avg) * self.net if self.net else Fraction(0)


class OrderError(Exception):
    """An order refused at placement (HTTP 400 unless ``status`` says otherwise)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
