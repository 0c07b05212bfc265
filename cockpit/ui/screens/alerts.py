"""The alerts the engine holds (`!`): the list, remove one (`d`), add one by typing (`n`).

Alerts live in the engine (journaled, restored after a restart); this screen shows the
engine's list and sends its commands. `A` on the trading screen sets a price alert at the
ladder cursor without opening it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

import msgspec
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, OptionList
from textual.widgets.option_list import Option

from cockpit.link import protocol as p
from cockpit.link.lists import ALERT_USAGE, describe, parse_alert
from cockpit.ui.screens.lifecycle import when_wanted
from cockpit.ui.store import Changes

if TYPE_CHECKING:
    from cockpit.ui.app import CockpitApp


class AlertsScreen(Screen[None]):
    """The engine's active alerts."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="alerts.close"),
        Binding("d,delete", "remove", "Remove", id="alerts.remove"),
        Binding("n", "new", "New", id="alerts.new"),
    ]

    @property
    def capp(self) -> CockpitApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        """Title, the list, the input for a new one, the keys."""
        yield Label(" Alerts — held by the engine; they fire with or without this screen")
        yield OptionList(id="alerts-list")
        yield Input(placeholder="n: a new alert, e.g. price NSE:SBIN 802.50", id="alerts-new")
        # The whole grammar on a line of its own, wrapped where the screen is narrow (in the
        # input's placeholder it was cut at 80 columns).
        yield Label(f" {ALERT_USAGE}", id="alerts-usage", markup=False)
        yield Footer()

    @when_wanted
    def on_mount(self) -> None:
        """Show the list."""
        self.refresh_view(Changes(everything=True))
        self.query_one(OptionList).focus()

    @when_wanted
    def on_screen_resume(self) -> None:
        """Catch up."""
        self.refresh_view(Changes(everything=True))

    def refresh_view(self, ch: Changes) -> None:
        """Redraw the list when the alerts changed."""
        if not (ch.alerts or ch.everything):
            return
        store = self.capp.store
        options = self.query_one(OptionList)
        keep = options.highlighted
        options.clear_options()
        alerts = sorted(store.alerts.values(), key=lambda a: a.id)
        # Content, not markup: a note is the trader's own words ("[/x]" raised MarkupError).
        options.add_options(
            Option(Content(describe(a, store.fmt_price)), id=str(a.id)) for a in alerts
        )
        if alerts:
            options.highlighted = min(keep or 0, len(alerts) - 1)

    def lines(self) -> list[str]:
        """The list as text (tests)."""
        options = self.query_one(OptionList)
        return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

    def action_remove(self) -> None:
        """Remove the highlighted alert."""
        options = self.query_one(OptionList)
        if options.highlighted is None or not options.option_count:
            return
        option_id = options.get_option_at_index(options.highlighted).id
        if option_id is not None:
            self.capp.send(lambda i: p.RemoveAlert(id=i, alert_id=int(option_id)))

    def action_new(self) -> None:
        """Type a new alert."""
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _add(self, event: Input.Submitted) -> None:
        store = self.capp.store

        def tick(key: str) -> Decimal | None:
            inst = store.instruments.get(key)
            return None if inst is None else inst.tick_size

        try:
            cmd = parse_alert(event.value.split(), tick)
        except ValueError as exc:
            self.app.notify(str(exc), title="Alert", severity="error")
            return
        self.capp.send(lambda i: msgspec.structs.replace(cmd, id=i))
        event.input.value = ""
        self.query_one(OptionList).focus()

    def action_close(self) -> None:
        """Back to trading."""
        self.dismiss(None)
