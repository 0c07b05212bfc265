"""Request validation the way OpenAlgo's marshmallow schemas do it (openalgo.md §2.1).

Unknown fields are refused, numbers may come as strings, and errors are a dict of field ->
list of messages with marshmallow's wording. Numbers are parsed to ``Decimal`` (exactly;
never through a float).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

VALID_EXCHANGES: Final = (
    "NSE",
    "NFO",
    "CDS",
    "BSE",
    "BFO",
    "BCD",
    "MCX",
    "NCDEX",
    "NCO",
    "NSE_INDEX",
    "BSE_INDEX",
    "MCX_INDEX",
    "GLOBAL_INDEX",
    "CRYPTO",
    "BINANCE",
    "BINANCE_FUTURES",
    "BYBIT",
    "HYPERLIQUID",
    "CCXT",
)
"""OpenAlgo's exchanges, plus the crypto venues an external feed (``--feed binance``) follows."""
CRYPTO_EXCHANGES: Final = ("CRYPTO", "BINANCE", "BINANCE_FUTURES", "BYBIT", "HYPERLIQUID", "CCXT")
ACTIONS: Final = ("BUY", "SELL", "buy", "sell")
PRICETYPES: Final = ("MARKET", "LIMIT", "SL", "SL-M")
PRODUCTS: Final = ("MIS", "NRML", "CNC")
INTERVALS: Final = [
    "1s",
    "5s",
    "10s",
    "15s",
    "30s",
    "45s",
    "1m",
    "2m",
    "3m",
    "5m",
    "10m",
    "15m",
    "20m",
    "30m",
    "1h",
    "2h",
    "3h",
    "4h",
    "D",
    "W",
    "M",
    "Q",
    "Y",
]

MAX_EXPONENT: Final = 308
"""Numbers whose decimal exponent passes a float's (about 1.8e308) are refused."""
_MISSING: Final = object()
Errors = dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class F:
    """One field: its kind (str | num | int | bool | list), presence rules and checks."""

    kind: str
    required: bool = False
    default: Any = _MISSING
    one_of: tuple[str, ...] | None = None
    min: Decimal | None = None
    min_inclusive: bool = True
    range_error: str = ""
    max_len: int | None = None
    allow_none: bool = False


def _num(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("Not a valid number.")
    try:
        if isinstance(value, int):
            result = Decimal(value)
        elif isinstance(value, float):
            result = Decimal(repr(value))
        elif isinstance(value, str):
            result = Decimal(value.strip())
        else:
            raise ValueError("Not a valid number.")
    except InvalidOperation:
        raise ValueError("Not a valid number.") from None
    if not result.is_finite() or (result and result.adjusted() > MAX_EXPONENT):
        # Past a float's range marshmallow's Float sees infinity: the same answer, and no
        # huge exponent ever reaches an integer conversion (int(1e1000000) takes seconds).
        raise ValueError("Special numeric values (nan or infinity) are not permitted.")
    return result


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("Not a valid integer.")
    if isinstance(value, int):
        return value
    try:
        number = _num(value)
    except ValueError:
        raise ValueError("Not a valid integer.") from None
    if number != number.to_integral_value():
        raise ValueError("Not a valid integer.")
    return int(number)


def _one(name: str, spec: F, value: Any) -> Any:
    if value is None:
        if spec.allow_none:
            return None
        raise ValueError("Field may not be null.")
    if spec.kind == "str":
        if not isinstance(value, str):
            raise ValueError("Not a valid string.")
        if spec.max_len is not None and not 1 <= len(value) <= spec.max_len:
            raise ValueError(f"Length must be between 1 and {spec.max_len}.")
        if spec.one_of is not None and value not in spec.one_of:
            raise ValueError(f"Must be one of: {', '.join(spec.one_of)}.")
        return value
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "True", "1", 1):
            return True
        if value in ("false", "False", "0", 0):
            return False
        raise ValueError("Not a valid boolean.")
    if spec.kind == "list":
        if not isinstance(value, list):
            raise ValueError("Not a valid list.")
        return value
    number: Decimal | int = _int(value) if spec.kind == "int" else _num(value)
    if spec.min is not None and (
        number < spec.min or (not spec.min_inclusive and number == spec.min)
    ):
        raise ValueError(spec.range_error or f"Must be greater than or equal to {spec.min}.")
    return number


