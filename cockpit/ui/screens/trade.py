"""The trade screen: watchlist, ladder, quote and depth, positions, orders, status bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._toast import ToastRack

from cockpit.ui.fmt import fmt_qty
from cockpit.ui.screens.chart import ChartScreen, chart_touched, watch_chart
from cockpit.ui.screens.lifecycle import when_wanted
from cockpit.ui.store import Changes
from cockpit.ui.toasts import toast_span
from cockpit.ui.widgets.chart import CandleChart
from cockpit.ui.widgets.ladder import Ladder
from cockpit.ui.widgets.orders import OrdersPane
from cockpit.ui.widgets.positions import PositionsPane
from cockpit.ui.widgets.quote import DepthView, QuotePanel
from cockpit.ui.widgets.status import StatusBar
from cockpit.ui.widgets.watchlist import Watchlist

if TYPE_CHECKING:
    from cockpit.link.protocol import OrderView
    from cockpit.ui.app import CockpitApp


class TradeScreen(Screen[None]):
    """The default screen. Widgets render the app's store; the app sends commands."""

    AUTO_FOCUS = "#ladder"
    CHART_BESIDE_MIN = 160
    """From this width `c` shows the chart beside the ladder (else on its own screen)."""
    _toasts_at: tuple[object, ...] | None = None
    """The screen size and ladder geometry the toasts were last placed for."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "c",
            "chart",
            "Chart",
            tooltip="Candle chart and tape of the selected symbol (beside the ladder from"
            " 160 columns)",
            show=False,
            id="trade.chart",
        ),
    ]

    @property
    def capp(self) -> CockpitApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        """Lay out the panes (TCSS hides some on small terminals)."""
        store = self.capp.store
        self.watchlist = Watchlist(store, id="watchlist")
        self.ladder = Ladder(store, id="ladder")
        self.quote = QuotePanel(store, id="quote")
        self.depth = DepthView(store, id="depth")
        self.positions = PositionsPane(store, id="positions")
        self.orders = OrdersPane(store, id="orders")
        self.status = StatusBar(store, id="status")
        # One day P&L on this screen: the bar shows what the positions pane last drew.
        self.status.pnl_from = lambda: self.positions.day_pnl
        self.positions.on_day_pnl = self.status.rebuild
        self.chart = CandleChart(store, id="chart")
        with Horizontal(id="top"):
            yield self.watchlist
            with Vertical(id="centre"):
                yield self.quote
                yield self.ladder
            yield self.chart
            yield self.depth
        with Horizontal(id="bottom"):
            yield self.positions
            yield self.orders
        yield self.status
        yield Footer(id="footer")

    @when_wanted
    def on_mount(self) -> None:
        """Render whatever the store holds (screens come and go; the store stays)."""
        self.symbol_selected(self.capp.selected)
        self.refresh_view(Changes(everything=True))
        self.call_after_refresh(self._lift_toasts)

    def _lift_toasts(self) -> None:
        """Toasts stack up from just above the positions pane (never over it, the status
        bar or the footer); the newest stays nearest, older ones go off the top. Across,
        they keep clear of the ladder's orders and marks (``toast_span``)."""
        bottom = next(iter(self.query("#bottom")), None)
        if bottom is None or not bottom.region.height:  # not mounted (the app closes)
            return
        lift = max(0, self.size.height - bottom.region.y)
        lad = self.ladder
        span = toast_span(
            self.size.width, lad.region, lad.content_region, lad.columns, lad.price_width
        )
        self._toasts_at = (self.size, lad.region, lad.columns, lad.price_width)
        for rack in self.query(ToastRack):
            styles = rack.styles
            if span is None:
                styles.clear_rule("width")
                styles.margin = (0, 0, lift, 0)
            else:
                styles.width = span.width
                styles.margin = (0, 0, lift, span.x)
        self.set_class(span is not None, "-toasts-fitted")

    def _toasts_follow_ladder(self) -> None:
        """The ladder's columns changed (a new symbol's price width, a resize): move the
        toasts with them."""
        lad = self.ladder
        if self._toasts_at != (self.size, lad.region, lad.columns, lad.price_width):
            self._lift_toasts()

    @when_wanted
    def on_screen_resume(self) -> None:
        """Back on top: catch up with what changed while covered."""
        self.refresh_view(Changes(everything=True))

    def symbol_selected(self, key: str | None) -> None:
        """The app selected another symbol."""
        self.watchlist.selected = key
        self.positions.selected = key
        self.status.qty = fmt_qty(self.capp.qty_of(key))
        self.status.rebuild()
        self.ladder.set_symbol(key)
        if self.has_class("-chart"):
            watch_chart(self.capp, key)
            self.chart.set_symbol(key)
        self.quote.set_symbol(key)
        self.depth.set_symbol(key)
        self.watchlist.rebuild()
        self.positions.rebuild()

    def refresh_view(self, ch: Changes) -> None:
        """Redraw what the changes touch (each grid repaints only rows that differ)."""
        app = self.capp
        key = app.selected
        self.status.qty = fmt_qty(app.qty_of(key))
        self.status.link = app.link_state
        everything = ch.everything or ch.watchlist
        if everything or ch.quotes or ch.positions:
            self.watchlist.update_from(None if everything else ch.quotes | ch.positions)
        if key is not None and (everything or ch.touches(key) or ch.orders):
            self.ladder.rebuild()  # the ladder keeps the full frame rate
            if everything or key in ch.quotes:
                self.quote.rebuild()  # with the ladder: their LTPs never disagree
            else:
                self.quote.rebuild_soon()
            if everything:
                self.depth.rebuild()
            else:
                self.depth.rebuild_soon()
        if self.has_class("-chart") and chart_touched(ch, key):
            if ch.everything:
                watch_chart(app, key)
            self.chart.rebuild_soon()
        if everything or ch.positions or ch.plans:
            self.positions.rebuild()
        elif ch.marks:
            self.positions.rebuild_soon()  # P&L moving with the price: max_hz
        if everything or ch.orders or ch.fills:
            self.orders.rebuild()
        self.status.follow(ch)
        self._toasts_follow_ladder()

    def action_chart(self) -> None:
        """The chart beside the ladder on a wide terminal (toggled), else its own screen."""
        if self.size.width >= self.CHART_BESIDE_MIN:
            shown = not self.has_class("-chart")
            self.set_class(shown, "-chart")
            if shown:
                watch_chart(self.capp, self.capp.selected)
                self.chart.set_symbol(self.capp.selected)
        else:
            self.app.push_screen(ChartScreen())

    def on_resize(self) -> None:
        """The panes moved: keep the toasts above the positions and the status bar; too
        narrow for the chart beside the ladder: it goes."""
        if self.size.width < self.CHART_BESIDE_MIN:
            self.remove_class("-chart")
        self.call_after_refresh(self._lift_toasts)

    def on_key(self, event: events.Key) -> None:
        """The count grammar: digits before a key collect into its count (shown on the
        status bar); ``esc`` drops a pending count, else the ladder's pick."""
        app = self.capp
        if app.count.push(event.character) or (event.key == "escape" and app.count.clear()):
            event.stop()
            event.prevent_default()
            app.show_count()
        elif event.key == "escape" and self.ladder.pick is not None:
            event.stop()
            self.ladder.pick = None  # esc also drops what is picked on the ladder
            self.ladder.rebuild()

    @on(Watchlist.Chosen)
    def _chosen(self, event: Watchlist.Chosen) -> None:
        self.capp.select_symbol(event.key)
        self.ladder.focus()

    @on(Watchlist.RemoveRequested)
    def _remove(self, event: Watchlist.RemoveRequested) -> None:
        self.capp.remove_symbol(event.key)

    @on(Ladder.LimitRequested)
    async def _ladder_limit(self, event: Ladder.LimitRequested) -> None:
        await self.capp.run_action(f"ladder_limit('{event.side}', {event.price})")

    @on(OrdersPane.CancelRequested)
    def _cancel(self, event: OrdersPane.CancelRequested) -> None:
        cancel(self.capp, event.order)

    @on(OrdersPane.AmendRequested)
    def _amend(self, event: OrdersPane.AmendRequested) -> None:
        amend(self.capp, event.order)


