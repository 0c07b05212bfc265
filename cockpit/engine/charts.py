"""Charts and the tape: bars (1m, 5m, 15m) and trade prints of the symbols a viewer charts.

A viewer sends :class:`~cockpit.link.protocol.WatchChart`; from then on the engine feeds every
trade of that symbol (price in ticks, the volume it traded, its side) into one
:class:`~cockpit.domain.bars.BarAggregator` per bar size and into a ring of recent prints,
and asks the venue for its one-minute history (``QueryHistory`` through the execution seam;
the larger sizes are rolled up from it). The timer publishes what changed as
:class:`~cockpit.link.protocol.Bars` (the bar in progress and any just closed) and
:class:`~cockpit.link.protocol.Prints` events, a few times a second, never per tick.

Backfill: history bars older than the first bar seen live are put before it. The first live
bar usually began before the chart was opened (it saw only part of its minute), so where the
history has a bar with the same start, the two are merged: the history's open, the highest
high and lowest low of both, the live close, and the larger of the two volumes (each saw a
part of the same minute; the larger saw more of it). Later bars are built from live trades
only, exactly.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from cockpit.domain.bars import Bar, BarAggregator
from cockpit.domain.execution import HistoryBar, QueryHistory, RouterResult
from cockpit.domain.instruments import Instrument
from cockpit.engine.base import EngineBase
from cockpit.link import protocol

log = logging.getLogger(__name__)

NS: Final = 1_000_000_000
KEEP_BARS: Final = 600
"""Bars kept per symbol and size (10 hours of one-minute bars)."""
KEEP_PRINTS: Final = 500
"""Recent prints kept per symbol (sent to a viewer opening the tape)."""
MAX_CHARTS: Final = 64
"""Symbols charted at once; the one charted longest ago makes room for a new one."""
HISTORY_DAYS: Final = 4
"""Days of history asked for (enough to span a weekend)."""
INTERVALS: Final = {1: "1s", 5: "5s", 15: "15s", 30: "30s", 60: "1m", 300: "5m", 900: "15m"}
"""Bar sizes (seconds) the venue's ``/history`` serves, by OpenAlgo's names."""


def bar_view(bar: Bar) -> protocol.BarView:
    """A domain bar as the protocol sends it."""
    return protocol.BarView(bar.start_ns, bar.open, bar.high, bar.low, bar.close, bar.volume)


def roll_up(bars: list[protocol.BarView], size_ns: int) -> list[protocol.BarView]:
    """Bars (oldest first) rolled into bars of ``size_ns`` aligned to the epoch."""
    out: list[protocol.BarView] = []
    for b in bars:
        start = b.start_ns - b.start_ns % size_ns
        if out and out[-1].start_ns == start:
            last = out[-1]
            out[-1] = protocol.BarView(
                start,
                last.open,
                max(last.high, b.high),
                min(last.low, b.low),
                b.close,
                last.volume + b.volume,
            )
        else:
            out.append(protocol.BarView(start, b.open, b.high, b.low, b.close, b.volume))
    return out


def history_views(inst: Instrument, rows: list[HistoryBar]) -> tuple[list[protocol.BarView], int]:
    """Venue bars in ticks, oldest first (prices snapped to the grid as every feed's are),
    and how many had a price the instrument cannot use (under one tick, not finite)."""
    out: list[protocol.BarView] = []
    bad = 0
    for row in rows:
        prices = [inst.market_ticks(p) for p in (row.open, row.high, row.low, row.close)]
        if any(p is None for p in prices):
            bad += 1
            continue
        o, h, lo, c = (p for p in prices if p is not None)
        out.append(protocol.BarView(row.start_ns, o, h, lo, c, row.volume))
    return out, bad


def merge_history(
    live: list[protocol.BarView], history: list[protocol.BarView]
) -> list[protocol.BarView]:
    """History before the live bars (see the module docstring for the bar both have)."""
    if not live:
        return list(history)
    first = live[0]
    older = [b for b in history if b.start_ns < first.start_ns]
    same = next((b for b in history if b.start_ns == first.start_ns), None)
    if same is not None:
        first = protocol.BarView(
            first.start_ns,
            same.open,
            max(same.high, first.high),
            min(same.low, first.low),
            first.close,
            max(same.volume, first.volume),
        )
    return [*older, first, *live[1:]]


@dataclass(slots=True)
class SymbolChart:
    """Bars and prints of one charted symbol."""

    key: str
    aggregators: dict[int, BarAggregator]
    """By bar size in seconds."""
    closed: dict[int, deque[protocol.BarView]]
    """Closed bars by size, oldest first (history included once it came)."""
    changed: dict[int, list[protocol.BarView]] = field(default_factory=dict)
    """Bars closed since the last publication, by size."""
    dirty: set[int] = field(default_factory=set)
    """Sizes whose bar in progress changed since the last publication."""
    prints: deque[protocol.PrintView] = field(default_factory=lambda: deque(maxlen=KEEP_PRINTS))
    new_prints: list[protocol.PrintView] = field(default_factory=list)
    head: dict[int, protocol.BarView] = field(default_factory=dict)
    """The history's bar with the same start as the bar in progress, by size (merged in)."""

    @classmethod
    def new(cls, key: str, sizes_s: tuple[int, ...]) -> SymbolChart:
        """An empty chart with one aggregator per size."""
        return cls(
            key,
            {s: BarAggregator(s * NS) for s in sizes_s},
            {s: deque(maxlen=KEEP_BARS) for s in sizes_s},
        )

    def on_trade(
        self, price: int, qty: Decimal | None, ts_ns: int, side: str, inferred: bool
    ) -> None:
        """One trade (``qty`` None: a price without a known size, e.g. an LTP-only feed)."""
        for size, agg in self.aggregators.items():
            done = agg.on_tick(price, qty, ts_ns)
            if done is not None:
                self._closed(size, done)
            self.dirty.add(size)
        if qty is not None:
            p = protocol.PrintView(ts_ns, price, qty, side, inferred)
            self.prints.append(p)
            self.new_prints.append(p)

    def on_time(self, now_ns: int) -> None:
        """Close the bars whose time is over."""
        for size, agg in self.aggregators.items():
            done = agg.on_time(now_ns)
            if done is not None:
                self._closed(size, done)

    def _closed(self, size: int, bar: Bar) -> None:
        view = self._merged(size, bar)
        self.closed[size].append(view)
        self.changed.setdefault(size, []).append(view)
        self.dirty.add(size)

    def _merged(self, size: int, bar: Bar) -> protocol.BarView:
        head = self.head.get(size)
        if head is None or head.start_ns != bar.start_ns:
            return bar_view(bar)
        return merge_history([bar_view(bar)], [head])[0]

    def current(self, size: int) -> protocol.BarView | None:
        """The bar of ``size`` in progress (merged with the history's, if it has one)."""
        bar = self.aggregators[size].current
        return None if bar is None else self._merged(size, bar)

    def series(self, size: int) -> list[protocol.BarView]:
        """Every bar of ``size`` kept, the one in progress last."""
        bars = list(self.closed[size])
        current = self.current(size)
        head = self.head.get(size)
        if current is not None:
            bars.append(current)
        elif head is not None and (not bars or head.start_ns > bars[-1].start_ns):
            bars.append(head)  # the history's bar in progress, no trade seen in it yet
        return bars

    def backfill(self, base_size: int, history: list[protocol.BarView], now_ns: int) -> None:
        """Put the venue's bars of ``base_size`` (rolled up for larger sizes) before ours."""
        for size, agg in self.aggregators.items():
            if size % base_size:
                continue
            size_ns = size * NS
            hist = history if size == base_size else roll_up(history, size_ns)
            live = list(self.closed[size])
            current = agg.current
            open_start = current.start_ns if current is not None else now_ns - now_ns % size_ns
            if live:
                older = merge_history(live, [b for b in hist if b.start_ns <= live[0].start_ns])
            else:
                older = [b for b in hist if b.start_ns < open_start]
            # The history's bar of the bar in progress is merged into it while it lasts.
            same = [b for b in hist if b.start_ns == open_start]
            if same:
                self.head[size] = same[0]
            self.closed[size].clear()
            self.closed[size].extend(older[-KEEP_BARS:])


class Charting(EngineBase):
    """Charts and the tape (a part of :class:`~cockpit.engine.core.Engine`)."""

    _history_token: int
    _history_pending: dict[int, str]
    _next_chart_ns: int

    def _chart_trade(
        self, key: str, price: int, qty: Decimal | None, ts_ns: int, side: str, inferred: bool
    ) -> None:
        chart = self._charts.get(key)
        if chart is not None:
            chart.on_trade(price, qty, ts_ns, side, inferred)

    def _cmd_WatchChart(self, conn_id: int, cmd: protocol.WatchChart) -> protocol.Msg:  # noqa: N802
        inst = self.instruments.get(cmd.key)
        if inst is None:
            return protocol.Refused(cmd.id, "invalid", f"unknown symbol {cmd.key}")
        chart = self._charts.get(cmd.key)
        if chart is None:
            if len(self._charts) >= MAX_CHARTS:
                del self._charts[next(iter(self._charts))]
            chart = self._charts[cmd.key] = SymbolChart.new(cmd.key, self.options.chart_sizes_s)
            self._ask_history(inst)
        for size in chart.aggregators:
            self.publisher.reply(
                conn_id,
                protocol.Bars(self._next_seq(), cmd.key, size, chart.series(size), replace=True),
            )
        self.publisher.reply(
            conn_id, protocol.Prints(self._next_seq(), cmd.key, list(chart.prints), replace=True)
        )
        return protocol.Ack(cmd.id, f"charting {cmd.key}")

    def _ask_history(self, inst: Instrument) -> None:
        base = min(self.options.chart_sizes_s)
        interval = INTERVALS.get(base)
        if interval is None or not self.options.history_backfill:
            return  # the venue has no such bars: the chart starts empty
        today = dt.datetime.fromtimestamp(self.clock() / NS, dt.UTC).date()
        self._history_token += 1
        self._history_pending[self._history_token] = inst.key
        self.router.submit(
            QueryHistory(
                str(inst.exchange),
                inst.symbol,
                interval,
                (today - dt.timedelta(days=HISTORY_DAYS)).isoformat(),
                (today + dt.timedelta(days=1)).isoformat(),
                token=self._history_token,
            )
        )

    def _on_history(self, result: RouterResult, request: QueryHistory) -> None:
        key = self._history_pending.pop(request.token, None)
        chart = self._charts.get(key) if key is not None else None
        if key is None or chart is None:
            return
        if not result.ok or not isinstance(result.data, list):
            self.counters["history_failed"] += 1
            log.warning("history of %s: %s %s", key, result.code, result.error)
            return
        history, bad = history_views(self.instruments[key], result.data)
        if bad:
            self.counters["bad_history_bars"] += bad
        base = min(self.options.chart_sizes_s)
        chart.backfill(base, history, self.clock())
        for size in chart.aggregators:
            self.publisher.event(
                protocol.Bars(self._next_seq(), key, size, chart.series(size), replace=True)
            )
            chart.changed.pop(size, None)
            chart.dirty.discard(size)

    def _publish_charts(self, now_ns: int) -> None:
        """Send the changed bars and the new prints of every charted symbol, at most every
        ``options.chart_publish_s`` (the timer runs more often; bars are for the eye)."""
        if now_ns < self._next_chart_ns:
            return
        self._next_chart_ns = now_ns + int(self.options.chart_publish_s * NS)
        publish = self.publisher.event
        for key, chart in self._charts.items():
            chart.on_time(now_ns)
            for size in sorted(chart.dirty):
                bars = chart.changed.pop(size, [])
                current = chart.current(size)
                if current is not None:
                    bars.append(current)
                if bars:
                    publish(protocol.Bars(self._next_seq(), key, size, bars))
            chart.dirty.clear()
            if chart.new_prints:
                publish(protocol.Prints(self._next_seq(), key, chart.new_prints))
                chart.new_prints = []
