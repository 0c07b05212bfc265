"""The full-screen watchlist (`w`): every symbol, every column."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from cockpit.ui.fmt import fmt_qty
from cockpit.ui.screens.lifecycle import when_wanted
from cockpit.ui.store import Changes
from cockpit.ui.widgets.status import StatusBar
from cockpit.ui.widgets.watchlist import Watchlist

if TYPE_CHECKING:
    from cockpit.ui.app import CockpitApp


class WatchlistScreen(Screen[None]):
    """All symbols. The row under the cursor is the traded one (the order keys act on it:
    the ladder that says which symbol they trade is not on this screen); enter goes back to
    trade it."""

    AUTO_FOCUS = "#watchlist-full"
    BINDINGS = [("escape", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        """A watchlist, the status bar and the footer."""
        app: CockpitApp = self.app  # type: ignore[assignment]
        self.watchlist = Watchlist(app.store, id="watchlist-full")
        self.status = StatusBar(app.store, id="status")
        yield self.watchlist
        yield self.status
        yield Footer()

    @when_wanted
    def on_mount(self) -> None:
        """Draw the current state."""
        app: CockpitApp = self.app  # type: ignore[assignment]
        self.watchlist.selected = app.selected
        self.refresh_view(Changes(everything=True))
        self.watchlist.cursor_on(app.selected)

    @when_wanted
    def on_screen_resume(self) -> None:
        """Back on top: catch up with what changed while covered."""
        self.refresh_view(Changes(everything=True))

    def symbol_selected(self, key: str | None) -> None:
        """Highlight the traded symbol."""
        self.watchlist.selected = key
        self.watchlist.rebuild()

    def refresh_view(self, ch: Changes) -> None:
        """Redraw rows that changed."""
        app: CockpitApp = self.app  # type: ignore[assignment]
        self.status.qty = fmt_qty(app.qty_of(app.selected))
        self.status.link = app.link_state
        everything = ch.everything or ch.watchlist
        self.watchlist.update_from(None if everything else ch.quotes | ch.positions)
        self.status.follow(ch)

    @on(Watchlist.Chosen)
    def _chosen(self, event: Watchlist.Chosen) -> None:
        app: CockpitApp = self.app  # type: ignore[assignment]
        app.select_symbol(event.key)
        app.pop_screen()

    @on(Watchlist.CursorMoved)
    def _cursor_moved(self, event: Watchlist.CursorMoved) -> None:
        app: CockpitApp = self.app  # type: ignore[assignment]
        app.select_symbol(event.key)
        self.status.qty = fmt_qty(app.qty_of(event.key))
        self.status.rebuild()

    @on(Watchlist.RemoveRequested)
    def _remove(self, event: Watchlist.RemoveRequested) -> None:
        app: CockpitApp = self.app  # type: ignore[assignment]
        app.remove_symbol(event.key)
