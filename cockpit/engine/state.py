"""The engine's state records, options, timer and small price helpers (no behaviour)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final

import msgspec

from cockpit.domain.execution import (
    RouterResult,
)
from cockpit.domain.exits import (
    ExitPlan,
)
from cockpit.domain.feed import FeedStatus, OrderUpdate
from cockpit.domain.guard import JumpGuard
from cockpit.domain.instruments import (
    Instrument,
)
from cockpit.domain.market import DepthTick, QuoteTick
from cockpit.domain.orders import (
    OrderStatus,
)
from cockpit.link import protocol
from cockpit.link.bus import (
    ViewerCommand,
)

NS: Final = 1_000_000_000
MS: Final = 1_000_000
ZERO: Final = Decimal(0)
JOURNAL_PROBE_NS: Final = NS
"""After a failed journal write, how often the timer tries one again."""
CLOSING_TAGS: Final = frozenset({"exit", "flatten"})
ENTRY_TAGS: Final = frozenset({"entry", "reverse"})
STRAY_TAGS: Final = frozenset({"exit", "flatten", "protective", "target", "reduce"})
"""Orders of a position that would open a new one once it is flat: cancelled then."""
PART_TAGS: Final = frozenset({"target", "partial"})
"""Orders that close part of a position (a scale-out target, a partial close): a full exit
leaves to them what they will still sell."""


class EngineTimer(msgspec.Struct, frozen=True):
    """The engine's periodic tick (time stops, retries, reconciliation, status)."""

    ts_ns: int


def local_day_start_ns(now_ns: int) -> int:
    """Nanoseconds since the epoch at the local midnight before ``now_ns`` (the journal's
    day for its fills)."""
    now = dt.datetime.fromtimestamp(now_ns / NS, tz=dt.UTC).astimezone()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp()) * NS


BATCHED: Final = frozenset({ViewerCommand, RouterResult, OrderUpdate, EngineTimer, FeedStatus})
"""Items handled inside one journal batch (ticks are not: most write nothing)."""


@dataclass(slots=True)
class EngineOptions:
    """Engine behaviour not (yet) in the settings file."""

    reconcile_interval_s: float = 30.0
    """Periodic reconciliation with the broker (0: only at start and after reconnects)."""
    timer_interval_s: float = 0.05
    """How often the decision thread runs its timer (time stops, retries)."""
    status_interval_s: float = 1.0
    retry_backoff_s: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
    """Delay before the n-th retry of a failed closing order (the last one repeats)."""
    uncertain_wait_s: float = 1.0
    """After an order's fate is uncertain, wait this long for its update before acting."""
    uncertain_slack_s: float = 2.0
    """An uncertain order is matched only to a broker order placed no earlier than this before
    it (broker timestamps are whole seconds and clocks differ a little)."""
    exit_limit_timeout_s: float = 1.0
    """A limit exit (``exits.exit_order_type = "limit"``) not filled after this is cancelled
    and sent again at market."""
    feed_mode: str = "depth"
    """Mode used when the engine subscribes symbols (``ltp``, ``quote``, ``depth``)."""
    recent_orders: int = 200
    recent_fills: int = 500
    protective_offset_ticks: int = 5
    """The broker-side protective SL-M rests this many ticks beyond the plan's stop, so the
    engine's own exit comes first and the broker's stop is only the safety net."""
    plan_event_interval_s: float = 0.05
    """Trail/breakeven moves decided on ticks are published at most this often per plan
    (the latest state, with the whole move in ``change``); user actions and exits at once."""
    journal_trail_every_s: float = 0.2
    """Trail ratchets are journaled at most this often per plan (decisions always at once)."""
    venue: str = "openalgo"
    from_journal: tuple[str, ...] = ()
    """Instruments rebuilt from the journal's tick and lot at start because the broker did not
    answer their lookup (the restore warns of each)."""
    history_backfill: bool = True
    """Backfill charts from the venue's ``/history`` (off when the prices come from an
    external feed that the venue's history does not describe)."""
    chart_publish_s: float = 0.25
    """Charted symbols' bars and prints go to viewers at most this often."""
    chart_sizes_s: tuple[int, ...] = (60, 300, 900)
    """Bar sizes (seconds) of charted symbols; the smallest is backfilled from the venue's
    history and the others rolled up from it (each a multiple of the smallest)."""
    screen_fold_s: float = 0.01
    """Market state for viewers (quotes, books) is published at most this often: ticks in
    between are folded per symbol, the latest state wins (exit plans still see every tick).
    0: every tick is published as it is handled (and its book built then)."""
    screen_grid_s: float = 0.0
    """The viewer server's send period (``link.pace.grid_slot``'s grid): when set, the
    screen is flushed once per send, ``screen_lead_s`` before it, instead of every
    ``screen_fold_s`` (a batch carries the state of the last flush before it: the flushes in
    between were sent nowhere). A lone tick after a quiet spell still goes at once."""
    screen_lead_s: float = 0.003
    """How long before each send the screen is flushed (``screen_grid_s``)."""
    screen_slow_s: float = 1.0
    """A symbol no viewer shows in full (none draws it; see ``link.protocol.Showing``) is
    published at most this often, its quote only (no book is built for it)."""
    fold_over: int = 2000
    """A decision thread that finds more than this many items waiting at once has fallen
    behind: in that batch, ticks of a symbol nothing trades on (no exit plan, position,
    working order, held entry or price alert) are folded -- each still adds its volume at
    price, bar and print, and only the symbol's last one is handled in full (see
    :mod:`cockpit.engine.fold`). 0: never fold."""
    exits_first: bool = True
    """In a batch, a tick that crosses a plan's line is handled (and its exit committed and
    sent) before the other market data of its run (see :mod:`cockpit.engine.exits_first`)."""


