"""OpenAlgo's REST API as data: what each request sends, what each answer means.

Pure functions (no I/O, no state), used by the order router
(:mod:`cockpit.adapters.openalgo.broker`) around each POST: :func:`request_call` is the
endpoint and JSON body of a request, :func:`interpret` classifies the HTTP answer,
:func:`result_of` reads a 200's JSON, :func:`typed` turns query answers into the seam's types
once, :func:`find_in_orderbook` looks for a placed order whose answer was lost.
"""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal
from typing import Any, Final

import msgspec

from cockpit.adapters.openalgo.rows import (
    BadRow,
    history_bars,
    instrument_from_row,
    order_updates,
    orderbook_rows,
    position_reports,
    row_time_ns,
    row_to_update,
)
from cockpit.domain.execution import (
    AUTH,
    BAD_RESPONSE,
    OK,
    PENDING_APPROVAL,
    RATE_LIMITED,
    REJECTED,
    SEMI_AUTO_BLOCKED,
    SERVER_ERROR,
    UNCERTAIN,
    CancelAll,
    CancelOrder,
    LookupSymbol,
    ModifyOrder,
    PlaceOrder,
    QueryBook,
    QueryHistory,
    QueryOrder,
    RouterRequest,
    RouterResult,
    SearchSymbols,
)

_JSON_DEC: Final = msgspec.json.Decoder()
_BOOKS: Final = frozenset({"orderbook", "positionbook", "tradebook", "funds"})


def request_call(request: RouterRequest, strategy: str) -> tuple[str, dict[str, Any], bool] | None:
    """``(endpoint, JSON body without the key, whether a lost answer may be asked again)``
    for ``request``, or None for a request OpenAlgo has no endpoint for. A placement or a
    cancel-all is never sent twice blindly."""
    match request:
        case PlaceOrder():
            body = {
                "strategy": strategy,
                "exchange": request.exchange,
                "symbol": request.symbol,
                "action": request.action,
                "quantity": request.quantity,
                "pricetype": request.pricetype,
                "product": request.product,
                "price": request.price,
                "trigger_price": request.trigger_price,
                "disclosed_quantity": 0,
            }
            return "placeorder", body, False
        case ModifyOrder():
            body = {
                "strategy": strategy,
                "exchange": request.exchange,
                "symbol": request.symbol,
                "orderid": request.venue_id,
                "action": request.action,
                "product": request.product,
                "pricetype": request.pricetype,
                "price": request.price,
                "quantity": request.quantity,
                "disclosed_quantity": 0,
                "trigger_price": request.trigger_price,
            }
            return "modifyorder", body, True
        case CancelOrder():
            return "cancelorder", {"strategy": strategy, "orderid": request.venue_id}, True
        case CancelAll():
            return "cancelallorder", {"strategy": strategy}, False
        case QueryOrder():
            return "orderstatus", {"strategy": strategy, "orderid": request.venue_id}, True
        case QueryBook(book=book) if book in _BOOKS:
            return book, {}, True
        case LookupSymbol():
            return "symbol", {"symbol": request.symbol, "exchange": request.exchange}, True
        case SearchSymbols():
            body = {"query": request.query}
            if request.exchange:
                body["exchange"] = request.exchange
            return "search", body, True
        case QueryHistory():
            body = {
                "symbol": request.symbol,
                "exchange": request.exchange,
                "interval": request.interval,
                "start_date": request.start_date,
                "end_date": request.end_date,
                "source": "api",
            }
            return "history", body, True
    return None


