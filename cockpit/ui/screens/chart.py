"""The chart screen (`c`): candles of the selected symbol beside its time and sales.

Fits 80×24: the chart takes what the tape (30 columns) leaves. On terminals of 160 columns and
more, `c` on the trade screen shows the chart beside the ladder instead (``TradeScreen``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from cockpit.link.protocol import WatchChart
from cockpit.ui.fmt import fmt_qty
from cockpit.ui.screens.lifecycle import when_wanted
from cockpit.ui.store import Changes
from cockpit.ui.widgets.chart import SIZES, CandleChart
from cockpit.ui.widgets.status import StatusBar
from cockpit.ui.widgets.tape import Tape

if TYPE_CHECKING:
    from cockpit.ui.app import CockpitApp


def watch_chart(app: CockpitApp, key: str | None) -> None:
    """Ask the engine for ``key``'s bars and prints (once per connection)."""
    watched = app.store.charts.watched
    if key is None or key in watched or app.link_state not in ("live", "stopping"):
        return
    if app.send(lambda i: WatchChart(id=i, key=key)) is not None:
        watched.add(key)


def chart_touched(ch: Changes, key: str | None) -> bool:
    """Whether the changes move anything a chart of ``key`` draws."""
    if key is None:
        return False
    return ch.everything or key in ch.charts or key in ch.plans or key in ch.positions or ch.orders


class ChartScreen(Screen[None]):
    """Candles (with the plan and orders as lines) and the tape of the selected symbol."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,c", "close", "Back", tooltip="Back to trading", id="chart_screen.close"),
        Binding(
            "comma",
            "bar_size(-1)",
            "Shorter bars",
            tooltip="Shorter bars (1m, 5m, 15m)",
            id="chart.shorter",
        ),
        Binding(
            "full_stop",
            "bar_size(1)",
            "Longer bars",
            tooltip="Longer bars (1m, 5m, 15m)",
            id="chart.longer",
        ),
        Binding(
            "left_parenthesis",
            "tape_filter(-1)",
            "Smaller prints",
            tooltip="Show smaller prints on the tape",
            id="tape.less",
        ),
        Binding(
            "right_parenthesis",
            "tape_filter(1)",
            "Larger prints",
            tooltip="Show only larger prints on the tape",
            id="tape.more",
        ),
    ]

    @property
    def capp(self) -> CockpitApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        """Chart and tape side by side, the status bar and the footer."""
        store = self.capp.store
        self.chart = CandleChart(store, id="chart-full")
        self.tape = Tape(store, id="tape")
        self.status = StatusBar(store, id="status")
        with Horizontal(id="chart-body"):
            yield self.chart
            yield self.tape
        yield self.status
        yield Footer()

    @when_wanted
    def on_mount(self) -> None:
        """Chart the selected symbol."""
        self.symbol_selected(self.capp.selected)

    @when_wanted
    def on_screen_resume(self) -> None:
        """Back on top: catch up."""
        self.refresh_view(Changes(everything=True))

    def symbol_selected(self, key: str | None) -> None:
        """The app selected another symbol."""
        watch_chart(self.capp, key)
        self.chart.set_symbol(key)
        self.tape.set_symbol(key)
        self.refresh_view(Changes(everything=True))

    def refresh_view(self, ch: Changes) -> None:
        """Redraw what changed."""
        app = self.capp
        key = app.selected
        if ch.everything:
            watch_chart(app, key)  # a new connection charts nothing until asked
        self.status.qty = fmt_qty(app.qty_of(key))
        self.status.link = app.link_state
        if chart_touched(ch, key):
            self.chart.rebuild_soon()
            self.tape.rebuild_soon()
        self.status.follow(ch)

    def action_close(self) -> None:
        """Back to trading."""
        self.dismiss(None)

    def action_bar_size(self, delta: int) -> None:
        """Step the bar size."""
        i = SIZES.index(self.chart.size_s) if self.chart.size_s in SIZES else 0
        self.chart.set_size(SIZES[max(0, min(len(SIZES) - 1, i + delta))])

    def action_tape_filter(self, delta: int) -> None:
        """Step the tape's size filter."""
        self.tape.step_filter(delta)
