"""The message log: every fill, exit, refusal, alarm and order sent this session (key ``M``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Label, RichLog

from cockpit.ui.screens.lifecycle import when_wanted
from cockpit.ui.store import Changes, Notice

if TYPE_CHECKING:
    from cockpit.ui.app import CockpitApp

STYLE = {"error": "bold red", "warning": "bold yellow", "information": ""}


def log_line(n: Notice) -> Text:
    """``12:01:02 Exit filled: NSE:SBIN  stop_loss: SELL 1 NSE:SBIN at 799.70``."""
    clock = time.strftime("%H:%M:%S", time.localtime(n.ts_ns / 1e9)) if n.ts_ns else "--:--:--"
    line = Text(f"{clock} ", style="dim")
    line.append(n.title, style=STYLE.get(n.severity, ""))
    line.append(f"  {n.message}")
    return line


class LogScreen(Screen[None]):
    """A scrollable log of the session's messages, newest at the bottom; it follows new ones."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,M,q", "close", "Close", id="log.close"),
    ]

    def __init__(self) -> None:
        super().__init__(id="log-screen")
        self.shown = 0
        """``store.messages_total`` when last written."""

    @property
    def capp(self) -> CockpitApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        """Title, the log, the keys."""
        yield Label(" Messages — fills, exits, refusals, alarms (this session)", id="log-title")
        yield RichLog(id="log", wrap=True, markup=False, highlight=False, max_lines=None)
        yield Footer()

    @when_wanted
    def on_mount(self) -> None:
        """Write what the session kept."""
        self.refresh_view(Changes(everything=True))
        self.query_one(RichLog).focus()

    @when_wanted
    def on_screen_resume(self) -> None:
        """Catch up."""
        self.refresh_view(Changes(everything=True))

    def refresh_view(self, _: Changes) -> None:
        """Append the messages added since the last call."""
        store = self.capp.store
        new = store.messages_total - self.shown
        if new <= 0:
            return
        log = self.query_one(RichLog)
        for n in list(store.messages)[-min(new, len(store.messages)) :]:
            log.write(log_line(n))
        self.shown = store.messages_total

    def lines(self) -> list[str]:
        """The log's lines as plain text (tests)."""
        return [strip.text for strip in self.query_one(RichLog).lines]

    def action_close(self) -> None:
        """Back to trading."""
        self.dismiss(None)
