"""What every room of the engine may use of the others: the engine's state and its shared
methods, declared once (the rooms are parts of one :class:`~cockpit.engine.core.Engine`)."""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cockpit.domain.execution import (
    ExecutionClient,
    LookupSymbol,
    QueryBook,
    QueryHistory,
    RouterResult,
    SearchSymbols,
)
from cockpit.domain.feed import FeedStatus, OrderUpdate
from cockpit.domain.instruments import Instrument
from cockpit.domain.orders import Order, OrderRequest, Product
from cockpit.domain.positions import Portfolio, Position
from cockpit.engine.feed_lag import FeedLag
from cockpit.engine.messages import MessageRecorder
from cockpit.engine.ports import EngineJournal, MarketSubscriber
from cockpit.engine.risk_gate import GateContext, RiskGate
from cockpit.engine.screen import ScreenLanes
from cockpit.engine.state import (
    Closer,
    EngineOptions,
    PendingLookup,
    PlanSlot,
    ReconRound,
    SymbolState,
)
from cockpit.link import protocol
from cockpit.link.bus import Inbound, Publisher

if TYPE_CHECKING:
    from cockpit.config import Settings
    from cockpit.engine.charts import SymbolChart


class EngineBase:
    """The engine's state (set in ``Engine.__init__``) and the methods the rooms share."""

    config: Settings
    options: EngineOptions
    router: ExecutionClient
    journal: EngineJournal | None
    publisher: Publisher
    message_log: MessageRecorder
    inbound: Inbound
    feed: MarketSubscriber | None
    clock: Callable[[], int]
    instruments: dict[str, Instrument]
    _syms: dict[str, SymbolState]
    watchlist: list[str]
    orders: dict[str, Order]
    working: dict[str, Order]
    _working_by_key: dict[str, dict[str, Order]]
    """The orders of ``working`` by symbol (kept in step by ``_add_working``/``_drop_working``):
    an exit or a fill looks at its symbol's orders, not at every working order."""
    _products: dict[str, Product]
    _by_venue: dict[str, str]
    _parked: dict[str, list[OrderUpdate]]
    _uncertain: dict[str, int]
    _approval: dict[str, int]
    _withdrawn: dict[str, Order]
    _entry_specs: dict[str, protocol.PlanSpec | None]
    _recent_final: deque[str]
    _earlier_final: dict[str, Order]
    fills: deque[protocol.FillView]
    portfolio: Portfolio
    day_book: Portfolio
    _day_start_ns: int
    plans: dict[str, PlanSlot]
    _closers: dict[str, Closer]
    _plan_due: set[str]
    _touch: dict[str, Any]
    """Held MIT entries by client id (``cockpit.engine.entries.HeldTouch``)."""
    _pending_cancel_all: int | None
    _cancel_on_ack: set[str]
    _reduce_cancels: set[str]
    """Reducing orders the engine cancelled (they would open the other side), not yet final."""
    _shutdown_when_flat: bool
    _kill_started_ns: int
    feeds: dict[str, FeedStatus]
    _lag: FeedLag
    _confirming: set[int]
    armed: bool
    kill_switch: bool
    _daily_loss_locked: bool
    reconciled: bool
    _recon: dict[int, ReconRound]
    _lookups: dict[int, PendingLookup]
    _searches: dict[int, tuple[int, protocol.Search]]
    _lookup_token: int
    _recon_token: int
    _next_recon_ns: int
    _uncertain_recon_ns: int
    _next_status_ns: int
    _seq: int
    _held: list[Any] | None
    journal_ok: bool
    _next_journal_probe_ns: int
    _cid_n: int
    _cid_prefix: str
    started_ns: int
    shutdown_requested: threading.Event
    _ticks_window: int
    _ticks_window_start: int
    _ticks_per_s: float
    _ack_latencies: deque[int]
    counters: dict[str, int]
    _risk: RiskGate
    _vap_dirty: set[str]
    alerts: dict[int, protocol.AlertView]
    _price_alerts: dict[str, list[int]]
    active_watchlist: str
    _excursions: dict[str, list[int]]
    _charts: dict[str, SymbolChart]
    """Charted symbols (engine/charts.py)."""
    _screen_dirty: set[str]
    screen: ScreenLanes

    def _add_working(self, order: Order) -> None:
        self.working[order.cid] = order
        self._working_by_key.setdefault(order.key, {})[order.cid] = order

    def _drop_working(self, order: Order) -> None:
        self.working.pop(order.cid, None)
        of_key = self._working_by_key.get(order.key)
        if of_key is not None:
            of_key.pop(order.cid, None)
            if not of_key:
                del self._working_by_key[order.key]

    def _working_of(self, key: str) -> list[Order]:
        """The working orders of ``key`` (a copy: safe to cancel while walking it)."""
        of_key = self._working_by_key.get(key)
        return list(of_key.values()) if of_key else []

    if TYPE_CHECKING:

        def _add_instrument(self, inst: Instrument) -> None: ...
        def handle(self, item: object) -> None: ...
        def _handle_together(
            self, items: list[Any], step: Callable[[int], None] | None = None
        ) -> None: ...
        def _trade_part(
            self,
            key: str,
            sym: SymbolState,
            ev: Any,
            ltp: int,
            touch: tuple[int | None, int | None],
        ) -> None: ...
        def _alert_price(self, key: str, price: int) -> None: ...
        def _watchlist_changed(self) -> None: ...
        def _excursion_tick(self, key: str, price: int) -> None: ...
        def _excursion_fill(
            self, key: str, price: Any, qty_before: Decimal, qty: Decimal, ts: int
        ) -> None: ...
        def watchlist_views(self) -> list[protocol.WatchlistView]: ...
        def _cmd_Subscribe(  # noqa: N802
            self, conn_id: int, cmd: protocol.Subscribe
        ) -> protocol.Msg | None: ...
        def _alert_event(self, kind: str, key: str | None, title: str, text: str) -> None: ...
        def _day_pnls(self) -> dict[str, Decimal]: ...
        def _restore_day(self, fills: list[protocol.FillView]) -> None: ...
        def _adopt_uncertain(self, update: OrderUpdate) -> str | None: ...
        def _alarm(
            self, level: str, message: str, *, key: str | None = None, code: str = ""
        ) -> None: ...
        def _apply_events(self, order: Order, events: list[Any], *, source: str) -> None: ...
        def _apply_update(self, order: Order, update: OrderUpdate) -> None: ...
        @contextlib.contextmanager
        def _batch(self) -> Iterator[None]: ...
        def _cancel(self, order: Order, *, urgent: bool = False) -> bool: ...
        def _withdraw_approval(self, order: Order) -> None: ...
        def _adopt_withdrawn(self, update: OrderUpdate) -> str | None: ...
        def _restore_withdrawn(self, events: list[tuple[str, dict[str, Any]]]) -> None: ...
        def _venue_refused(self, order: Order, what: str, result: RouterResult) -> None: ...
        def _new_cid(self) -> str: ...
        def _cancel_working(self, key: str | None) -> int: ...
        def _closing_done(self, order: Order) -> None: ...
        def _feed_ok(self) -> bool: ...
        def _journal_call(self, fn: Callable[..., Any], *args: Any) -> Any: ...
        def _journal_order(self, order: Order) -> None: ...
        def _journal_plan(self, slot: PlanSlot, change: str) -> None: ...
        def _leg_fill(self, order: Order, qty: Decimal) -> None: ...
        def _leg_final(self, order: Order) -> None: ...
        def _modify(
            self,
            order: Order,
            *,
            price: int | None = None,
            trigger: int | None = None,
            qty: Decimal | None = None,
        ) -> None: ...
        def _new_plan(
            self, key: str, pos: Position, spec: protocol.PlanSpec | None, ts_ns: int
        ) -> PlanSlot | None: ...
        def _next_seq(self) -> int: ...
        def _on_book(self, result: RouterResult, request: QueryBook) -> None: ...
        def _on_lookup(self, result: RouterResult, request: LookupSymbol) -> None: ...
        def _on_confirm(self, result: RouterResult, request: LookupSymbol) -> None: ...
        def _confirm_from_journal(self) -> None: ...
        def _on_search(self, result: RouterResult, request: SearchSymbols) -> None: ...
        def _on_history(self, result: RouterResult, request: QueryHistory) -> None: ...
        def _chart_trade(
            self, key: str, price: int, qty: Decimal | None, ts_ns: int, side: str, inferred: bool
        ) -> None: ...
        def _order_view(self, order: Order) -> protocol.OrderView: ...
        def _publish_order(self, order: Order) -> None: ...
        def _plan_tick(self, slot: PlanSlot, ltp: int, ts_ns: int) -> None: ...
        def _position_view(self, pos: Position | None) -> protocol.PositionView: ...
        def _publish_status(self) -> None: ...
        def _quote_view(self, sym: SymbolState) -> protocol.QuoteView: ...
        def _book_view(self, sym: SymbolState) -> protocol.BookView | None: ...
        def _remove_plan(self, key: str, why: str) -> None: ...
        def _retry_closers(self, now: int) -> None: ...
        def _start_close(
            self, key: str, reason: str, *, from_plan: bool = False
        ) -> Closer | None: ...
        def _status_view(self) -> protocol.StatusView: ...
        def _submit(
            self, request: OrderRequest, *, urgent: bool, cid: str | None = None
        ) -> Order: ...
        def _gate_context(self, key: str) -> GateContext: ...
        def _drop_queued_entries(self, why: str, *, reducing: bool = True) -> None: ...
        def _drop_one(self, held: Any, why: str, *, level: str = "") -> None: ...
        def _touch_view(self, held: Any, status: str, reason: str = "") -> protocol.OrderView: ...
        def _touch_tick(self, key: str, price: int) -> None: ...
        def _touch_reconciled(self) -> None: ...
        def _touch_feed_lost(self) -> None: ...
        def _drop_touch(self, key: str | None, why: str, *, reducing: bool = True) -> int: ...
        def _trim_reducing_touch(self, key: str, held: Decimal, room: Decimal) -> None: ...
        def _restore_touch(self, events: list[tuple[str, dict[str, Any]]]) -> list[str]: ...
        def _sync_plan(self, key: str, order: Order, ts_ns: int) -> None: ...
        def _sync_protective(self, slot: PlanSlot, now: int) -> None: ...
        def reconcile(self, why: str) -> int: ...
