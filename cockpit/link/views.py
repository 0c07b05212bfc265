"""The protocol's views: what the engine tells a viewer about instruments, quotes, books,
orders, fills, positions, plans and itself (prices in ticks, money and quantities Decimal).

Part of :mod:`cockpit.link.protocol`, which re-exports every name here.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec


class InstrumentView(msgspec.Struct, frozen=True, omit_defaults=True):
    """What a viewer needs to know about an instrument to draw and format it."""

    key: str
    exchange: str
    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    precision: int
    name: str = ""
    kind: str = "equity"
    tradable: bool = True


class QuoteView(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """The latest market state of one symbol. Prices in ticks."""

    key: str
    recv_ns: int
    ltp: int | None = None
    """The last traded price; None: no trade yet (a contract not traded today still has its
    quotes and book). Absent from the frame when None."""
    exch_ns: int | None = None
    ltq: Decimal | None = None
    open: int | None = None
    high: int | None = None
    low: int | None = None
    close: int | None = None
    """Previous session's close (change = ltp - close)."""
    volume: Decimal | None = None
    bid: int | None = None
    bid_qty: Decimal | None = None
    ask: int | None = None
    ask_qty: Decimal | None = None
    total_buy_qty: Decimal | None = None
    total_sell_qty: Decimal | None = None
    ticks: int = 0
    """How many market events the engine has processed for this symbol (for ticks/s)."""


class BookView(msgspec.Struct, frozen=True, gc=False):
    """Depth of one symbol, best first: ``(price_ticks, quantity, orders)`` per level."""

    key: str
    bids: list[tuple[int, Decimal, int]]
    asks: list[tuple[int, Decimal, int]]
    recv_ns: int = 0


class VolumeAtPrice(msgspec.Struct, frozen=True):
    """Session traded volume per price level of one symbol (for the ladder).

    ``levels`` are ``(price_ticks, session total)``. In a :class:`Snapshot` they are the whole
    map; in a :class:`MarketBatch` only the levels that changed, each with its new total
    (apply by updating the map; a total of 0 removes the level, sent after a session reset).
    """

    key: str
    levels: list[tuple[int, Decimal]]
    bought: list[tuple[int, Decimal]] = []
    """The buyer-initiated part of the same levels' totals (the rest was seller-initiated)."""


class BarView(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One OHLCV bar: prices in ticks, ``start_ns`` aligned to the bar size."""

    start_ns: int
    open: int
    high: int
    low: int
    close: int
    volume: Decimal


class PrintView(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One trade print of the tape."""

    ts_ns: int
    price: int
    qty: Decimal
    side: str
    """``buy`` (buyer-initiated), ``sell`` or ``""`` (unknown)."""
    inferred: bool = False
    """The side was inferred (from the quote, else from the price move), not sent."""


class TrailView(msgspec.Struct, frozen=True):
    """A trailing-stop distance as the user set it."""

    kind: str
    """``ticks`` | ``points`` | ``percent``."""
    distance: Decimal


class TargetView(msgspec.Struct, frozen=True, omit_defaults=True):
    """A scale-out target of a plan (TP1, TP2, TP3): exits ``qty`` at ``level`` once."""

    n: int
    """1 for TP1, 2 for TP2, 3 for TP3."""
    level: int
    qty: Decimal
    fired: bool = False
    filled: Decimal = Decimal(0)
    """How much of its exit order has filled."""


class PlanView(msgspec.Struct, frozen=True, omit_defaults=True):
    """An exit plan attached to a position."""

    key: str
    side: str
    """``long`` | ``short``."""
    qty: Decimal
    entry: int
    stop: int | None = None
    target: int | None = None
    trail: TrailView | None = None
    trail_active: bool = False
    high_water: int | None = None
    breakeven_after: int | None = None
    breakeven_done: bool = False
    time_stop_ns: int | None = None
    fired: str | None = None
    """Why it fired: ``stop``, ``trailing_stop``, ``target``, ``breakeven`` or ``time``."""
    exit_cid: str | None = None
    initial_risk: int | None = None
    """1R: ticks between the entry and the plan's first stop (the plan's own, journaled with
    it; None without a stop). Stop moves do not change it."""
    targets: list[TargetView] = []
    """Scale-out targets, TP1 first (``target`` is the final one, for what they leave)."""
    breakeven_after_tp1: bool = False


class PositionView(msgspec.Struct, frozen=True, omit_defaults=True):
    """A net position. ``qty`` is signed (negative = short)."""

    key: str
    qty: Decimal
    avg_price: Decimal
    realized: Decimal
    unrealized: Decimal
    ltp: int | None = None


class OrderView(msgspec.Struct, frozen=True, omit_defaults=True):
    """An order as the engine knows it."""

    cid: str
    """The engine's client order id."""
    key: str
    side: str
    """``BUY`` | ``SELL``."""
    order_type: str
    """``MARKET`` | ``LIMIT`` | ``SL`` | ``SL-M``."""
    qty: Decimal
    status: str
    ts_ns: int
    product: str = "MIS"
    venue_id: str | None = None
    price: int | None = None
    trigger: int | None = None
    filled: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    tag: str = ""
    """``entry`` | ``exit`` | ``protective`` | ``flatten`` | ``manual``."""
    reason: str = ""
    """Why it was rejected or cancelled."""


class FillView(msgspec.Struct, frozen=True, omit_defaults=True):
    """One execution."""

    cid: str
    key: str
    side: str
    qty: Decimal
    price: Decimal
    ts_ns: int
    venue_id: str | None = None


class StatusView(msgspec.Struct, frozen=True, omit_defaults=True):
    """Engine-wide state for the status bar."""

    venue: str
    armed: bool
    day_pnl: Decimal = Decimal(0)
    """Realized + unrealized, open positions marked at each symbol's last LTP (the mark the
    viewer's positions pane and status bar use too, with the LTPs it has received since);
    0 when the day's P&L is in several currencies (``day_pnls``: never their sum)."""
    day_pnls: dict[str, Decimal] = {}
    """The day's P&L per currency (``INR``, ``USDT``), only when there are several."""
    ticks_per_s: float = 0.0
    ticks: int = 0
    """Market ticks the engine has handled since it started (folded ones included)."""
    ticks_folded: int = 0
    """Of those, ticks folded while the decision thread lagged (``cockpit.engine.fold``)."""
    order_latency_ms: float | None = None
    """Median time from order request sent to the venue's acknowledgement, recent orders."""
    kill_switch: bool = False
    """True while a kill switch is in progress or has tripped entries off."""
    lock: str = ""
    """Why the engine's risk gate refuses every entry now (a rule: ``kill_switch``,
    ``journal``, ``daily_loss_limit``); empty while entries are allowed."""
    lock_detail: str = ""
    """The lock in words, with its numbers (``day P&L -1.05 reached the loss limit 0.50``)."""
    stale_after_s: Decimal | None = None
    """The stale-data limit the engine's gate enforces (None: no such gate)."""
    viewers: int = 0
    """Viewers attached now (the server fills it in as it sends; 0: not known)."""


class MessageView(msgspec.Struct, frozen=True, omit_defaults=True):
    """One line of the engine's message log (fills, exits, refusals, alarms), in words."""

    seq: int
    """The engine's event sequence when it was logged (a refusal carries the current one)."""
    ts_ns: int
    level: str
    """``info`` | ``warning`` | ``error``."""
    title: str
    text: str
