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
5. A viewer may say which symbols it draws in full (:class:`Showing`, ``Hello.showing``);
   one that never says gets every symbol in full.

Prices in views are integer ticks of the instrument (``InstrumentView.tick_size`` gives
their value); money (P&L) and quantities are ``Decimal``.
"""

from __future__ import annotations

import struct
from typing import Final

import msgspec

from cockpit.domain.feed import FeedStatus
from cockpit.link.commands import (
    READ_ONLY_COMMANDS,
    AttachPlan,
    CancelOrders,
    ClosePart,
    Command,
    DetachPlan,
    Flatten,
    KillSwitch,
    ModifyOrder,
    MoveStop,
    MoveTarget,
    Ping,
    PlaceEntry,
    PlanSpec,
    Reverse,
    Search,
    SetArmed,
    SetTrail,
    Shutdown,
    Subscribe,
    TargetSpec,
    ToBreakeven,
    ToggleTrail,
    Unsubscribe,
    WatchChart,
)
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
from cockpit.link.msg import Msg, Sequenced
from cockpit.link.views import (
    BarView,
    BookView,
    FillView,
    InstrumentView,
    MessageView,
    OrderView,
    PlanView,
    PositionView,
    PrintView,
    QuoteView,
    StatusView,
    TargetView,
    TrailView,
    VolumeAtPrice,
)

# Re-exported: the protocol is used as one module (``protocol.AlertView``,
# ``protocol.PlaceEntry``, ``protocol.QuoteView``); names defined here are exported as usual.
__all__ = [
    "AddAlert",
    "AlertEvent",
    "AlertFired",
    "AlertView",
    "AttachPlan",
    "BarView",
    "BookView",
    "CancelOrders",
    "ClosePart",
    "Command",
    "DeleteWatchlist",
    "DetachPlan",
    "FillView",
    "Flatten",
    "InstrumentView",
    "KillSwitch",
    "MessageView",
    "ModifyOrder",
    "MoveStop",
    "MoveTarget",
    "Msg",
    "OrderView",
    "Ping",
    "PlaceEntry",
    "PlanSpec",
    "PlanView",
    "PositionView",
    "PrintView",
    "QuoteView",
    "READ_ONLY_COMMANDS",
    "RemoveAlert",
    "Reverse",
    "Search",
    "SetArmed",
    "SetTrail",
    "SetWatchlistView",
    "Shutdown",
    "StatusView",
    "Subscribe",
    "SwitchWatchlist",
    "TargetSpec",
    "TargetView",
    "ToBreakeven",
    "ToggleTrail",
    "TrailView",
    "Unsubscribe",
    "VolumeAtPrice",
    "WatchChart",
    "WatchlistView",
    "WatchlistsChanged",
]


PROTOCOL_VERSION: Final = 3
"""2: ``QuoteView.ltp`` may be absent (no trade yet), which a version-1 viewer cannot decode;
3: alerts and named watchlists (:class:`AlertEvent`, :class:`AlertFired`,
:class:`WatchlistsChanged` and their commands), charts and the tape (:class:`WatchChart`,
:class:`Bars`, :class:`Prints`, ``VolumeAtPrice.bought``), and :class:`Showing` (which
symbols a viewer draws in full). ``Hello.showing`` came later without a bump: an engine
that does not know it ignores it and sends everything, as to a viewer that never says.
A viewer of any other version is refused with a clear message (a version-2 viewer cannot
decode the messages of version 3)."""
MAX_FRAME: Final = 64 * 1024 * 1024
"""A frame longer than this is a protocol error (a snapshot of thousands of symbols fits)."""
MAX_COMMAND_FRAME: Final = 256 * 1024
"""The longest frame a viewer may send the engine: commands are small (a ``Subscribe`` of
thousands of symbols fits); a longer header closes the connection before anything is kept."""

_LEN: Final = struct.Struct(">I")


# --------------------------------------------------------------------------- handshake


class Hello(Msg, frozen=True, tag="hello"):
    """Viewer → engine, first message."""

    version: int
    client: str
    read_only: bool = False
    showing: list[str] | None = None
    """The symbols this viewer draws in full from the start (as a :class:`Showing` would
    say): its :class:`Snapshot` then carries books and volume at price only for those (every
    quote still), and the rest come whole as they come into view. An empty list: none yet
    (the TUI says what it shows once the snapshot told it the watchlist). None (a script, the
    CLI, an older viewer): every symbol in full, snapshot and batches."""


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


class Snapshot(Sequenced, frozen=True, tag="snapshot"):
    """Engine → viewer: everything, on attach and on resync."""

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


class MarketBatch(Sequenced, frozen=True, tag="market"):
    """The latest state of every symbol that changed since the previous batch."""

    quotes: list[QuoteView]
    books: list[BookView] = []
    volume_at_price: list[VolumeAtPrice] = []
    status: StatusView | None = None


class Bars(Sequenced, frozen=True, tag="bars"):
    """Bars of one charted symbol (:class:`WatchChart`), oldest first. ``replace``: the whole
    series; else each bar replaces the one with the same start or is appended."""

    key: str
    size_s: int
    bars: list[BarView]
    replace: bool = False


class Prints(Sequenced, frozen=True, tag="prints"):
    """New trade prints of one charted symbol, oldest first (``replace``: the recent ones)."""

    key: str
    prints: list[PrintView]
    replace: bool = False


class OrderEvent(Sequenced, frozen=True, tag="order"):
    """An order was created or changed (state, fill, modify, reject, cancel)."""

    order: OrderView


class FillEvent(Sequenced, frozen=True, tag="fill"):
    """An execution."""

    fill: FillView


class PositionEvent(Sequenced, frozen=True, tag="position"):
    """A position changed (quantity, average, realized P&L)."""

    position: PositionView


class PlanEvent(Sequenced, frozen=True, tag="plan"):
    """An exit plan was created, changed (stop moved, trail ratcheted), fired or removed."""

    plan: PlanView
    removed: bool = False
    change: str = ""
    """What changed, in words (``stop 801.50 → 802.00 (trail)``)."""


class ExitFired(Sequenced, frozen=True, tag="exit"):
    """A plan's exit condition was met on a tick and its exit order was sent."""

    key: str
    reason: str
    level: int | None
    """The stop or target level (ticks) that was crossed; None for a time stop."""
    price: int
    """The tick price that crossed it."""
    cid: str
    """The exit order's client id."""


class FeedEvent(Sequenced, frozen=True, tag="feed"):
    """A feed's connection state changed."""

    status: FeedStatus


class Alarm(Sequenced, frozen=True, tag="alarm"):
    """Something a trader must see: a failed exit being retried, a reconciliation difference."""

    level: str
    """``info`` | ``warning`` | ``error``."""
    message: str
    key: str | None = None
    code: str = ""
    """Stable identifier, e.g. ``exit_retry``, ``reconcile_mismatch``, ``risk``."""


class WatchlistChanged(Sequenced, frozen=True, tag="watchlist"):
    """The engine's subscribed symbols changed."""

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
