"""The keys that open screens: symbol search, watchlist, orders, stats, log, help."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.actions import SkipAction

from cockpit.link import protocol as p

if TYPE_CHECKING:
    from cockpit.ui.app import CockpitApp


class NavigationMixin:
    """The screen keys (mixed into :class:`CockpitApp`)."""

    @property
    def _app(self) -> CockpitApp:
        """This object as the app it is mixed into (typed)."""
        return cast("CockpitApp", self)

    def action_add_symbol(self) -> None:
        """Search and add a symbol."""
        from cockpit.ui.screens.modals import SymbolSearchScreen

        app = self._app

        def done(key: str | None) -> None:
            if key:
                app.send(lambda i: p.Subscribe(id=i, keys=[key]))
                app.select_symbol(key)

        app.push_screen(SymbolSearchScreen(), done)

    def remove_symbol(self, key: str) -> None:
        """Unsubscribe a symbol."""
        app = self._app
        app.send(lambda i: p.Unsubscribe(id=i, keys=[key]))

    def action_watchlist_screen(self) -> None:
        """Toggle the full-screen watchlist."""
        from cockpit.ui.screens.watchlist import WatchlistScreen

        app = self._app
        if isinstance(app.screen, WatchlistScreen):
            app.pop_screen()
        else:
            app.push_screen(WatchlistScreen())

    def action_orders_screen(self) -> None:
        """Open (or close) the full-screen orders view."""
        from cockpit.ui.screens.orders import OrdersScreen

        app = self._app
        if isinstance(app.screen, OrdersScreen):
            app.pop_screen()
        else:
            app.push_screen(OrdersScreen())

    def action_journal_stats(self) -> None:
        """Open (or close) the trade statistics."""
        from cockpit.ui.screens.stats import StatsScreen

        app = self._app
        if isinstance(app.screen, StatsScreen):
            app.pop_screen()
        else:
            app.push_screen(StatsScreen(app.options.journal_path))

    def action_messages(self) -> None:
        """Open (or close) the message log."""
        from cockpit.ui.screens.log import LogScreen

        app = self._app
        if isinstance(app.screen, LogScreen):
            app.pop_screen()
        else:
            app.push_screen(LogScreen())

    def action_help(self) -> None:
        """Show the keys."""
        from cockpit.ui.screens.modals import HelpScreen

        app = self._app
        if isinstance(app.screen, HelpScreen):
            raise SkipAction()
        app.push_screen(HelpScreen())
