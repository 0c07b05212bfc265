"""The engine's decision thread: sole owner of trading state; exits decided on the tick.

One :class:`Engine` handles items one at a time: market events, ``OrderUpdate``,
``FeedStatus``, router results (:class:`~cockpit.adapters.openalgo.broker.RouterResult`),
viewer commands, snapshot requests and its own periodic :class:`EngineTimer`.
``handle(item)`` is synchronous and never waits on the network, so it can be unit-tested with
a fake router and publisher.

Two ways in, one owner at a time: feed threads hand their events straight to :meth:`deliver`
(:meth:`deliver_many` for a whole read), which handles them on the feed's own thread; viewer
commands and router results wait on the :class:`~cockpit.link.bus.Inbound` queue, taken by
a busy feed thread right after its read (:meth:`_take_inbound`) or by the decision thread
when the feeds are quiet. Both hold the engine's lock while they handle (and take), so
trading state still has exactly one owner at any moment and items are handled in the order
each producer made them (but for an exit tick moved ahead of other symbols' items, below).
A tick that crosses a stop is thus decided on the thread that read it off the socket, with no
queue and no thread switch in between (the GIL hand-off between a busy feed thread and a
waiting decision thread cost about 0.1-0.5 ms, and several ms at p99).
A feed hands over a whole read at once (:meth:`deliver_many`): a tick in it that crosses a
plan's line is handled first, ahead of the read's other symbols, so an exit never waits for
the bookkeeping of a dozen unrelated ticks and fills that arrived in the same read.

Exits: every tick runs the plan of its symbol; a decision is journaled, then exactly one exit
order is written to the venue by the deciding thread itself (``router.send_urgent``: the
bytes leave before anything else happens; the router's worker reads the answer), then
``ExitFired`` and ``PlanEvent`` are published.
At most one closing order per symbol is in flight at a time (plan exits, Flatten and the kill
switch all go through the same :class:`_Closer`), so nothing is ever sold twice. A closing
order that is rejected, cancelled or fails in transport is retried with backoff for the
position's remaining quantity, with an ``exit_retry`` alarm each time, until the position is
flat; a position found flat stops it.

Reconciliation: at start (before any entry is allowed and before restored plans act), after a
feed comes back LIVE, and periodically, the broker's orderbook and positionbook are fetched.
Orders we know are brought up to date from the orderbook (missed updates); any difference in
positions, or a working order at the broker we do not know, raises a ``reconcile_mismatch``
alarm. Nothing is silently overwritten.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final

import msgspec

from cockpit.adapters.openalgo.broker import (
    UNCERTAIN,
    CancelAll,
    CancelOrder,
    LookupSymbol,
    PlaceOrder,
    QueryBook,
    QueryOrder,
    RouterResult,
    SearchSymbols,
    orderbook_rows,
)
from cockpit.adapters.openalgo.broker import (
    ModifyOrder as RouterModify,
)
from cockpit.domain import risk
from cockpit.domain.exits import (
    ExitDecision,
    ExitPlan,
    PlanError,
    Trail,
    TrailKind,
    entry_level,
)
from cockpit.domain.feed import FeedState, FeedStatus, OrderUpdate, OrderUpdateSource
from cockpit.domain.instruments import (
    Exchange,
    Instrument,
    InvalidQuantity,
    parse_key,
    to_decimal,
)
from cockpit.domain.market import DepthTick, LtpTick, QuoteTick, TradeTick
from cockpit.domain.orders import (
    Order,
    OrderAccepted,
    OrderError,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderSubmitted,
    OrderType,
    Product,
    Side,
    UnmappedUpdate,
    check_price_ticks,
    events_from_update,
)
from cockpit.domain.positions import Portfolio, Position
from cockpit.engine.views import (
    instrument_view,
    order_view,
    plan_view,
    position_view,
    ticks_to_money,
)
from cockpit.link import protocol as p
from cockpit.link.bus import (
    Inbound,
    LockedSink,
    NullPublisher,
    Publisher,
    SnapshotRequest,
    ViewerCommand,
    ViewerGone,
)

log = logging.getLogger(__name__)

_NS: Final = 1_000_000_000
_MS: Final = 1_000_000
_ZERO: Final = Decimal(0)
_CLOSING_TAGS: Final = frozenset({"exit", "flatten"})
_ENTRY_TAGS: Final = frozenset({"entry", "reverse"})


class EngineTimer(msgspec.Struct, frozen=True):
    """The engine's periodic tick (time stops, retries, reconciliation, status)."""

    ts_ns: int


_FEED_BUSY_S: Final = 0.001
"""A feed that handed over a read this recently takes the inbound items itself."""
_MARKET: Final = frozenset({LtpTick, QuoteTick, DepthTick, TradeTick})
_BATCHED: Final = frozenset({ViewerCommand, RouterResult, OrderUpdate, EngineTimer, FeedStatus})
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
    exit_limit_timeout_s: float = 1.0
    """A limit exit (``exits.exit_order_type = "limit"``) not filled after this is cancelled
    and sent again at market."""
    read_slice_us: int = 300
    """A feed thread handles one read's items for about this long, then, if its socket has
    more, reads that first (its crossing ticks go ahead) and handles the rest after (0: each
    read whole)."""
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
    scheduling: str = ""
    """How the engine's threads are scheduled, for status (``SCHED_FIFO 10``, or ``normal``
    and why); set by whoever starts them (``cockpit/daemon/runner.py``)."""


@dataclass(slots=True)
class _Sym:
    """Market state of one instrument (prices in ticks)."""

    inst: Instrument
    ltp: int | None = None
    recv_ns: int = 0
    exch_ns: int | None = None
    count: int = 0
    bid: int | None = None
    ask: int | None = None
    bid_qty: Decimal | None = None
    ask_qty: Decimal | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    book: p.BookView | None = None
    vap: dict[int, Decimal] = field(default_factory=dict)
    """Session traded volume per price (ticks); see :meth:`Engine._traded`."""
    vap_changed: dict[int, Decimal] = field(default_factory=dict)
    """Levels changed since they were last published (0: removed by a session reset)."""
    cum_volume: Decimal | None = None
    """The feed's cumulative day volume at the previous quote (quote feeds)."""
    ltt_ns: int | None = None
    """Last trade time at the previous quote (quote feeds without a cumulative volume)."""


@dataclass(slots=True)
class _Slot:
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
    exit_prep: _ExitPrep | None = None
    """The exit order made ready for the position as it is (see ``Engine._prepare_exit``)."""


@dataclass(frozen=True, slots=True)
class _ExitPrep:
    """A plan's market exit, built before it is needed: on the crossing tick only the cid is
    new. Valid while the position's quantity and product are what it was built for."""

    qty: Decimal
    """The signed position it closes (the request carries its size and product)."""
    request: OrderRequest
    place: PlaceOrder
    """The venue request with an empty cid (the router has its bytes ready)."""


@dataclass(slots=True)
class _Closer:
    """The one closing (exit / flatten) effort of a symbol until it is flat."""

    key: str
    reason: str
    cid: str | None = None
    """The closing order in flight (None between a failure and the retry)."""
    attempts: int = 0
    retry_at_ns: int = 0
    uncertain_since_ns: int = 0
    sent_ns: int = 0
    chasing: bool = False
    """A limit exit that did not fill in time is being cancelled (then sent at market)."""


@dataclass(slots=True)
class _Lookup:
    """A Subscribe waiting for the venue to describe unknown instruments."""

    conn_id: int
    cmd: p.Subscribe
    waiting: set[str]
    found: list[Instrument] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Recon:
    """One reconciliation round."""

    token: int
    why: str
    positions: Any = None
    orders: Any = None
    failed: list[str] = field(default_factory=list)
    pending: int = 2


