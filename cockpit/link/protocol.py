"""The engine ⇄ viewer protocol (DESIGN.md §1): versioned, typed messages over a Unix socket.

Framing: every message is a 4-byte big-endian length followed by a msgpack body (msgspec),
a tagged union on the field ``t``. Never pickle.

Conversation:
1. The viewer sends :class:`Hello` (protocol version, client name, read-only or not).
2. The engine answers :class:`Welcome` — or :class:`Refused` with rule ``version`` and closes,
   when the versions differ — then one :class:`Snapshot` of everything.
3. The engine then streams :class:`MarketBatch` (at most ~30 per second; the latest state of
   the symbols that changed since the last batch; a slow viewer's batches are replaced, never
   queued) and every other event individually and in order (orders, fills, positions, plans,
   exits, refusals, alarms, feed status). A viewer whose backlog of events passes a bound is
   dropped and resyncs from a new snapshot when it reconnects.
4. The viewer sends commands (each with an ``id`` unique on its connection); each command is
   answered by exactly one :class:`Ack` or :class:`Refused` carrying that ``id``. Read-only
   viewers may only send :class:`Subscribe`, :class:`Unsubscribe`, :class:`Search`,
   :class:`WatchChart`, :class:`Ping` and the watchlist commands.
5. A viewer may say which symbols it draws in full (:class:`Showing`, no answer): those get
   every batch, the others their latest quote at most about once a second and no book. A
   viewer that never says gets every symbol in full.

Prices in views are integer ticks of the instrument (``InstrumentView.tick_size`` gives
their value); money (P&L) and quantities are ``Decimal``.
"""

from __future__ import annotations

import struct
from decimal import Decimal
from typing import Final

import msgspec

from cockpit.domain.feed import FeedStatus
from cockpit.link.lists import (
    AddAlert,
    AlertEvent,
    AlertFired,
    AlertView,
    DeleteWatchlist,
    RemoveAlert,
    SetWatchlistView,
    SwitchWatchlist,
    WatchlistsChanged,
    WatchlistView,
)
from cockpit.link.msg import Msg

# Re-exported: the protocol is used as one module (``protocol.AlertView``); names defined
# here are exported as usual.
__all__ = [
    "AddAlert",
    "AlertEvent",
    "AlertFired",
    "AlertView",
    "DeleteWatchlist",
    "Msg",
    "RemoveAlert",
    "SetWatchlistView",
    "SwitchWatchlist",
    "WatchlistView",
    "WatchlistsChanged",
]


PROTOCOL_VERSION: Final = 3
"""2: ``QuoteView.ltp`` may be absent (no trade yet), which a version-1 viewer cannot decode;
3: alerts and named watchlists (:class:`AlertEvent`, :class:`AlertFired`,
:class:`WatchlistsChanged` and their commands), charts and the tape (:class:`WatchChart`,
:class:`Bars`, :class:`Prints`, ``VolumeAtPrice.bought``), and :class:`Showing` (which
symbols a viewer draws in full)."""
READABLE_VERSIONS: Final = frozenset({PROTOCOL_VERSION})
"""Viewer versions this engine serves. A version-2 viewer cannot decode the alert, chart and
tape messages of version 3, so it is refused with a clear message, as any other version."""
MAX_FRAME: Final = 64 * 1024 * 1024
"""A frame longer than this is a protocol error (a snapshot of thousands of symbols fits)."""
MAX_COMMAND_FRAME: Final = 256 * 1024
"""The longest frame a viewer may send the engine: commands are small (a ``Subscribe`` of
thousands of symbols fits); a longer header closes the connection before anything is kept."""

_LEN: Final = struct.Struct(">I")


# --------------------------------------------------------------------------- views


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
    viewer's positions pane and status bar use too, with the LTPs it has received since)."""
    ticks_per_s: float = 0.0
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


class MessageView(msgspec.Struct, frozen=True, omit_defaults=True):
    """One line of the engine's message log (fills, exits, refusals, alarms), in words."""

    seq: int
    """The engine's event sequence when it was logged (a refusal carries the current one)."""
    ts_ns: int
    level: str
    """``info`` | ``warning`` | ``error``."""
    title: str
    text: str


# --------------------------------------------------------------------------- handshake


class Hello(Msg, frozen=True, tag="hello"):
    """Viewer → engine, first message."""

    version: int
    client: str
    read_only: bool = False


class Showing(Msg, frozen=True, tag="showing"):
    """Viewer → engine: the symbols this viewer draws in full now (no answer).

    The selected symbol, the watchlist rows in view, symbols with a position or a working
    order. Those get every market batch; the others their latest quote at most about once a
    second and no book (a symbol newly shown gets its whole state at once). Each one replaces
    the last; orders, fills, exits and alarms are never filtered.
    """

    keys: list[str]


