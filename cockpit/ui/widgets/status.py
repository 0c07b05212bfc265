"""The status bar: venue, feeds, ticks/s, tick age, reconnects, latency, day P&L, armed."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import ClassVar

from cockpit.domain.feed import FeedState
from cockpit.ui.fmt import fmt_age, fmt_money
from cockpit.ui.store import Changes, Store
from cockpit.ui.widgets.grid import Cell, LineGrid

LOCK_WORDS: dict[str, str] = {
    "daily_loss_limit": "daily loss",
    "journal": "journal",
    "kill_switch": "kill switch",
}
"""The engine's lock rules, as the bar names them (LOCKED <why>)."""

REASON_MAX = 40
"""A feed's reason beside its state is cut to this many characters."""


class StatusBar(LineGrid):
    """One line of engine-wide state (refreshed per batch and on a slow timer for ages)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status--armed",
        "status--disarmed",
        "status--ok",
        "status--warn",
        "status--bad",
        "status--label",
        "status--up",
        "status--down",
    }
    max_hz = 4.0
    silent_after_ns = 4_000_000_000
    """The engine sends its status about once a second: none for this long and the bar says
    the engine is not answering (a hung engine manages no stop)."""

    def __init__(self, store: Store, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.store = store
        self.qty = "1"
        """The order quantity, already formatted (``fmt_qty``)."""
        self.link = "connecting"
        """``connecting`` | ``live`` | ``lost`` | ``stopping``."""
        self.count = ""
        """The count typed before a key (``3`` of ``3]``), shown until a key takes it."""
        self._flags: tuple[bool, bool, str] | None = None
        self.pnl_from: Callable[[], Decimal | None] | None = None
        """Where the day P&L comes from when a positions pane is beside the bar (the figure
        it last drew); else the store's, at the latest prices."""

    def on_mount(self) -> None:
        """Ages change without ticks: a slow timer."""
        self.set_interval(0.5, self.rebuild)

    def follow(self, ch: Changes) -> None:
        """Redraw for a batch: at once if engine-wide state changed, else soon (market only)."""
        if ch.everything or ch.connection or ch.feeds or ch.orders or ch.positions or ch.plans:
            self.rebuild()
        else:
            self.update_soon()

    def update_soon(self) -> None:
        """Redraw soon (``max_hz``) for market changes; arming and kill switch at once."""
        st = self.store.status
        if st is not None and (st.armed, st.kill_switch, self.store.locked()) != self._flags:
            self.rebuild()
            return
        self.rebuild_soon()

    def rebuild(self) -> None:
        """Recompute the line."""
        st = self.store.status
        self._flags = (st.armed, st.kill_switch, self.store.locked()) if st is not None else None
        store = self.store
        st = store.status
        cells: list[Cell] = []
        armed = st.armed if st is not None else False
        welcome = store.welcome
        silent = store.silent_ns() if self.link == "live" else 0
        hung = silent >= self.silent_after_ns
        if self.link != "live":
            # An engine that said it stops (`cockpit engine stop`) is stopped, not lost.
            word = "STOPPED" if self.link == "lost" and store.stopping else self.link.upper()
            cells.append((f" ENGINE {word} ", "status--bad"))
        elif hung:
            cells.append((f" ENGINE NOT ANSWERING {fmt_age(silent, coarse=True)} ", "status--bad"))
        elif welcome is not None and welcome.read_only:
            cells.append((" READ-ONLY ", "status--label"))
        elif st is not None and st.kill_switch:
            cells.append((" KILL SWITCH ", "status--bad"))
        elif store.locked():
            cells.append(
                (f" LOCKED {LOCK_WORDS.get(store.locked(), store.locked())} ", "status--bad")
            )
        else:
            cells.append(
                (
                    " ARMED " if armed else " DISARMED ",
                    "status--armed" if armed else "status--disarmed",
                )
            )
        cells.append((" ", ""))
        # Groups by importance: where the bar is too narrow the least important go first
        # (venue, reconnects, latency, ticks/s, tick age, feeds), never the state, a stale
        # warning, the day P&L or the quantity.
        groups: list[tuple[int, list[Cell]]] = [(10, cells)]
        if self.count:
            groups.append((10, [(f" count {self.count} ", "status--warn"), (" ", "")]))
        key = getattr(self.app, "selected", None)
        if key is not None and self.link == "live" and store.stale(key):
            name = key.partition(":")[2] or key
            stale = f" STALE {name} {fmt_age(store.tick_age_ns(key))} "
            groups.append((10, [(stale, "status--warn"), (" ", "")]))
        if st is not None:
            groups.append((1, [(st.venue, "status--label"), (" ", "")]))
        feeds: list[Cell] = []
        for name, f in sorted(store.feeds.items()):
            if self.link != "live" or hung:
                # The engine owns the feeds: with no engine to say, their state is unknown.
                feeds += [(f"{name}:?", "status--bad"), (" ", "")]
                continue
            cls = {
                FeedState.LIVE: "status--ok",
                FeedState.STALE: "status--warn",
                FeedState.CONNECTING: "status--warn",
                FeedState.RECONNECTING: "status--warn",
            }.get(f.state, "status--bad")
            text = f"{name}:{f.state.value}"
            if f.reason:  # why, in words: a live feed's "quiet: no market data for 30 s"
                why = f.reason if len(f.reason) <= REASON_MAX else f.reason[: REASON_MAX - 1] + "…"
                text += f" ({why})"
                cls = "status--warn" if cls == "status--ok" else cls
            feeds += [(text, cls), (" ", "")]
        groups.append((6, feeds))
        if st is not None and self.link == "live" and not hung:
            groups.append((4, [(f"{st.ticks_per_s:,.0f}t/s ", "")]))
        age = store.last_tick_age_ns()
        age_cls = "status--warn" if age is not None and age > store.stale_ns else ""
        groups.append((5, [("age ", "status--label"), (fmt_age(age) + " ", age_cls)]))
        groups.append((2, [("rc ", "status--label"), (f"{store.reconnects()} ", "")]))
        if st is not None and st.order_latency_ms is not None:
            lat = f"{st.order_latency_ms:.0f}ms "
            groups.append((3, [("lat ", "status--label"), (lat, "")]))
        if st is not None:
            # The figure the positions pane beside it last drew (one source), else the sum at
            # the latest prices (the same sum the pane draws).
            pnls = store.day_pnls()
            if len(pnls) > 1:  # one figure per currency, never their sum
                parts: list[Cell] = [("P&L ", "status--label")]
                for currency, pnl in sorted(pnls.items()):
                    cls = "status--up" if pnl > 0 else "status--down" if pnl < 0 else ""
                    money = fmt_money(pnl, currency=currency)
                    parts += [(f"{currency or '?'} ", "status--label"), (money + " ", cls)]
                groups.append((8, parts))
            else:
                shown = self.pnl_from() if self.pnl_from is not None else None
                pnl = shown if shown is not None else store.day_pnl()
                cls = "status--up" if pnl > 0 else "status--down" if pnl < 0 else ""
                money = fmt_money(pnl, currency=next(iter(pnls), ""))
                groups.append((8, [("P&L ", "status--label"), (money + " ", cls)]))
        groups.append((9, [("qty ", "status--label"), (self.qty or "?", "")]))
        template = getattr(self.app, "active_template", None)  # the next entry's (``T``)
        if template:
            groups.append((9, [(" tpl ", "status--label"), (template, "")]))
        budget = getattr(self.app, "risk_budget", None)
        if budget is not None:
            risk = [(" risk ", "status--label"), (fmt_money(budget, sign=False), "")]
            groups.append((7, risk))
        width = self.size.width or 200
        for level in range(1, 7):
            if sum(len(t) for _, g in groups for t, _ in g) <= width:
                break
            groups = [(pr, g) for pr, g in groups if pr != level]
        self.set_lines([("", tuple(c for _, g in groups for c in g))])
