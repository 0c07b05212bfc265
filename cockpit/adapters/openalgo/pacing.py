"""How fast the order router may send: token buckets and the Retry-After gate.

The router (:mod:`cockpit.adapters.openalgo.broker`) keeps under the server's limits with a
client-side token bucket per endpoint class (order endpoints vs the rest; OpenAlgo takes 10
order requests a second by default); a 429 closes the gate for the seconds it says. Exits come
first: an urgent caller takes the next token before others already waiting for one, and the
exit lane (:mod:`cockpit.adapters.openalgo.lane`) asks without blocking (:meth:`Pacing.exit_turn`).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Final

ORDER_PATHS: Final = frozenset({"placeorder", "modifyorder", "cancelorder", "cancelallorder"})


class TokenBucket:
    """A token bucket (``rate`` per second, ``burst`` at most); ``wait`` blocks the caller.

    Urgent callers (exits) come first: while one waits, no other caller takes a token.
    """

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._tokens = self.burst
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self._urgent_waiting = 0
        self._claiming = False

    def take(self, urgent: bool = False) -> float:
        """Take a token if one is there (return 0.0), else return the seconds to wait."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                if urgent or not self._urgent_waiting:
                    self._tokens -= 1.0
                    return 0.0
                return 1.0 / self.rate  # an exit waits for this token: ask again later
            return (1.0 - self._tokens) / self.rate

    def claim(self) -> float:
        """``take`` for an urgent caller that does not block (the exit lane): while it is
        told to wait, no other caller takes a token."""
        delay = self.take(urgent=True)
        with self._lock:
            if (delay > 0.0) != self._claiming:
                self._claiming = delay > 0.0
                self._urgent_waiting += 1 if self._claiming else -1
        return delay

    def wait(self, stop: threading.Event, urgent: bool = False) -> bool:
        """Block until a token is taken; False if ``stop`` was set meanwhile."""
        if urgent:
            with self._lock:
                self._urgent_waiting += 1
        try:
            while True:
                delay = self.take(urgent)
                if delay <= 0.0:
                    return True
                if stop.wait(delay):
                    return False
        finally:
            if urgent:
                with self._lock:
                    self._urgent_waiting -= 1


class Pacing:
    """The router's buckets (``order_rate``, ``api_rate`` per second) and its 429 gate."""

    def __init__(self, order_rate: float, api_rate: float, max_retry_after_s: float) -> None:
        self.orders = TokenBucket(order_rate)
        self.api = TokenBucket(api_rate)
        self._max_retry_after = max_retry_after_s
        self._gate_until = 0.0
        self._lock = threading.Lock()

    def gate_wait(self) -> float:
        """Seconds until the gate a 429 closed opens again (0 or less: open)."""
        with self._lock:
            return self._gate_until - time.monotonic()

    def wait_turn(self, path: str, stop: threading.Event, urgent: bool = False) -> bool:
        """Block until ``path`` may be sent (gate open, token taken); False if ``stop`` was set."""
        while (wait := self.gate_wait()) > 0:
            if stop.wait(wait):
                return False
        bucket = self.orders if path in ORDER_PATHS else self.api
        return bucket.wait(stop, urgent)

    def exit_turn(self) -> float:
        """For the exit lane: seconds until the next exit may go (0: go, its token taken)."""
        wait = self.gate_wait()
        return wait if wait > 0 else self.orders.claim()

    def close_gate(self, retry_after: Any) -> None:
        """A 429: no request goes for ``retry_after`` seconds (1 s if unreadable; capped)."""
        try:
            seconds = float(retry_after) if retry_after is not None else 1.0
        except (TypeError, ValueError):
            seconds = 1.0
        seconds = max(0.05, min(seconds, self._max_retry_after))
        with self._lock:
            self._gate_until = max(self._gate_until, time.monotonic() + seconds)
