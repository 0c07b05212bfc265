"""Trade statistics from the journal (key ``P``): today's round trips, or every day's."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Label, RichLog

from cockpit.journal.stats import compute, connect_read_only, render
from cockpit.journal.store import start_of_local_day_ns
from cockpit.ui.screens.lifecycle import when_wanted


def stats_lines(path: Path | None, *, today: bool, width: int | None = None) -> list[str]:
    """The statistics as text, or why there are none (read-only: beside a writing engine);
    a round trip's line fits ``width`` where its columns can narrow."""
    if path is None:
        return ["No journal is known to this viewer."]
    since = start_of_local_day_ns() if today else 0
    try:
        conn = connect_read_only(path)
        try:
            stats = compute(conn, since)
        finally:
            conn.close()
    except (OSError, sqlite3.Error) as exc:
        return [f"The journal cannot be read: {exc}"]
    return render(stats, width)


class StatsScreen(Screen[None]):
    """Trades, win rate, average win/loss and R, expectancy, P&L by symbol, hour and reason."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,P,q", "close", "Close", id="stats.close"),
        Binding("d", "toggle_day", "Today/all", id="stats.day"),
    ]

    def __init__(self, path: Path | None) -> None:
        super().__init__(id="stats-screen")
        self.path = path
        self.today = True
        self.shown: list[str] = []
        """The lines on screen (tests)."""

    def compose(self) -> ComposeResult:
        """Title, the statistics, the keys."""
        yield Label("", id="stats-title")
        # From the top (the headline figures first); wrapped, so no figure is cut at 80 columns.
        yield RichLog(id="stats", wrap=True, markup=False, highlight=False, auto_scroll=False)
        yield Footer()

    @when_wanted
    def on_mount(self) -> None:
        """Read the journal (in a thread: a long journal never stalls the screen)."""
        self.query_one(RichLog).focus()
        self.reload()

    def reload(self) -> None:
        """Read again for the current range."""
        where = "today" if self.today else "every day"
        self.query_one("#stats-title", Label).update(
            f" Trade statistics — {where} (journal {self.path or '-'})"
        )
        width = self.query_one(RichLog).scrollable_content_region.width or self.size.width
        self._read(self.today, max(0, width - 2) or None)

    @work(thread=True, exclusive=True, group="stats")
    def _read(self, today: bool, width: int | None) -> None:
        lines = stats_lines(self.path, today=today, width=width)
        self.app.call_from_thread(self._show, lines)

    def _show(self, lines: list[str]) -> None:
        log = self.query_one(RichLog)
        log.clear()
        for line in lines:
            log.write(line)
        self.shown = lines

    def action_toggle_day(self) -> None:
        """Today's trades or every day's."""
        self.today = not self.today
        self.reload()

    def action_close(self) -> None:
        """Back to trading."""
        self.dismiss(None)
