"""The venue seam: typed commands the engine sends, typed reports it gets back.

The engine speaks only these types; each venue's adapter turns them into its own requests and
parses its answers once, into these (``cockpit/adapters/openalgo/`` for OpenAlgo). A request's
outcome comes back as one :class:`RouterResult` on the engine's queue, ``data`` typed by the
request: ``QueryBook("orderbook")`` a list of :class:`~cockpit.domain.feed.OrderUpdate`,
``QueryBook("positionbook")`` a list of :class:`PositionReport`, ``QueryOrder`` one
``OrderUpdate`` (or None), ``LookupSymbol`` an :class:`~cockpit.domain.instruments.Instrument`
(or None), ``SearchSymbols`` a list of them, ``QueryHistory`` a list of :class:`HistoryBar`
(oldest first).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Protocol

# --------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """``/placeorder``. Prices are exact Decimals (the engine converts from ticks)."""

    cid: str
    exchange: str
    symbol: str
    action: str
    quantity: Decimal
    pricetype: str = "MARKET"
    product: str = "MIS"
    price: Decimal = Decimal(0)
    trigger_price: Decimal = Decimal(0)
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class ModifyOrder:
    """``/modifyorder`` (every field is required by the server)."""

    cid: str
    venue_id: str
    exchange: str
    symbol: str
    action: str
    quantity: Decimal
    pricetype: str
    product: str
    price: Decimal = Decimal(0)
    trigger_price: Decimal = Decimal(0)
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """``/cancelorder``."""

    cid: str
    venue_id: str
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class CancelAll:
    """``/cancelallorder``: every open order of the account."""

    urgent: bool = True
    token: int = 0


@dataclass(frozen=True, slots=True)
class QueryOrder:
    """``/orderstatus`` of one order."""

    cid: str
    venue_id: str
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class QueryBook:
    """``/orderbook``, ``/positionbook``, ``/tradebook`` or ``/funds``."""

    book: str
    token: int = 0
    """The caller's correlation id (e.g. a reconciliation round)."""
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class LookupSymbol:
    """``/symbol``: one instrument's details (tick size, lot size, name)."""

    symbol: str
    exchange: str
    token: int = 0
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class SearchSymbols:
    """``/search``: instruments matching ``query`` (optionally on one exchange)."""

    query: str
    exchange: str | None = None
    token: int = 0
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class QueryHistory:
    """``/history``: bars of one symbol (``interval`` as OpenAlgo spells it: ``1m``, ``5m``...)
    between two dates (``YYYY-MM-DD``, inclusive)."""

    exchange: str
    symbol: str
    interval: str
    start_date: str
    end_date: str
    token: int = 0
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class HistoryBar:
    """One bar of a :class:`QueryHistory` answer; prices exact, as the venue sent them."""

    start_ns: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


RouterRequest = (
    PlaceOrder
    | ModifyOrder
    | CancelOrder
    | CancelAll
    | QueryOrder
    | QueryBook
    | LookupSymbol
    | SearchSymbols
    | QueryHistory
)

STRATEGY: Final = "cockpit"
"""The ``strategy`` OpenAlgo's order requests of the cockpit carry. Only its sandbox's order-book
rows say it back; live rows, the order status and pushed updates never do (OpenAlgo sends the
broker a fixed tag, e.g. ``openalgo`` for Zerodha)."""

# --------------------------------------------------------------------------- reports

OK: Final = "ok"
REJECTED: Final = "rejected"
"""The server answered with an error (validation, insufficient funds, unknown order...)."""
RATE_LIMITED: Final = "rate_limited"
TIMEOUT: Final = "timeout"
TRANSPORT: Final = "transport"
"""Could not reach the server (connection refused/reset) even after retries."""
SERVER_ERROR: Final = "server_error"
AUTH: Final = "auth"
BAD_RESPONSE: Final = "bad_response"
UNCERTAIN: Final = "uncertain"
"""A placed order whose outcome is unknown (timeout/5xx and not found in the orderbook)."""
PENDING_APPROVAL: Final = "pending_approval"
"""Accepted by the server but queued for the user's approval (OpenAlgo's semi-auto mode and its
Action Center): no venue id yet; the order is adopted when it reaches the order book."""
SEMI_AUTO_BLOCKED: Final = "semi_auto_blocked"
"""Refused because the server is in OpenAlgo's live semi-auto mode, where an API client may not
cancel, modify, cancel all or close positions (HTTP 403): the order is unchanged at the broker."""
STOPPED: Final = "stopped"
NOT_JOURNALED: Final = "not_journaled"
"""An order that would open or add to a position, not sent because its journal records could
not be written (a full disk): nothing reaches the wire that a crash could lose."""
DROPPED: Final = "dropped"
"""An entry dropped before it was sent (kill switch, disarm, daily loss limit)."""


@dataclass(frozen=True, slots=True)
class RouterResult:
    """What became of one request. Exactly one per submitted request."""

    request: RouterRequest
    ok: bool
    code: str = OK
    error: str = ""
    venue_id: str | None = None
    data: Any = None
    """The response's payload (``data`` of a book, the body of cancel-all...)."""
    http_status: int | None = None
    sent_ns: int = 0
    """``time.monotonic_ns()`` when the (last) request was sent."""
    done_ns: int = 0
    attempts: int = 1
    recovered: bool = False
    """True when a placed order's id was found in the orderbook after a timeout/5xx."""


@dataclass(frozen=True, slots=True)
class PositionReport:
    """One row of the venue's positionbook."""

    key: str
    """``EXCHANGE:SYMBOL``."""
    qty: Decimal
    """Signed: negative is short."""
    average_price: Decimal
    product: str = ""


class ExecutionClient(Protocol):
    """What the engine needs of a venue: it takes commands; every one of them gets exactly one
    :class:`RouterResult`, put on the engine's queue (the sink it was made with)."""

    def submit(self, request: RouterRequest) -> None:
        """Queue ``request`` (never blocks on the network)."""

    def drop_queued_entries(self) -> int:
        """Drop every order placement still waiting to be sent, but exits (urgent ones): each
        gets its :data:`DROPPED` result. How many were dropped. Never blocks."""
