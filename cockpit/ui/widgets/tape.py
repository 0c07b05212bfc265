"""Time and sales: the symbol's trade prints, newest first, with a size filter; large prints
stand out."""

from __future__ import annotations

import datetime as dt
import statistics
from decimal import Decimal
from typing import ClassVar

from cockpit.ui.fmt import fmt_volume
from cockpit.ui.store import Store
from cockpit.ui.widgets.grid import Line, LineGrid, cell

FILTERS: tuple[int, ...] = (0, 1, 2, 5, 10, 25, 50, 100, 500)
"""Minimum print size, in lots (``>`` / ``<`` step through them)."""
LARGE_TIMES = 5
"""A print this many times the median size of the recent ones is large."""
LARGE_MIN_PRINTS = 20
"""Prints needed before "large" means anything."""


class Tape(LineGrid):
    """Trade prints of one symbol: time, price, size, side (``B``/``S``; lower case inferred)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "tape--header",
        "tape--buy",
        "tape--sell",
        "tape--unknown",
        "tape--large",
    }
    max_hz = 10.0

    def __init__(self, store: Store, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.store = store
        self.key: str | None = None
        self.filter_step = 0
        """Index into :data:`FILTERS`."""
        self.large: Decimal | None = None
        """The size from which a print is large (None: not enough prints yet)."""

    def set_symbol(self, key: str | None) -> None:
        """Show another symbol's prints."""
        self.key = key
        self.rebuild()

    @property
    def min_size(self) -> Decimal:
        """The smallest print shown (the filter times the lot size)."""
        if self.key is None:
            return Decimal(0)
        inst = self.store.instruments.get(self.key)
        lot = inst.lot_size if inst is not None and inst.lot_size > 0 else Decimal(1)
        return FILTERS[self.filter_step] * lot

    def step_filter(self, delta: int) -> None:
        """Raise (+1) or lower (-1) the size filter."""
        self.filter_step = max(0, min(len(FILTERS) - 1, self.filter_step + delta))
        self.rebuild()

    def rebuild(self) -> None:
        """Recompute the rows (newest print first)."""
        key = self.key
        width = max(self.size.width, 24)
        if key is None:
            self.set_lines([("tape--header", ((" no symbol", ""),))])
            return
        prints = list(self.store.charts.prints.get(key, ()))
        sizes = [x.qty for x in prints[-200:]]
        self.large = (
            statistics.median(sizes) * LARGE_TIMES if len(sizes) >= LARGE_MIN_PRINTS else None
        )
        least = self.min_size
        title = f" Tape ≥{fmt_volume(least)}" if least else " Tape all"
        if self.large is not None:
            title += f"  big ≥{fmt_volume(self.large)}"
        lines: list[Line] = [("tape--header", ((title[:width], ""),))]
        pw = max([8] + [len(self.store.fmt_price(key, x.price)) for x in prints[-1:]])
        rows = max(0, self.size.height - 1)
        for x in reversed(prints):
            if len(lines) > rows:
                break
            if x.qty < least:
                continue
            t = dt.datetime.fromtimestamp(x.ts_ns / 1e9, dt.UTC).astimezone().strftime("%H:%M:%S")
            side = {"buy": "B", "sell": "S"}.get(x.side, "?")
            if x.inferred:
                side = side.lower()
            cls = {"buy": "tape--buy", "sell": "tape--sell"}.get(x.side, "tape--unknown")
            row_cls = "tape--large" if self.large is not None and x.qty >= self.large else ""
            lines.append(
                (
                    row_cls,
                    (
                        (f" {t} ", ""),
                        cell(self.store.fmt_price(key, x.price), pw, cls),
                        (" ", ""),
                        cell(fmt_volume(x.qty), 8, cls),
                        (f" {side}", cls),
                    ),
                )
            )
        self.set_lines(lines)
