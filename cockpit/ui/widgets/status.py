"""The status bar: venue, feeds, ticks/s, tick age, reconnects, latency, day P&L, armed."""

from __future__ import annotations

from typing import ClassVar

from cockpit.domain.feed import FeedState
from cockpit.ui.store import Changes, Store, fmt_age, fmt_money
from cockpit.ui.widgets.grid import Cell, LineGrid


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

    def __init__(self, store: Store, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.store = store
        self.qty = "1"
        """The order quantity, already formatted (``fmt_qty``)."""
        self.link = "connecting"
        """``connecting`` | ``live`` | ``lost`` | ``stopping``."""
        self._flags: tuple[bool, bool, bool] | None = None

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
        if self.link != "live":
            cells.append((f" ENGINE {self.link.upper()} ", "status--bad"))
        elif st is not None and st.kill_switch:
            cells.append((" KILL SWITCH ", "status--bad"))
        elif store.locked():
            cells.append((" LOCKED daily loss ", "status--bad"))
        else:
            cells.append(
                (
                    " ARMED " if armed else " DISARMED ",
                    "status--armed" if armed else "status--disarmed",
                )
            )
        cells.append((" ", ""))
        key = getattr(self.app, "selected", None)
        if key is not None and self.link == "live" and store.stale(key):
            name = key.partition(":")[2] or key
            cells.append((f" STALE {name} {fmt_age(store.tick_age_ns(key))} ", "status--warn"))
            cells.append((" ", ""))
        if st is not None:
            cells.append((st.venue, "status--label"))
            cells.append((" ", ""))
        for name, f in sorted(store.feeds.items()):
            cls = {
                FeedState.LIVE: "status--ok",
                FeedState.STALE: "status--warn",
                FeedState.CONNECTING: "status--warn",
                FeedState.RECONNECTING: "status--warn",
            }.get(f.state, "status--bad")
            cells.append((f"{name}:{f.state.value}", cls))
            cells.append((" ", ""))
        if st is not None:
            cells.append((f"{st.ticks_per_s:,.0f}t/s ", ""))
        age = store.last_tick_age_ns()
        age_cls = "status--warn" if age is not None and age > store.stale_ns else ""
        cells.append(("age ", "status--label"))
        cells.append((fmt_age(age) + " ", age_cls))
        cells.append(("rc ", "status--label"))
        cells.append((f"{store.reconnects()} ", ""))
        if st is not None and st.order_latency_ms is not None:
            cells.append(("lat ", "status--label"))
            cells.append((f"{st.order_latency_ms:.0f}ms ", ""))
        if st is not None:
            # Marked at the latest LTP, like the positions pane (their sum, so they agree).
            pnl = store.day_pnl()
            cls = "status--up" if pnl > 0 else "status--down" if pnl < 0 else ""
            cells.append(("P&L ", "status--label"))
            cells.append((fmt_money(pnl) + " ", cls))
        cells.append(("qty ", "status--label"))
        cells.append((self.qty or "?", ""))
        self.set_lines([("", tuple(cells))])