def load(schema: dict[str, F], body: Any) -> tuple[dict[str, Any], Errors]:
    """Validate ``body`` against ``schema``: the cleaned values, or the errors."""
    if not isinstance(body, dict):
        return {}, {"_schema": ["Invalid input type."]}
    out: dict[str, Any] = {}
    errors: Errors = {}
    for name, spec in schema.items():
        if name not in body:
            if spec.required:
                errors[name] = ["Missing data for required field."]
            elif spec.default is not _MISSING:
                out[name] = spec.default
            continue
        try:
            out[name] = _one(name, spec, body[name])
        except ValueError as exc:
            errors[name] = [str(exc)]
    for name in body:
        if name not in schema:
            errors[str(name)] = ["Unknown field."]
    if not errors and "quantity" in out and "exchange" in out:
        qty = out["quantity"]
        if out["exchange"] not in CRYPTO_EXCHANGES and qty != qty.to_integral_value():
            errors["quantity"] = [
                f"Fractional quantity ({float(qty)}) is not allowed for non-crypto exchanges."
            ]
    return out, errors


_KEY: Final = F("str", required=True, max_len=256)
_STRATEGY: Final = F("str", required=True)
_EXCHANGE: Final = F("str", required=True, one_of=VALID_EXCHANGES)
_ACTION: Final = F("str", required=True, one_of=ACTIONS)
_PRICE: Final = F(
    "num", default=Decimal(0), min=Decimal(0), range_error="Price must be a non-negative number."
)
_TRIGGER: Final = F(
    "num",
    default=Decimal(0),
    min=Decimal(0),
    range_error="Trigger price must be a non-negative number.",
)
_DISCLOSED: Final = F(
    "int",
    default=0,
    min=Decimal(0),
    range_error="Disclosed quantity must be a non-negative integer.",
)
_POSITIVE_QTY: Final = F(
    "num",
    required=True,
    min=Decimal(0),
    min_inclusive=False,
    range_error="Quantity must be a positive number.",
)

ORDER: Final = {
    "apikey": _KEY,
    "strategy": _STRATEGY,
    "exchange": _EXCHANGE,
    "symbol": F("str", required=True),
    "action": _ACTION,
    "quantity": _POSITIVE_QTY,
    "pricetype": F("str", default="MARKET", one_of=PRICETYPES),
    "product": F("str", default="MIS", one_of=PRODUCTS),
    "price": _PRICE,
    "trigger_price": _TRIGGER,
    "disclosed_quantity": _DISCLOSED,
    "underlying_ltp": F("num", default=None, allow_none=True),
}
SMART_ORDER: Final = {
    **{k: v for k, v in ORDER.items() if k != "underlying_ltp"},
    "quantity": F(
        "num",
        required=True,
        min=Decimal(0),
        range_error="Quantity must be a non-negative number.",
    ),
    "position_size": F("num", required=True),
}
MODIFY_ORDER: Final = {
    "apikey": _KEY,
    "strategy": _STRATEGY,
    "exchange": _EXCHANGE,
    "symbol": F("str", required=True),
    "orderid": F("str", required=True),
    "action": _ACTION,
    "product": F("str", required=True, one_of=PRODUCTS),
    "pricetype": F("str", required=True, one_of=PRICETYPES),
    "price": F(
        "num", required=True, min=Decimal(0), range_error="Price must be a non-negative number."
    ),
    "quantity": _POSITIVE_QTY,
    "disclosed_quantity": F(
        "int",
        required=True,
        min=Decimal(0),
        range_error="Disclosed quantity must be a non-negative integer.",
    ),
    "trigger_price": F(
        "num",
        required=True,
        min=Decimal(0),
        range_error="Trigger price must be a non-negative number.",
    ),
}
CANCEL_ORDER: Final = {"apikey": _KEY, "strategy": _STRATEGY, "orderid": F("str", required=True)}
STRATEGY_ONLY: Final = {"apikey": _KEY, "strategy": _STRATEGY}
ORDER_STATUS: Final = CANCEL_ORDER
OPEN_POSITION: Final = {
    "apikey": _KEY,
    "strategy": _STRATEGY,
    "symbol": F("str", required=True),
    "exchange": _EXCHANGE,
    "product": F("str", required=True, one_of=PRODUCTS),
}
KEY_ONLY: Final = {"apikey": _KEY}
SYMBOL_REQ: Final = {
    "apikey": _KEY,
    "symbol": F("str", required=True),
    "exchange": _EXCHANGE,
}
MULTIQUOTES: Final = {"apikey": _KEY, "symbols": F("list", required=True)}
DEPTH: Final = SYMBOL_REQ
HISTORY: Final = {
    "apikey": _KEY,
    "symbol": F("str", required=True),
    "exchange": _EXCHANGE,
    "interval": F("str", required=True, one_of=tuple(INTERVALS)),
    "start_date": F("str", required=True),
    "end_date": F("str", required=True),
    "source": F("str", default="api", one_of=("api", "db")),
}
SEARCH: Final = {
    "apikey": _KEY,
    "query": F("str", required=True),
    "exchange": F("str", default=None, one_of=VALID_EXCHANGES, allow_none=True),
}
ANALYZER_TOGGLE: Final = {"apikey": _KEY, "mode": F("bool", required=True)}
