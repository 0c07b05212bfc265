"""OpenAlgo JSON rows read into typed values (orders, positions, instruments)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from cockpit.domain.feed import OrderUpdate, OrderUpdateSource
from cockpit.domain.instruments import (
    Exchange,
    Instrument,
    to_decimal,
)

ZERO: Final = Decimal(0)


def position_rows(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if isinstance(data, dict):
        inner = data.get("data", data.get("positions"))
        if isinstance(inner, list):
            return [r for r in inner if isinstance(r, dict)]
    return []


def update_from_row(row: Mapping[str, Any], now: int) -> OrderUpdate | None:
    """An orderbook/orderstatus row as a (polled) OrderUpdate."""
    try:
        status = str(row.get("order_status", "")).strip().lower()
        quantity = to_decimal(row.get("quantity", 0) or 0)
        filled = row.get("filled_quantity")
        if filled is None:
            filled_qty = quantity if status == "complete" else ZERO
        else:
            filled_qty = to_decimal(filled)
        pending = row.get("pending_quantity")
        return OrderUpdate(
            orderid=str(row["orderid"]),
            exchange=str(row.get("exchange", "")),
            symbol=str(row.get("symbol", "")),
            action=str(row.get("action", "")).upper(),
            status=status,
            recv_ns=now,
            quantity=quantity,
            filled_qty=filled_qty,
            pending_qty=to_decimal(pending) if pending is not None else ZERO,
            price=to_decimal(row.get("price", 0) or 0),
            trigger_price=to_decimal(row.get("trigger_price", 0) or 0),
            average_price=to_decimal(row.get("average_price", 0) or 0),
            pricetype=str(row.get("pricetype", row.get("price_type", ""))),
            product=str(row.get("product", "")),
            rejection_reason=str(row.get("rejection_reason", "") or ""),
            source=OrderUpdateSource.POLLED,
        )
    except (KeyError, ValueError, ArithmeticError, TypeError):
        return None


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
