"""What the viewer knows of charted symbols: bars per size and the tape's recent prints."""

from __future__ import annotations

from collections import deque
from typing import Final

from cockpit.link.protocol import Bars, BarView, Prints, PrintView

KEEP_BARS: Final = 600
KEEP_PRINTS: Final = 500


class ChartData:
    """Bars by ``(symbol, size in seconds)`` and prints by symbol, as the engine sent them."""

    def __init__(self) -> None:
        self.bars: dict[tuple[str, int], list[BarView]] = {}
        self.prints: dict[str, deque[PrintView]] = {}
        self.watched: set[str] = set()
        """Symbols this viewer asked the engine to chart on this connection."""

    def apply_bars(self, msg: Bars) -> None:
        """A whole series (``replace``) or bars that replace the same start or follow."""
        series = self.bars.setdefault((msg.key, msg.size_s), [])
        if msg.replace:
            series[:] = msg.bars[-KEEP_BARS:]
            return
        for bar in msg.bars:
            if series and series[-1].start_ns == bar.start_ns:
                series[-1] = bar
            elif not series or bar.start_ns > series[-1].start_ns:
                series.append(bar)
            else:  # an older bar changed (rare): find it
                for i in range(len(series) - 1, -1, -1):
                    if series[i].start_ns == bar.start_ns:
                        series[i] = bar
                        break
        if len(series) > KEEP_BARS:
            del series[: len(series) - KEEP_BARS]

    def apply_prints(self, msg: Prints) -> None:
        """New prints (oldest first), or the recent ones (``replace``)."""
        tape = self.prints.get(msg.key)
        if tape is None or msg.replace:
            tape = self.prints[msg.key] = deque(maxlen=KEEP_PRINTS)
        tape.extend(msg.prints)

    def reset(self) -> None:
        """A new connection: the engine charts nothing for this viewer until asked again."""
        self.watched.clear()