@dataclass(slots=True)
class SymbolState:
    """Market state of one instrument (prices in ticks)."""

    inst: Instrument
    key: str = field(init=False, default="")
    """``inst.key``, made once (the instrument's property formats it on every call)."""
    ltp: int | None = None
    recv_ns: int = 0
    exch_ns: int | None = None
    count: int = 0
    bid: int | None = None
    ask: int | None = None
    bid_qty: Decimal | None = None
    ask_qty: Decimal | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    book: protocol.BookView | None = None
    depth: Any = None
    """The latest ``DepthTick`` whose book is not built yet (built when viewers need it)."""
    last_price: Decimal | None = None
    """The price object :func:`market_ticks` converted last, and its ticks: a tick's price
    looked at twice (exits first, then the tick itself) is divided once."""
    last_price_ticks: int | None = None
    grid: dict[int, Decimal] = field(default_factory=dict)
    """Prices of the tick grid (ticks -> the price) that :func:`book_levels` checked guesses
    against (at most :data:`GRID_KEPT`)."""
    raw_ohlc: dict[str, Any] = field(default_factory=dict)
    """The venue's open/high/low/close as last converted (converted again only on change)."""
    raw_ohlc_seen: tuple[Any, ...] = ()
    """The last quote's (open, high, low, close) as sent: one comparison tells most ticks
    that there is nothing to convert."""
    vap: dict[int, Decimal | int] = field(default_factory=dict)
    """Session traded volume per price (ticks); see :meth:`Engine._traded`."""
    vap_changed: set[int] = field(default_factory=set)
    """Levels changed while a viewer showed the symbol, not yet published (each goes out
    with its total then: 0 once a session reset removed it)."""
    bought: dict[int, Decimal | int] = field(default_factory=dict)
    """The buyer-initiated part of ``vap`` per price (see :func:`aggressor`)."""
    vap_lent: bool = False
    """``vap`` and ``bought`` are in a snapshot being built off the decision thread: copied
    before their next change (copy on write), never changed in place."""
    last_trade: int | None = None
    """The previous trade's price (ticks), for the tick rule."""
    last_side: str = ""
    """The previous trade's side (``buy``/``sell``/``""``), for the tick rule."""
    cum_volume: Decimal | None = None
    """The highest cumulative day volume the feed sent (quote feeds): the baseline."""
    volume_behind: tuple[Decimal, Decimal, int] | None = None
    """Quotes in a row below ``cum_volume``: (the first's volume, the last's, how many)."""
    ltt_ns: int | None = None
    """Last trade time at the previous quote (quote feeds without a cumulative volume)."""
    guard: JumpGuard = field(default_factory=lambda: JumpGuard(None))
    """Holds a print far outside the recent range from the exit decision (domain/guard.py)."""
    view: protocol.QuoteView | None = None
    """The quote view built last, current while ``view_count == count`` (every change of
    what it shows counts a tick): a snapshot rebuilds only what changed since."""
    view_count: int = -1
    inst_view: tuple[Instrument, protocol.InstrumentView] | None = None
    """The view of the instrument it was built from (instruments are immutable)."""

    def __post_init__(self) -> None:
        self.key = self.inst.key


@dataclass(slots=True)
class PlanSlot:
    """An exit plan and what the engine tracks around it."""

    key: str
    plan: ExitPlan
    exit_cid: str | None = None
    protective_cid: str | None = None
    protective_sent_ns: int = 0
    protective_dirty: bool = False
    journaled_version: int = -1
    journaled_ns: int = 0
    last_stop: int | None = None
    """The stop as last published to viewers."""
    seen_stop: int | None = None
    """The stop as last seen by the engine (for the protective order)."""
    event_ns: int = 0
    event_pending: bool = False
    """A trail move not yet published (ratchet events are paced, never lost)."""


@dataclass(slots=True)
class Closer:
    """The one closing (exit / flatten) effort of a symbol until it is flat."""

    key: str
    reason: str
    cid: str | None = None
    """The closing order in flight (None between a failure and the retry)."""
    attempts: int = 0
    retry_at_ns: int = 0
    sent_ns: int = 0
    chasing: bool = False
    """A limit exit that did not fill in time is being cancelled (then sent at market)."""


