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
