"""Numbers typed by the trader (the order and amend tickets, the risk budget): plain digits
and one decimal point, checked in words that say what is wrong. ``NaN``, ``inf``, ``1e999``,
``-0``, another script's digits (``٣``) or ``1_000`` each get a clear refusal, never a
crash or a misleading "must be positive"."""

from __future__ import annotations

import re
from decimal import Decimal

PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
"""Digits with at most one decimal point (ASCII only: ``int`` and ``Decimal`` also take other
scripts' digits and underscores)."""
WHOLE = re.compile(r"[0-9]+")
NOT_NUMBERS = frozenset({"nan", "snan", "inf", "infinity"})
MAX_DIGITS = 12
"""A number with more digits before its point than this is a slip of the finger."""
MAX_TICKS = 1_000_000
"""More ticks than this (a stop, a target, a trail) is a slip of the finger."""


class NumberError(ValueError):
    """Typed text that is not the number asked for (the message says why, in words)."""


def parse_positive(text: str) -> Decimal:
    """A number above zero typed in plain digits.

    Raises:
        NumberError: why it is not one.
    """
    text = text.strip()
    if not text:
        raise NumberError("required")
    if not PLAIN.fullmatch(text):
        if text.lower().lstrip("+-") in NOT_NUMBERS:
            raise NumberError(f"{text!r} is not a number")
        raise NumberError(f"{text!r} is not a number (digits and one decimal point)")
    value = Decimal(text)
    if value <= 0:
        raise NumberError("must be above zero")
    if value.adjusted() >= MAX_DIGITS:
        raise NumberError(f"{text!r} is too large")
    return value


def parse_whole_ticks(text: str) -> int:
    """A whole number of ticks, at least one.

    Raises:
        NumberError: why it is not one.
    """
    text = text.strip()
    if not WHOLE.fullmatch(text):
        raise NumberError(f"{text!r} is not a whole number of ticks")
    ticks = int(text)
    if ticks < 1:
        raise NumberError("must be at least 1 tick")
    if ticks > MAX_TICKS:
        raise NumberError(f"{text!r} is too many ticks")
    return ticks
