"""The words an alert is typed in (the alerts screen and ``cockpit alert add``): each kind, and
every bad input refused with the reason, never a traceback."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from cockpit.link import protocol as p
from cockpit.link.lists import describe, parse_alert

TICKS = {"NSE:SBIN": Decimal("0.05"), "BINANCE:BTCUSDT": Decimal("0.01")}


def parse(text: str) -> p.AddAlert:
    return parse_alert(text.split(), TICKS.get)


def test_each_kind() -> None:
    assert parse("price nse:sbin 802.50") == p.AddAlert(0, "price", key="NSE:SBIN", price=16050)
    assert parse("price BINANCE:BTCUSDT 65,000.01").price == 6_500_001
    assert parse("pnl -5000") == p.AddAlert(0, "pnl", amount=Decimal(-5000))
    assert parse("fill") == p.AddAlert(0, "fill")
    assert parse("exit NSE:SBIN once -- scale out") == p.AddAlert(
        0, "exit", key="NSE:SBIN", repeat=False, note="scale out"
    )
    assert parse("FEED") == p.AddAlert(0, "feed")
    assert parse("lock") == p.AddAlert(0, "lock")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "expected price SYMBOL PRICE"),
        ("price NSE:SBIN", "price SYMBOL PRICE"),
        ("price NSE:NOPE 10", "NSE:NOPE is not a known symbol"),
        ("price NSE:SBIN 802.52", "not on NSE:SBIN's tick of 0.05"),
        ("price NSE:SBIN abc", "'abc' is not a number"),
        ("price NSE:SBIN NaN", "'NaN' is not a number"),
        ("pnl", "pnl AMOUNT"),
        ("pnl inf", "'inf' is not a number"),
        ("fill NSE:NOPE", "NSE:NOPE is not a known symbol"),
        ("feed NSE:SBIN", "unexpected 'NSE:SBIN'"),
        ("moon 5", "unknown alert kind 'moon'"),
    ],
)
def test_bad_words_say_why(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        parse(text)


def test_described_in_words() -> None:
    def fmt(key: str, ticks: int) -> str:
        return str(ticks * TICKS[key])

    price = p.AlertView(1, "price", 0, key="NSE:SBIN", price=16050, above=False, note="dip")
    assert describe(price, fmt) == "#1    NSE:SBIN at or below 802.50 — dip"
    fills = p.AlertView(12, "fill", 0, repeat=True, fired=3)
    assert describe(fills, fmt) == "#12   every fill (fired 3×)"
    lock = p.AlertView(3, "lock", 0, repeat=False)
    assert describe(lock, fmt) == "#3    the daily-loss lock (once)"
    # Money as every screen shows it (it read "day P&L at or below -5000.5").
    pnl = p.AlertView(4, "pnl", 0, amount=Decimal("-5000.5"), above=False)
    assert describe(pnl, fmt) == "#4    day P&L at or below -5,000.50"
    gain = p.AlertView(5, "pnl", 0, amount=Decimal(12000), above=True)
    assert describe(gain, fmt) == "#5    day P&L at or above +12,000.00"
