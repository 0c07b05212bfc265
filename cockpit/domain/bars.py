"""Time bars (OHLCV) of any size from ticks, aligned to the epoch, closed as time moves on.

API summary
-----------
- :class:`Bar` (frozen): ``start_ns``, ``size_ns``, ``open``/``high``/``low``/``close`` in
  integer ticks, ``volume`` (Decimal), ``trades`` (tick count); ``end_ns`` (exclusive).
- :class:`BarAggregator` ``(size_ns)``:
  - ``on_tick(price_ticks, qty, ts_ns) -> Bar | None``: the bar that this tick completed
    (the tick belongs to a later bar), else ``None``;
  - ``on_time(now_ns) -> Bar | None``: close the current bar once the clock passed its end
    (so a bar closes without waiting for the next tick); ``flush()`` closes it regardless;
  - ``current``: the bar in progress (a snapshot), ``late``: ticks ignored as too old.

Rules:
- Boundaries are aligned to the epoch: a tick at ``ts`` belongs to the bar starting at
  ``ts - ts % size_ns``; a tick exactly on a boundary opens the new bar (``end_ns`` is
  exclusive).
- Gaps: a bar with no tick is not emitted (no invented flat bars: a chart shows the gap, and
  no volume is faked). The next bar starts where its first tick falls.
- Out-of-order ticks: a tick older than the current bar's start (or than the end of the last
  closed bar) is counted in ``late`` and ignored. A tick inside the current bar but older
  than its latest tick updates high, low, volume and count, but not the close (the close is
  the price of the latest tick by timestamp; the open is that of the earliest, so an
  earlier tick inside the bar also replaces the open).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; prices in integer ticks."""

    start_ns: int
    size_ns: int
    open: int
    high: int
    low: int
    close: int
    volume: Decimal
    trades: int

    @property
    def end_ns(self) -> int:
        """The first nanosecond after the bar (exclusive end)."""
        return self.start_ns + self.size_ns


class BarAggregator:
    """Aggregates ticks into time bars of ``size_ns``."""

    __slots__ = (
        "size_ns",
        "late",
        "_start",
        "_open",
        "_open_ts",
        "_high",
        "_low",
        "_close",
        "_close_ts",
        "_volume",
        "_trades",
        "_closed_until",
    )

    def __init__(self, size_ns: int) -> None:
        """Bars of ``size_ns`` nanoseconds (> 0)."""
        if size_ns <= 0:
            raise ValueError(f"bar size must be > 0 ns, got {size_ns}")
        self.size_ns = size_ns
        self.late = 0
        """Ticks ignored because they belong to a bar already closed."""
        self._start: int | None = None
        self._open = self._high = self._low = self._close = 0
        self._open_ts = self._close_ts = 0
        self._volume = Decimal(0)
        self._trades = 0
        self._closed_until: int | None = None
        """Ticks before this time belong to closed bars."""

    @property
    def current(self) -> Bar | None:
        """The bar in progress, if any."""
        if self._start is None:
            return None
        return Bar(
            self._start,
            self.size_ns,
            self._open,
            self._high,
            self._low,
            self._close,
            self._volume,
            self._trades,
        )

    def on_tick(self, price_ticks: int, qty: Decimal | None, ts_ns: int) -> Bar | None:
        """Add one tick; returns the bar it completed, if any (``qty`` None: no volume)."""
        if self._closed_until is not None and ts_ns < self._closed_until:
            self.late += 1
            return None
        start = ts_ns - ts_ns % self.size_ns
        volume = Decimal(0) if qty is None else qty
        completed = None
        if self._start is not None:
            if start < self._start:
                self.late += 1
                return None
            if start == self._start:
                self._add(price_ticks, volume, ts_ns)
                return None
            completed = self._close_current()
        self._start = start
        self._open = self._high = self._low = self._close = price_ticks
        self._open_ts = self._close_ts = ts_ns
        self._volume = volume
        self._trades = 1
        return completed

    def _add(self, price: int, volume: Decimal, ts_ns: int) -> None:
        if price > self._high:
            self._high = price
        if price < self._low:
            self._low = price
        if ts_ns >= self._close_ts:
            self._close = price
            self._close_ts = ts_ns
        if ts_ns < self._open_ts:
            self._open = price
            self._open_ts = ts_ns
        self._volume += volume
        self._trades += 1

    def _close_current(self) -> Bar:
        bar = self.current
        assert bar is not None
        self._closed_until = bar.end_ns
        self._start = None
        return bar

    def on_time(self, now_ns: int) -> Bar | None:
        """Close the current bar if ``now_ns`` is at or past its end."""
        if self._start is not None and now_ns >= self._start + self.size_ns:
            return self._close_current()
        return None

    def flush(self) -> Bar | None:
        """Close the current bar now (end of data)."""
        if self._start is None:
            return None
        return self._close_current()