class HttpError(Exception):
    """An HTTP-level outcome worth classifying: ``code`` is a :mod:`~cockpit.domain.execution`
    result code."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        retry_after: Any = None,
        payload: Any = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.retry_after = retry_after
        self.payload = payload


def interpret(status: int, raw: bytes, reason: str, retry_header: str | None) -> Any:
    """The JSON payload of a 200 answer, or raise :class:`HttpError`."""
    try:
        payload = _JSON_DEC.decode(raw) if raw else None
    except msgspec.DecodeError:
        payload = None
    if status == 200:
        if payload is None:
            raise HttpError(BAD_RESPONSE, "HTTP 200 with a body that is not JSON", status)
        return payload
    message = message_of(payload) or reason or "error"
    if status == 429:
        retry_after = payload.get("retry_after") if isinstance(payload, dict) else None
        if retry_after is None:
            retry_after = retry_header
        raise HttpError(RATE_LIMITED, f"HTTP 429: {message}", status, retry_after)
    if status == 403 and "not allowed in Semi-Auto mode" in message:
        # Live semi-auto mode refuses cancel, modify, cancel-all and close-position from the
        # API (``services/cancel_order_service.py`` and its siblings): not a bad key.
        raise HttpError(SEMI_AUTO_BLOCKED, f"HTTP 403: {message}", status)
    if status in (401, 403):
        raise HttpError(AUTH, f"HTTP {status}: {message}", status)
    if status >= 500:
        raise HttpError(SERVER_ERROR, f"HTTP {status}: {message}", status, payload=payload)
    raise HttpError(REJECTED, f"HTTP {status}: {message}", status, payload=payload)


def result_of(
    request: RouterRequest, path: str, payload: Any, sent_ns: int, attempts: int
) -> RouterResult:
    """What a 200 answer to ``path`` says: done, refused by the server, queued for approval
    (OpenAlgo's semi-auto mode) or, for a placement without an order id, uncertain."""
    common: dict[str, Any] = {
        "http_status": 200,
        "sent_ns": sent_ns,
        "done_ns": time.monotonic_ns(),
        "attempts": attempts,
    }
    if not isinstance(payload, dict):
        return RouterResult(
            request, False, BAD_RESPONSE, f"{path}: response is not a JSON object", **common
        )
    venue_id = payload.get("orderid")
    if payload.get("status") != "success":
        message = str(payload.get("message") or "error without a message")
        return RouterResult(
            request,
            False,
            REJECTED,
            f"{path}: {message}",
            venue_id=str(venue_id) if venue_id else None,
            data=payload,
            **common,
        )
    if path == "placeorder" and not venue_id:
        # Semi-auto mode queues the order in OpenAlgo's Action Center: success, no orderid
        # (a ``pending_order_id`` of the queue instead). Any other success without an id
        # is uncertain: reconciliation finds the order, or not.
        message = str(payload.get("message") or "no order id in the response")
        queued = payload.get("mode") == "semi_auto" or "pending_order_id" in payload
        code = PENDING_APPROVAL if queued else UNCERTAIN
        return RouterResult(request, False, code, f"placeorder: {message}", data=payload, **common)
    return RouterResult(
        request,
        True,
        OK,
        venue_id=str(venue_id) if venue_id is not None else None,
        data=payload.get("data", payload),
        **common,
    )


def typed(result: RouterResult) -> tuple[RouterResult, int]:
    """The answer's JSON read once into the seam's types (``cockpit.domain.execution``), and
    how many of its rows could not be read."""
    if not result.ok:
        return result, 0
    data = result.data
    bad = 0
    value: Any
    match result.request:
        case QueryBook(book="orderbook"):
            value, bad = order_updates(data, time.time_ns())
        case QueryBook(book="positionbook"):
            value, bad = position_reports(data)
        case QueryOrder():
            try:
                value = row_to_update(data, time.time_ns()) if isinstance(data, dict) else None
            except BadRow:
                value, bad = None, 1
        case LookupSymbol():
            value = instrument_from_row(data)
        case SearchSymbols():
            found = [instrument_from_row(row) for row in data or () if isinstance(data, list)]
            value = [inst for inst in found if inst is not None]
            bad = len(found) - len(value)
        case QueryHistory():
            value, bad = history_bars(data)
        case _:
            return result, 0
    return dataclasses.replace(result, data=value), bad


def find_in_orderbook(
    request: Any, payload: Any, not_before_ns: int, known: set[str]
) -> str | None:
    """The id of an order in the orderbook ``payload`` that can be ``request`` (a placement
    whose answer was lost): same shape, taken at or after ``not_before_ns``, not one of the
    ``known`` ids."""
    data = payload.get("data", payload) if isinstance(payload, dict) else None
    for row in orderbook_rows(data):
        try:
            placed_ns = row_time_ns(row)
            if (
                placed_ns is not None
                and placed_ns >= not_before_ns
                and str(row.get("symbol")) == request.symbol
                and str(row.get("exchange")) == request.exchange
                and str(row.get("action", "")).upper() == request.action.upper()
                and Decimal(str(row.get("quantity"))) == request.quantity
                and str(row.get("pricetype", row.get("price_type", ""))).upper()
                == request.pricetype
            ):
                venue_id = str(row.get("orderid"))
                if venue_id and venue_id not in known:
                    return venue_id
        except (ArithmeticError, ValueError, TypeError):
            continue
    return None


def path_of(result: RouterResult) -> str:
    """The endpoint a result answers (for log lines)."""
    request = result.request
    return request.book if isinstance(request, QueryBook) else type(request).__name__


def api_root(host: str) -> str:
    """``http://h:5000`` or ``http://h:5000/api/v1`` -> ``http://h:5000/api/v1``."""
    root = host.rstrip("/")
    return root if root.endswith("/api/v1") else root + "/api/v1"


def message_of(payload: Any) -> str:
    """The server's own words in an answer (its ``message``), or ""."""
    message = payload.get("message") if isinstance(payload, dict) else None
    return "" if message is None else str(message)
