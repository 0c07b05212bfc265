"""The full-screen orders view (`O`): working orders to amend or cancel, and recent ones.

At 80 columns the trade screen has no room for the orders pane; this is where they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer

from cockpit.ui.fmt import fmt_qty
from cockpit.ui.screens.lifecycle import when_wanted
from cockpit.ui.store import Changes
from cockpit.ui.widgets.orders import OrdersPane
from cockpit.ui.widgets.status import StatusBar

if TYPE_CHECKING:
    from cockpit.ui.app import CockpitApp


class OrdersScreen(Screen[None]):
    """Every working and recent order at the full width; enter amends, c cancels."""

    AUTO_FOCUS = "#orders-full"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,O", "close", "Back", id="orders_screen.close"),
    ]

    @property
    def capp(self) -> CockpitApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        """The orders, the status bar and the footer."""
        self.orders = OrdersPane(self.capp.store, id="orders-full")
        self.status = StatusBar(self.capp.store, id="status")
        yield self.orders
        yield self.status
        yield Footer()

    @when_wanted
    def on_mount(self) -> None:
        """Draw the current state."""
        self.refresh_view(Changes(everything=True))

    @when_wanted
    def on_screen_resume(self) -> None:
        """Back on top: catch up."""
        self.refresh_view(Changes(everything=True))

    def refresh_view(self, ch: Changes) -> None:
        """Redraw what changed."""
        app = self.capp
        self.status.qty = fmt_qty(app.qty_of(app.selected))
        self.status.link = app.link_state
        if ch.everything or ch.orders or ch.fills:
            self.orders.rebuild()
        self.status.follow(ch)

    def action_close(self) -> None:
        """Back to trading."""
        self.dismiss(None)

    @on(OrdersPane.CancelRequested)
    def _cancel(self, event: OrdersPane.CancelRequested) -> None:
        from cockpit.ui.screens.trade import cancel

        cancel(self.capp, event.order)

    @on(OrdersPane.AmendRequested)
    def _amend(self, event: OrdersPane.AmendRequested) -> None:
        from cockpit.ui.screens.trade import amend

        amend(self.capp, event.order)