class Welcome(Msg, frozen=True, tag="welcome"):
    """Engine → viewer, answer to a matching :class:`Hello`."""

    version: int
    engine_pid: int
    profile: str
    venue: str
    read_only: bool = False
    started_ns: int = 0
    viewers: int = 0
    """Viewers attached, this one included."""


class Snapshot(Msg, frozen=True, tag="snapshot"):
    """Engine → viewer: everything, on attach and on resync."""

    seq: int
    instruments: list[InstrumentView]
    quotes: list[QuoteView]
    books: list[BookView]
    positions: list[PositionView]
    plans: list[PlanView]
    orders: list[OrderView]
    """Working orders and the most recent final ones."""
    fills: list[FillView]
    """Recent fills, oldest first."""
    feeds: list[FeedStatus]
    status: StatusView
    watchlist: list[str]
    """Subscribed symbols, in the order the user added them."""
    volume_at_price: list[VolumeAtPrice] = []
    messages: list[MessageView] = []
    """The engine's recent messages, oldest first (the day's last few hundred)."""
    alerts: list[AlertView] = []
    """Active alerts."""
    watchlists: list[WatchlistView] = []
    """Every named watchlist (the active one's keys are ``watchlist``)."""
    active_watchlist: str = ""


# --------------------------------------------------------------------------- engine → viewer


class MarketBatch(Msg, frozen=True, tag="market"):
    """The latest state of every symbol that changed since the previous batch."""

    seq: int
    quotes: list[QuoteView]
    books: list[BookView] = []
    volume_at_price: list[VolumeAtPrice] = []
    status: StatusView | None = None


class Bars(Msg, frozen=True, tag="bars"):
    """Bars of one charted symbol (:class:`WatchChart`), oldest first. ``replace``: the whole
    series; else each bar replaces the one with the same start or is appended."""

    seq: int
    key: str
    size_s: int
    bars: list[BarView]
    replace: bool = False


class Prints(Msg, frozen=True, tag="prints"):
    """New trade prints of one charted symbol, oldest first (``replace``: the recent ones)."""

    seq: int
    key: str
    prints: list[PrintView]
    replace: bool = False


class OrderEvent(Msg, frozen=True, tag="order"):
    """An order was created or changed (state, fill, modify, reject, cancel)."""

    seq: int
    order: OrderView


class FillEvent(Msg, frozen=True, tag="fill"):
    """An execution."""

    seq: int
    fill: FillView


class PositionEvent(Msg, frozen=True, tag="position"):
    """A position changed (quantity, average, realized P&L)."""

    seq: int
    position: PositionView


class PlanEvent(Msg, frozen=True, tag="plan"):
    """An exit plan was created, changed (stop moved, trail ratcheted), fired or removed."""

    seq: int
    plan: PlanView
    removed: bool = False
    change: str = ""
    """What changed, in words (``stop 801.50 → 802.00 (trail)``)."""


class ExitFired(Msg, frozen=True, tag="exit"):
    """A plan's exit condition was met on a tick and its exit order was sent."""

    seq: int
    key: str
    reason: str
    level: int | None
    """The stop or target level (ticks) that was crossed; None for a time stop."""
    price: int
    """The tick price that crossed it."""
    cid: str
    """The exit order's client id."""


class FeedEvent(Msg, frozen=True, tag="feed"):
    """A feed's connection state changed."""

    seq: int
    status: FeedStatus


class Alarm(Msg, frozen=True, tag="alarm"):
    """Something a trader must see: a failed exit being retried, a reconciliation difference."""

    seq: int
    level: str
    """``info`` | ``warning`` | ``error``."""
    message: str
    key: str | None = None
    code: str = ""
    """Stable identifier, e.g. ``exit_retry``, ``reconcile_mismatch``, ``risk``."""


class WatchlistChanged(Msg, frozen=True, tag="watchlist"):
    """The engine's subscribed symbols changed."""

    seq: int
    watchlist: list[str]
    instruments: list[InstrumentView] = []
    """Instruments newly known to the engine."""


class Ack(Msg, frozen=True, tag="ack"):
    """A command was accepted (it may still be refused by the venue later: watch orders)."""

    id: int
    message: str = ""
    cid: str | None = None
    """The client order id, when the command placed an order."""


class Refused(Msg, frozen=True, tag="refused"):
    """A command was refused. ``rule`` is a stable id (risk rule, ``stale``, ``read_only``...)."""

    id: int
    rule: str
    message: str


class SearchResult(Msg, frozen=True, tag="search_result"):
    """Answer to :class:`Search` (sent before its Ack)."""

    id: int
    results: list[InstrumentView]


class Pong(Msg, frozen=True, tag="pong"):
    """Answer to :class:`Ping`."""

    id: int
    engine_ns: int


