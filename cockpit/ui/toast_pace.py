"""A few toasts a second at most: the rest are summed up in one (each is in the message log).

A gap through 50 stops is 150 notices (50 exits fired, 50 exit fills and the re-entries'
fills); 50 stops crossing once a second each keeps that up. Each toast is a Textual
notification, and Textual walks every live one on each ``notify`` (to drop the expired):
with toasts living 8 s that is a thousand live ones and a quadratic cost on the TUI's only
thread — measured in ``benchmarks/bench_exit_latency.py --toasts-ab``, the CPU the screen
takes from the engine's exits on a small host (README, Performance). Nobody reads 150 toasts
either. So ``[ui] toasts_per_s`` toasts show in any second; what comes after waits for the
second's end and shows as one ("12 more: Exit filled ×6, Fill ×6"). Errors always show.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

WINDOW_S = 1.0
"""The span ``per_second`` counts over."""


class Shown(Protocol):
    """What a toast is made of (``cockpit.ui.store.Notice``)."""

    severity: str
    title: str
    message: str


class ToastPacer:
    """Decides which notices show as toasts now; counts the others for one summary.

    Args:
        per_second: toasts shown in any second at most (0: every one).
        clock: seconds, monotonic (tests pass their own).
    """

    def __init__(self, per_second: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self.clock = clock
        self.window_start = -WINDOW_S
        self.shown = 0
        self.held: Counter[str] = Counter()
        """Held notices by kind (the title before its colon: "Exit filled")."""

    def admit(self, notice: Shown) -> bool:
        """Whether ``notice`` shows now; if not, it is counted for :meth:`summary`."""
        if self.per_second <= 0 or notice.severity == "error":
            return True
        now = self.clock()
        if now - self.window_start >= WINDOW_S:
            self.window_start, self.shown = now, 0
        if self.shown < self.per_second and not self.held:
            self.shown += 1
            return True
        self.held[notice.title.split(":", 1)[0]] += 1
        return False

    def window_left(self) -> float:
        """Seconds until the current second ends (when :meth:`summary` is due)."""
        return max(0.0, self.window_start + WINDOW_S - self.clock())

    def summary(self) -> str | None:
        """The held notices in one line, or None; counts as a toast of the new second."""
        if not self.held:
            return None
        total = sum(self.held.values())
        kinds = ", ".join(f"{kind} ×{n}" for kind, n in self.held.most_common())
        self.held.clear()
        self.window_start, self.shown = self.clock(), 1
        return f"{total} more: {kinds} (each is in the message log, M)"


class Toasts:
    """The app's engine notices as toasts, paced by a :class:`ToastPacer`.

    Args:
        app: the Textual app (``notify`` and ``set_timer``).
        per_second: ``[ui] toasts_per_s`` (0: every notice is a toast).
    """

    def __init__(self, app: Any, per_second: int) -> None:
        self.app = app
        self.pacer = ToastPacer(per_second)
        self._timer: Any = None

    def show(self, notice: Shown, timeout: float) -> None:
        """A toast of ``notice`` now, or in the summary at the second's end."""
        if self.pacer.admit(notice):
            self.app.notify(
                notice.message, title=notice.title, severity=notice.severity, timeout=timeout
            )
        elif self._timer is None:
            self._timer = self.app.set_timer(self.pacer.window_left(), self._summary)

    def _summary(self) -> None:
        self._timer = None
        text = self.pacer.summary()
        if text is not None:
            self.app.notify(text, title="More notices", severity="warning", timeout=8)