def cancel(app: CockpitApp, order: OrderView) -> None:
    """Cancel ``order`` (the orders pane's ``c`` / ``del``, on any screen that shows it)."""
    from cockpit.link.protocol import CancelOrders

    cid = order.cid
    app.send(lambda i: CancelOrders(id=i, cid=cid))


def amend(app: CockpitApp, order: OrderView) -> None:
    """Open the amend ticket for ``order``; send its change."""
    from cockpit.link.protocol import ModifyOrder, PlaceEntry
    from cockpit.ui.entry import marketable
    from cockpit.ui.screens.modals import ConfirmScreen
    from cockpit.ui.screens.ticket import AmendTicket

    def send(cmd: ModifyOrder) -> None:
        app.send(
            lambda i: ModifyOrder(
                id=i, cid=cmd.cid, price=cmd.price, qty=cmd.qty, trigger=cmd.trigger
            )
        )

    def done(cmd: ModifyOrder | None) -> None:
        if cmd is None:
            return
        # As a move on the ladder: a limit amended to where it fills at once asks first.
        probe = PlaceEntry(
            id=0, key=order.key, side=order.side, order_type=order.order_type, price=cmd.price
        )
        why = marketable(app.store, probe) if cmd.price is not None else None
        if why is None:
            send(cmd)
            return
        shown = app.store.fmt_price(order.key, cmd.price)
        text = f"Amend {order.side} {order.cid} to {shown}\n{why}.\nAmend it?"
        app.push_screen(
            ConfirmScreen("Check this amend", text, confirm="Amend", danger=True),
            lambda ok: send(cmd) if ok else None,
        )

    app.push_screen(AmendTicket(app.store, order), done)
