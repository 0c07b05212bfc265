"""What the paper exchange is given from outside, checked: the control API's numbers,
counts and prices, and price scripts (JSON lines)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

import msgspec

from cockpit.domain.instruments import to_decimal
from cockpit.sim.market import MAX_PRICE

MAX_REJECT_COUNT: Final = 10_000
MAX_SILENCE_S: Final = 86_400.0


def finite_number(value: Any, what: str) -> float:
    """A finite float from a JSON number or numeric string, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{what} must be a number")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{what} must be a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{what} must be a finite number")
    return number


def bounded_int(value: Any, lo: int, hi: int, what: str) -> int:
    """An integer in ``[lo, hi]`` (a float or numeric string is accepted if whole)."""
    number = finite_number(value, what)
    if not lo <= number <= hi or number != int(number):
        raise ValueError(f"{what} must be a whole number between {lo} and {hi}")
    return int(number)


def sane_price(value: Any, what: str) -> Decimal:
    """A positive price below :data:`MAX_PRICE`, exact (never through a float)."""
    price = to_decimal(value)
    if not 0 < price < MAX_PRICE:
        raise ValueError(f"{what} must be > 0 and < {MAX_PRICE:,}")
    return price


def load_script(text: str) -> list[dict[str, Any]]:
    """Parse a price script (JSON lines) into events sorted by time.

    Lines: ``{"t": 0.5, "exchange": "NSE", "symbol": "SBIN", "ltp": 801.5}`` or
    ``{"t": 1, "symbol": "SBIN", "path": [801.5, 801.55], "interval": 0.1}``.
    """
    events: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            obj = msgspec.json.decode(line)
            if not isinstance(obj, dict) or "symbol" not in obj:
                raise ValueError("expected an object with a symbol")
            t = float(obj.get("t", 0.0))
            exchange = obj.get("exchange")
            if "path" in obj:
                interval = float(obj.get("interval", 0.1))
                for i, price in enumerate(obj["path"]):
                    events.append(
                        {
                            "t": t + i * interval,
                            "exchange": exchange,
                            "symbol": obj["symbol"],
                            "ltp": price,
                        }
                    )
            else:
                events.append(
                    {"t": t, "exchange": exchange, "symbol": obj["symbol"], "ltp": obj["ltp"]}
                )
        except (msgspec.DecodeError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"script line {number}: {exc}") from None
    events.sort(key=lambda e: e["t"])
    return events