class Engine:
    """The decision thread. See the module docstring.

    Args:
        config: :class:`cockpit.config.Settings` (``exits``, ``risk``, ``trading`` are used).
        instruments: known instruments, by key or as an iterable.
        router: has ``submit(request)`` (an :class:`~cockpit.adapters.openalgo.broker.
            OpenAlgoRouter`); results come back on ``inbound``.
        journal: a :class:`cockpit.journal.store.Journal` (or None: nothing is journaled).
        publisher: where views and events go (:class:`cockpit.link.bus.Publisher`).
        inbound: the one queue every producer puts items on.
        feed: optional; ``subscribe(keys, mode)``/``unsubscribe(keys, mode)`` for Subscribe.
        options: :class:`EngineOptions`.
        clock: wall-clock nanoseconds (tests may pass a fake).
    """

    def __init__(
        self,
        *,
        config: Any,
        instruments: Mapping[str, Instrument] | Iterable[Instrument],
        router: Any,
        journal: Any = None,
        publisher: Publisher | None = None,
        inbound: Inbound | None = None,
        feed: Any = None,
        options: EngineOptions | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.config = config
        self.options = options or EngineOptions()
        self.router = router
        self.journal = journal
        self.publisher: Publisher = publisher or NullPublisher()
        self.inbound = inbound if inbound is not None else Inbound()
        self.feed = feed
        self.clock = clock
        items = instruments.values() if isinstance(instruments, Mapping) else instruments
        self.instruments: dict[str, Instrument] = {}
        self._syms: dict[str, _Sym] = {}
        self.watchlist: list[str] = []
        for inst in items:
            self._add_instrument(inst)
        watch = list(getattr(getattr(config, "trading", None), "watchlist", []) or [])
        self.watchlist = [k for k in watch if k in self.instruments] or list(self.instruments)

        self.orders: dict[str, Order] = {}
        self.working: dict[str, Order] = {}
        """Orders that may still fill, by cid (kept in step with ``orders``)."""
        self._products: dict[str, Product] = {}
        """The product of each symbol's latest fill (closing orders must use it)."""
        self._by_venue: dict[str, str] = {}
        self._parked: dict[str, list[OrderUpdate]] = {}
        self._uncertain: dict[str, int] = {}
        """cid -> when its placement became uncertain."""
        self._entry_specs: dict[str, p.PlanSpec | None] = {}
        self._recent_final: deque[str] = deque(maxlen=self.options.recent_orders)
        self.fills: deque[p.FillView] = deque(maxlen=self.options.recent_fills)
        self.portfolio = Portfolio()
        self.plans: dict[str, _Slot] = {}
        self._closers: dict[str, _Closer] = {}
        self._pending_cancel_all: int | None = None
        self._cancel_on_ack: set[str] = set()
        """Orders to cancel as soon as the venue acknowledges them."""
        self._shutdown_when_flat = False
        self._kill_started_ns = 0
        self.feeds: dict[str, FeedStatus] = {}

        trading = getattr(config, "trading", None)
        self.armed: bool = bool(getattr(trading, "armed_at_start", False))
        self.kill_switch = False
        self.reconciled = False
        """True once the first reconciliation with the broker is done (entries allowed)."""
        self._recon: dict[int, _Recon] = {}
        self._lookups: dict[int, _Lookup] = {}
        self._searches: dict[int, tuple[int, p.Search]] = {}
        self._lookup_token = 0
        self._recon_token = 0
        self._next_recon_ns = 0
        self._uncertain_recon_ns = 0
        self._next_status_ns = 0
        self._next_timer_ns = 0
        self._seq = 0
        self._held: list[Any] | None = None
        """Router requests held until the current journal batch commits (see _batch)."""
        self._backlog: list[object] = []
        """Feed items read but not handled yet, in order (see ``read_slice_us``)."""
        self._fires_held: (
            list[tuple[_Slot, ExitDecision, tuple[Order, PlaceOrder] | None]] | None
        ) = None
        """While :meth:`_fire_several` runs: exits sent, their recording held until all are."""
        self._intents_recorded = 0
        """Exit intents whose order has been written into a journal batch (in the order they
        were written). Each batch carries the count when it closes; once it is committed, the
        intent log may start again up to there (see Journal.intents_settled)."""
        self._outbox: deque[tuple[list[Any], list[Any], int]] = deque()
        """Journal writes kept while the run loop is live, with the requests that wait for
        them (see _batch); committed by the decision thread outside the lock."""
        self._decision_ident = 0
        self._cid_n = 0
        self._cid_prefix = f"c{(self.clock() // _NS) % 10_000_000:x}-"
        self.started_ns = self.clock()
        self.shutdown_requested = threading.Event()
        self._lock = threading.RLock()
        """Held by whichever thread handles an item (the decision thread or a feed thread).
        Re-entrant: a feed that called its sink from inside a handler must not deadlock."""
        self._inline = False
        """True while :meth:`run` is live: :meth:`deliver` handles on the caller's thread."""
        self._last_read = 0.0
        """When a feed last handed over a read (``time.monotonic``)."""
        self._ticks_window = 0
        self._ticks_window_start = time.monotonic_ns()
        self._ticks_per_s = 0.0
        self._ack_latencies: deque[int] = deque(maxlen=50)
        self.counters: dict[str, int] = {
            "ticks": 0,
            "bad_ticks": 0,
            "unknown_symbol": 0,
            "order_updates": 0,
            "unmatched_updates": 0,
            "bad_updates": 0,
            "exits": 0,
            "reads_split": 0,
            "exit_retries": 0,
            "commands": 0,
            "errors": 0,
        }
        self._risk = _RiskGate(config)
        self._vap_dirty: set[str] = set()
        """Symbols whose volume at price changed since the timer last published it."""
        self._handlers: dict[type, Callable[[Any], None]] = {
            LtpTick: self._on_market,
            QuoteTick: self._on_market,
            DepthTick: self._on_market,
            TradeTick: self._on_market,
            OrderUpdate: self._on_order_update,
            FeedStatus: self._on_feed_status,
            RouterResult: self._on_router_result,
            ViewerCommand: self._on_command,
            SnapshotRequest: self._on_snapshot_request,
            ViewerGone: lambda item: None,
            EngineTimer: self._on_timer,
        }

    # ================================================================== life

    def start(self) -> None:
        """Restore from the journal and ask the broker for its books (first reconciliation)."""
        if self.journal is not None:
            self._restore()
        self.reconcile("start")

    def run(self, stop: threading.Event) -> None:
        """The decision loop: take items off ``inbound`` until ``stop`` (or a Shutdown).

        While it runs, :meth:`deliver` handles feed events on their own threads.
        """
        lock = self._lock
        inbound = self.inbound
        self._decision_ident = threading.get_ident()
        with lock:
            self.start()
            # What the feeds queued before now is handled first, in order; from here on they
            # hand their events over directly (the same lock orders the switch).
            while (item := inbound.take()) is not None:
                self.handle(item)
            self._inline = True
            # What was made at start (modules, instruments, restored state) lives as long as
            # the process: move it out of the collector's sight, so a full collection during
            # the session (it holds the GIL, exits wait) scans only what the session made.
            gc.freeze()
        interval = self.options.timer_interval_s
        next_timer = time.monotonic() + interval
        try:
            while not stop.is_set() and not self.shutdown_requested.is_set():
                timeout = next_timer - time.monotonic()
                if timeout > 0:
                    if inbound.wait(timeout):
                        self._drain_stale_backlog()
                        if self._outbox:
                            self._commit_outbox()
                        if inbound and time.monotonic() - self._last_read < _FEED_BUSY_S:
                            # A feed thread is reading: it takes the items right after its
                            # read, and kicks us to commit; taking them here would fight it
                            # for the GIL in the middle of its next read.
                            inbound.wait(min(timeout, _FEED_BUSY_S), items=False)
                            continue
                        # Taken under the lock, one at a time (a feed thread may take some
                        # first, right after its read: the order is kept either way).
                        while True:
                            with lock:
                                item = inbound.take()
                                if item is not None:
                                    self.handle(item)
                            if self._outbox:
                                self._commit_outbox()
                            if item is None:
                                break
                    continue
                next_timer = time.monotonic() + interval
                self._drain_stale_backlog()
                with lock:
                    self.handle(EngineTimer(self.clock()))
                if self._outbox:
                    self._commit_outbox()
        finally:
            with lock:
                if self._backlog:
                    self._drain_backlog()
                self._inline = False
            self._commit_outbox()
        self.publisher.event(p.Stopping("engine stopped"))

    @property
    def lock(self) -> threading.RLock:
        """The lock held while an item is handled (for feeds that batch their reads)."""
        return self._lock

    def sink(self) -> LockedSink:
        """:meth:`deliver` as a feed sink that carries the engine's lock."""
        return LockedSink(self.deliver, self._lock, self.deliver_many)

    def deliver(self, item: object) -> None:
        """A feed's sink: handle ``item`` now, on the caller's thread, under the engine lock.

        Then the items waiting on ``inbound`` (see :meth:`_take_inbound`). Before :meth:`run`
        has started (or after it stopped) the item is queued instead, so nothing is handled
        before the journal is restored. Never raises.
        """
        with self._lock:
            if self._inline:
                if self._backlog:
                    self._drain_backlog()
                self.handle(item)
                if self.inbound:
                    self._take_inbound()
            else:
                self.inbound.put(item)

    def deliver_many(self, items: list[object], more: Callable[[], bool] | None = None) -> None:
        """A feed's sink for one read: :meth:`deliver` each item, those that fire exits first.

        ``more`` tells whether the feed has more waiting on its socket: then the items
        waiting on ``inbound`` are left for after that read (one at least is taken per read),
        and so is the rest of this read once it has been handled for ``read_slice_us``: the
        next read's crossing ticks go ahead of it (as within one read), so an exit does not
        wait behind a long read (a burst after a stall, fills, another symbol's exit).

        A market event whose price crosses its symbol's plan is handled before the others when
        it is the first item of its symbol in the read (so each symbol's items keep their
        order) and no item before it is of a kind that is not tied to one symbol. Never raises.
        """
        with self._lock:
            if not self._inline:
                for item in items:
                    self.inbound.put(item)
                return
            self._last_read = time.monotonic()
            scanned = len(self._backlog)
            if scanned:
                items = self._backlog + items
                self._backlog = []
            if len(items) > 1 and self.plans and self.reconciled:
                items, firing = self._exits_first(items, scanned)
                if firing > 1:
                    self._fire_several(items[:firing])
                    items = items[firing:]
            slice_ns = self.options.read_slice_us * 1000
            if more is None or not slice_ns:
                for item in items:
                    self.handle(item)
            else:
                clock = time.perf_counter_ns
                until = clock() + slice_ns
                last = len(items) - 1
                for i, item in enumerate(items):
                    self.handle(item)
                    if i < last and clock() > until and _has_more(more):
                        # The socket has more: read it first (a crossing tick in it goes
                        # ahead of these); these are handled right after, in order.
                        self._backlog = items[i + 1 :]
                        self.counters["reads_split"] += 1
                        return
            if self.inbound:
                self._take_inbound(more)

    def _drain_stale_backlog(self) -> None:
        """(Decision thread) what a feed left of a read, if that feed has not come back.

        A feed that leaves items reads again at once (its socket had more), so this is
        for a feed that stopped or whose next bytes held no message: at the latest on the
        next timer.
        """
        if self._backlog and time.monotonic() - self._last_read >= _FEED_BUSY_S:
            with self._lock:
                if self._backlog:
                    self._drain_backlog()
            if self._outbox:
                self._commit_outbox()

    def _drain_backlog(self) -> None:
        """(Lock held) handle what a feed thread left of its reads (see ``read_slice_us``)."""
        backlog, self._backlog = self._backlog, []
        for item in backlog:
            self.handle(item)

    def _fire_several(self, items: list[object]) -> None:
        """Handle market events of one read that each fire a plan: every exit order first.

        A market-wide move crosses many stops in one read. Each exit's order goes out as its
        tick is handled; the rest of each exit's work (journal transaction, closing state,
        viewers) waits until every one of them is sent, in the same order, so the tenth stop
        does not wait for nine exits' bookkeeping.
        """
        held: list[tuple[_Slot, ExitDecision, tuple[Order, PlaceOrder] | None]] = []
        self._fires_held = held
        try:
            for item in items:
                self.handle(item)
        finally:
            self._fires_held = None
        for slot, decision, sent in held:
            try:
                self._fired(slot, decision, sent)
            except Exception as exc:
                self.counters["errors"] += 1
                log.exception("engine: error recording the exit of %s", slot.key)
                self._alarm("error", f"internal error recording an exit: {exc!r}", code="bug")

    def _take_inbound(self, more: Callable[[], bool] | None = None) -> None:
        """(A feed thread, lock held, after its read) handle the items waiting on ``inbound``.

        Commands and router results then cost the feed thread their own handling only: left
        to the decision thread, each would also take the GIL from the feed thread in the
        middle of its next read (the switch interval, 0.5 ms, at worst). The decision thread
        is woken to commit what they wrote and send what they hold. While ``more()`` says the
        feed's socket has data waiting, the rest is left for after that read (at least one
        item per read, so they are never starved): a tick in it may fire an exit.
        """
        inbound = self.inbound
        while (item := inbound.take()) is not None:
            self.handle(item)
            if more is not None and inbound and _has_more(more):
                break  # the next read first: it may hold an exit; the rest after it
        inbound.kick()

    def _exits_first(self, items: list[object], scanned: int = 0) -> tuple[list[object], int]:
        """``items`` with the market events that fire a plan moved to the front (in order).

        Also how many there are (the front of the list that fires). The first ``scanned``
        items (left from earlier reads) only hold back the items of their symbols.
        """
        plans = self.plans
        syms = self._syms
        seen: set[str] = set()
        first: list[int] = []
        for item in items[:scanned]:
            kind = type(item)
            if kind in _MARKET:
                ev: Any = item
                seen.add(f"{ev.exchange}:{ev.symbol}")
            elif kind is OrderUpdate:
                self._seen_update(item, seen)
            else:
                return items, 0  # nothing moves ahead of it
        for i in range(scanned, len(items)):
            item = items[i]
            kind = type(item)
            if kind in _MARKET:
                ev = item
                key = f"{ev.exchange}:{ev.symbol}"
                if key in seen:
                    continue
                seen.add(key)
                slot = plans.get(key)
                if slot is None:
                    continue
                ltp = _ticks(syms[key].inst, ev.ltp) if key in syms else None
                if ltp is not None and slot.plan.crossed_by(ltp, ev.recv_ns):
                    first.append(i)
            elif kind is OrderUpdate:
                self._seen_update(item, seen)
            else:
                break  # a status or anything else: nothing after it moves ahead of it
        if not first:
            return items, 0
        picked = set(first)
        front = [items[i] for i in first]
        return front + [x for i, x in enumerate(items) if i not in picked], len(front)

    def _seen_update(self, update: Any, seen: set[str]) -> None:
        """The symbols an order update may concern (its own, its order's)."""
        seen.add(f"{update.exchange}:{update.symbol}")
        cid = self._by_venue.get(update.orderid)
        if cid is not None and cid in self.orders:
            seen.add(self.orders[cid].key)

    def handle(self, item: object) -> None:
        """Process one inbound item. Never raises (a bug is logged, counted and alarmed)."""
        handler = self._handlers.get(type(item))
        if handler is None:
            self.counters["errors"] += 1
            log.warning("engine: unknown inbound item %s", type(item).__name__)
            return
        try:
            if type(item) in _BATCHED and self.journal is not None:
                with self._batch():
                    handler(item)
            else:
                handler(item)
        except Exception as exc:
            self.counters["errors"] += 1
            log.exception("engine: error handling %s", type(item).__name__)
            self._alarm("error", f"internal error on {type(item).__name__}: {exc!r}", code="bug")

    # ================================================================== market data

    def _add_instrument(self, inst: Instrument) -> None:
        self.instruments[inst.key] = inst
        if inst.key not in self._syms:
            self._syms[inst.key] = _Sym(inst)

    def _on_market(self, ev: LtpTick | QuoteTick | DepthTick | TradeTick) -> None:
        key = f"{ev.exchange}:{ev.symbol}"
        sym = self._syms.get(key)
        if sym is None:
            self.counters["unknown_symbol"] += 1
            return
        inst = sym.inst
        ltp = _ticks(inst, ev.ltp)
        if ltp is None:
            self.counters["bad_ticks"] += 1
            return
        sym.ltp = ltp
        sym.recv_ns = ev.recv_ns
        sym.exch_ns = ev.exch_ns
        sym.count += 1
        self.counters["ticks"] += 1
        self._ticks_window += 1
        if isinstance(ev, QuoteTick):
            self._quote_fields(sym, ev)  # first: a limit exit prices off this tick's touch
        slot = self.plans.get(key)
        if slot is not None and self.reconciled:
            self._plan_tick(slot, ltp, ev.recv_ns)
        self.portfolio.update_mark(key, ltp)
        if type(ev) is not LtpTick:
            self._traded(key, sym, ev, ltp)  # after the exit decision: never delays an exit
        self.publisher.market(self._quote_view(sym), sym.book if type(ev) is DepthTick else None)

    def _traded(self, key: str, sym: _Sym, ev: QuoteTick | TradeTick, ltp: int) -> None:
        """Add the volume this event traded to the session's volume at ``ltp``.

        A trade (``TradeTick``) adds its ``ltq``. A quote adds the increase of the feed's
        cumulative day ``volume`` since the previous quote (robust to coalesced or missed
        ticks; all of it is put at the current LTP); the first quote only sets the baseline
        (volume traded before the engine watched the symbol has no known price), and a drop
        starts a new session (the map is cleared). A quote without ``volume`` adds its
        ``ltq`` only when its last-trade time moved (a repeated quote is not a new trade).
        """
        qty: Decimal | None
        if type(ev) is TradeTick:
            qty = ev.ltq
            if qty is None or not qty.is_finite() or qty <= _ZERO:
                return
        else:
            volume = ev.volume  # type: ignore[union-attr]
            if volume is not None:
                before = sym.cum_volume
                if volume == before:
                    return  # most quotes: no trade since the previous one
                if not volume.is_finite() or volume < _ZERO:
                    return
                sym.cum_volume = volume
                if before is None:
                    return
                if volume < before:
                    self._vap_reset(sym)
                    return
                qty = volume - before
            else:
                ltt = ev.ltt_ns
                if ltt is None or ltt == sym.ltt_ns:
                    return
                sym.ltt_ns = ltt
                qty = ev.ltq  # type: ignore[union-attr]
                if qty is None or not qty.is_finite() or qty <= _ZERO:
                    return
        total = sym.vap.get(ltp, _ZERO) + qty
        sym.vap[ltp] = total
        sym.vap_changed[ltp] = total
        self._vap_dirty.add(key)

    def _vap_reset(self, sym: _Sym) -> None:
        """A new session: every level goes (published as 0)."""
        for level in sym.vap:
            sym.vap_changed[level] = _ZERO
        sym.vap.clear()
        if sym.vap_changed:
            self._vap_dirty.add(sym.inst.key)

    def _publish_volume(self) -> None:
        """Send the changed volume-at-price levels (from the timer: a few times a second)."""
        publish = getattr(self.publisher, "volume", None)  # optional on a Publisher
        for key in self._vap_dirty:
            sym = self._syms[key]
            levels = sorted(sym.vap_changed.items())
            sym.vap_changed.clear()
            if publish is not None and levels:
                publish(p.VolumeAtPrice(key, levels))
        self._vap_dirty.clear()

    def _quote_fields(self, sym: _Sym, ev: QuoteTick) -> None:
        inst = sym.inst
        f = sym.fields
        for name in ("open", "high", "low", "close"):
            value = getattr(ev, name)
            if value is not None:
                f[name] = _ticks(inst, value)
        for name in ("ltq", "volume", "total_buy_qty", "total_sell_qty"):
            value = getattr(ev, name)
            if value is not None:
                f[name] = value
        if ev.bids:
            price, qty, _n = ev.bids[0]
            sym.bid = _ticks(inst, price) if price > 0 else None
            sym.bid_qty = qty
        if ev.asks:
            price, qty, _n = ev.asks[0]
            sym.ask = _ticks(inst, price) if price > 0 else None
            sym.ask_qty = qty
        if type(ev) is DepthTick:
            sym.book = p.BookView(
                key=inst.key,
                bids=_levels(inst, ev.bids),
                asks=_levels(inst, ev.asks),
                recv_ns=ev.recv_ns,
            )

    def _quote_view(self, sym: _Sym) -> p.QuoteView:
        f = sym.fields
        return p.QuoteView(
            key=sym.inst.key,
            ltp=sym.ltp or 0,
            recv_ns=sym.recv_ns,
            exch_ns=sym.exch_ns,
            ltq=f.get("ltq"),
            open=f.get("open"),
            high=f.get("high"),
            low=f.get("low"),
            close=f.get("close"),
            volume=f.get("volume"),
            bid=sym.bid,
            bid_qty=sym.bid_qty,
            ask=sym.ask,
            ask_qty=sym.ask_qty,
            total_buy_qty=f.get("total_buy_qty"),
            total_sell_qty=f.get("total_sell_qty"),
            ticks=sym.count,
        )

    # ================================================================== exit plans

    def _plan_tick(self, slot: _Slot, ltp: int, ts_ns: int) -> None:
        plan = slot.plan
        version = plan.version
        decision = plan.on_tick(ltp, ts_ns)
        if decision is not None:
            self._fire(slot, decision)
            return
        if plan.version != version:
            self._plan_moved(slot, ts_ns)

    def _plan_moved(self, slot: _Slot, ts_ns: int) -> None:
        """The trail ratcheted or breakeven kicked in on a tick."""
        plan = slot.plan
        if plan.stop != slot.seen_stop:
            slot.seen_stop = plan.stop
            slot.protective_dirty = slot.protective_cid is not None
        if ts_ns - slot.journaled_ns >= self.options.journal_trail_every_s * _NS:
            with self._batch():  # in order with the writes kept for other items
                self._journal_plan(slot, "trail")
        interval = int(self.options.plan_event_interval_s * _NS)
        if interval and ts_ns - slot.event_ns < interval:
            slot.event_pending = True  # published by the timer, with the latest state
        else:
            self._publish_moved(slot, ts_ns)
        if slot.protective_dirty:
            with self._batch():
                self._sync_protective(slot, ts_ns)

    def _publish_moved(self, slot: _Slot, ts_ns: int) -> None:
        plan = slot.plan
        change = ""
        if plan.stop != slot.last_stop:
            inst = self.instruments[slot.key]
            old = "-" if slot.last_stop is None else inst.format_price(slot.last_stop)
            new = "-" if plan.stop is None else inst.format_price(plan.stop)
            change = f"stop {old} → {new} ({_source_word(plan)})"
            slot.last_stop = plan.stop
        slot.event_ns = ts_ns
        slot.event_pending = False
        self.publisher.event(
            p.PlanEvent(self._next_seq(), plan_view(slot.key, plan), change=change)
        )

    def _fire(self, slot: _Slot, decision: ExitDecision) -> None:
        """A plan decided to exit: send exactly one exit order, journal, tell viewers.

        The exit order goes first (:meth:`_send_exit_first`: one intent-log line, then its
        bytes to the venue on this thread). Then the plan's fired state and the order are
        journaled in ONE commit; the other router requests (protective cancel) are held until
        that commit and handed over right after it, before anything is published.
        """
        self.counters["exits"] += 1
        sent = self._send_exit_first(slot.key, str(decision.reason), decision)
        if self._fires_held is not None:
            self._fires_held.append((slot, decision, sent))  # recorded once all are sent
            return
        self._fired(slot, decision, sent)

    def _fired(
        self, slot: _Slot, decision: ExitDecision, sent: tuple[Order, PlaceOrder] | None
    ) -> None:
        """The rest of :meth:`_fire` once its exit order is sent (or when ``sent`` is None,
        :meth:`_start_close` decides and sends it)."""
        key = slot.key
        with self._batch():
            if sent is not None:
                self._intents_recorded += 1  # its order is written in this batch
            self._journal_plan(slot, f"fired: {decision.reason}", force=True)
            self._cancel_protective(slot)
            closer = self._start_close(key, str(decision.reason), from_plan=True, sent=sent)
        cid = closer.cid if closer is not None else None
        slot.exit_cid = cid
        if closer is None:
            self._alarm("warning", f"{key}: plan fired but there is no position", key=key)
            self._remove_plan(key, "no position")
            return
        price = decision.price_ticks
        if price is None:  # a time stop decided by the clock: the last price
            price = self._syms[key].ltp or 0
        self.publisher.event(
            p.ExitFired(
                self._next_seq(),
                key=key,
                reason=str(decision.reason),
                level=decision.level_ticks,
                price=price,
                cid=cid or "",
            )
        )
        self.publisher.event(
            p.PlanEvent(
                self._next_seq(),
                plan_view(key, slot.plan, cid),
                change=f"fired: {decision.reason}",
            )
        )

    def _new_plan(
        self, key: str, pos: Position, spec: p.PlanSpec | None, ts_ns: int
    ) -> _Slot | None:
        """An exit plan for the open position ``pos`` from ``spec`` and the config defaults."""
        if spec is not None and spec.none:
            return None
        inst = self.instruments[key]
        ex = getattr(self.config, "exits", None)
        side = Side.BUY if pos.qty > 0 else Side.SELL
        sign = side.sign
        avg = pos.avg_ticks
        assert avg is not None
        # An off-grid average rounds against the position, so a breakeven stop never locks
        # in a loss (a long at 800.0333 has its breakeven at 800.05, not 800.00).
        entry = entry_level(side, avg)
        stop_ticks = _pick(spec, "stop_ticks", getattr(ex, "stop_ticks", None))
        target_ticks = _pick(spec, "target_ticks", getattr(ex, "target_ticks", None))
        trail: Trail | None = None
        if spec is not None and spec.trail is not None:
            trail = Trail(TrailKind(spec.trail.kind), spec.trail.distance)
        elif getattr(ex, "trail_distance", None) is not None:
            trail = Trail(TrailKind(ex.trail_kind), Decimal(ex.trail_distance))
        breakeven = _pick(spec, "breakeven_after", getattr(ex, "breakeven_after", None))
        time_stop_s = _pick(spec, "time_stop_s", getattr(ex, "time_stop_s", None))
        sym = self._syms.get(key)
        last = sym.ltp if sym is not None else None
        stop = entry - sign * stop_ticks if stop_ticks else None
        target = entry + sign * target_ticks if target_ticks else None
        if stop is not None and stop <= 0:
            stop = None
        if target is not None and target <= 0:
            target = None
        plan = ExitPlan(
            side,
            abs(pos.qty),
            entry,
            stop=stop,
            target=target,
            trail=trail,
            breakeven_after=breakeven,
            time_stop_ns=ts_ns + int(time_stop_s * _NS) if time_stop_s else None,
            created_ns=ts_ns,
            tick_size=inst.tick_size,
            best_ticks=None if last is None or (last - entry) * sign <= 0 else last,
        )
        slot = _Slot(key, plan, last_stop=plan.stop, seen_stop=plan.stop)
        self.plans[key] = slot
        self._journal_plan(slot, "attached", force=True)
        self.publisher.event(p.PlanEvent(self._next_seq(), plan_view(key, plan), change="attached"))
        self._place_protective(slot)
        self._prepare_exit(key)
        if last is not None and self.reconciled:
            # Evaluate it at the current price now (a fill beyond the stop exits at once).
            self._plan_tick(slot, last, ts_ns)
        return slot

    def _remove_plan(self, key: str, why: str) -> None:
        slot = self.plans.pop(key, None)
        if slot is None:
            return
        plan = slot.plan
        if plan.active:
            plan.detach()
        self._cancel_protective(slot)
        if self.journal is not None:
            self._jcall(self.journal.plan_removed, key, why)
        self.publisher.event(
            p.PlanEvent(self._next_seq(), plan_view(key, plan, slot.exit_cid), True, why)
        )

    def _sync_plan(self, key: str, order: Order, ts_ns: int) -> None:
        """After a fill: attach, resize, flip or remove the plan to match the position."""
        pos = self.portfolio.get(key)
        qty = pos.qty if pos is not None else _ZERO
        slot = self.plans.get(key)
        if qty == 0:
            if slot is not None:
                self._remove_plan(key, "position closed")
            return
        assert pos is not None
        side = Side.BUY if qty > 0 else Side.SELL
        if slot is not None and slot.plan.side is not side:
            self._remove_plan(key, "position reversed")
            slot = None
        if slot is not None:
            plan = slot.plan
            if plan.active and plan.qty != abs(qty):
                # An add moves the average entry (breakeven measures from it, rounded
                # against the position); a partial exit leaves it as it was.
                change = plan.resize(abs(qty), pos.avg_ticks)
                if change.changed:
                    self._journal_plan(slot, f"resize {abs(qty)}", force=True)
                    self.publisher.event(
                        p.PlanEvent(
                            self._next_seq(), plan_view(key, plan), change=f"qty {abs(qty)}"
                        )
                    )
                    self._resize_protective(slot)
            prep = slot.exit_prep
            if prep is None or prep.qty != qty or prep.request.product is not order.product:
                self._prepare_exit(key)
            return
        if order.tag in ("entry", "reverse") and order.cid in self._entry_specs:
            self._new_plan(key, pos, self._entry_specs[order.cid], ts_ns)

    # ================================================================== closing (exit/flatten)

    def _send_exit_first(
        self, key: str, reason: str, decision: ExitDecision
    ) -> tuple[Order, PlaceOrder] | None:
        """The hot half of an exit: intent-log line, then the order's bytes to the venue.

        Only when this will be the symbol's one closing order (nothing closing it already, a
        position to close); otherwise None and :meth:`_start_close` decides as usual. The
        order's bookkeeping (orders, journal transaction, viewers) follows in ``_fire``.
        """
        send = getattr(self.router, "send_urgent", None)
        if send is None:
            return None
        closer = self._closers.get(key)
        if closer is not None and closer.cid is not None:
            return None
        pos = self.portfolio.get(key)
        if pos is None or pos.qty == 0:
            return None
        slot = self.plans.get(key)
        prep = slot.exit_prep if slot is not None else None
        if (
            prep is not None
            and prep.qty == pos.qty
            and prep.request.product is self._products.get(key, Product.MIS)
        ):
            cid = self._new_cid()
            order = Order.from_request(cid, prep.request, self.clock())
            t = prep.place
            place = PlaceOrder(
                cid, t.exchange, t.symbol, t.action, t.quantity, t.pricetype, t.product,
                t.price, t.trigger_price, urgent=True,
            )  # fmt: skip
        else:
            attempts = closer.attempts if closer is not None else 0
            request = self._close_request(key, pos, reason, attempts=attempts, from_plan=True)
            order = Order.from_request(self._new_cid(), request, self.clock())
            place = self._place_request(order, urgent=True)
        if self.journal is not None and hasattr(self.journal, "exit_intent"):
            try:
                self.journal.exit_intent(order, decision.to_state())
            except Exception as exc:
                # Not written: take the slower path (transaction first, then send).
                self._journal_failed(exc)
                return None
        send(place)
        return order, place

    def _prepare_exit(self, key: str) -> None:
        """Build ``key``'s plan exit for its position now, off the crossing tick's path.

        Only a market exit (a limit exit is priced off the touch when it fires). The router
        encodes its bytes too (``prepare``). Called when a plan is attached or restored and
        on a fill that leaves it for another quantity or product; :meth:`_send_exit_first`
        uses it only while it still fits.
        """
        slot = self.plans.get(key)
        if slot is None:
            return
        slot.exit_prep = None
        pos = self.portfolio.get(key)
        ex = getattr(self.config, "exits", None)
        if pos is None or pos.qty == 0 or getattr(ex, "exit_order_type", "market") != "market":
            return
        request = self._close_request(key, pos, "exit", attempts=0, from_plan=True)
        place = self._place_request(Order.from_request("", request, 0), urgent=True)
        prepare = getattr(self.router, "prepare", None)
        if prepare is not None:
            prepare(place)
        slot.exit_prep = _ExitPrep(pos.qty, request, place)

    def _start_close(
        self,
        key: str,
        reason: str,
        *,
        from_plan: bool = False,
        sent: tuple[Order, PlaceOrder] | None = None,
    ) -> _Closer | None:
        """Send (or keep) the one closing order of ``key``. Never double-sells.

        ``sent``: the closing order :meth:`_send_exit_first` already sent (recorded here).
        """
        closer = self._closers.get(key)
        if closer is not None and closer.cid is not None and self.orders[closer.cid].is_working:
            return closer  # already closing; do not send another
        pos = self.portfolio.get(key)
        if pos is None or pos.qty == 0:
            if closer is not None:
                del self._closers[key]
            return None
        if closer is None:
            closer = self._closers[key] = _Closer(key, reason)
        self._send_close(closer, pos, from_plan=from_plan, sent=sent)
        return closer

    def _close_request(
        self, key: str, pos: Position, reason: str, *, attempts: int, from_plan: bool
    ) -> OrderRequest:
        """The order that closes ``pos``: market, or a marketable limit on the first try."""
        side = Side.SELL if pos.qty > 0 else Side.BUY
        qty = abs(pos.qty)
        ex = getattr(self.config, "exits", None)
        order_type = OrderType.MARKET
        price: int | None = None
        if getattr(ex, "exit_order_type", "market") == "limit" and attempts == 0:
            sym = self._syms[key]
            offset = int(getattr(ex, "exit_offset_ticks", 2))
            touch = (sym.bid if side is Side.SELL else sym.ask) or sym.ltp
            if touch is not None:
                price = touch - offset if side is Side.SELL else touch + offset
                if price > 0:
                    order_type = OrderType.LIMIT
                else:
                    price = None
        tag = "exit" if from_plan or reason not in ("flatten", "kill") else "flatten"
        return OrderRequest(
            key,
            side,
            qty,
            order_type,
            self._products.get(key, Product.MIS),
            price_ticks=price,
            tag=tag,
        )

    def _send_close(
        self,
        closer: _Closer,
        pos: Position,
        *,
        from_plan: bool,
        sent: tuple[Order, PlaceOrder] | None = None,
    ) -> None:
        if sent is not None:
            order = self._submit(None, urgent=True, sent=sent)
        else:
            request = self._close_request(
                closer.key, pos, closer.reason, attempts=closer.attempts, from_plan=from_plan
            )
            order = self._submit(request, urgent=True)
        closer.cid = order.cid
        closer.retry_at_ns = 0
        closer.uncertain_since_ns = 0
        closer.sent_ns = self.clock()
        closer.chasing = False

    def _closing_done(self, order: Order) -> None:
        """A closing order reached a final state: finished, continue, or retry."""
        closer = self._closers.get(order.key)
        if closer is None or closer.cid != order.cid:
            return
        pos = self.portfolio.get(order.key)
        if pos is None or pos.qty == 0:
            del self._closers[order.key]
            return
        if order.status is OrderStatus.COMPLETE:
            # Filled, yet not flat (the position grew meanwhile): close the rest.
            self._send_close(closer, pos, from_plan=closer.reason not in ("flatten", "kill"))
            return
        closer.cid = None
        closer.attempts += 1
        self.counters["exit_retries"] += 1
        backoff = self.options.retry_backoff_s
        delay = 0.0 if closer.chasing else backoff[min(closer.attempts - 1, len(backoff) - 1)]
        closer.retry_at_ns = self.clock() + int(delay * _NS)
        if closer.chasing:
            closer.chasing = False
            self._alarm(
                "warning",
                f"{order.key}: limit exit {order.cid} did not fill; sending it at market",
                key=order.key,
                code="exit_chase",
            )
            self._retry_closers(closer.retry_at_ns)
            return
        self._alarm(
            "error",
            f"{order.key}: exit order {order.cid} {order.status}: {order.reason or 'no reason'};"
            f" retry {closer.attempts} in {delay:g}s for {abs(pos.qty)}",
            key=order.key,
            code="exit_retry",
        )

    def _retry_closers(self, now: int) -> None:
        if not self.reconciled:
            return
        limit_ns = int(self.options.exit_limit_timeout_s * _NS)
        for closer in list(self._closers.values()):
            if closer.cid is not None and not closer.chasing:
                order = self.orders.get(closer.cid)
                if (
                    order is not None
                    and order.type is OrderType.LIMIT
                    and order.is_working
                    and now - closer.sent_ns >= limit_ns
                ):
                    # The marketable limit did not fill: cancel it; the retry goes at market.
                    closer.chasing = True
                    self._cancel(order, urgent=True)
                continue
            if closer.cid is None and closer.retry_at_ns and now >= closer.retry_at_ns:
                pos = self.portfolio.get(closer.key)
                if pos is None or pos.qty == 0:
                    del self._closers[closer.key]
                    continue
                self._send_close(closer, pos, from_plan=closer.reason not in ("flatten", "kill"))
                slot = self.plans.get(closer.key)
                if slot is not None and slot.plan.fired:
                    slot.exit_cid = closer.cid
                    self.publisher.event(
                        p.PlanEvent(
                            self._next_seq(),
                            plan_view(closer.key, slot.plan, closer.cid),
                            change=f"exit retry {closer.attempts}",
                        )
                    )

    # ================================================================== protective stop

    def _protective_enabled(self) -> bool:
        return bool(getattr(getattr(self.config, "exits", None), "protective_stop", False))

    def _place_protective(self, slot: _Slot) -> None:
        if not self._protective_enabled() or slot.plan.stop is None:
            return
        plan = slot.plan
        request = OrderRequest(
            slot.key,
            plan.exit_side,
            plan.qty,
            OrderType.SL_M,
            self._products.get(slot.key, Product.MIS),
            trigger_ticks=self._protective_level(plan),
            tag="protective",
        )
        order = self._submit(request, urgent=False)
        slot.protective_cid = order.cid
        slot.protective_sent_ns = self.clock()
        slot.protective_dirty = False

    def _sync_protective(self, slot: _Slot, now: int) -> None:
        """Move the broker-side stop to the plan's stop, at most once per throttle period."""
        cid = slot.protective_cid
        if cid is None or not slot.protective_dirty:
            return
        order = self.orders.get(cid)
        if order is None or not order.is_working or order.venue_id is None:
            return
        throttle = float(getattr(self.config.exits, "protective_throttle_s", 1.0))
        if now - slot.protective_sent_ns < throttle * _NS:
            return
        if slot.plan.stop is None:
            return
        stop = self._protective_level(slot.plan)
        if stop == order.trigger_ticks:
            slot.protective_dirty = False
            return
        self._modify(order, trigger=stop, qty=slot.plan.qty)
        slot.protective_sent_ns = now
        slot.protective_dirty = False

    def _protective_level(self, plan: ExitPlan) -> int:
        assert plan.stop is not None
        level = plan.stop - plan.sign * self.options.protective_offset_ticks
        return max(1, level)

    def _resize_protective(self, slot: _Slot) -> None:
        cid = slot.protective_cid
        if cid is None:
            return
        order = self.orders.get(cid)
        if order is not None and order.is_working and order.venue_id is not None:
            self._modify(order, qty=slot.plan.qty)

    def _cancel_protective(self, slot: _Slot) -> None:
        cid = slot.protective_cid
        slot.protective_cid = None
        if cid is None:
            return
        order = self.orders.get(cid)
        if order is not None and order.is_working:
            self._cancel(order, urgent=True)

    # ================================================================== orders

    def _new_cid(self) -> str:
        self._cid_n += 1
        return f"{self._cid_prefix}{self._cid_n}"

    def _submit(
        self,
        request: OrderRequest | None,
        *,
        urgent: bool,
        sent: tuple[Order, PlaceOrder] | None = None,
    ) -> Order:
        """Create the order, journal it, hand it to the router, publish it.

        ``sent``: the order was created and already sent (:meth:`_send_exit_first`); only
        record, journal and publish it.
        """
        if sent is not None:
            order = sent[0]
            now = order.created_ns
        else:
            assert request is not None
            now = self.clock()
            order = Order.from_request(self._new_cid(), request, now)
        self.orders[order.cid] = order
        self.working[order.cid] = order
        self._journal_order(order)
        order.apply(OrderSubmitted(now))
        if sent is None:
            self._route(self._place_request(order, urgent=urgent))
        self._publish_order(order)
        return order

    def _place_request(self, order: Order, *, urgent: bool) -> PlaceOrder:
        inst = self.instruments[order.key]
        return PlaceOrder(
            order.cid,
            str(inst.exchange),
            inst.symbol,
            str(order.side),
            order.qty,
            str(order.type),
            str(order.product),
            inst.price(order.price_ticks) if order.price_ticks is not None else _ZERO,
            inst.price(order.trigger_ticks) if order.trigger_ticks is not None else _ZERO,
            urgent=urgent,
        )

    def _cancel(self, order: Order, *, urgent: bool = False) -> bool:
        if order.venue_id is None:
            # Not acknowledged yet: cancel once the id is known.
            order.reason = order.reason or "cancel requested"
            self._cancel_on_ack.add(order.cid)
            return False
        self._route(CancelOrder(order.cid, order.venue_id, urgent=urgent))
        return True

    def _send_held(self, held: list[Any]) -> None:
        """Hand over an exit's requests; the exit order itself is written by this thread.

        ``router.send_urgent`` writes the request's bytes to the venue's socket at once (or
        queues it like ``submit`` when it cannot: busy lane, rate limit, not connected); the
        router's worker reads the answer, so this thread never waits on the network.
        """
        submit = self.router.submit
        send = getattr(self.router, "send_urgent", None)
        for request in held:
            if send is not None and type(request) is PlaceOrder and request.urgent:
                send(request)
            else:
                submit(request)

    def _route(self, request: Any) -> None:
        """Hand ``request`` to the router, or hold it until the journal batch commits."""
        if self._held is not None:
            self._held.append(request)
        else:
            self._send_held([request])

    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        """One journal commit for everything written inside; router requests wait for it.

        Nested uses join the outermost one. Requests handed to ``_route`` inside are held and
        sent right after the commit, so everything is journaled before it is acted on, with
        one commit per handled item instead of one per write (each commit lets the feed
        thread take the GIL, and a crossing tick may be waiting behind this item). A handler
        that fails still commits what it wrote and sends what it decided, as before.
        """
        if self._held is not None:
            yield
            return
        held: list[Any] = []
        self._held = held
        error: BaseException | None = None
        journal = self.journal
        # While the run loop is live the writes are kept and committed once the lock is let
        # go (on the decision thread, in the order the items were handled), then sent.
        deferred = self._inline and journal is not None and hasattr(journal, "collect")
        if deferred:
            journal.collect()
        try:
            with contextlib.nullcontext() if deferred else self._journal_batch():
                try:
                    yield
                except Exception as exc:
                    error = exc
        finally:
            self._held = None
            settle = self._intents_recorded
            if deferred:
                self._outbox.append((journal.collected(), held, settle))
                if threading.get_ident() != self._decision_ident:
                    self.inbound.kick()  # the decision thread commits and sends
            else:
                self._send_held(held)
                self._settle_intents(settle)
        if error is not None:
            raise error

    def _commit_outbox(self) -> None:
        """(Decision thread, without the engine lock) commit kept writes, then send.

        The batches waiting now are committed in one transaction, in the order they were
        made, and only then are their requests sent, in the same order: each request still
        goes out after its writes are committed, with one commit (and fewer GIL hand-offs
        to and from SQLite) for however many items a busy moment made. A failed commit is
        alarmed and the requests still go (as a failed write did before: the broker is the
        truth, reconciliation checks it).
        """
        outbox = self._outbox
        while outbox:
            batches = []
            while outbox:
                batches.append(outbox.popleft())
            writes = [write for batch in batches for write in batch[0]]
            if writes:
                try:
                    self.journal.commit(writes)
                except Exception as exc:
                    with self._lock:
                        self._journal_failed(exc)
            for _writes, held, _settle in batches:
                self._send_held(held)
            self._settle_intents(max(settle for _w, _h, settle in batches))

    def _settle_intents(self, upto: int) -> None:
        """The first ``upto`` exit intents have their orders committed (see _batch)."""
        settled = getattr(self.journal, "intents_settled", None)
        if upto and settled is not None:
            self._jcall(settled, upto)

    def _journal_batch(self) -> contextlib.AbstractContextManager[Any]:
        """One journal commit for the writes made inside (a failed commit is alarmed)."""
        if self.journal is None or not hasattr(self.journal, "transaction"):
            return contextlib.nullcontext()
        return _JournalBatch(self)

    def _modify(
        self,
        order: Order,
        *,
        price: int | None = None,
        trigger: int | None = None,
        qty: Decimal | None = None,
    ) -> None:
        inst = self.instruments[order.key]
        new_price = price if price is not None else order.price_ticks
        new_trigger = trigger if trigger is not None else order.trigger_ticks
        self.router.submit(
            RouterModify(
                order.cid,
                order.venue_id or "",
                str(inst.exchange),
                inst.symbol,
                str(order.side),
                qty if qty is not None else order.qty,
                str(order.type),
                str(order.product),
                inst.price(new_price) if new_price is not None else _ZERO,
                inst.price(new_trigger) if new_trigger is not None else _ZERO,
                urgent=order.tag == "protective",
            )
        )

    def _publish_order(self, order: Order) -> None:
        inst = self.instruments[order.key]
        self.publisher.event(p.OrderEvent(self._next_seq(), order_view(order, inst.tick_size)))

    def _apply_events(self, order: Order, events: list[Any], *, source: str) -> None:
        """Apply events to ``order``; fills move the position; final states trigger follow-up."""
        if not events:
            return
        was_final = order.status.is_final
        for event in events:
            try:
                order.apply(event)
            except OrderError as exc:
                self.counters["bad_updates"] += 1
                self._alarm(
                    "warning", f"{order.key}: order {order.cid}: {exc} ({source})", key=order.key
                )
                continue
            if isinstance(event, OrderFilled):
                self._on_fill(order, event)
        self._journal_order(order)
        self._publish_order(order)
        if order.status.is_final and not was_final:
            self._order_final(order)

    def _on_fill(self, order: Order, event: OrderFilled) -> None:
        key = order.key
        inst = self.instruments[key]
        self._products[key] = order.product
        self.portfolio.apply_fill(
            key, inst.tick_size, order.side, event.fill_qty, event.price_ticks, event.ts_ns
        )
        fill = p.FillView(
            cid=order.cid,
            key=key,
            side=str(order.side),
            qty=event.fill_qty,
            price=ticks_to_money(event.price_ticks, inst.tick_size),
            ts_ns=event.ts_ns,
            venue_id=order.venue_id,
        )
        self.fills.append(fill)
        pos = self.portfolio.position(key, inst.tick_size)
        if self.journal is not None:
            self._jcall(self.journal.fill, fill)
            self._jcall(self.journal.position, key, pos.to_state())
        self.publisher.event(p.FillEvent(self._next_seq(), fill))
        self.publisher.event(p.PositionEvent(self._next_seq(), self._position_view(pos)))
        self._sync_plan(key, order, event.ts_ns)
        closer = self._closers.get(key)
        if pos.qty == 0:
            if closer is not None and (closer.cid is None or closer.cid == order.cid):
                del self._closers[key]
            self._cancel_strays(key, order)
        elif (
            closer is not None
            and closer.cid is not None
            and closer.cid != order.cid
            and (pos.qty > 0) == (self.orders[closer.cid].side is Side.BUY)
        ):
            # Another fill turned the position to the closing order's side: it would reverse.
            self._alarm(
                "error",
                f"{key}: position is {pos.qty} while closing order {closer.cid} is working",
                key=key,
                code="overfill",
            )

    def _cancel_strays(self, key: str, filled: Order) -> None:
        """Flat: a working closing/protective order of ``key`` would open a new position."""
        for order in list(self.working.values()):
            if (
                order.key == key
                and order.is_working
                and order.cid != filled.cid
                and order.tag in ("exit", "flatten", "protective")
            ):
                self._cancel(order, urgent=True)

    def _order_final(self, order: Order) -> None:
        self.working.pop(order.cid, None)
        self._recent_final.append(order.cid)
        self._uncertain.pop(order.cid, None)
        self._cancel_on_ack.discard(order.cid)
        if order.tag in _CLOSING_TAGS:
            self._closing_done(order)
        elif order.status is OrderStatus.REJECTED:
            self._alarm(
                "warning",
                f"{order.key}: {order.tag} order {order.cid} rejected: {order.reason}",
                key=order.key,
                code="order_rejected",
            )
        if order.tag == "protective":
            for slot in self.plans.values():
                if slot.protective_cid == order.cid:
                    slot.protective_cid = None
        if order.filled_qty == 0:
            self._entry_specs.pop(order.cid, None)
        self._trim_orders()

    def _trim_orders(self) -> None:
        limit = self.options.recent_orders * 4
        if len(self.orders) <= limit + limit // 4:
            return  # trimmed in steps: each trim walks the orders, not every fill
        keep = set(self._recent_final)
        for cid, order in list(self.orders.items()):
            if len(self.orders) <= limit:
                break
            if order.status.is_final and cid not in keep:
                del self.orders[cid]
                if order.venue_id is not None:
                    self._by_venue.pop(order.venue_id, None)
                self._entry_specs.pop(cid, None)

    # ------------------------------------------------------------------ venue updates

    def _on_order_update(self, update: OrderUpdate) -> None:
        self.counters["order_updates"] += 1
        cid = self._by_venue.get(update.orderid)
        if cid is None:
            cid = self._adopt_uncertain(update)
        if self.journal is not None:
            self._jcall(self.journal.order_update, update, cid)
        if cid is None:
            # Its placeorder answer may not be back yet: keep it until the id is known.
            self.counters["unmatched_updates"] += 1
            parked = self._parked.setdefault(update.orderid, [])
            parked.append(update)
            if len(self._parked) > 1000:
                self._parked.pop(next(iter(self._parked)))
            return
        self._apply_update(self.orders[cid], update)

    def _apply_update(self, order: Order, update: OrderUpdate) -> None:
        inst = self.instruments[order.key]
        try:
            events = events_from_update(order, update, inst.tick_size)
        except UnmappedUpdate as exc:
            self.counters["bad_updates"] += 1
            self._alarm("warning", f"{order.key}: {exc}", key=order.key, code="bad_update")
            return
        if order.venue_id is None and update.orderid:
            self._by_venue[update.orderid] = order.cid
        self._apply_events(order, events, source=str(update.source))
        if order.cid in self._cancel_on_ack and order.is_working and order.venue_id is not None:
            self._cancel_on_ack.discard(order.cid)
            self._cancel(order, urgent=True)

    def _adopt_uncertain(self, update: OrderUpdate) -> str | None:
        """An update for an unknown id that matches an order whose placement was uncertain."""
        for cid in self._uncertain:
            order = self.orders[cid]
            inst = self.instruments[order.key]
            if (
                order.venue_id is None
                and str(inst.exchange) == update.exchange
                and inst.symbol == update.symbol
                and str(order.side) == update.action.upper()
                and order.qty == update.quantity
            ):
                self._by_venue[update.orderid] = cid
                del self._uncertain[cid]
                self._alarm(
                    "info",
                    f"{order.key}: order {cid} found at the broker as {update.orderid}",
                    key=order.key,
                    code="order_found",
                )
                return cid
        return None

    # ------------------------------------------------------------------ router results

    def _on_router_result(self, result: RouterResult) -> None:
        request = result.request
        if isinstance(request, PlaceOrder):
            self._on_place_result(result, request)
        elif isinstance(request, CancelOrder):
            if not result.ok:
                order = self.orders.get(request.cid)
                if order is not None and order.is_working:
                    self._alarm(
                        "warning",
                        f"{order.key}: cancel of {request.cid} failed: {result.error}",
                        key=order.key,
                        code="cancel_failed",
                    )
                    # Find out what the order did instead.
                    self.router.submit(QueryOrder(request.cid, request.venue_id))
        elif isinstance(request, RouterModify):
            self._on_modify_result(result, request)
        elif isinstance(request, QueryBook):
            self._on_book(result, request)
        elif isinstance(request, QueryOrder):
            self._on_order_status(result, request)
        elif isinstance(request, CancelAll):
            self._on_cancel_all(result)
        elif isinstance(request, LookupSymbol):
            self._on_lookup(result, request)
        elif isinstance(request, SearchSymbols):
            self._on_search(result, request)

    def _on_place_result(self, result: RouterResult, request: PlaceOrder) -> None:
        order = self.orders.get(request.cid)
        if order is None:
            return
        if result.ok and result.venue_id:
            if result.done_ns and result.sent_ns:
                self._ack_latencies.append(result.done_ns - result.sent_ns)
            self._by_venue[result.venue_id] = order.cid
            self._uncertain.pop(order.cid, None)
            parked = self._parked.pop(result.venue_id, None)
            if parked:
                for update in parked:
                    self._apply_update(order, update)
            elif order.status is OrderStatus.PENDING_NEW:
                status = OrderStatus.TRIGGER_PENDING if order.type.has_trigger else OrderStatus.OPEN
                self._apply_events(
                    order, [OrderAccepted(result.venue_id, self.clock(), status)], source="router"
                )
            elif order.venue_id is None:
                order.venue_id = result.venue_id
            if order.cid in self._cancel_on_ack and order.is_working:
                self._cancel_on_ack.discard(order.cid)
                self._cancel(order, urgent=True)
            return
        if result.code == UNCERTAIN:
            self._uncertain[order.cid] = self.clock()
            self._alarm(
                "error",
                f"{order.key}: {order.tag} order {order.cid}: {result.error}",
                key=order.key,
                code="order_uncertain",
            )
            self.reconcile("uncertain order")
            return
        data = result.data
        if isinstance(data, dict) and data.get("orderid"):
            # The venue created the order as rejected (and may push its update too).
            venue_id = str(data["orderid"])
            self._by_venue[venue_id] = order.cid
            self._parked.pop(venue_id, None)
        if order.is_working:
            self._apply_events(
                order, [OrderRejected(self.clock(), result.error or result.code)], source="router"
            )

    def _on_modify_result(self, result: RouterResult, request: RouterModify) -> None:
        order = self.orders.get(request.cid)
        if order is None or not order.is_working:
            return
        if not result.ok:
            self._alarm(
                "warning",
                f"{order.key}: modify of {order.cid} failed: {result.error}",
                key=order.key,
                code="modify_failed",
            )
            return
        inst = self.instruments[order.key]
        price = _ticks(inst, request.price) if order.type.has_price else None
        trigger = _ticks(inst, request.trigger_price) if order.type.has_trigger else None
        qty = request.quantity if request.quantity != order.qty else None
        event = OrderModified(
            self.clock(),
            qty=qty if qty is not None and qty > order.filled_qty else None,
            price_ticks=price if price != order.price_ticks else None,
            trigger_ticks=trigger if trigger != order.trigger_ticks else None,
        )
        if event.qty is None and event.price_ticks is None and event.trigger_ticks is None:
            return
        self._apply_events(order, [event], source="modify")

    def _on_order_status(self, result: RouterResult, request: QueryOrder) -> None:
        order = self.orders.get(request.cid)
        if order is None or not result.ok or not isinstance(result.data, dict):
            return
        update = _update_from_row(result.data, self.clock())
        if update is not None:
            self._apply_update(order, update)

    def _on_cancel_all(self, result: RouterResult) -> None:
        if not result.ok:
            self._alarm("error", f"kill switch: cancel-all failed: {result.error}", code="kill")
            # Cancel what we know one by one instead.
            for order in list(self.working.values()):
                if order.is_working and order.tag not in _CLOSING_TAGS:
                    self._cancel(order, urgent=True)
        if self._pending_cancel_all is not None:
            self._pending_cancel_all = None
            self._flatten_all()

    # ================================================================== reconciliation

    def reconcile(self, why: str) -> int:
        """Ask the broker for its orderbook and positionbook; compare when both are back."""
        self._recon_token += 1
        token = self._recon_token
        self._recon[token] = _Recon(token, why)
        self.router.submit(QueryBook("orderbook", token=token))
        self.router.submit(QueryBook("positionbook", token=token))
        self._next_recon_ns = self.clock() + int(self.options.reconcile_interval_s * _NS)
        return token

    def _on_book(self, result: RouterResult, request: QueryBook) -> None:
        recon = self._recon.get(request.token)
        if recon is None:
            return
        if not result.ok:
            recon.failed.append(f"{request.book}: {result.error}")
        elif request.book == "orderbook":
            recon.orders = result.data
        elif request.book == "positionbook":
            recon.positions = result.data
        recon.pending -= 1
        if recon.pending > 0:
            return
        del self._recon[request.token]
        self._reconcile_done(recon)

    def _reconcile_done(self, recon: _Recon) -> None:
        if recon.failed:
            self._alarm(
                "error",
                f"reconciliation ({recon.why}) failed: {'; '.join(recon.failed)}",
                code="reconcile_failed",
            )
            if not self.reconciled:
                # Try again shortly: entries stay refused until the books are known.
                self._next_recon_ns = self.clock() + 2 * _NS
            return
        first = not self.reconciled
        now = self.clock()
        # 1. Orders: bring ours up to date (missed updates), flag unknown working ones.
        broker_working: list[str] = []
        for row in orderbook_rows(recon.orders):
            update = _update_from_row(row, now)
            if update is None:
                continue
            cid = self._by_venue.get(update.orderid)
            if cid is None:
                cid = self._adopt_uncertain(update)
            if cid is not None:
                order = self.orders[cid]
                if order.is_working:
                    if update.status == "complete" and update.average_price == 0:
                        self.router.submit(QueryOrder(cid, update.orderid))
                    else:
                        self._apply_update(order, update)
            elif update.status in ("open", "trigger pending"):
                broker_working.append(
                    f"{update.key} {update.action} {update.quantity} #{update.orderid}"
                )
        # Uncertain orders not found at the broker by now were not placed.
        for cid, since in list(self._uncertain.items()):
            if now - since >= self.options.uncertain_wait_s * _NS:
                order = self.orders[cid]
                del self._uncertain[cid]
                self._apply_events(
                    order,
                    [OrderRejected(now, "not found at the broker after an uncertain placement")],
                    source="reconcile",
                )
        if broker_working:
            self._alarm(
                "warning",
                f"reconcile ({recon.why}): broker has working orders the engine does not know: "
                + ", ".join(broker_working[:10]),
                code="reconcile_mismatch",
            )
        # 2. Positions.
        broker: dict[str, Decimal] = {}
        averages: dict[str, Decimal] = {}
        for row in _position_rows(recon.positions):
            try:
                key = f"{row['exchange']}:{row['symbol']}"
                qty = to_decimal(row.get("quantity", 0))
                avg = to_decimal(row.get("average_price", 0) or 0)
            except (KeyError, ValueError, ArithmeticError):
                continue
            broker[key] = broker.get(key, _ZERO) + qty
            if qty != 0:
                averages[key] = avg
        mismatches: list[str] = []
        keys = set(broker) | {pos.key for pos in self.portfolio if pos.qty != 0}
        for key in sorted(keys):
            theirs = broker.get(key, _ZERO)
            pos = self.portfolio.get(key)
            ours = pos.qty if pos is not None else _ZERO
            if theirs == ours:
                continue
            if self._busy(key):
                continue  # orders in flight: the books may not agree yet
            inst = self.instruments.get(key)
            if first and ours == 0 and inst is not None and averages.get(key):
                # A fresh engine learns the positions it finds (and says so).
                avg_ticks = inst.snap(averages[key]).ticks
                self.portfolio.add(Position.opened(key, inst.tick_size, theirs, avg_ticks))
                self._alarm(
                    "info",
                    f"{key}: position {theirs} @ {averages[key]} found at the broker (unmanaged)",
                    key=key,
                    code="position_adopted",
                )
                self.publisher.event(
                    p.PositionEvent(self._next_seq(), self._position_view(self.portfolio.get(key)))
                )
                continue
            mismatches.append(f"{key}: engine {ours}, broker {theirs}")
            if first and inst is not None:
                # At start the broker is the truth (loudly): never exit a position that is
                # not there, nor more than is there.
                avg = averages.get(key) or (pos.avg_price if pos is not None else None)
                avg_ticks = inst.snap(avg).ticks if avg else 1
                self.portfolio.add(Position.opened(key, inst.tick_size, theirs, avg_ticks))
                self.publisher.event(
                    p.PositionEvent(self._next_seq(), self._position_view(self.portfolio.get(key)))
                )
        if mismatches:
            self._alarm(
                "error",
                f"reconcile ({recon.why}): positions differ: " + "; ".join(mismatches),
                code="reconcile_mismatch",
            )
        if self.journal is not None:
            self._jcall(
                self.journal.event,
                "reconcile",
                {"why": recon.why, "mismatches": mismatches, "unknown_orders": broker_working},
            )
        if first:
            self.reconciled = True
            for key, slot in list(self.plans.items()):
                pos = self.portfolio.get(key)
                if pos is None or pos.qty == 0:
                    self._remove_plan(key, "no position at the broker")
                elif slot.plan.active and slot.plan.qty != abs(pos.qty):
                    slot.plan.resize(abs(pos.qty))
                    self._journal_plan(slot, "resized at start", force=True)
            # Plans did not act while the books were unknown: judge them at the last price now
            # (a stop crossed meanwhile exits at once).
            for key, slot in list(self.plans.items()):
                ltp = self._syms[key].ltp
                if ltp is not None and slot.plan.active:
                    self._plan_tick(slot, ltp, now)
            self._retry_closers(now)
            self._publish_status(force=True)

    def _busy(self, key: str) -> bool:
        if key in self._closers:
            return True
        now = self.clock()
        for order in self.orders.values():
            if order.key == key and (
                order.status is OrderStatus.PENDING_NEW
                or (order.status.is_final and now - order.updated_ns < 2 * _NS)
            ):
                return True
        return False

    # ================================================================== feeds & timer

    def _on_feed_status(self, status: FeedStatus) -> None:
        previous = self.feeds.get(status.feed)
        self.feeds[status.feed] = status
        self.publisher.event(p.FeedEvent(self._next_seq(), status))
        if (
            status.state is FeedState.LIVE
            and previous is not None
            and previous.state is not FeedState.LIVE
        ):
            self.reconcile(f"{status.feed} reconnected")

    def _feed_ok(self) -> bool:
        return all(s.state is FeedState.LIVE for s in self.feeds.values())

    def _on_timer(self, timer: EngineTimer) -> None:
        now = timer.ts_ns
        if self.reconciled:
            for slot in list(self.plans.values()):
                decision = slot.plan.on_time(now)
                if decision is not None:
                    self._fire(slot, decision)
                    continue
                if slot.event_pending and (
                    now - slot.event_ns >= self.options.plan_event_interval_s * _NS
                ):
                    self._publish_moved(slot, now)
                if slot.protective_dirty:
                    self._sync_protective(slot, now)
                if slot.journaled_version != slot.plan.version and (
                    now - slot.journaled_ns >= self.options.journal_trail_every_s * _NS
                ):
                    self._journal_plan(slot, "trail")
        self._retry_closers(now)
        if self._risk.limits.kill_on_daily_loss and not self.kill_switch and self.reconciled:
            self._kill_on_daily_loss()
        if self._shutdown_when_flat and not self.portfolio.open_positions and not self.working:
            self.shutdown_requested.set()
        if self._pending_cancel_all is not None and now - self._kill_started_ns > 2 * _NS:
            self._pending_cancel_all = None
            self._flatten_all()
        if self._uncertain and now >= self._uncertain_recon_ns and not self._recon:
            oldest = min(self._uncertain.values())
            if now - oldest >= self.options.uncertain_wait_s * _NS:
                self._uncertain_recon_ns = now + 2 * _NS
                self.reconcile("uncertain order")
        if self._next_recon_ns and now >= self._next_recon_ns and not self._recon:
            if self.options.reconcile_interval_s > 0 or not self.reconciled:
                self.reconcile("periodic" if self.reconciled else "retry")
            else:
                self._next_recon_ns = 0
        if self._vap_dirty:
            self._publish_volume()
        if now >= self._next_status_ns:
            self._publish_status()

    def _kill_on_daily_loss(self) -> None:
        """``[risk] kill_on_daily_loss``: trip the kill switch once the day's loss limit is hit."""
        day_pnl = self.portfolio.day_pnl()
        if not risk.daily_loss_reached(self._risk.limits, day_pnl):
            return
        self._alarm(
            "error",
            f"day P&L {day_pnl} reached the loss limit {self._risk.limits.daily_loss_limit}:"
            " kill switch",
            code="daily_loss_kill",
        )
        self._cmd_KillSwitch(0, p.KillSwitch(id=0))

    def _publish_status(self, force: bool = False) -> None:
        now_mono = time.monotonic_ns()
        elapsed = now_mono - self._ticks_window_start
        if elapsed > 0:
            self._ticks_per_s = self._ticks_window * _NS / elapsed
        self._ticks_window = 0
        self._ticks_window_start = now_mono
        self._next_status_ns = self.clock() + int(self.options.status_interval_s * _NS)
        self.publisher.status(self._status_view())

    def _status_view(self) -> p.StatusView:
        latencies = sorted(self._ack_latencies)
        median = latencies[len(latencies) // 2] / _MS if latencies else None
        return p.StatusView(
            venue=self.options.venue,
            armed=self.armed,
            day_pnl=self.portfolio.day_pnl(),
            ticks_per_s=round(self._ticks_per_s, 1),
            order_latency_ms=median,
            kill_switch=self.kill_switch,
            scheduling=self.options.scheduling,
        )

    # ================================================================== viewer commands

    def _on_snapshot_request(self, request: SnapshotRequest) -> None:
        self.publisher.reply(request.conn_id, self.snapshot())

    def snapshot(self) -> p.Snapshot:
        """Everything a viewer needs on attach."""
        working = list(self.working.values())
        recent = [self.orders[c] for c in self._recent_final if c in self.orders]
        orders = working + recent[-50:]
        return p.Snapshot(
            seq=self._seq,
            instruments=[instrument_view(i) for i in self.instruments.values()],
            quotes=[self._quote_view(s) for s in self._syms.values() if s.ltp is not None],
            books=[s.book for s in self._syms.values() if s.book is not None],
            positions=[self._position_view(pos) for pos in self.portfolio],
            plans=[plan_view(k, s.plan, s.exit_cid) for k, s in self.plans.items()],
            orders=[order_view(o, self.instruments[o.key].tick_size) for o in orders],
            fills=list(self.fills),
            feeds=list(self.feeds.values()),
            status=self._status_view(),
            watchlist=list(self.watchlist),
            volume_at_price=[
                p.VolumeAtPrice(s.inst.key, sorted(s.vap.items()))
                for s in self._syms.values()
                if s.vap
            ],
        )

    def _on_command(self, item: ViewerCommand) -> None:
        cmd = item.command
        self.counters["commands"] += 1
        row = None
        if self.journal is not None:
            row = self._jcall(self.journal.command, item.conn_id, cmd)
        if item.read_only and not isinstance(cmd, p.READ_ONLY_COMMANDS):
            answer: p.Msg | None = p.Refused(cmd.id, "read_only", "this viewer is read-only")
        else:
            handler = getattr(self, f"_cmd_{type(cmd).__name__}", None)
            if handler is None:
                answer = p.Refused(cmd.id, "unsupported", f"{type(cmd).__name__} not supported")
            else:
                try:
                    answer = handler(item.conn_id, cmd)
                except (PlanError, InvalidQuantity, ValueError, ArithmeticError) as exc:
                    answer = p.Refused(cmd.id, "invalid", str(exc) or type(exc).__name__)
        if answer is None:
            return  # answered once the venue has replied (lookups, searches)
        if row is not None and self.journal is not None:
            outcome = "ack" if isinstance(answer, p.Ack) else f"refused:{answer.rule}"
            message = answer.message
            self._jcall(self.journal.command_outcome, row, outcome, message)
        self.publisher.reply(item.conn_id, answer)

    # -- entries ---------------------------------------------------------------------------

    def _cmd_PlaceEntry(self, conn_id: int, cmd: p.PlaceEntry) -> p.Msg:  # noqa: N802
        inst = self.instruments.get(cmd.key)
        if inst is None:
            return p.Refused(cmd.id, "unknown_symbol", f"{cmd.key} is not a known instrument")
        if not inst.tradable:
            return p.Refused(cmd.id, "not_tradable", f"{cmd.key} is an index")
        if self.kill_switch:
            return p.Refused(cmd.id, "kill_switch", "kill switch engaged: re-arm to trade")
        if not self.armed:
            return p.Refused(cmd.id, "disarmed", "trading is disarmed (arm it to enter)")
        if not self.reconciled:
            return p.Refused(cmd.id, "reconciling", "waiting for the broker's books")
        sym = self._syms[cmd.key]
        if sym.ltp is None:
            return p.Refused(cmd.id, "stale", f"{cmd.key}: no price yet")
        if not self._feed_ok():
            bad = ", ".join(f"{n} {s.state}" for n, s in self.feeds.items())
            return p.Refused(cmd.id, "stale", f"{cmd.key}: feed not live ({bad})")
        side = Side.parse(cmd.side)
        try:
            if cmd.lots is not None:
                qty = inst.check_quantity(inst.lots(cmd.lots))
            elif cmd.qty is not None:
                qty = inst.check_quantity(cmd.qty)
            else:
                return p.Refused(cmd.id, "quantity", "no quantity given")
        except (InvalidQuantity, ValueError) as exc:
            return p.Refused(cmd.id, "quantity", str(exc))
        try:
            order_type = OrderType(cmd.order_type.upper())
        except ValueError:
            return p.Refused(cmd.id, "order_type", f"unknown order type {cmd.order_type!r}")
        price = cmd.price
        if order_type.has_price and cmd.join is not None:
            price = sym.bid if cmd.join == "bid" else sym.ask if cmd.join == "ask" else None
            if price is None:
                return p.Refused(cmd.id, "no_quote", f"{cmd.key}: no {cmd.join} to join")
        if order_type.has_price and price is None:
            return p.Refused(cmd.id, "price", f"a {order_type} order needs a price")
        if order_type.has_trigger and cmd.trigger is None:
            return p.Refused(cmd.id, "price", f"a {order_type} order needs a trigger")
        try:
            product = Product(cmd.product.upper())
        except ValueError:
            return p.Refused(cmd.id, "product", f"unknown product {cmd.product!r}")
        request = OrderRequest(
            cmd.key,
            side,
            qty,
            order_type,
            product,
            price_ticks=price if order_type.has_price else None,
            trigger_ticks=cmd.trigger if order_type.has_trigger else None,
            tag="entry",
        )
        refusal = self._risk.check(self, request, confirmed=cmd.confirmed)
        if refusal is not None:
            return p.Refused(cmd.id, refusal[0], refusal[1])
        order = self._submit(request, urgent=False)
        self._entry_specs[order.cid] = cmd.plan
        return p.Ack(cmd.id, f"{side} {qty} {cmd.key} {order_type}", cid=order.cid)

    def _cmd_Reverse(self, conn_id: int, cmd: p.Reverse) -> p.Msg:  # noqa: N802
        pos = self.portfolio.get(cmd.key)
        if pos is None or pos.qty == 0:
            return p.Refused(cmd.id, "no_position", f"{cmd.key}: no position to reverse")
        if self.kill_switch or not self.armed:
            return p.Refused(cmd.id, "disarmed", "trading is disarmed")
        if not self._feed_ok():
            return p.Refused(cmd.id, "stale", f"{cmd.key}: feed not live")
        if cmd.key in self._closers:
            return p.Refused(cmd.id, "closing", f"{cmd.key}: an exit is already in flight")
        side = Side.SELL if pos.qty > 0 else Side.BUY
        request = OrderRequest(
            cmd.key,
            side,
            abs(pos.qty) * 2,
            product=self._products.get(cmd.key, Product.MIS),
            tag="reverse",
        )
        refusal = self._risk.check(self, request, confirmed=True)
        if refusal is not None:
            return p.Refused(cmd.id, refusal[0], refusal[1])
        if cmd.key in self.plans:
            self._remove_plan(cmd.key, "reverse")
        order = self._submit(request, urgent=True)
        self._entry_specs[order.cid] = None
        return p.Ack(cmd.id, f"reverse {cmd.key}: {side} {request.qty}", cid=order.cid)

    # -- plan management --------------------------------------------------------------------

    def _plan_action(self, cmd: Any, action: Callable[[ExitPlan], Any], what: str) -> p.Msg:
        slot = self.plans.get(cmd.key)
        if slot is None:
            return p.Refused(cmd.id, "no_plan", f"{cmd.key}: no exit plan")
        try:
            change = action(slot.plan)
        except PlanError as exc:
            return p.Refused(cmd.id, "plan", str(exc))
        text = _describe_change(self.instruments[cmd.key], change) or what
        slot.last_stop = slot.seen_stop = slot.plan.stop
        slot.event_pending = False
        self._journal_plan(slot, text, force=True)
        self.publisher.event(
            p.PlanEvent(self._next_seq(), plan_view(cmd.key, slot.plan, slot.exit_cid), change=text)
        )
        slot.protective_dirty = True
        self._sync_protective(slot, self.clock() + 10**15)
        return p.Ack(cmd.id, text)

    def _level(self, plan: ExitPlan, current: int | None, cmd: Any) -> int | None:
        if cmd.to is not None:
            return int(cmd.to)
        if cmd.delta is None:
            raise PlanError("give a delta or a level")
        if current is None:
            raise PlanError("no level to move")
        return current + int(cmd.delta)

    def _cmd_MoveStop(self, conn_id: int, cmd: p.MoveStop) -> p.Msg:  # noqa: N802
        return self._plan_action(
            cmd, lambda plan: plan.move_stop(self._level(plan, plan.stop, cmd)), "stop moved"
        )

    def _cmd_MoveTarget(self, conn_id: int, cmd: p.MoveTarget) -> p.Msg:  # noqa: N802
        return self._plan_action(
            cmd, lambda plan: plan.move_target(self._level(plan, plan.target, cmd)), "target moved"
        )

    def _cmd_SetTrail(self, conn_id: int, cmd: p.SetTrail) -> p.Msg:  # noqa: N802
        trail = None if cmd.trail is None else Trail(TrailKind(cmd.trail.kind), cmd.trail.distance)
        return self._plan_action(cmd, lambda plan: plan.set_trail(trail), "trail set")

    def _cmd_ToggleTrail(self, conn_id: int, cmd: p.ToggleTrail) -> p.Msg:  # noqa: N802
        def toggle(plan: ExitPlan) -> Any:
            if plan.trail is None:
                ex = getattr(self.config, "exits", None)
                kind = TrailKind(getattr(ex, "trail_kind", "ticks"))
                distance = Decimal(getattr(ex, "trail_default_distance", 10))
                return plan.set_trail(Trail(kind, distance))
            return plan.toggle_trail()

        return self._plan_action(cmd, toggle, "trail toggled")

    def _cmd_ToBreakeven(self, conn_id: int, cmd: p.ToBreakeven) -> p.Msg:  # noqa: N802
        return self._plan_action(cmd, lambda plan: plan.to_breakeven(), "stop to breakeven")

    def _cmd_DetachPlan(self, conn_id: int, cmd: p.DetachPlan) -> p.Msg:  # noqa: N802
        if cmd.key not in self.plans:
            return p.Refused(cmd.id, "no_plan", f"{cmd.key}: no exit plan")
        self._remove_plan(cmd.key, "detached")
        return p.Ack(cmd.id, f"{cmd.key}: plan detached; the position is unmanaged")

    def _cmd_AttachPlan(self, conn_id: int, cmd: p.AttachPlan) -> p.Msg:  # noqa: N802
        pos = self.portfolio.get(cmd.key)
        if pos is None or pos.qty == 0:
            return p.Refused(cmd.id, "no_position", f"{cmd.key}: no position to protect")
        if cmd.key in self._closers:
            return p.Refused(cmd.id, "closing", f"{cmd.key}: an exit is in flight")
        if cmd.key in self.plans:
            self._remove_plan(cmd.key, "replaced")
        slot = self._new_plan(cmd.key, pos, cmd.plan, self.clock())
        if slot is None:
            return p.Ack(cmd.id, f"{cmd.key}: no plan (none requested)")
        return p.Ack(cmd.id, f"{cmd.key}: plan attached")

    # -- exits -----------------------------------------------------------------------------

    def _cmd_Flatten(self, conn_id: int, cmd: p.Flatten) -> p.Msg:  # noqa: N802
        if cmd.key not in self.instruments:
            return p.Refused(cmd.id, "unknown_symbol", f"{cmd.key} is not a known instrument")
        cancelled = self._cancel_working(cmd.key)
        if cmd.key in self.plans:
            self._remove_plan(cmd.key, "flatten")
        closer = self._start_close(cmd.key, "flatten")
        what = "closing" if closer is not None else "no position"
        return p.Ack(
            cmd.id, f"{cmd.key}: {cancelled} order(s) cancelled, {what}", cid=closer and closer.cid
        )

    def _cancel_working(self, key: str | None) -> int:
        """Cancel working orders of ``key`` (or all), except closing orders in flight."""
        count = 0
        for order in list(self.working.values()):
            if (
                order.is_working
                and (key is None or order.key == key)
                and order.tag not in _CLOSING_TAGS
            ):
                self._cancel(order, urgent=True)
                count += 1
        return count

    def _cmd_KillSwitch(self, conn_id: int, cmd: p.KillSwitch) -> p.Msg:  # noqa: N802
        already = self.kill_switch
        self.kill_switch = True
        self.armed = False
        now = self.clock()
        if self.journal is not None:
            self._jcall(self.journal.event, "kill_switch", {"conn_id": conn_id, "again": already})
        for key in list(self.plans):
            self._remove_plan(key, "kill switch")
        if not already or self._pending_cancel_all is None:
            self._kill_started_ns = now
            self._pending_cancel_all = now
            self.router.submit(CancelAll(urgent=True, token=now))
        # Orders not yet acknowledged are cancelled as soon as their ids are known.
        for order in self.working.values():
            if order.is_working and order.venue_id is None and order.tag not in _CLOSING_TAGS:
                self._cancel_on_ack.add(order.cid)
        self._publish_status(force=True)
        self._alarm("warning", "KILL SWITCH: cancelling all orders, flattening all", code="kill")
        open_positions = len(self.portfolio.open_positions)
        return p.Ack(cmd.id, f"kill switch: {open_positions} position(s) to flatten")

    def _flatten_all(self) -> None:
        for pos in self.portfolio.open_positions:
            self._start_close(pos.key, "kill")

    def _cmd_CancelOrders(self, conn_id: int, cmd: p.CancelOrders) -> p.Msg:  # noqa: N802
        if cmd.cid is not None:
            order = self.orders.get(cmd.cid)
            if order is None or not order.is_working:
                return p.Refused(cmd.id, "no_order", f"no working order {cmd.cid}")
            if order.tag in _CLOSING_TAGS:
                return p.Refused(cmd.id, "closing", "an exit in flight cannot be cancelled")
            self._cancel(order, urgent=True)
            return p.Ack(cmd.id, f"cancelling {cmd.cid}")
        count = self._cancel_working(cmd.key)
        return p.Ack(cmd.id, f"cancelling {count} order(s)")

    def _cmd_ModifyOrder(self, conn_id: int, cmd: p.ModifyOrder) -> p.Msg:  # noqa: N802
        order = self.orders.get(cmd.cid)
        if order is None or not order.is_working:
            return p.Refused(cmd.id, "no_order", f"no working order {cmd.cid}")
        if order.venue_id is None:
            return p.Refused(cmd.id, "pending", f"{cmd.cid} is not acknowledged yet")
        if cmd.price is not None and not order.type.has_price:
            return p.Refused(cmd.id, "price", f"a {order.type} order has no limit price")
        if cmd.trigger is not None and not order.type.has_trigger:
            return p.Refused(cmd.id, "price", f"a {order.type} order has no trigger")
        check_price_ticks(order.key, "price", cmd.price)
        check_price_ticks(order.key, "trigger", cmd.trigger)
        if cmd.qty is not None:
            self.instruments[order.key].check_quantity(cmd.qty)
            if cmd.qty <= order.filled_qty:
                return p.Refused(cmd.id, "quantity", "new quantity is not above the filled one")
        self._modify(order, price=cmd.price, trigger=cmd.trigger, qty=cmd.qty)
        return p.Ack(cmd.id, f"modifying {cmd.cid}")

    # -- misc ------------------------------------------------------------------------------

    def _cmd_SetArmed(self, conn_id: int, cmd: p.SetArmed) -> p.Msg:  # noqa: N802
        self.armed = cmd.armed
        if cmd.armed:
            self.kill_switch = False
        self._publish_status(force=True)
        return p.Ack(cmd.id, "armed" if cmd.armed else "disarmed")

    def _cmd_Subscribe(self, conn_id: int, cmd: p.Subscribe) -> p.Msg | None:  # noqa: N802
        unknown: list[str] = []
        for key in cmd.keys:
            if key in self.instruments:
                continue
            try:
                parse_key(key)
            except ValueError as exc:
                return p.Refused(cmd.id, "unknown_symbol", str(exc))
            unknown.append(key)
        if not unknown:
            return self._finish_subscribe(cmd, [], [])
        # Ask the venue about the instruments we do not know; answer when all are back.
        self._lookup_token += 1
        token = self._lookup_token
        self._lookups[token] = _Lookup(conn_id, cmd, set(unknown))
        for key in unknown:
            exchange, symbol = parse_key(key)
            self.router.submit(LookupSymbol(symbol, str(exchange), token=token))
        return None

    def _on_lookup(self, result: RouterResult, request: LookupSymbol) -> None:
        pending = self._lookups.get(request.token)
        if pending is None:
            return
        key = f"{request.exchange}:{request.symbol}"
        pending.waiting.discard(key)
        inst = _instrument_from_row(result.data) if result.ok else None
        if inst is None or inst.key != key:
            pending.failed.append(f"{key} ({result.error or 'not found'})")
        else:
            self._add_instrument(inst)
            if self.journal is not None:
                self._jcall(self.journal.instrument, inst.key, inst.tick_size, inst.lot_size)
            pending.found.append(inst)
        if pending.waiting:
            return
        del self._lookups[request.token]
        answer = self._finish_subscribe(pending.cmd, pending.found, pending.failed)
        self.publisher.reply(pending.conn_id, answer)

    def _finish_subscribe(
        self, cmd: p.Subscribe, found: list[Instrument], failed: list[str]
    ) -> p.Msg:
        new = [k for k in cmd.keys if k in self.instruments and k not in self.watchlist]
        if not new and failed:
            return p.Refused(cmd.id, "unknown_symbol", f"not found: {', '.join(failed)}")
        if new:
            self.watchlist.extend(new)
            if self.feed is not None:
                self.feed.subscribe(new, self.options.feed_mode)
            self.publisher.event(
                p.WatchlistChanged(
                    self._next_seq(),
                    list(self.watchlist),
                    [instrument_view(i) for i in found],
                )
            )
        message = f"{len(new)} symbol(s) added"
        if failed:
            message += f"; not found: {', '.join(failed)}"
        return p.Ack(cmd.id, message)

    def _cmd_Unsubscribe(self, conn_id: int, cmd: p.Unsubscribe) -> p.Msg:  # noqa: N802
        busy = [
            k
            for k in cmd.keys
            if (self.portfolio.get(k) is not None and self.portfolio.get(k).qty != 0)  # type: ignore[union-attr]
            or any(o.key == k for o in self.working.values())
        ]
        if busy:
            return p.Refused(cmd.id, "busy", f"open position or orders on {busy}")
        gone = [k for k in cmd.keys if k in self.watchlist]
        if gone:
            self.watchlist = [k for k in self.watchlist if k not in gone]
            if self.feed is not None:
                self.feed.unsubscribe(gone, self.options.feed_mode)
            self.publisher.event(p.WatchlistChanged(self._next_seq(), list(self.watchlist)))
        return p.Ack(cmd.id, f"{len(gone)} symbol(s) removed")

    def _cmd_Search(self, conn_id: int, cmd: p.Search) -> p.Msg | None:  # noqa: N802
        if not cmd.query.strip():
            return p.Refused(cmd.id, "invalid", "empty search")
        self._lookup_token += 1
        token = self._lookup_token
        self._searches[token] = (conn_id, cmd)
        exchange = cmd.exchange.upper() if cmd.exchange else None
        self.router.submit(SearchSymbols(cmd.query.strip(), exchange, token=token))
        return None

    def _on_search(self, result: RouterResult, request: SearchSymbols) -> None:
        pending = self._searches.pop(request.token, None)
        if pending is None:
            return
        conn_id, cmd = pending
        query = cmd.query.strip().upper()
        local = {
            i.key: instrument_view(i)
            for i in self.instruments.values()
            if (query in i.symbol.upper() or query in i.name.upper())
            and (cmd.exchange is None or str(i.exchange) == cmd.exchange.upper())
        }
        rows = result.data if result.ok and isinstance(result.data, list) else []
        for row in rows:
            inst = _instrument_from_row(row)
            if inst is not None and inst.key not in local:
                local[inst.key] = instrument_view(inst)
        hits = list(local.values())[:100]
        self.publisher.reply(conn_id, p.SearchResult(cmd.id, hits))
        note = "" if result.ok else f" (venue search failed: {result.error}; local matches only)"
        self.publisher.reply(conn_id, p.Ack(cmd.id, f"{len(hits)} result(s){note}"))

    def _cmd_Ping(self, conn_id: int, cmd: p.Ping) -> p.Msg:  # noqa: N802
        self.publisher.reply(conn_id, p.Pong(cmd.id, self.clock()))
        return p.Ack(cmd.id)

    def _cmd_Shutdown(self, conn_id: int, cmd: p.Shutdown) -> p.Msg:  # noqa: N802
        open_positions = self.portfolio.open_positions
        working = list(self.working.values())
        if (open_positions or working) and not cmd.flatten:
            return p.Refused(
                cmd.id,
                "open_positions",
                f"{len(open_positions)} position(s) and {len(working)} working order(s) open",
            )
        if cmd.flatten and (open_positions or working):
            self._cmd_KillSwitch(conn_id, p.KillSwitch(cmd.id))
            self._shutdown_when_flat = True
            return p.Ack(cmd.id, "flattening, then stopping")
        self.shutdown_requested.set()
        return p.Ack(cmd.id, "stopping")

    # ================================================================== journal & helpers

    def _restore(self) -> None:
        try:
            recovery = self.journal.recover()
        except Exception as exc:
            self._alarm("error", f"journal recovery failed: {exc}", code="journal")
            return
        now = self.clock()
        for key, state in recovery.positions.items():
            inst = self.instruments.get(key)
            if inst is None:
                continue
            try:
                self.portfolio.add(Position.from_state(state))
            except (KeyError, ValueError, TypeError) as exc:
                self._alarm("warning", f"{key}: cannot restore position: {exc}", key=key)
        for record in recovery.open_orders:
            if record.key not in self.instruments:
                continue
            order = Order(
                cid=record.cid,
                key=record.key,
                side=Side(record.side),
                type=OrderType(record.order_type),
                qty=record.qty,
                product=Product(record.product),
                price_ticks=record.price_ticks,
                trigger_ticks=record.trigger_ticks,
                tag=record.tag,
                created_ns=record.created_ns,
                venue_id=record.venue_id,
                status=_status_of(record.status),
                filled_qty=record.filled,
                fill_value_ticks=_fraction(record.state.get("fill_value_ticks")),
                updated_ns=record.updated_ns,
            )
            self.orders[order.cid] = order
            if order.status.is_working:
                self.working[order.cid] = order
            if order.venue_id:
                self._by_venue[order.venue_id] = order.cid
            elif order.status is OrderStatus.PENDING_NEW:
                self._uncertain[order.cid] = now
        restored = []
        for key, state in recovery.plans.items():
            if key not in self.instruments:
                continue
            try:
                plan = ExitPlan.from_state(state)
            except (PlanError, KeyError, ValueError) as exc:
                self._alarm("error", f"{key}: cannot restore exit plan: {exc}", key=key)
                continue
            slot = _Slot(
                key, plan, last_stop=plan.stop, seen_stop=plan.stop, journaled_version=plan.version
            )
            self.plans[key] = slot
            restored.append(key)
            self._prepare_exit(key)
            if plan.fired:
                # It fired before the crash; make sure the exit happens (once).
                self._closers.setdefault(key, _Closer(key, str(plan.decision.reason)))  # type: ignore[union-attr]
        for key in list(self._closers):
            closer = self._closers[key]
            working = [
                o
                for o in self.orders.values()
                if o.key == key and o.is_working and o.tag in _CLOSING_TAGS
            ]
            if working:
                closer.cid = working[-1].cid
            else:
                closer.retry_at_ns = now  # send after reconciliation confirms the position
        if restored:
            self._alarm("info", f"restored exit plans: {', '.join(restored)}", code="restored")

    def _journal_plan(self, slot: _Slot, change: str, *, force: bool = False) -> None:
        slot.journaled_version = slot.plan.version
        slot.journaled_ns = self.clock()
        if self.journal is not None:
            self._jcall(self.journal.plan, slot.key, slot.plan.to_state(), change)

    def _journal_order(self, order: Order) -> None:
        if self.journal is not None:
            self._jcall(self.journal.order, order)

    def _jcall(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            self._journal_failed(exc)
            return None

    def _journal_failed(self, exc: Exception) -> None:
        self.counters["errors"] += 1
        log.exception("journal write failed")
        self.publisher.event(
            p.Alarm(self._next_seq(), "error", f"journal write failed: {exc}", code="journal")
        )

    def _alarm(self, level: str, message: str, *, key: str | None = None, code: str = "") -> None:
        log.log(logging.ERROR if level == "error" else logging.WARNING, "%s: %s", code, message)
        self.publisher.event(p.Alarm(self._next_seq(), level, message, key, code))

    def _position_view(self, pos: Position | None) -> p.PositionView:
        assert pos is not None
        mark = self.portfolio.mark(pos.key)
        return position_view(pos, mark if isinstance(mark, int) else None)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq


# ====================================================================== risk gate


class _JournalBatch:
    """``Journal.transaction()`` for the engine: a failed BEGIN/COMMIT is alarmed, not raised."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.cm: contextlib.AbstractContextManager[Any] | None = None

    def __enter__(self) -> None:
        try:
            cm = self.engine.journal.transaction()
            cm.__enter__()
            self.cm = cm
        except Exception as exc:
            self.engine._journal_failed(exc)

    def __exit__(self, et: Any, ev: Any, tb: Any) -> bool:
        if self.cm is None:
            return False
        try:
            self.cm.__exit__(et, ev, tb)
        except Exception as exc:
            if et is None:
                self.engine._journal_failed(exc)
        return False


class _RiskGate:
    """Pre-trade checks: order-size confirmations, then :mod:`cockpit.domain.risk`'s rules."""

    def __init__(self, config: Any) -> None:
        self._config = config
        self.limits = _risk_limits(getattr(config, "risk", None))
        self.recent_orders_ns: deque[int] = deque(maxlen=1000)

    def check(
        self, engine: Engine, request: OrderRequest, *, confirmed: bool
    ) -> tuple[str, str] | None:
        """``(rule, message)`` of the first refusal, or None."""
        trading = getattr(self._config, "trading", None)
        inst = engine.instruments[request.key]
        sym = engine._syms[request.key]
        ref = request.price_ticks or request.trigger_ticks or sym.ltp
        if not confirmed and trading is not None:
            over_qty = getattr(trading, "confirm_qty_over", None)
            if over_qty is not None and request.qty > over_qty:
                return ("confirm", f"quantity {request.qty} is over {over_qty}: confirm it")
            over_value = getattr(trading, "confirm_value_over", None)
            if over_value is not None and ref is not None:
                value = inst.price(ref) * request.qty
                if value > over_value:
                    return ("confirm", f"value {value} is over {over_value}: confirm it")
        now = engine.clock()
        # The rules read the request's own symbol only, and the day's P&L only under a loss
        # limit: the context carries just that (an entry is handled on the feed thread, and
        # the whole book's P&L or every symbol's price costs it tens of microseconds).
        key = request.key
        working_left = _ZERO
        for order in engine.working.values():
            if order.key == key and order.tag in _ENTRY_TAGS and order.is_working:
                working_left += (order.qty - order.filled_qty) * order.side.sign
        position = engine.portfolio.get(key)
        seen = sym.ltp is not None
        ctx = risk.RiskContext(
            now_ns=now,
            tick_size=inst.tick_size,
            positions={key: position.qty} if position is not None else {},
            open_orders=len(engine.working),
            working_qty={key: working_left} if working_left else {},
            last_ticks={key: sym.ltp} if seen else {},  # type: ignore[dict-item]
            last_tick_ns={key: sym.recv_ns} if seen else {},
            recent_orders_ns=self.recent_orders_ns,
            day_pnl=(
                engine.portfolio.day_pnl() if self.limits.daily_loss_limit is not None else _ZERO
            ),
            halted=engine.kill_switch,
        )
        refusal = risk.check_entry(request, self.limits, ctx)
        if refusal is not None:
            return (str(refusal.rule), refusal.message)
        self.recent_orders_ns.append(now)
        return None


def _risk_limits(settings: Any) -> risk.RiskLimits:
    """The domain's limits from the ``[risk]`` settings (the one mapping is in config)."""
    if settings is None:
        return risk.RiskLimits()
    limits: risk.RiskLimits = settings.to_domain()
    return limits


# ====================================================================== helpers


def _has_more(more: Callable[[], bool]) -> bool:
    """A feed's "more on the socket" check; a socket that fails it has nothing more."""
    try:
        return more()
    except (OSError, ValueError):
        return False  # the feed's own read will see the error


def _ticks(inst: Instrument, price: Decimal) -> int | None:
    """A venue price as ticks, validated after snapping (``Instrument.market_ticks``)."""
    return inst.market_ticks(price)


def _levels(inst: Instrument, levels: Any) -> list[tuple[int, Decimal, int]]:
    out: list[tuple[int, Decimal, int]] = []
    for price, qty, n in levels or ():
        ticks = _ticks(inst, price)
        if ticks is not None:
            out.append((ticks, qty, n))
    return out


def _pick(spec: p.PlanSpec | None, name: str, default: Any) -> Any:
    if spec is not None:
        value = getattr(spec, name)
        if value is not None:
            return value
    return default


def _source_word(plan: ExitPlan) -> str:
    return {"trailing_stop": "trail", "breakeven": "breakeven"}.get(str(plan.stop_source), "stop")


def _describe_change(inst: Instrument, change: Any) -> str:
    parts = []
    for name, old, new in getattr(change, "changes", ()):
        if name in ("stop", "target"):
            o = "-" if old is None else inst.format_price(old)
            n = "-" if new is None else inst.format_price(new)
            parts.append(f"{name} {o} → {n}")
        elif name == "trail":
            parts.append(f"trail {'off' if new is None else new.describe()}")
        elif name == "trail_active":
            parts.append(f"trailing {'on' if new else 'off'}")
    return ", ".join(parts)


_STATUS_MAP: Final = {
    "pending_new": OrderStatus.PENDING_NEW,
    "open": OrderStatus.OPEN,
    "trigger_pending": OrderStatus.TRIGGER_PENDING,
    "trigger pending": OrderStatus.TRIGGER_PENDING,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "complete": OrderStatus.COMPLETE,
    "rejected": OrderStatus.REJECTED,
    "cancelled": OrderStatus.CANCELLED,
}


def _status_of(text: str) -> OrderStatus:
    return _STATUS_MAP.get(text.lower(), OrderStatus.OPEN)


def _fraction(value: Any) -> Fraction:
    if value is None:
        return Fraction(0)
    try:
        return Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return Fraction(0)


def _position_rows(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [r for r in data if isinstance(r, dict)]
    if isinstance(data, dict):
        inner = data.get("data", data.get("positions"))
        if isinstance(inner, list):
            return [r for r in inner if isinstance(r, dict)]
    return []


def _update_from_row(row: Mapping[str, Any], now: int) -> OrderUpdate | None:
    """An orderbook/orderstatus row as a (polled) OrderUpdate."""
    try:
        status = str(row.get("order_status", "")).strip().lower()
        quantity = to_decimal(row.get("quantity", 0) or 0)
        filled = row.get("filled_quantity")
        if filled is None:
            filled_qty = quantity if status == "complete" else _ZERO
        else:
            filled_qty = to_decimal(filled)
        pending = row.get("pending_quantity")
        return OrderUpdate(
            orderid=str(row["orderid"]),
            exchange=str(row.get("exchange", "")),
            symbol=str(row.get("symbol", "")),
            action=str(row.get("action", "")).upper(),
            status=status,
            recv_ns=now,
            quantity=quantity,
            filled_qty=filled_qty,
            pending_qty=to_decimal(pending) if pending is not None else _ZERO,
            price=to_decimal(row.get("price", 0) or 0),
            trigger_price=to_decimal(row.get("trigger_price", 0) or 0),
            average_price=to_decimal(row.get("average_price", 0) or 0),
            pricetype=str(row.get("pricetype", row.get("price_type", ""))),
            product=str(row.get("product", "")),
            rejection_reason=str(row.get("rejection_reason", "") or ""),
            source=OrderUpdateSource.POLLED,
        )
    except (KeyError, ValueError, ArithmeticError, TypeError):
        return None


_KINDS: Final = {
    "EQ": "equity",
    "INDEX": "index",
    "FUT": "future",
    "FUTIDX": "future",
    "FUTSTK": "future",
    "FUTCOM": "commodity",
    "CE": "option",
    "PE": "option",
    "OPTIDX": "option",
    "OPTSTK": "option",
    "CRYPTO": "crypto",
}


def _instrument_from_row(row: Any) -> Instrument | None:
    """An Instrument from an OpenAlgo ``/symbol`` or ``/search`` row (None if unusable)."""
    if not isinstance(row, Mapping):
        return None
    try:
        exchange = Exchange(str(row["exchange"]).upper())
        tick = to_decimal(row.get("tick_size") or 0)
        if tick <= 0:
            return None
        lot = to_decimal(row.get("lotsize") or 1)
        kind = _KINDS.get(str(row.get("instrumenttype") or "").upper(), "equity")
        if exchange.is_index:
            kind = "index"
        return Instrument(
            exchange,
            str(row["symbol"]),
            tick,
            lot if lot > 0 else Decimal(1),
            name=str(row.get("name") or ""),
            kind=kind,
            token=str(row.get("token") or ""),
        )
    except (KeyError, ValueError, ArithmeticError, TypeError):
        return None
