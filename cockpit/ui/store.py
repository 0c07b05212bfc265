"""The viewer's copy of the engine's state: applies Snapshot, MarketBatch and events (no Textual).

The TUI holds no trading state of its own. This store is a mirror of what the engine sent,
plus display-only derivations (recent prices for sparklines, last move direction for flashes,
tick age). Every ``apply`` returns a :class:`Changes` that says what moved, so widgets redraw
only what they must.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from cockpit.domain.feed import FeedState, FeedStatus
from cockpit.domain.instruments import Exchange, currency_of
from cockpit.link.protocol import (
    Ack,
    Alarm,
    AlertEvent,
    AlertFired,
    AlertView,
    Bars,
    BookView,
    ExitFired,
    FeedEvent,
    FillEvent,
    FillView,
    InstrumentView,
    MarketBatch,
    Msg,
    OrderEvent,
    OrderView,
    PlanEvent,
    PlanView,
    PositionEvent,
    PositionView,
    Prints,
    QuoteView,
    Refused,
    Snapshot,
    StatusView,
    Stopping,
    WatchlistChanged,
    WatchlistsChanged,
    WatchlistView,
    Welcome,
)
from cockpit.ui.chartdata import ChartData
from cockpit.ui.fmt import exit_reason, fmt_qty

HISTORY: Final = 120
"""Recent last prices kept per symbol for the sparkline."""
RECENT_FILLS: Final = 200
RECENT_FINAL_ORDERS: Final = 100
WORKING: Final = frozenset(
    {"open", "pending", "trigger pending", "new", "submitted", "partial", "pending approval"}
    | {"pending_new", "trigger_pending", "partially_filled"}  # the engine's spellings
)
"""Order statuses that are still working (anything else is final)."""
FLASH_NS: Final = 600_000_000
"""How long a price change flashes."""


def is_working(order: OrderView) -> bool:
    """Whether an order can still fill (or be amended / cancelled)."""
    return order.status.lower() in WORKING


@dataclass(slots=True)
class Changes:
    """What one ``apply`` (or a run of them) changed."""

    quotes: set[str] = field(default_factory=set)
    books: set[str] = field(default_factory=set)
    vap: set[str] = field(default_factory=set)
    charts: set[str] = field(default_factory=set)
    """Symbols whose bars or prints changed."""
    positions: set[str] = field(default_factory=set)
    """Symbols whose position changed (an engine event)."""
    marks: set[str] = field(default_factory=set)
    """Symbols with a position whose last price moved (its P&L: market-driven)."""
    plans: set[str] = field(default_factory=set)
    orders: bool = False
    fills: bool = False
    feeds: bool = False
    status: bool = False
    watchlist: bool = False
    alerts: bool = False
    everything: bool = False
    connection: bool = False

    def merge(self, other: Changes) -> None:
        """Fold ``other`` into this one."""
        self.quotes |= other.quotes
        self.books |= other.books
        self.vap |= other.vap
        self.charts |= other.charts
        self.positions |= other.positions
        self.marks |= other.marks
        self.plans |= other.plans
        self.orders |= other.orders
        self.fills |= other.fills
        self.feeds |= other.feeds
        self.status |= other.status
        self.watchlist |= other.watchlist
        self.alerts |= other.alerts
        self.everything |= other.everything
        self.connection |= other.connection

    def touches(self, key: str) -> bool:
        """Whether anything about symbol ``key`` changed."""
        return self.everything or any(
            key in s
            for s in (self.quotes, self.books, self.vap, self.positions, self.marks, self.plans)
        )


SHOWN_EVENTS: frozenset[str] = frozenset({"fill", "exit"})
"""Alert kinds whose event the screen already tells as its own notice (a fill, an exit
fired): their alert, unless it carries a note, rings and notifies without a second notice
in the same words."""


@dataclass(slots=True)
class Notice:
    """Something the app should tell the user (refusals, alarms, exits, fills)."""

    severity: str
    """``information`` | ``warning`` | ``error`` (Textual's notify severities)."""
    title: str
    message: str
    ts_ns: int = 0
    """Wall clock when it was told (set as it enters the message log)."""


MESSAGES: Final = 5000
"""Messages kept in the session's log (the `M` screen)."""


class Store:
    """Everything the viewer knows, as last sent by the engine."""

    def __init__(self) -> None:
        self.instruments: dict[str, InstrumentView] = {}
        self._currencies: dict[str, str] = {}
        """Each symbol's currency, worked out once (``currency``)."""
        self.quotes: dict[str, QuoteView] = {}
        self.books: dict[str, BookView] = {}
        self.vap: dict[str, dict[int, Decimal]] = {}
        self.bought: dict[str, dict[int, Decimal]] = {}
        """The buyer-initiated part of ``vap`` per price (the rest was seller-initiated)."""
        self.charts = ChartData()
        self.positions: dict[str, PositionView] = {}
        self.plans: dict[str, PlanView] = {}
        self.plan_changes: dict[str, str] = {}
        """Last plan change in words, per symbol (``stop 801.50 → 802.00 (trail)``)."""
        self.exits: dict[str, ExitFired] = {}
        """The last exit that fired, per symbol."""
        self.orders: dict[str, OrderView] = {}
        self.fills: deque[FillView] = deque(maxlen=RECENT_FILLS)
        self.feeds: dict[str, FeedStatus] = {}
        self.status: StatusView | None = None
        self.status_at = 0
        """When (``mono``) the engine's status last came (about once a second)."""
        self.watchlist: list[str] = []
        self.watchlists: dict[str, WatchlistView] = {}
        """The engine's named watchlists (the active one's symbols are ``watchlist``)."""
        self.active_watchlist = ""
        self.alerts: dict[int, AlertView] = {}
        """The engine's active alerts by id."""
        self.fired: list[AlertFired] = []
        self.alert_notes: dict[int, str] = {}
        """Each alert's note (an alert with one shows its toast even for a fill or exit)."""
        """Alerts fired since the app last took them (it rings and notifies)."""
        self.history: dict[str, deque[int]] = {}
        self.newest_recv_ns = 0
        """When the engine received the freshest tick of any symbol (kept as quotes come)."""
        self.direction: dict[str, int] = {}
        """+1 / -1 / 0: the direction of the last change of the last price."""
        self.flash_until: dict[str, int] = {}
        """Monotonic ns until which the symbol's last change flashes."""
        self.welcome: Welcome | None = None
        self.connected = False
        self.stopping: str | None = None
        self.seq = 0
        self.notices: list[Notice] = []
        """Pending notices; the app drains and shows them."""
        self.messages: deque[Notice] = deque(maxlen=MESSAGES)
        """The session's message log: every notice, oldest first (the app adds its own)."""
        self.messages_total = 0
        """Messages ever added to the log (those past ``MESSAGES`` fall off its start)."""
        self.stale_ns = 5_000_000_000
        """A symbol whose last tick is older than this is STALE (the app sets the engine's
        stale-data limit)."""
        self.snapshots = 0
        """Snapshots applied (the first one's messages all go to the log; a later one's only
        those after the last event this store saw)."""
        self.clock = time.time_ns
        """Wall clock for tick ages (tests freeze it)."""
        self.mono = time.monotonic_ns
        """Monotonic clock for flashes (tests freeze it)."""

    # ------------------------------------------------------------------ applying

    def apply_all(self, messages: list[Msg]) -> Changes:
        """Apply messages in order; return the union of what changed."""
        changes = Changes()
        for msg in messages:
            changes.merge(self.apply(msg))
        return changes

    def apply(self, msg: Msg) -> Changes:
        """Apply one protocol message from the engine."""
        ch = Changes()
        seq = getattr(msg, "seq", None)
        seen = self.seq
        if isinstance(seq, int) and seq > self.seq:
            self.seq = seq
        if isinstance(msg, MarketBatch):
            self._market(msg, ch)
        elif isinstance(msg, Snapshot):
            self._snapshot(msg, ch, seen)
        elif isinstance(msg, OrderEvent):
            self._order(msg.order)
            ch.orders = True
        elif isinstance(msg, FillEvent):
            f = msg.fill
            self.fills.append(f)
            ch.fills = True
            ex = self.exits.get(f.key)
            is_exit = ex is not None and ex.cid == f.cid
            self.notices.append(
                Notice(
                    "warning" if is_exit else "information",
                    f"{'Exit filled' if is_exit else 'Fill'}: {f.key}",
                    (f"{exit_reason(ex.reason)}: " if is_exit and ex is not None else "")
                    + f"{f.side} {fmt_qty(f.qty)} {f.key} at {self.fmt_dec_price(f.key, f.price)}",
                )
            )
        elif isinstance(msg, PositionEvent):
            self._position(msg.position)
            ch.positions.add(msg.position.key)
        elif isinstance(msg, PlanEvent):
            self._plan(msg)
            ch.plans.add(msg.plan.key)
        elif isinstance(msg, ExitFired):
            self.exits[msg.key] = msg
            lvl = msg.level if msg.level != msg.price else None  # the price said once
            ch.plans.add(msg.key)
            self.notices.append(
                Notice(
                    "warning",
                    f"Exit fired: {msg.key}",
                    f"{exit_reason(msg.reason)} at {self.fmt_price(msg.key, msg.price)}"
                    + (f" (level {self.fmt_price(msg.key, lvl)})" if lvl else ""),
                )
            )
        elif isinstance(msg, FeedEvent):
            self.feeds[msg.status.feed] = msg.status
            ch.feeds = True
        elif isinstance(msg, Alarm):
            sev = {"info": "information", "warning": "warning"}.get(msg.level, "error")
            # The engine's code in words (reduce_cancelled: "Reduce cancelled").
            title = (msg.code or "alarm").replace("_", " ").capitalize()
            title += f" {msg.key}" if msg.key else ""
            self.notices.append(Notice(sev, title, msg.message))
        elif isinstance(msg, WatchlistChanged):
            for inst in msg.instruments:
                self.instruments[inst.key] = inst
            self.watchlist = list(msg.watchlist)
            ch.watchlist = True
        elif isinstance(msg, AlertFired):
            self.fired.append(msg)  # the bell and the notification
            if msg.kind not in SHOWN_EVENTS or self.alert_notes.get(msg.alert_id):
                self.notices.append(Notice("warning", msg.title, msg.text))
        elif isinstance(msg, AlertEvent):
            self.alert_notes[msg.alert.id] = msg.alert.note  # (sent just before it fires)
            if msg.removed or not msg.alert.active:
                self.alerts.pop(msg.alert.id, None)
            else:
                self.alerts[msg.alert.id] = msg.alert
            ch.alerts = True
        elif isinstance(msg, WatchlistsChanged):
            self.watchlists = {w.name: w for w in msg.watchlists}
            self.active_watchlist = msg.active
            ch.watchlist = True
        elif isinstance(msg, Welcome):
            self.welcome = msg
            self.connected = True
            self.stopping = None
            ch.connection = True
        elif isinstance(msg, Stopping):
            self.stopping = msg.reason or "engine stopping"
            ch.connection = True
        elif isinstance(msg, Refused):
            self.notices.append(Notice("error", f"Refused: {msg.rule}", msg.message))
        elif isinstance(msg, Bars):
            self.charts.apply_bars(msg)
            ch.charts.add(msg.key)
        elif isinstance(msg, Prints):
            self.charts.apply_prints(msg)
            ch.charts.add(msg.key)
        elif isinstance(msg, Ack):
            pass
        return ch

    def _snapshot(self, snap: Snapshot, ch: Changes, seen: int) -> None:
        self.instruments = {i.key: i for i in snap.instruments}
        self.quotes = {}
        self.history = {}
        self.newest_recv_ns = 0
        self.direction = {}
        self.flash_until = {}
        for q in snap.quotes:
            self._quote(q, flash=False)
        self.books = {b.key: b for b in snap.books}
        self.vap = {v.key: dict(v.levels) for v in snap.volume_at_price}
        self.bought = {v.key: dict(v.bought) for v in snap.volume_at_price}
        self.charts.reset()
        self.positions = {}
        for p in snap.positions:
            self._position(p)
        self.plans = {p.key: p for p in snap.plans}
        self.orders = {}
        for o in snap.orders:
            self._order(o)
        self.fills = deque(snap.fills, maxlen=RECENT_FILLS)
        self.feeds = {f.feed: f for f in snap.feeds}
        self._status(snap.status)
        self.watchlist = list(snap.watchlist)
        self.watchlists = {w.name: w for w in snap.watchlists}
        self.active_watchlist = snap.active_watchlist
        self.alerts = {a.id: a for a in snap.alerts}
        # The engine's message log: on the first attach all of it; on a re-attach (a resync)
        # what came after the last event this store saw; from a new engine, all of it.
        after = -1 if self.snapshots == 0 or snap.seq < seen else seen
        for m in snap.messages:
            if m.seq > after:
                sev = {"info": "information", "warning": "warning"}.get(m.level, "error")
                self.remember(Notice(sev, m.title, m.text, m.ts_ns))
        self.snapshots += 1
        self.seq = snap.seq
        self.connected = True
        ch.everything = True

    def _market(self, batch: MarketBatch, ch: Changes) -> None:
        for q in batch.quotes:
            self._quote(q, flash=True)
            ch.quotes.add(q.key)
            if q.key in self.positions:
                ch.marks.add(q.key)
        for b in batch.books:
            self.books[b.key] = b
            ch.books.add(b.key)
        for v in batch.volume_at_price:
            # Only the levels that changed, each with its session total (0: level gone).
            levels = self.vap.setdefault(v.key, {})
            bought = self.bought.setdefault(v.key, {})
            for price, qty in v.levels:
                if qty:
                    levels[price] = qty
                else:
                    levels.pop(price, None)
                    bought.pop(price, None)
            bought.update((price, qty) for price, qty in v.bought if price in levels)
            ch.vap.add(v.key)
        if batch.status is not None:
            self._status(batch.status)
            ch.status = True

    def _status(self, st: StatusView) -> None:
        self.status = st
        self.status_at = self.mono()
        if st.stale_after_s is not None:
            # STALE against the limit the engine's gate enforces.
            self.stale_ns = int(st.stale_after_s * 1_000_000_000)

    def _quote(self, q: QuoteView, *, flash: bool) -> None:
        prev = self.quotes.get(q.key)
        self.quotes[q.key] = q
        if q.recv_ns > self.newest_recv_ns:
            self.newest_recv_ns = q.recv_ns
        hist = self.history.get(q.key)
        if hist is None:
            hist = self.history[q.key] = deque(maxlen=HISTORY)
        if q.ltp is None:  # no trade yet: quotes and book only
            return
        if prev is None or prev.ltp != q.ltp or not hist:
            hist.append(q.ltp)
        if prev is not None and prev.ltp is not None and prev.ltp != q.ltp:
            self.direction[q.key] = 1 if q.ltp > prev.ltp else -1
            if flash:
                self.flash_until[q.key] = self.mono() + FLASH_NS

    def _position(self, p: PositionView) -> None:
        if p.qty == 0 and p.realized == 0:
            self.positions.pop(p.key, None)
        else:
            self.positions[p.key] = p

    def _plan(self, ev: PlanEvent) -> None:
        key = ev.plan.key
        if ev.removed:
            self.plans.pop(key, None)
        else:
            self.plans[key] = ev.plan
        if ev.change:
            self.plan_changes[key] = ev.change

    def _order(self, o: OrderView) -> None:
        self.orders[o.cid] = o
        if len(self.orders) > RECENT_FINAL_ORDERS * 2:
            final = [c for c, v in self.orders.items() if not is_working(v)]
            for cid in final[: len(final) - RECENT_FINAL_ORDERS]:
                del self.orders[cid]

    def disconnected(self) -> Changes:
        """The link to the engine is gone."""
        self.connected = False
        return Changes(connection=True, everything=True)

    def drain_notices(self) -> list[Notice]:
        """Take the pending notices (the app shows them and keeps them: :meth:`remember`)."""
        out, self.notices = self.notices, []
        return out

    def remember(self, notice: Notice) -> None:
        """Add ``notice`` to the session's message log (stamped now)."""
        if not notice.ts_ns:
            notice.ts_ns = self.clock()
        self.messages.append(notice)
        self.messages_total += 1

    # ------------------------------------------------------------------ queries

    def working_orders(self, key: str | None = None) -> list[OrderView]:
        """Working orders, oldest first (of one symbol if given)."""
        return sorted(
            (o for o in self.orders.values() if is_working(o) and (key is None or o.key == key)),
            key=lambda o: o.ts_ns,
        )

    def final_orders(self) -> list[OrderView]:
        """Recent final orders (filled, rejected, cancelled), newest first."""
        return sorted(
            (o for o in self.orders.values() if not is_working(o)),
            key=lambda o: o.ts_ns,
            reverse=True,
        )

    def open_positions(self) -> list[PositionView]:
        """Positions with a non-zero quantity."""
        return [p for p in self.positions.values() if p.qty != 0]

    def has_exposure(self) -> bool:
        """Open positions or working orders exist."""
        return bool(self.open_positions()) or any(is_working(o) for o in self.orders.values())

    def mark(self, key: str) -> int | None:
        """The price open positions are valued at: the latest LTP this viewer received (the
        engine's own mark when no quote is known). The positions pane and the status bar's
        day P&L both use it, so they always agree."""
        q = self.quotes.get(key)
        if q is not None and q.ltp is not None:
            return q.ltp
        pos = self.positions.get(key)
        return pos.ltp if pos is not None else None

    def unrealized(self, key: str) -> Decimal:
        """Unrealized P&L of ``key``'s position at :meth:`mark`, in money."""
        pos = self.positions.get(key)
        if pos is None:
            return Decimal(0)
        return unrealized_at(pos, self.mark(key), self.tick_size(key))

    def day_pnl(self) -> Decimal:
        """Realized plus unrealized (at :meth:`mark`) over the positions: the status bar's
        day P&L, the sum of what the positions pane shows. The engine's own figure (its last
        tick, sent about once a second) is what its daily-loss rule uses."""
        return sum(
            (pos.realized + self.unrealized(key) for key, pos in self.positions.items()),
            Decimal(0),
        )

    def day_pnls(self) -> dict[str, Decimal]:
        """:meth:`day_pnl` per currency (``INR``, ``USDT``): rupees are never added to
        tethers; the status bar shows each apart when there are several."""
        out: dict[str, Decimal] = {}
        for key, pos in self.positions.items():
            currency = self.currency(key)
            out[currency] = out.get(currency, Decimal(0)) + pos.realized + self.unrealized(key)
        return out

    def currency(self, key: str) -> str:
        """The currency the symbol's prices are in (the engine's rule; ``""`` unknown)."""
        found = self._currencies.get(key)
        if found is None:
            inst = self.instruments.get(key)
            exchange, _, symbol = key.partition(":")
            if inst is not None:
                exchange, symbol = inst.exchange, inst.symbol
            try:
                found = currency_of(Exchange(exchange), symbol)
            except ValueError:
                found = ""
            self._currencies[key] = found
        return found

    def tick_age_ns(self, key: str, now_ns: int | None = None) -> int | None:
        """Nanoseconds since the engine received the symbol's last tick."""
        q = self.quotes.get(key)
        if q is None or not q.recv_ns:
            return None
        return max(0, (now_ns if now_ns is not None else self.clock()) - q.recv_ns)

    def stale(self, key: str, now_ns: int | None = None) -> bool:
        """Whether ``key``'s last tick is older than the stale limit."""
        age = self.tick_age_ns(key, now_ns)
        return age is not None and age > self.stale_ns

    def silent_ns(self, now_ns: int | None = None) -> int:
        """How long the engine has sent no status (0 before its first)."""
        if not self.status_at:
            return 0
        return max(0, (self.mono() if now_ns is None else now_ns) - self.status_at)

    def viewers(self) -> int:
        """Viewers attached to the engine, this one included (0: not known yet)."""
        if self.status is not None and self.status.viewers:
            return self.status.viewers
        return self.welcome.viewers if self.welcome is not None else 0

    def locked(self) -> str:
        """Why the engine's risk gate refuses every entry now (its rule), or ``""``."""
        st = self.status
        return st.lock if st is not None else ""

    def last_tick_age_ns(self, now_ns: int | None = None) -> int | None:
        """Age of the freshest tick of any symbol."""
        newest = self.newest_recv_ns
        if not self.quotes or not newest:
            return None
        return max(0, (now_ns if now_ns is not None else self.clock()) - newest)

    def feed_ok(self) -> bool:
        """Every known feed is live (no feeds known counts as live)."""
        return all(f.state == FeedState.LIVE for f in self.feeds.values())

    def reconnects(self) -> int:
        """Total reconnects across feeds."""
        return sum(f.reconnects for f in self.feeds.values())

    # ------------------------------------------------------------------ formatting

    def tick_size(self, key: str) -> Decimal:
        """The symbol's tick size (0.05 if unknown)."""
        inst = self.instruments.get(key)
        return inst.tick_size if inst is not None else Decimal("0.05")

    def precision(self, key: str) -> int:
        """Display decimals of the symbol's prices."""
        inst = self.instruments.get(key)
        return inst.precision if inst is not None else 2

    def price(self, key: str, ticks: int) -> Decimal:
        """Ticks to an exact price."""
        return ticks * self.tick_size(key)

    def fmt_price(self, key: str, ticks: int | None) -> str:
        """Ticks as a price string with the instrument's precision."""
        if ticks is None:
            return ""
        inst = self.instruments.get(key)
        if inst is None:
            return str(ticks)
        return f"{ticks * inst.tick_size:.{inst.precision}f}"

    def fmt_dec_price(self, key: str, price: Decimal | None) -> str:
        """A Decimal price with the instrument's precision."""
        if price is None:
            return ""
        return f"{price:.{self.precision(key)}f}"

    def money_per_tick(self, key: str) -> Decimal:
        """Money moved per tick per unit of quantity."""
        return self.tick_size(key)


def unrealized_at(pos: PositionView, ltp: int | None, tick_size: Decimal) -> Decimal:
    """Unrealized P&L of ``pos`` at ``ltp`` (ticks), exact: the engine's figure at its mark
    (``pos.ltp``) plus the move since, so an off-grid average is never re-rounded here."""
    if ltp is None or pos.qty == 0:
        return pos.unrealized
    if pos.ltp is not None:
        return pos.unrealized + (ltp - pos.ltp) * tick_size * pos.qty
    return (ltp * tick_size - pos.avg_price) * pos.qty
