"""The candle chart: OHLC candles with volume, the plan's entry/stop/target and working orders
as horizontal lines, drawn with the Line API (one cached strip per row, see ``grid.py``)."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from cockpit.link.protocol import BarView
from cockpit.ui.fmt import fmt_qty, fmt_volume
from cockpit.ui.store import Store, is_working
from cockpit.ui.widgets.grid import Cell, Line, LineGrid
from cockpit.ui.widgets.ladder import avg_to_ticks

SIZES: tuple[int, ...] = (60, 300, 900)
"""Bar sizes the engine builds (seconds), smallest first."""
SIZE_NAMES: dict[int, str] = {60: "1m", 300: "5m", 900: "15m"}
VOLUME_BLOCKS = " ▁▂▃▄▅▆▇█"
AXIS_EVERY = 4
"""A price label on the axis every this many rows."""

Level = tuple[str, int, str]
"""``(label, price in ticks, component class)`` of a horizontal line."""


def size_name(size_s: int) -> str:
    """``1m``, ``5m``, ``15m`` (or seconds)."""
    return SIZE_NAMES.get(size_s, f"{size_s}s")


def fit_parts(parts: list[tuple[int, str]], width: int) -> str:
    """``parts`` (importance, text) joined in order, the least important left out first until
    they fit ``width`` (a narrow chart keeps the symbol, bar size, close and far orders)."""
    text = ""
    for level in range(11):
        text = "".join(t for importance, t in parts if importance > level)
        if len(text) <= width:
            break
    return text[:width]


GAP_BARS = 3
"""A jump wider than this many typical bars (the median bar's height) is a gap."""


def price_range(shown: list[BarView]) -> tuple[int, int]:
    """The price axis's low and high (ticks): the shown bars' range, unless older bars lie
    far from the recent ones (a backfill from another level, an overnight gap). Going back
    from the last bar, a bar wholly beyond the range so far by more than that range (and
    more than ``GAP_BARS`` typical bars) is far: the axis is then fitted to the bars after
    it, with as much again either side (a typical bar at least), so the live candles and the
    last price fill the chart instead of a row or two (the far bars are marked at its edge).
    A trend, however long, is never cut: each bar is next to the one after it."""
    heights = sorted(b.high - b.low for b in shown)
    typical = max(1, heights[len(heights) // 2])
    lo, hi = shown[-1].low, shown[-1].high
    for b in reversed(shown[:-1]):
        gap = max(hi - lo, typical * GAP_BARS)
        if b.high < lo - gap or b.low > hi + gap:
            pad = max(hi - lo, typical)
            return lo - pad, hi + pad
        lo, hi = min(lo, b.low), max(hi, b.high)
    return lo, hi


def runs(chars: list[tuple[str, str]]) -> list[Cell]:
    """Adjacent characters of the same class as one cell each."""
    out: list[Cell] = []
    text = ""
    cls = None
    for ch, c in chars:
        if c == cls:
            text += ch
        else:
            if cls is not None:
                out.append((text, cls))
            text, cls = ch, c
    if cls is not None:
        out.append((text, cls))
    return out


class CandleChart(LineGrid):
    """Candles of the selected symbol at one bar size, with its plan and orders as lines."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "chart--header",
        "chart--up",
        "chart--down",
        "chart--axis",
        "chart--last",
        "chart--entry",
        "chart--stop",
        "chart--target",
        "chart--order-buy",
        "chart--order-sell",
        "chart--volume",
    }
    max_hz = 10.0

    def __init__(self, store: Store, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.store = store
        self.key: str | None = None
        self.size_s = SIZES[0]
        self.level_rows: dict[str, int] = {}
        """Screen row of each line drawn, by label (tests)."""

    def set_symbol(self, key: str | None) -> None:
        """Chart another symbol."""
        self.key = key
        self.rebuild()

    def set_size(self, size_s: int) -> None:
        """Show bars of ``size_s`` seconds."""
        self.size_s = size_s
        self.rebuild()

    def levels(self) -> list[Level]:
        """The position's entry, stop and target and the working orders of the symbol."""
        store, key = self.store, self.key
        if key is None:
            return []
        out: list[Level] = []
        plan = store.plans.get(key)
        pos = store.positions.get(key)
        if plan is not None:
            out.append(("ENT", plan.entry, "chart--entry"))
            if not plan.fired:
                if plan.stop is not None:
                    out.append(("STOP", plan.stop, "chart--stop"))
                if plan.target is not None:
                    out.append(("TGT", plan.target, "chart--target"))
                for t in plan.targets:  # scale-out targets
                    if not t.fired:
                        out.append((f"TP{t.n}", t.level, "chart--target"))
        elif pos is not None and pos.qty != 0:
            out.append(("ENT", avg_to_ticks(pos.avg_price, store.tick_size(key)), "chart--entry"))
        for o in store.orders.values():
            if o.key != key or not is_working(o):
                continue
            level = o.price if o.price is not None else o.trigger
            if level is None:
                continue
            side = "B" if o.side == "BUY" else "S"
            cls = "chart--order-buy" if o.side == "BUY" else "chart--order-sell"
            out.append((f"{side}{fmt_qty(o.qty - o.filled)}", level, cls))
        return out

    def rebuild(self) -> None:
        """Recompute every row (only changed rows repaint)."""
        width, height = self.size.width, self.size.height
        key = self.key
        self.level_rows = {}
        if key is None:
            self.set_lines([("chart--header", ((" no symbol", ""),))])
            return
        bars = self.store.charts.bars.get((key, self.size_s), [])
        fmt = self.store.fmt_price
        head = f" {key} {size_name(self.size_s)}"
        if not bars or width < 20 or height < 4:
            note = "waiting for bars" if not bars else "too small"
            self.set_lines([("chart--header", ((f"{head}  {note}", ""),))])
            return
        levels = self.levels()
        axis_w = max(len(fmt(key, b.high)) for b in bars[-width:]) + 6
        n = max(1, width - axis_w - 1)
        shown = bars[-n:]
        lo, hi = price_range(shown)
        span = max(1, hi - lo)
        # The plan's levels always show; an order far from the bars would squash them: it is
        # listed in the header instead.
        away: list[str] = []
        drawn: list[Level] = []
        for label, price, cls in levels:
            near = lo - span // 2 <= price <= hi + span // 2
            if cls in ("chart--entry", "chart--stop", "chart--target") or near:
                drawn.append((label, price, cls))
                lo, hi = min(lo, price), max(hi, price)
            else:
                arrow = "↑" if price > hi else "↓"
                away.append(f"{arrow}{label}@{fmt(key, price)}")
        span = max(1, hi - lo)
        vol_h = 0 if height < 10 else max(1, (height - 1) // 6)
        price_h = height - 1 - vol_h

        def row(p: int) -> int:
            # Clipped: a bar outside the range (an old one, far off) shows at the edge.
            r = ((hi - p) * (price_h - 1) * 2 + span) // (2 * span)
            return min(price_h - 1, max(0, r))

        last = shown[-1]
        exchange, _, symbol = key.rpartition(":")
        parts: list[tuple[int, str]] = [
            (10, " "),
            (1, f"{exchange}:" if exchange else ""),
            (10, f"{symbol} {size_name(self.size_s)} "),
            (3, f" O {fmt(key, last.open)}"),
            (4, f" H {fmt(key, last.high)} L {fmt(key, last.low)}"),
            (10, f" C {fmt(key, last.close)}"),
            (2, f" V {fmt_volume(last.volume)}"),
        ]
        parts += [(6, f" {'' if i else ' '}{a}") for i, a in enumerate(away)]
        header = fit_parts(parts, width)
        grid = [[(" ", "")] * n for _ in range(price_h)]
        for label, price, cls in drawn:
            r = row(price)
            self.level_rows[label] = r + 1
            grid[r] = [("─", cls)] * n
        for x, b in enumerate(shown):
            cls = "chart--up" if b.close >= b.open else "chart--down"
            if b.low > hi or b.high < lo:  # wholly off the axis: a mark at its edge
                grid[0 if b.low > hi else price_h - 1][x] = ("▲" if b.low > hi else "▼", cls)
                continue
            body_top, body_bottom = sorted((row(b.open), row(b.close)))
            for r in range(row(b.high), row(b.low) + 1):
                grid[r][x] = ("█" if body_top <= r <= body_bottom else "│", cls)
        labels: dict[int, tuple[str, str]] = {}
        for r in range(0, price_h, AXIS_EVERY):
            p = hi - (r * span * 2 + (price_h - 1)) // (2 * max(1, price_h - 1))
            labels[r] = (f" {fmt(key, p)}", "chart--axis")
        labels[row(last.close)] = (f"◀{fmt(key, last.close)}", "chart--last")
        for label, price, cls in drawn:
            labels[row(price)] = (f" {label} {fmt(key, price)}", cls)
        lines: list[Line] = [("chart--header", ((header, ""),))]
        for r in range(price_h):
            text, cls = labels.get(r, ("", ""))
            cells = [*runs(grid[r]), (" ", ""), (text[:axis_w].ljust(axis_w), cls)]
            lines.append(("", tuple(cells)))
        lines += self._volume_rows(shown, vol_h, n)
        self.set_lines(lines)

    @staticmethod
    def _volume_rows(bars: list[BarView], vol_h: int, n: int) -> list[Line]:
        if vol_h <= 0:
            return []
        top = max((b.volume for b in bars), default=Decimal(0))
        rows: list[list[tuple[str, str]]] = [[(" ", "")] * n for _ in range(vol_h)]
        if top > 0:
            for x, b in enumerate(bars):
                eighths = int(b.volume * vol_h * 8 / top)
                cls = "chart--up" if b.close >= b.open else "chart--down"
                for i in range(vol_h):  # i = 0 is the bottom row
                    fill = min(8, max(0, eighths - i * 8))
                    if fill:
                        rows[vol_h - 1 - i][x] = (VOLUME_BLOCKS[fill], cls)
        label = f" vol {fmt_volume(top)}"
        return [
            ("chart--volume", (*runs(r), (label if i == 0 else "", "chart--axis")))
            for i, r in enumerate(rows)
        ]