class Stopping(Msg, frozen=True, tag="stopping"):
    """The engine is shutting down; the viewer should say so and stop sending orders."""

    reason: str


# --------------------------------------------------------------------------- viewer → engine


class TargetSpec(msgspec.Struct, frozen=True, omit_defaults=True):
    """A scale-out target for an entry: ``ticks`` from the fill, exiting ``qty`` or ``pct``
    percent of the position (neither: the rest, i.e. the final target)."""

    ticks: int
    qty: Decimal | None = None
    pct: Decimal | None = None


class PlanSpec(msgspec.Struct, frozen=True, omit_defaults=True):
    """Exit-plan settings for an entry; unset fields take the config's defaults."""

    stop_ticks: int | None = None
    """Distance of the stop from the fill, in ticks."""
    target_ticks: int | None = None
    trail: TrailView | None = None
    breakeven_after: int | None = None
    time_stop_s: float | None = None
    none: bool = False
    """True: attach no plan at all."""
    targets: list[TargetSpec] | None = None
    """Up to three scale-out targets, nearest first (they replace ``target_ticks``)."""
    breakeven_after_tp1: bool | None = None
    """Move the stop to breakeven once TP1's exit fills."""


class PlaceEntry(Msg, frozen=True, tag="entry"):
    """Open or add to a position."""

    id: int
    key: str
    side: str
    """``BUY`` | ``SELL``."""
    qty: Decimal | None = None
    lots: int | None = None
    order_type: str = "MARKET"
    """``MARKET`` | ``LIMIT`` | ``SL`` (stop-limit) | ``SL-M`` (stop-market) | ``MIT``
    (market-if-touched: the engine holds it and sends it at market once the last price
    reaches ``trigger``). A buy stop's trigger lies above the last price, a buy MIT's below
    (a sell mirrored)."""
    price: int | None = None
    """Limit price in ticks."""
    join: str | None = None
    """``bid`` | ``ask``: limit at the current best bid/ask instead of ``price``."""
    trigger: int | None = None
    product: str = "MIS"
    plan: PlanSpec | None = None
    confirmed: bool = False
    """The user confirmed a large order."""
    template: str | None = None
    """A ``[templates.NAME]`` of the config for the plan (fields of ``plan`` win); None: the
    instrument's template (``[instruments."EXCH:SYMBOL"] template``), else the defaults."""


class Flatten(Msg, frozen=True, tag="flatten"):
    """Cancel the symbol's working orders, then close its position."""

    id: int
    key: str


class KillSwitch(Msg, frozen=True, tag="kill"):
    """Cancel every working order of this cockpit (one by one) and flatten every position.

    Never blocked. ``account_wide``: also the venue's cancel-all, which cancels every order
    of the account, other strategies' too (ask the user to confirm it first).
    """

    id: int
    account_wide: bool = False


class CancelOrders(Msg, frozen=True, tag="cancel"):
    """Cancel one order (``cid``), or every working order of ``key``, or all."""

    id: int
    key: str | None = None
    cid: str | None = None


class ClosePart(Msg, frozen=True, tag="close_part"):
    """Close ``percent`` of the position at market (rounded down to the lot size); the exit
    plan shrinks with the fill. A partial close still in flight is not counted twice."""

    id: int
    key: str
    percent: int


class ModifyOrder(Msg, frozen=True, tag="modify"):
    """Amend a working order."""

    id: int
    cid: str
    price: int | None = None
    qty: Decimal | None = None
    trigger: int | None = None


class Reverse(Msg, frozen=True, tag="reverse"):
    """Turn the position around: close it and open the same size the other way."""

    id: int
    key: str


class MoveStop(Msg, frozen=True, tag="move_stop"):
    """Move the stop by ``delta`` ticks, or to ``to`` (ticks)."""

    id: int
    key: str
    delta: int | None = None
    to: int | None = None


class MoveTarget(Msg, frozen=True, tag="move_target"):
    """Move the target by ``delta`` ticks, or to ``to`` (ticks)."""

    id: int
    key: str
    delta: int | None = None
    to: int | None = None
    leg: int | None = None
    """Move scale-out target ``leg`` (1 for TP1) instead of the final target."""


class SetTrail(Msg, frozen=True, tag="set_trail"):
    """Set the trailing distance (None removes it)."""

    id: int
    key: str
    trail: TrailView | None = None


class ToggleTrail(Msg, frozen=True, tag="toggle_trail"):
    """Turn trailing on (with the config's distance if none is set) or off."""

    id: int
    key: str


class ToBreakeven(Msg, frozen=True, tag="breakeven"):
    """Move the stop to the entry price."""

    id: int
    key: str


