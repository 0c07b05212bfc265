"""Frame pacing shared by the engine's viewer server and the TUI's pump.

A clock that re-arms itself ``period`` after each run drifts: the work done and the loop's
lateness add to every period (a 1/30 s timer gave 28-29 batches a second at 3,000 symbols).
:func:`next_slot` keeps a fixed grid instead.
"""

from __future__ import annotations

import math


def next_slot(due: float, now: float, period: float) -> float:
    """The slot after ``due`` on its grid (``due + period``); slots already past at ``now``
    (the loop was held longer than a period) are skipped, never run in a burst."""
    nxt = due + period
    if nxt <= now:
        nxt += period * (math.floor((now - nxt) / period) + 1)
    return nxt


def grid_slot(now: float, period: float) -> float:
    """The first slot after ``now`` of the grid every ``period`` on the monotonic clock
    (``time.monotonic``, an asyncio loop's ``time``): the viewer server sends its market
    batches on it, and the engine flushes its screen state just before each of them."""
    return (math.floor(now / period) + 1) * period


class FrameGate:
    """At most ``fps`` deliveries a second on average (one frame's credit may be saved up),
    and never two closer than half a frame.

    The TUI's pump gated on a whole frame since the last delivery. Against the engine's own
    30/s clock that made one late batch make every later one as late (each waited a full frame
    after the one before): its lateness only grew, and a batch came in while the one before
    still waited, was merged into it, and was a frame lost.
    """

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / max(1.0, fps)
        self._credit = 2.0
        self._at = -math.inf

    def _refilled(self, now: float) -> float:
        return min(2.0, self._credit + (now - self._at) / self.period)

    def ready(self, now: float) -> bool:
        """Whether a delivery may go at ``now``."""
        return now - self._at >= self.period / 2 and self._refilled(now) >= 1.0

    def wait(self, now: float) -> float:
        """Seconds until :meth:`ready` (0 if it is)."""
        gap = self._at + self.period / 2 - now
        short = (1.0 - self._refilled(now)) * self.period
        return max(0.0, gap, short)

    def took(self, now: float) -> None:
        """A delivery went at ``now``."""
        self._credit = self._refilled(now) - 1.0
        self._at = now
