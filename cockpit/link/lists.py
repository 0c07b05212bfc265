"""The protocol's alerts and named watchlists (protocol version 3): views, events, commands.

Part of :mod:`cockpit.link.protocol`, which re-exports every name here and puts the messages
in its unions.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import msgspec

from cockpit.domain.positions import money_text
from cockpit.link.msg import Request, Sequenced

# --------------------------------------------------------------------------- views


class AlertView(msgspec.Struct, frozen=True, omit_defaults=True):
    """An alert the engine holds (journaled; restored after a restart).

    Kinds: ``price`` (the symbol's last price reaches ``price`` ticks, from the side it was
    on when set), ``pnl`` (the day's P&L reaches ``amount``), and events: ``fill``, ``exit``
    (an exit plan fired), ``feed`` (a feed going stale or down), ``lock`` (the daily-loss
    lock). A price or P&L alert fires once and is then done; an event alert fires once per
    event (``repeat``) until removed, or once when ``repeat`` is False.
    """

    id: int
    kind: str
    created_ns: int
    key: str | None = None
    """The symbol (price alerts; optional for fill and exit alerts: any symbol if None)."""
    price: int | None = None
    """The level, in ticks (price alerts)."""
    amount: Decimal | None = None
    """The day P&L to reach (pnl alerts)."""
    above: bool = True
    """Fires at or above the level (True) or at or below it (False)."""
    repeat: bool = False
    note: str = ""
    active: bool = True
    """False once fired (a one-shot alert) or removed."""
    fired_ns: int | None = None
    fired: int = 0
    """How many times it has fired."""


class WatchlistView(msgspec.Struct, frozen=True, omit_defaults=True):
    """A named watchlist: its symbols in order, and how the viewer shows it."""

    name: str
    keys: list[str] = []
    sort: str = ""
    """The watchlist's sort column (``-`` prefix: descending); empty: the order added."""
    columns: list[str] = []
    """The columns chosen (empty: the screen's default for its width)."""


# --------------------------------------------------------------------------- engine → viewer


class AlertEvent(Sequenced, frozen=True, tag="alert"):
    """An alert was added, changed (fired) or removed."""

    alert: AlertView
    removed: bool = False


class AlertFired(Sequenced, frozen=True, tag="alert_fired"):
    """An alert fired: every viewer rings the bell and shows a desktop notification."""

    alert_id: int
    kind: str
    title: str
    text: str
    ts_ns: int
    key: str | None = None


class WatchlistsChanged(Sequenced, frozen=True, tag="watchlists"):
    """The named watchlists changed (added, switched, removed, view settings)."""

    watchlists: list[WatchlistView]
    active: str


# --------------------------------------------------------------------------- viewer → engine


class AddAlert(Request, frozen=True, tag="add_alert"):
    """Add an alert (see :class:`AlertView` for the kinds)."""

    kind: str
    key: str | None = None
    price: int | None = None
    """Price alerts: the level in ticks."""
    amount: Decimal | None = None
    """P&L alerts: the day P&L to reach."""
    repeat: bool | None = None
    """None: once for price and P&L alerts, every time for event alerts."""
    note: str = ""


class RemoveAlert(Request, frozen=True, tag="remove_alert"):
    """Remove one alert (``alert_id``), or every active alert when it is None."""

    alert_id: int | None = None


class SwitchWatchlist(Request, frozen=True, tag="switch_watchlist"):
    """Make the named watchlist the active one (created empty if new, or from ``keys``)."""

    name: str
    keys: list[str] | None = None
    """With a new name: its symbols (None: an empty list)."""


class DeleteWatchlist(Request, frozen=True, tag="delete_watchlist"):
    """Remove a named watchlist (not the active one)."""

    name: str


class SetWatchlistView(Request, frozen=True, tag="watchlist_view"):
    """Remember the active watchlist's sort column and column choice."""

    sort: str | None = None
    columns: list[str] | None = None


# --------------------------------------------------------------------------- words → command

ALERT_USAGE = (
    "price SYMBOL PRICE | pnl AMOUNT | fill [SYMBOL] | exit [SYMBOL] | feed | lock [once] [-- NOTE]"
)
"""What :func:`parse_alert` reads (the CLI's ``cockpit alert add`` and the alerts screen)."""


def parse_alert(
    words: list[str], tick_size: Callable[[str], Decimal | None], command_id: int = 0
) -> AddAlert:
    """An :class:`AddAlert` from words (``price NSE:SBIN 802.50``, ``pnl -5000``, ``fill``).

    ``tick_size(key)`` gives a symbol's tick (None: unknown symbol). Raises ValueError with
    the reason.
    """
    note = ""
    if "--" in words:
        at = words.index("--")
        note = " ".join(words[at + 1 :])
        words = words[:at]
    once = bool(words) and words[-1].lower() == "once"
    if once:
        words = words[:-1]
    if not words:
        raise ValueError(f"expected {ALERT_USAGE}")
    kind, args = words[0].lower(), words[1:]
    repeat = False if once else None
    if kind == "price":
        if len(args) != 2:
            raise ValueError("price SYMBOL PRICE (e.g. price NSE:SBIN 802.50)")
        symbol = args[0].upper()
        tick = tick_size(symbol)
        if tick is None:
            raise ValueError(f"{symbol} is not a known symbol")
        price = _decimal(args[1])
        ticks = price / tick
        if ticks != ticks.to_integral_value():
            raise ValueError(f"{args[1]} is not on {symbol}'s tick of {tick}")
        return AddAlert(command_id, "price", key=symbol, price=int(ticks), note=note)
    if kind == "pnl":
        if len(args) != 1:
            raise ValueError("pnl AMOUNT (e.g. pnl -5000 or pnl 2500)")
        return AddAlert(command_id, "pnl", amount=_decimal(args[0]), note=note)
    if kind in ("fill", "exit", "feed", "lock"):
        key: str | None = None
        if args and kind in ("fill", "exit"):
            key = args[0].upper()
            if tick_size(key) is None:
                raise ValueError(f"{key} is not a known symbol")
            args = args[1:]
        if args:
            raise ValueError(f"unexpected {' '.join(args)!r}; expected {ALERT_USAGE}")
        return AddAlert(command_id, kind, key=key, repeat=repeat, note=note)
    raise ValueError(f"unknown alert kind {kind!r}; expected {ALERT_USAGE}")


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", ""))
    except ArithmeticError:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a number")
    return value


def alert_words(alert: AlertView, fmt_price: Callable[[str, int], str]) -> str:
    """What an alert waits for, in words (``NSE:SBIN at or above 802.50``)."""
    way = "at or above" if alert.above else "at or below"
    if alert.kind == "price" and alert.key is not None and alert.price is not None:
        return f"{alert.key} {way} {fmt_price(alert.key, alert.price)}"
    if alert.kind == "pnl":
        return f"day P&L {way} {money_text(alert.amount or Decimal(0))}"
    text = {
        "fill": "every fill",
        "exit": "every exit",
        "feed": "a feed going stale or down",
        "lock": "the daily-loss lock",
    }.get(alert.kind, alert.kind)
    if alert.key:
        text += f" of {alert.key}"
    return text if alert.repeat else f"{text} (once)"


def describe(alert: AlertView, fmt_price: Callable[[str, int], str]) -> str:
    """One alert in words, for the alerts screen (``#3  NSE:SBIN at or above 802.50``)."""
    text = alert_words(alert, fmt_price)
    if alert.repeat and alert.fired:
        text += f" (fired {alert.fired}×)"
    if alert.note:
        text += f" — {alert.note}"
    return f"#{alert.id:<4} {text}"