class DetachPlan(Msg, frozen=True, tag="detach"):
    """Remove the exit plan; the position stays open and unmanaged."""

    id: int
    key: str


class AttachPlan(Msg, frozen=True, tag="attach"):
    """Attach (or replace) an exit plan on an open position."""

    id: int
    key: str
    plan: PlanSpec
    template: str | None = None
    """As :attr:`PlaceEntry.template`."""


class SetArmed(Msg, frozen=True, tag="arm"):
    """Arm or disarm trading keys (entries refused while disarmed; exits always work)."""

    id: int
    armed: bool


class Subscribe(Msg, frozen=True, tag="subscribe"):
    """Add symbols (``EXCH:SYMBOL``) to the watchlist."""

    id: int
    keys: list[str]


class Unsubscribe(Msg, frozen=True, tag="unsubscribe"):
    """Remove symbols from the watchlist (not while a position or order is open on them)."""

    id: int
    keys: list[str]


class Search(Msg, frozen=True, tag="search"):
    """Search the venue's symbols."""

    id: int
    query: str
    exchange: str | None = None


class WatchChart(Msg, frozen=True, tag="chart"):
    """Chart ``key``: the engine builds its bars and tape from now on, backfills the bars from
    the venue's history and answers with :class:`Bars` and :class:`Prints` (replace)."""

    id: int
    key: str


class Ping(Msg, frozen=True, tag="ping"):
    """Liveness / latency probe."""

    id: int


class Shutdown(Msg, frozen=True, tag="shutdown"):
    """Stop the engine; refused while positions or orders are open unless ``flatten``."""

    id: int
    flatten: bool = False


Command = (
    PlaceEntry
    | Flatten
    | ClosePart
    | KillSwitch
    | CancelOrders
    | ModifyOrder
    | Reverse
    | MoveStop
    | MoveTarget
    | SetTrail
    | ToggleTrail
    | ToBreakeven
    | DetachPlan
    | AttachPlan
    | SetArmed
    | Subscribe
    | Unsubscribe
    | Search
    | WatchChart
    | Ping
    | Shutdown
    | AddAlert
    | RemoveAlert
    | SwitchWatchlist
    | DeleteWatchlist
    | SetWatchlistView
)
"""Every command a viewer may send (after :class:`Hello`)."""

READ_ONLY_COMMANDS: Final = (
    Subscribe,
    Unsubscribe,
    Search,
    WatchChart,
    Ping,
    SwitchWatchlist,
    DeleteWatchlist,
    SetWatchlistView,
)

ToEngine = Hello | Showing | Command
ToViewer = (
    Welcome
    | Snapshot
    | MarketBatch
    | OrderEvent
    | FillEvent
    | PositionEvent
    | PlanEvent
    | ExitFired
    | FeedEvent
    | Alarm
    | WatchlistChanged
    | AlertEvent
    | AlertFired
    | WatchlistsChanged
    | Bars
    | Prints
    | Ack
    | Refused
    | SearchResult
    | Pong
    | Stopping
)


# --------------------------------------------------------------------------- framing

_ENCODER: Final = msgspec.msgpack.Encoder()
_TO_ENGINE: Final = msgspec.msgpack.Decoder(ToEngine)
_TO_VIEWER: Final = msgspec.msgpack.Decoder(ToViewer)


class ProtocolError(Exception):
    """A frame that cannot be a protocol message (too long, undecodable)."""


def encode(msg: Msg) -> bytes:
    """One frame: length prefix + msgpack body."""
    body = _ENCODER.encode(msg)
    return _LEN.pack(len(body)) + body


def decode_to_engine(body: bytes) -> ToEngine:
    """Decode a frame body sent by a viewer."""
    try:
        return _TO_ENGINE.decode(body)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"bad message from viewer: {exc}") from exc


def decode_to_viewer(body: bytes) -> ToViewer:
    """Decode a frame body sent by the engine."""
    try:
        return _TO_VIEWER.decode(body)
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"bad message from engine: {exc}") from exc


class FrameReader:
    """Splits a byte stream into frame bodies. Feed it what the socket gave you."""

    __slots__ = ("_buf", "_max")

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self._max = max_frame

    @property
    def pending(self) -> int:
        """Bytes held of a frame not complete yet."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the complete frame bodies now available, in order."""
        self._buf += data
        bodies: list[bytes] = []
        buf = self._buf
        offset = 0
        while len(buf) - offset >= 4:
            (length,) = _LEN.unpack_from(buf, offset)
            if length > self._max:
                raise ProtocolError(f"frame of {length} bytes exceeds {self._max}")
            end = offset + 4 + length
            if len(buf) < end:
                break
            bodies.append(bytes(buf[offset + 4 : end]))
            offset = end
        if offset:
            del buf[:offset]
        return bodies