@dataclass(slots=True)
class PendingLookup:
    """A Subscribe waiting for the venue to describe unknown instruments."""

    conn_id: int
    cmd: protocol.Subscribe
    waiting: set[str]
    found: list[Instrument] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ReconRound:
    """One reconciliation round."""

    token: int
    why: str
    positions: Any = None
    orders: Any = None
    failed: list[str] = field(default_factory=list)
    pending: int = 2


def venue_ticks(inst: Instrument, price: Decimal) -> int | None:
    """A venue price as ticks, validated after snapping (``Instrument.market_ticks``)."""
    return inst.market_ticks(price)


def market_ticks(sym: SymbolState, price: Decimal) -> int | None:
    """``venue_ticks`` of ``sym``'s instrument; a print on the grid and at least one tick
    (most prints) in one division. (A cache keyed by the price cost more than this: a
    Decimal fresh from the feed hashes as slowly as it divides.)"""
    if price is sym.last_price:  # the same print again (exits first looked at it)
        return sym.last_price_ticks
    try:
        count, rest = divmod(price, sym.inst.tick_size)
        if not rest and count > 0:
            ticks = int(count)
            sym.last_price, sym.last_price_ticks = price, ticks
            return ticks
    except (ArithmeticError, TypeError):  # not a number, or no context can divide it
        pass
    return sym.inst.market_ticks(price)  # off the grid, sub-tick, NaN...: the whole rule


def take_touch(sym: SymbolState, ev: QuoteTick) -> None:
    """``sym``'s best bid and ask (and its latest book, of a depth tick) from ``ev``."""
    if ev.bids:
        price, qty, _n = ev.bids[0]
        sym.bid = market_ticks(sym, price)  # None for 0 (an empty side) as for any bad price
        sym.bid_qty = qty
    if ev.asks:
        price, qty, _n = ev.asks[0]
        sym.ask = market_ticks(sym, price)
        sym.ask_qty = qty
    if type(ev) is DepthTick:
        sym.depth = ev  # its book is built when a viewer needs it (market.py: _book_view)


GRID_KEPT: Final = 64
"""Grid prices a symbol keeps for :func:`book_levels` (cleared when full)."""


def book_levels(
    sym: SymbolState, levels: Any, step: int, first: int | None
) -> list[tuple[int, Decimal, int]]:
    """A book side in ticks (levels whose price is no valid price left out).

    Each level's ticks are guessed first -- ``first`` for the best level (the touch taken
    from the same tick), then the previous level's plus ``step`` (-1 for bids, +1 for asks)
    -- and the guess kept when the price equals that tick's grid price: one comparison of
    Decimals, a quarter of a division (a book is 20 or more prices). Otherwise, and for a
    price off the grid, :func:`market_ticks`.
    """
    out: list[tuple[int, Decimal, int]] = []
    grid = sym.grid
    tick = sym.inst.tick_size
    guess = first
    for price, qty, n in levels or ():
        ticks: int | None = None
        if guess is not None and guess > 0:
            known = grid.get(guess)
            if known is None:
                if len(grid) >= GRID_KEPT:
                    grid.clear()
                known = grid[guess] = tick * guess
            try:
                if price == known:
                    ticks = guess
            except ArithmeticError:  # a signalling NaN
                pass
        if ticks is None:
            ticks = market_ticks(sym, price)
        if ticks is not None:
            out.append((ticks, qty, n))
            guess = ticks + step
    return out


def spec_value(spec: protocol.PlanSpec | None, name: str, default: Any) -> Any:
    if spec is not None:
        value = getattr(spec, name)
        if value is not None:
            return value
    return default


def stop_source_word(plan: ExitPlan) -> str:
    return {"trailing_stop": "trail", "breakeven": "breakeven"}.get(str(plan.stop_source), "stop")


def describe_change(inst: Instrument, change: Any) -> str:
    parts = []
    for name, old, new in getattr(change, "changes", ()):
        if name in ("stop", "target") or name.startswith("tp"):
            o = "-" if old is None else inst.format_price(old)
            n = "-" if new is None else inst.format_price(new)
            parts.append(f"{name} {o} → {n}")
        elif name == "trail":
            parts.append(f"trail {'off' if new is None else new.describe()}")
        elif name == "trail_active":
            parts.append(f"trailing {'on' if new else 'off'}")
    return ", ".join(parts)


STATUS_MAP: Final = {
    "pending_new": OrderStatus.PENDING_NEW,
    "open": OrderStatus.OPEN,
    "trigger_pending": OrderStatus.TRIGGER_PENDING,
    "trigger pending": OrderStatus.TRIGGER_PENDING,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "complete": OrderStatus.COMPLETE,
    "rejected": OrderStatus.REJECTED,
    "cancelled": OrderStatus.CANCELLED,
}


def status_of(text: str) -> OrderStatus:
    return STATUS_MAP.get(text.lower(), OrderStatus.OPEN)


def fraction_of(value: Any) -> Fraction:
    if value is None:
        return Fraction(0)
    try:
        return Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return Fraction(0)
