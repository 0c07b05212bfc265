"""How the screen writes numbers: quantities, volumes, money, percentages and ages."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from cockpit.domain.positions import money_text


def fmt_qty(qty: Decimal | int | None) -> str:
    """A quantity without trailing zeros."""
    if qty is None:
        return ""
    d = Decimal(qty)
    if d == d.to_integral_value():
        return f"{int(d):,}"
    return f"{d.normalize():f}"


def fmt_volume(qty: Decimal | int | None) -> str:
    """A large quantity abbreviated (12.3K, 4.56M)."""
    if qty is None:
        return ""
    v = Decimal(qty)
    if abs(v) < 1000 and v != v.to_integral_value():
        # A fractional volume (crypto): at most 7 characters, 520.07012345 as 520.07.
        places = max(0, 6 - len(str(int(abs(v)))))
        v = v.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        if abs(v) < 1000:
            return fmt_qty(v)
    a = abs(v.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if a >= 10_000_000_000:
        return f"{v / 1_000_000_000:.1f}B"
    if a >= 10_000_000:
        return f"{v / 1_000_000:.1f}M"
    if a >= 100_000:
        return f"{v / 1_000:.0f}K"
    return fmt_qty(v.quantize(Decimal(1), rounding=ROUND_HALF_UP) if a >= 1000 else v)


def fmt_pct(ltp: int, close: int) -> str:
    """The change from ``close`` in percent, two decimals, half up (``+0.03%``): the header
    and the watchlist use this one rounding."""
    pct = (Decimal(ltp - close) * 100 / Decimal(close)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    return f"{pct:+.2f}%"


def fmt_money(value: Decimal | None, *, sign: bool = True, currency: str = "") -> str:
    """Money with two decimals (a coin's: up to eight) and thousands separators (signed by
    default)."""
    return "" if value is None else money_text(value, sign=sign, currency=currency)


def fmt_age(ns: int | None, *, coarse: bool = False) -> str:
    """A tick age: 120ms, 3.4s, 2m (``coarse``: ``<1s``, then whole seconds — 3s — so a
    list of rows repaints for its ages once a second, not ten times)."""
    if ns is None:
        return "—"
    ms = ns // 1_000_000
    if ms < 1000:
        if coarse:
            return "<1s"
        return f"{ms}ms"
    if ms < 60_000:
        return f"{ms // 1000}s" if coarse else f"{ms / 1000:.1f}s"
    if ms < 3_600_000:
        return f"{ms // 60_000}m"
    if ms < 86_400_000:
        return f"{ms // 3_600_000}h"
    return f"{ms // 86_400_000}d"


EXIT_WORDS = {
    "trailing_stop": "trail stop",
    "time": "time stop",
    "breakeven": "breakeven stop",
}
"""The engine's exit reasons as the trader says them (``stop`` and ``target`` stay)."""


def exit_reason(reason: str) -> str:
    """Why an exit fired, in words: ``trail stop``, ``TP1``, ``time stop``, ``stop``."""
    if reason.startswith("tp") and reason[2:].isdigit():
        return reason.upper()
    return EXIT_WORDS.get(reason, reason.replace("_", " "))
