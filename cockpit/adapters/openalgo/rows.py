"""OpenAlgo's JSON rows read once, into the venue seam's types (``cockpit.domain.execution``).

Numbers are read leniently (live brokers send strings) but never guessed: a row that cannot be
read raises :class:`BadRow` (the caller counts and skips it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from msgspec.structs import replace

from cockpit.domain.execution import HistoryBar, PositionReport
from cockpit.domain.feed import OrderUpdate, OrderUpdateSource
from cockpit.domain.instruments import Exchange, Instrument, to_decimal

_ZERO: Final = Decimal(0)


class BadRow(ValueError):
    """An order-book row that cannot be read."""


def _dec(row: dict[str, Any], *names: str) -> Decimal:
    for name in names:
        v = row.get(name)
        if v is None or v == "":
            continue
        if isinstance(v, bool):
            raise BadRow(f"{name} is a boolean")
        try:
            d = Decimal(str(v)) if isinstance(v, float) else Decimal(v)
        except (InvalidOperation, TypeError, ValueError):
            raise BadRow(f"{name} is not a number: {v!r}") from None
        if not d.is_finite() or d < 0:
            raise BadRow(f"{name} is not a finite non-negative number: {v!r}")
        return d
    return _ZERO


def to_ns(v: int | float | str | None) -> int | None:
    """An epoch timestamp in s, ms, us or ns (guessed by magnitude) -> ns; None if unusable."""
    if type(v) is int:  # the hot path (a feed's every tick): int arithmetic, exact
        if v <= 0:
            return None
        if v < 10**11:
            return v * 1_000_000_000
        if v < 10**14:
            return v * 1_000_000
        if v < 10**17:
            return v * 1_000
        return v if v < 10**20 else None
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, str):
        try:
            v = int(v) if v.isdigit() else float(v)
        except ValueError:
            return None
    if v != v or v <= 0 or v == float("inf"):
        return None
    if v < 1e11:
        return int(v * 1_000_000_000)
    if v < 1e14:
        return int(v * 1_000_000)
    if v < 1e17:
        return int(v * 1_000)
    if v < 1e20:
        return int(v)
    return None


_IST: Final = dt.timezone(dt.timedelta(hours=5, minutes=30))
_TIME_FORMATS: Final = (
    "%Y-%m-%d %H:%M:%S",
    "%d-%b-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M:%S",
    "%H:%M:%S %d-%m-%Y",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
)


def row_time_ns(row: Mapping[str, Any]) -> int | None:
    """An order row's placement time (``timestamp``/``order_timestamp``) as wall-clock ns.

    Brokers behind OpenAlgo write it in several shapes; a time without a zone is India's
    (UTC+05:30). Epoch seconds or milliseconds are read too. None when absent or unreadable.
    """
    for name in ("timestamp", "order_timestamp", "order_time"):
        value = row.get(name)
        if value is None or value == "" or isinstance(value, bool):
            continue
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            return to_ns(value)
        text = str(value).strip()[:40]
        when: dt.datetime | None = None
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            for fmt in _TIME_FORMATS:
                try:
                    when = dt.datetime.strptime(text, fmt)  # noqa: DTZ007 (zone set below)
                    break
                except ValueError:
                    continue
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=_IST)
        return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000
    return None


def row_to_update(row: dict[str, Any], recv_ns: int) -> OrderUpdate:
    """One ``/orderbook`` row -> :class:`OrderUpdate` (``source=polled``).

    Raises:
        BadRow: missing id/status or unreadable numbers.
    """
    if not isinstance(row, dict):
        raise BadRow("row is not an object")
    orderid = row.get("orderid")
    status = row.get("order_status")
    if orderid in (None, "") or not isinstance(status, str) or not status:
        raise BadRow("row without orderid or order_status")
    status = status.lower()
    quantity = _dec(row, "quantity")
    filled = _dec(row, "filled_quantity")
    if "filled_quantity" not in row and status == "complete":
        filled = quantity
    pending = _dec(row, "pending_quantity")
    if "pending_quantity" not in row and status in ("open", "trigger pending"):
        pending = quantity - filled
    return OrderUpdate(
        orderid=str(orderid),
        exchange=str(row.get("exchange", "")),
        symbol=str(row.get("symbol", "")),
        action=str(row.get("action", "")).upper(),
        status=status,
        recv_ns=recv_ns,
        quantity=quantity,
        filled_qty=filled,
        pending_qty=pending,
        price=_dec(row, "price"),
        trigger_price=_dec(row, "trigger_price"),
        average_price=_dec(row, "average_price"),
        pricetype=str(row.get("pricetype") or row.get("price_type") or ""),
        product=str(row.get("product", "")),
        rejection_reason=str(row.get("rejection_reason") or ""),
        source=OrderUpdateSource.POLLED,
        placed_ns=row_time_ns(row),
        raw=row,
        strategy=str(row.get("strategy") or ""),
    )


FILL_FIELDS: Final = ("filled_quantity", "average_price")
"""What a row needs to say how much of the order filled, and at what price."""


def lacks_fills(row: Any) -> bool:
    """An order row without fill fields (OpenAlgo's live Zerodha rows): the trade book says."""
    return isinstance(row, dict) and any(name not in row for name in FILL_FIELDS)


def trade_totals(data: Any) -> tuple[dict[str, tuple[Decimal, Decimal]], int]:
    """A ``/tradebook`` payload's fills summed per order id: ``{orderid: (qty, value)}`` (value =
    sum of quantity x price, exact), and how many rows were unreadable."""
    totals: dict[str, tuple[Decimal, Decimal]] = {}
    bad = 0
    rows = data if isinstance(data, list) else data.get("data") if isinstance(data, dict) else None
    for row in rows if isinstance(rows, list) else ():
        if not isinstance(row, dict):
            bad += 1
            continue
        try:
            orderid = row.get("orderid")
            if orderid in (None, ""):
                raise BadRow("trade without orderid")
            qty = _dec(row, "quantity")
            price = _dec(row, "average_price", "price")
        except BadRow:
            bad += 1
            continue
        if qty <= 0 or price <= 0:
            bad += 1
            continue
        q, v = totals.get(str(orderid), (_ZERO, _ZERO))
        totals[str(orderid)] = (q + qty, v + qty * price)
    return totals, bad


def with_trades(update: OrderUpdate, totals: dict[str, tuple[Decimal, Decimal]]) -> OrderUpdate:
    """``update`` with its filled quantity and average price taken from the trade book's fills
    of its order when its row has no fill fields (else as it is). A complete order the trade
    book does not show yet keeps the row's reading (filled = quantity, no price): the next
    poll has it."""
    if not lacks_fills(update.raw):
        return update
    found = totals.get(update.orderid)
    if found is None:
        if update.status == "complete":
            return update
        return replace(update, filled_qty=_ZERO, average_price=_ZERO)
    qty, value = found
    filled = min(qty, update.quantity) if update.quantity > 0 else qty
    if update.status == "complete" and update.quantity > 0 and qty < update.quantity:
        return update  # the trade book is behind the order book: wait for it
    pending = update.pending_qty
    if update.status in ("open", "trigger pending"):
        pending = max(_ZERO, update.quantity - filled)
    return replace(update, filled_qty=filled, average_price=value / qty, pending_qty=pending)


def order_updates(data: Any, recv_ns: int) -> tuple[list[OrderUpdate], int]:
    """An ``/orderbook`` payload's rows as updates, and how many rows were unreadable."""
    updates: list[OrderUpdate] = []
    bad = 0
    for row in orderbook_rows(data):
        try:
            updates.append(row_to_update(row, recv_ns))
        except BadRow:
            bad += 1
    return updates, bad


def position_reports(data: Any) -> tuple[list[PositionReport], int]:
    """A ``/positionbook`` payload's rows as reports, and how many rows were unreadable."""
    reports: list[PositionReport] = []
    bad = 0
    for row in _position_rows(data):
        try:
            reports.append(
                PositionReport(
                    f"{row['exchange']}:{row['symbol']}",
                    to_decimal(row.get("quantity", 0) or 0),
                    to_decimal(row.get("average_price", 0) or 0),
                    str(row.get("product") or ""),
                )
            )
        except (KeyError, ValueError, ArithmeticError, TypeError):
            bad += 1
    return reports, bad


def _position_rows(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if isinstance(data, dict):
        inner = data.get("data", data.get("positions"))
        if isinstance(inner, list):
            return [r for r in inner if isinstance(r, dict)]
    return []


def orderbook_rows(data: Any) -> list[dict[str, Any]]:
    """The order rows of an ``/orderbook`` answer's ``data`` (a list, or ``{"orders": [...]}``)."""
    orders = data.get("orders", []) if isinstance(data, dict) else data
    return [row for row in orders if isinstance(row, dict)] if isinstance(orders, list) else []


INSTRUMENT_KINDS: Final = {
    "EQ": "equity",
    "INDEX": "index",
    "FUT": "future",
    "FUTIDX": "future",
    "FUTSTK": "future",
    "FUTCOM": "commodity",
    "CE": "option",
    "PE": "option",
    "OPTIDX": "option",
    "OPTSTK": "option",
    "CRYPTO": "crypto",
}


def instrument_from_row(row: Any) -> Instrument | None:
    """An Instrument from an OpenAlgo ``/symbol`` or ``/search`` row (None if unusable)."""
    if not isinstance(row, Mapping):
        return None
    try:
        exchange = Exchange(str(row["exchange"]).upper())
        tick = to_decimal(row.get("tick_size") or 0)
        if tick <= 0:
            return None
        lot = to_decimal(row.get("lotsize") or 1)
        kind = INSTRUMENT_KINDS.get(str(row.get("instrumenttype") or "").upper(), "equity")
        if exchange.is_index:
            kind = "index"
        return Instrument(
            exchange,
            str(row["symbol"]),
            tick,
            lot if lot > 0 else Decimal(1),
            name=str(row.get("name") or ""),
            kind=kind,
            token=str(row.get("token") or ""),
        )
    except (KeyError, ValueError, ArithmeticError, TypeError):
        return None


def history_bars(data: Any) -> tuple[list[HistoryBar], int]:
    """``/history``'s ``data`` rows as bars, oldest first, and how many rows were unreadable.

    A row is ``{"timestamp": epoch seconds, "open", "high", "low", "close", "volume", "oi"}``;
    one with a missing or non-positive price, a low above its high or a bad timestamp is
    counted and skipped.
    """
    bars: list[HistoryBar] = []
    bad = 0
    for row in data if isinstance(data, list) else ():
        try:
            if not isinstance(row, dict):
                raise BadRow("not an object")
            ts = row.get("timestamp")
            if isinstance(ts, bool) or not isinstance(ts, int | float) or ts <= 0:
                raise BadRow(f"bad timestamp {ts!r}")
            o, h, lo, c = (_dec(row, name) for name in ("open", "high", "low", "close"))
            if min(o, h, lo, c) <= 0 or lo > min(o, c) or h < max(o, c):
                raise BadRow("prices out of order")
            bars.append(HistoryBar(int(ts) * 1_000_000_000, o, h, lo, c, _dec(row, "volume")))
        except BadRow:
            bad += 1
    bars.sort(key=lambda b: b.start_ns)
    return bars, bad
