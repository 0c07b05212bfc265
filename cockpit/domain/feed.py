"""What feeds hand to the engine besides market events: connection status and order updates.

These are the contract between the feed adapters (producers, on their own threads) and the
engine (consumer): every feed delivers ``AnyMarketEvent``, :class:`FeedStatus` and
:class:`OrderUpdate` objects to one ``sink`` callable (typically ``queue.SimpleQueue.put``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from typing import Any

import msgspec


class FeedState(StrEnum):
    """The life of a feed connection, as the UI shows it."""

    CONNECTING = "connecting"
    LIVE = "live"
    STALE = "stale"
    """Connected, but no frame within the venue's silence limit: a reconnect follows."""
    RECONNECTING = "reconnecting"
    DOWN = "down"
    """Given up (e.g. authentication refused) or stopped; ``reason`` says why."""


class FeedStatus(msgspec.Struct, frozen=True, tag="feed_status"):
    """A change of a feed's connection state."""

    feed: str
    """The feed's name, e.g. ``openalgo`` or ``kite``."""
    state: FeedState
    ts_ns: int
    attempt: int = 0
    """Reconnect attempt number (0 while live)."""
    next_retry_s: float | None = None
    """Seconds until the next connection attempt, while reconnecting."""
    reason: str = ""
    reconnects: int = 0
    """How many times this feed has reconnected since it started."""


class OrderUpdateSource(StrEnum):
    """Whether the venue pushed the update or it was synthesized from polling its order book."""

    PUSHED = "pushed"
    POLLED = "polled"


class OrderUpdate(msgspec.Struct, frozen=True, tag="order_update"):
    """The venue's view of one order after a change (OpenAlgo ``order_update`` shape).

    ``status`` is the venue's lower-case status: ``open``, ``trigger pending``, ``complete``,
    ``rejected``, ``cancelled`` (and broker extras, kept as sent). A partial fill is ``open``
    with ``filled_qty`` > 0.
    """

    orderid: str
    exchange: str
    symbol: str
    action: str
    """``BUY`` or ``SELL``."""
    status: str
    recv_ns: int
    quantity: Decimal = Decimal(0)
    filled_qty: Decimal = Decimal(0)
    pending_qty: Decimal = Decimal(0)
    price: Decimal = Decimal(0)
    trigger_price: Decimal = Decimal(0)
    average_price: Decimal = Decimal(0)
    pricetype: str = ""
    product: str = ""
    rejection_reason: str = ""
    source: OrderUpdateSource = OrderUpdateSource.PUSHED
    placed_ns: int | None = None
    """When the venue says it took the order (wall-clock ns; None when its row does not say)."""
    raw: dict[str, Any] | None = None
    """The venue's own fields, for the journal (never shown raw to the user)."""
    strategy: str = ""
    """The strategy that placed the order, where the venue says it (OpenAlgo's sandbox rows
    do; its live rows and pushed updates never): "" when unknown."""

    @property
    def key(self) -> str:
        """``EXCH:SYMBOL``."""
        return f"{self.exchange}:{self.symbol}"


Sink = Callable[[object], None]
"""Where a feed puts what it produces: market events, FeedStatus and OrderUpdate objects."""
