"""The engine's decision thread: sole owner of trading state; exits decided on the tick.

One :class:`Engine` handles items one at a time, on one thread (the decision thread): market
events, ``OrderUpdate``, ``FeedStatus``, router results
(:class:`~cockpit.domain.execution.RouterResult`), viewer commands, snapshot requests
and its own periodic :class:`EngineTimer`. Every producer (feed threads, the viewer server,
the router's workers) only puts items on the :class:`~cockpit.link.bus.Inbound` queue; no
other thread runs engine code, so no lock guards trading state. ``handle(item)`` is
synchronous and never waits on the network, so it can be unit-tested with a fake router and
publisher.

Exits: every tick runs the plan of its symbol; a decision is journaled (one SQLite commit),
then exactly one exit order is handed to the router (urgent: its exit workers never wait
behind queries or entries), then ``ExitFired`` and ``PlanEvent`` are published.
At most one closing order per symbol is in flight at a time (plan exits, Flatten and the kill
switch all go through the same :class:`~cockpit.engine.state.Closer`), so nothing is ever sold
twice. A closing order that is rejected, cancelled or fails in transport is retried with
backoff for the position's remaining quantity, with an ``exit_retry`` alarm each time, until
the position is flat; a position found flat stops it.

Reconciliation: at start (before any entry is allowed and before restored plans act), after a
feed comes back LIVE, and periodically, the broker's orderbook and positionbook are fetched.
Orders we know are brought up to date from the orderbook (missed updates); any difference in
positions, or a working order at the broker we do not know, raises a ``reconcile_mismatch``
alarm. Nothing is silently overwritten.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from cockpit.domain import risk
from cockpit.domain.execution import (
    ExecutionClient,
    RouterResult,
)
from cockpit.domain.feed import FeedState, FeedStatus, OrderUpdate
from cockpit.domain.instruments import (
    Instrument,
)
from cockpit.domain.market import DepthTick, LtpTick, QuoteTick, TradeTick
from cockpit.domain.orders import (
    Order,
    Product,
)
from cockpit.domain.positions import Portfolio
from cockpit.engine.alerts import AlertDelivery, AlertKeeping
from cockpit.engine.approvals import Approvals
from cockpit.engine.charts import Charting, SymbolChart
from cockpit.engine.commands import ViewerCommands
from cockpit.engine.entries import Entries, HeldTouch
from cockpit.engine.excursions import Excursions
from cockpit.engine.feed_lag import FeedLag
from cockpit.engine.fold import Folding
from cockpit.engine.market import MarketData
from cockpit.engine.messages import MessageRecorder
from cockpit.engine.orders import OrderFlow
from cockpit.engine.plans import ExitPlanning
from cockpit.engine.ports import AlertSender, EngineJournal, MarketSubscriber
from cockpit.engine.reconcile import Reconciliation
from cockpit.engine.reports import VenueReports
from cockpit.engine.restore import Journaling
from cockpit.engine.risk_gate import RiskGate, entry_lock, stale_limit_s
from cockpit.engine.screen import ScreenLanes
from cockpit.engine.state import (
    BATCHED,
    MS,
    NS,
    ZERO,
    Closer,
    EngineOptions,
    EngineTimer,
    PendingLookup,
    PlanSlot,
    ReconRound,
    SymbolState,
    local_day_start_ns,
)
from cockpit.engine.watchlists import WatchlistKeeping
from cockpit.link import protocol
from cockpit.link.bus import (
    Inbound,
    NullPublisher,
    Publisher,
    SnapshotRequest,
    ViewerCommand,
    ViewerGone,
    ViewerShowing,
)
from cockpit.link.pace import grid_slot

__all__ = ["Engine", "EngineOptions", "EngineTimer"]

if TYPE_CHECKING:
    from cockpit.config import Settings

log = logging.getLogger(__name__)


class Engine(
    MarketData,
    Charting,
    ExitPlanning,
    OrderFlow,
    VenueReports,
    Reconciliation,
    ViewerCommands,
    AlertKeeping,
    WatchlistKeeping,
    Excursions,
    Journaling,
    Entries,
    Folding,
    Approvals,
):
    """The decision thread. See the module docstring.

    Args:
        config: :class:`cockpit.config.Settings` (``exits``, ``risk``, ``trading`` are used).
        instruments: known instruments, by key or as an iterable.
        router: the venue (:class:`~cockpit.domain.execution.ExecutionClient`); every
            request's result comes back on ``inbound``.
        journal: a :class:`cockpit.journal.store.Journal` (or None: nothing is journaled).
        publisher: where views and events go (:class:`cockpit.link.bus.Publisher`).
        inbound: the one queue every producer puts items on.
        feed: optional; ``subscribe(keys, mode)``/``unsubscribe(keys, mode)`` for Subscribe.
        options: :class:`EngineOptions`.
        clock: wall-clock nanoseconds (tests may pass a fake).
        alert_sender: where fired alerts go beyond the viewers (the webhook worker), or None.
    """

    def __init__(
        self,
        *,
        config: Settings,
        instruments: Mapping[str, Instrument] | Iterable[Instrument],
        router: ExecutionClient,
        journal: EngineJournal | None = None,
        publisher: Publisher | None = None,
        inbound: Inbound | None = None,
        feed: MarketSubscriber | None = None,
        options: EngineOptions | None = None,
        clock: Callable[[], int] = time.time_ns,
        alert_sender: AlertSender | None = None,
    ) -> None:
        self.config = config
        self.options = options or EngineOptions()
        self.router = router
        self.journal = journal
        self.message_log = MessageRecorder(
            publisher or NullPublisher(),
            fmt_price=lambda key, ticks: self.instruments[key].format_price(ticks),
            seq=lambda: self._seq,
            clock=clock,
            fmt_money=lambda key, price: (
                self.instruments[key].format_money(price) if key in self.instruments else str(price)
            ),
        )
        """The day's recent messages (sent in snapshots); it passes everything on."""
        self.publisher: Publisher = self.message_log
        self.inbound = inbound if inbound is not None else Inbound()
        self.feed = feed
        self.clock = clock
        items = instruments.values() if isinstance(instruments, Mapping) else instruments
        self.instruments: dict[str, Instrument] = {}
        self._syms: dict[str, SymbolState] = {}
        self.watchlist: list[str] = []
        for inst in items:
            self._add_instrument(inst)
        watch = list(config.trading.watchlist)
        for key in (k for k in watch if k not in self.instruments):
            log.warning("trading.watchlist: %s is not an instrument of this venue: ignored", key)
        self.watchlist = [k for k in watch if k in self.instruments] or list(self.instruments)

        self.orders: dict[str, Order] = {}
        self.working: dict[str, Order] = {}
        """Orders that may still fill, by cid (kept in step with ``orders``)."""
        self._working_by_key: dict[str, dict[str, Order]] = {}
        self._products: dict[str, Product] = {}
        """The product of each symbol's latest fill (closing orders must use it)."""
        self._by_venue: dict[str, str] = {}
        self._parked: dict[str, list[OrderUpdate]] = {}
        self._uncertain: dict[str, int] = {}
        self._approval: dict[str, int] = {}
        """Orders queued for the user's approval at the venue (OpenAlgo semi-auto), by cid."""
        self._withdrawn: dict[str, Order] = {}
        """Orders withdrawn while they waited for approval, by cid (``engine.approvals``)."""
        """cid -> when its placement became uncertain."""
        self._entry_specs: dict[str, protocol.PlanSpec | None] = {}
        self._recent_final: deque[str] = deque(maxlen=self.options.recent_orders)
        self._earlier_final: dict[str, Order] = {}
        """The day's orders that ended before a restart (from the journal): history a viewer
        lists among the recent orders, kept apart from the orders the engine works with."""
        self.fills: deque[protocol.FillView] = deque(maxlen=self.options.recent_fills)
        self.portfolio = Portfolio()
        self.day_book = Portfolio()
        """Today's fills only (from the journal at start, then live): the day's realized P&L.
        ``portfolio`` follows the broker (a position learned at start has no history)."""
        self._day_start_ns = local_day_start_ns(self.clock())
        self.plans: dict[str, PlanSlot] = {}
        self._closers: dict[str, Closer] = {}
        self._plan_due: set[str] = set()
        """Plans the timer must look at (a time stop, or a change not yet published,
        journaled or sent to the protective order); every plan once a second."""
        self._next_plan_sweep_ns = 0
        self._touch: dict[str, HeldTouch] = {}
        self._pending_cancel_all: int | None = None
        self._cancel_on_ack: set[str] = set()
        """Orders to cancel as soon as the venue acknowledges them."""
        self._reduce_cancels: set[str] = set()
        self._shutdown_when_flat = False
        self._kill_started_ns = 0
        self.feeds: dict[str, FeedStatus] = {}
        self._lag = FeedLag()
        self._confirming: set[int] = set()
        """Lookup tokens asking the broker about instruments rebuilt from the journal."""
        """How far behind the exchange each segment's feed is (``engine.feed_lag``)."""

        self.armed: bool = config.trading.armed_at_start
        self.kill_switch = False
        self._daily_loss_locked = False
        """The day's loss limit is reached (entries refused; queued ones were dropped)."""
        self.reconciled = False
        """True once the first reconciliation with the broker is done (entries allowed)."""
        self._recon: dict[int, ReconRound] = {}
        self._lookups: dict[int, PendingLookup] = {}
        self._searches: dict[int, tuple[int, protocol.Search]] = {}
        self._charts: dict[str, SymbolChart] = {}
        self._history_token = 0
        self._history_pending: dict[int, str] = {}
        """History requests in flight: token -> symbol."""
        self._next_chart_ns = 0
        self._lookup_token = 0
        self._recon_token = 0
        self._next_recon_ns = 0
        self._uncertain_recon_ns = 0
        self._next_status_ns = 0
        self._seq = 0
        self._held: list[Any] | None = None
        """Router requests held until the current journal batch commits (see _batch)."""
        self.journal_ok = True
        """False after a journal write failed, until a write succeeds again: entries refused."""
        self._next_journal_probe_ns = 0
        self._cid_n = 0
        self._cid_prefix = f"c{(self.clock() // NS) % 10_000_000:x}-"
        self.started_ns = self.clock()
        self.shutdown_requested = threading.Event()
        self._ticks_window = 0
        self._ticks_window_start = time.monotonic_ns()
        self._ticks_per_s = 0.0
        self._ack_latencies: deque[int] = deque(maxlen=50)
        self.counters: dict[str, int] = {
            "ticks": 0,
            "folded": 0,
            "bad_ticks": 0,
            "unknown_symbol": 0,
            "order_updates": 0,
            "unmatched_updates": 0,
            "bad_updates": 0,
            "exits": 0,
            "exit_retries": 0,
            "commands": 0,
            "errors": 0,
            "journal_errors": 0,
            "not_sent_journal": 0,
            "history_failed": 0,
            "bad_history_bars": 0,
        }
        self._risk = RiskGate(config)
        self._init_alerts(alert_sender)
        self._init_excursions()
        self._vap_dirty: set[str] = set()
        """Symbols whose volume at price changed since the timer last published it."""
        self._screen_dirty: set[str] = set()
        """Symbols whose quote or book changed since viewers were last sent them (folded)."""
        self.screen = ScreenLanes(self.options.screen_slow_s)
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
            ViewerShowing: self._on_viewer_showing,
            ViewerGone: self._on_viewer_gone,
            EngineTimer: self._on_timer,
            AlertDelivery: self._on_alert_delivery,
        }
        self._init_watchlists()

    # ================================================================== life

    def start(self) -> None:
        """Restore from the journal and ask the broker for its books (first reconciliation)."""
        if self.journal is not None:
            self._restore()
            self._restore_alerts()
            self._start_watchlists()
            self._follow_open_positions()
        self.reconcile("start")

    def run(self, stop: threading.Event) -> None:
        """The decision loop: handle what ``inbound`` holds, in order, until ``stop`` (or a
        Shutdown); the timer in between."""
        inbound = self.inbound
        self.start()
        for item in inbound.take_all(0):  # what the feeds queued before the restore
            self.handle(item)
        # What was made at start (modules, instruments, restored state) lives as long as the
        # process: move it out of the collector's sight, so a full collection during the
        # session (it holds the GIL, exits wait) scans only what the session made.
        gc.freeze()
        interval = self.options.timer_interval_s
        fold = self.options.screen_fold_s
        grid = self.options.screen_grid_s
        lead = self.options.screen_lead_s
        next_timer = time.monotonic() + interval
        next_screen = 0.0
        while not stop.is_set() and not self.shutdown_requested.is_set():
            wake = next_timer
            if self._screen_dirty and next_screen < wake:
                wake = next_screen
            items = inbound.take_all(wake - time.monotonic())
            if items:
                self.handle_items(items)  # a lagging batch is folded (engine/fold.py)
            if self.screen_due():
                # Viewers get the latest state of what changed, at most every `fold` s (or
                # once per send of the viewer server, just before it): a lone tick goes out
                # at once, a flood is folded per symbol.
                now = time.monotonic()
                if now >= next_screen:
                    self.flush_screen()
                    # the next send's slot (this one's once within `lead` of it), `lead` early
                    next_screen = grid_slot(now + lead, grid) - lead if grid > 0 else now + fold
            if time.monotonic() >= next_timer:
                next_timer = time.monotonic() + interval
                self.handle(EngineTimer(self.clock()))
        if self.journal is not None:
            self.journal.flush()  # what its writer thread holds goes out before the router stops
        self.publisher.event(protocol.Stopping("engine stopped"))

    def handle(self, item: object) -> None:
        """Process one inbound item. Never raises (a bug is logged, counted and alarmed)."""
        handler = self._handlers.get(type(item))
        if handler is None:
            self.counters["errors"] += 1
            log.warning("engine: unknown inbound item %s", type(item).__name__)
            return
        try:
            if type(item) in BATCHED and self.journal is not None:
                with self._batch():
                    handler(item)
            else:
                handler(item)
        except Exception as exc:
            self.counters["errors"] += 1
            log.exception("engine: error handling %s", type(item).__name__)
            self._alarm("error", f"internal error on {type(item).__name__}: {exc!r}", code="bug")

    # ================================================================== feeds & timer

    def _on_feed_status(self, status: FeedStatus) -> None:
        previous = self.feeds.get(status.feed)
        self.feeds[status.feed] = status
        self.publisher.event(protocol.FeedEvent(self._next_seq(), status))
        self._alert_feed(status, previous)
        if status.state is not FeedState.LIVE and self._touch:
            self._touch_feed_lost()
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
            self._plans_on_timer(now)
        self._retry_closers(now)
        self._probe_journal(now)
        if self._risk.limits.has_daily_loss_limit and self.reconciled:
            self._check_daily_loss()
        if self._shutdown_when_flat and not self.portfolio.open_positions and not self.working:
            self.shutdown_requested.set()
        if self._pending_cancel_all is not None:
            self._flatten_when_cancelled(now)
        if self._uncertain and now >= self._uncertain_recon_ns and not self._recon:
            oldest = min(self._uncertain.values())
            if now - oldest >= self.options.uncertain_wait_s * NS:
                self._uncertain_recon_ns = now + 2 * NS
                self.reconcile("uncertain order")
        if self._next_recon_ns and now >= self._next_recon_ns and not self._recon:
            if self.options.reconcile_interval_s > 0 or not self.reconciled:
                self.reconcile("periodic" if self.reconciled else "retry")
            else:
                self._next_recon_ns = 0
        if self.alerts:
            self._alerts_on_timer()
        if self._excursions:
            self._marks_on_timer(now)
        if self._vap_dirty:
            self._publish_volume()
        if self._charts:
            self._publish_charts(now)
        if now >= self._next_status_ns:
            self._publish_status()

    def _plans_on_timer(self, now: int) -> None:
        """Time stops, paced plan events, protective orders and trail journaling. Each timer
        looks at the plans that may need it (``_plan_due``: a time stop, or a change since);
        once a second at every plan, so a change no path flagged waits a second at most."""
        due = self._plan_due
        if now >= self._next_plan_sweep_ns:
            self._next_plan_sweep_ns = now + NS
            keys = list(self.plans)
        elif due:
            keys = list(due)
        else:
            return
        event_every = self.options.plan_event_interval_s * NS
        journal_every = self.options.journal_trail_every_s * NS
        for key in keys:
            slot = self.plans.get(key)
            if slot is None:
                due.discard(key)
                continue
            plan = slot.plan
            decision = plan.on_time(now)
            if decision is not None:
                self._fire(slot, decision)
                due.add(key)
                continue
            if slot.event_pending and now - slot.event_ns >= event_every:
                self._publish_moved(slot, now)
            if slot.protective_dirty:
                self._sync_protective(slot, now)
            if slot.journaled_version != plan.version and (
                now - slot.journaled_ns >= journal_every
            ):
                self._journal_plan(slot, "trail")
            if (
                (plan.time_stop_ns is not None and plan.active)
                or slot.event_pending
                or slot.protective_dirty
                or slot.journaled_version != plan.version
            ):
                due.add(key)
            else:
                due.discard(key)

    def _check_daily_loss(self) -> None:
        """The day's loss limit: as it is reached, entries still queued are dropped; with
        ``[risk] kill_on_daily_loss`` the kill switch trips (again after a re-arm)."""
        breach = risk.daily_loss_breach(self._risk.limits, self._day_pnls())
        if breach is not None and not self._daily_loss_locked:
            self._drop_queued_entries("daily loss limit", reducing=False)
            self._alert_event("lock", None, "Daily loss lock", f"{breach.words}: entries refused")
        self._daily_loss_locked = breach is not None
        if breach is None or not self._risk.limits.kill_on_daily_loss or self.kill_switch:
            return
        self._alarm("error", f"{breach.words}: kill switch", code="daily_loss_kill")
        self._cmd_KillSwitch(0, protocol.KillSwitch(id=0))

    def _publish_status(self) -> None:
        now_mono = time.monotonic_ns()
        elapsed = now_mono - self._ticks_window_start
        if elapsed > 0:
            self._ticks_per_s = self._ticks_window * NS / elapsed
        self._ticks_window = 0
        self._ticks_window_start = now_mono
        self._next_status_ns = self.clock() + int(self.options.status_interval_s * NS)
        self.publisher.status(self._status_view())

    def _status_view(self) -> protocol.StatusView:
        latencies = sorted(self._ack_latencies)
        median = latencies[len(latencies) // 2] / MS if latencies else None
        day_pnls = self._day_pnls()
        lock, detail = entry_lock(
            self._risk.limits, day_pnls, kill_switch=self.kill_switch, journal_ok=self.journal_ok
        )
        several = len(day_pnls) > 1
        return protocol.StatusView(
            venue=self.options.venue,
            armed=self.armed,
            day_pnl=ZERO if several else sum(day_pnls.values(), ZERO),
            day_pnls=day_pnls if several else {},
            ticks_per_s=round(self._ticks_per_s, 1),
            ticks=self.counters["ticks"],
            ticks_folded=self.counters["folded"],
            order_latency_ms=median,
            kill_switch=self.kill_switch,
            lock=lock,
            lock_detail=detail,
            stale_after_s=stale_limit_s(self._risk.limits),
        )
