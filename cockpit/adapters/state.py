"""A feed's connection state and its reason, guarded by a condition others can wait on."""

from __future__ import annotations

import threading
import time

from cockpit.domain.feed import FeedState


class StateHolder:
    """Holds a :class:`FeedState` and why; ``wait_state`` blocks until it is one of several.

    Feeds inherit it and call :meth:`_store_state` from their own ``_set_state`` (which also
    tells the sink); readers use :attr:`state`, :attr:`reason` and :meth:`wait_state`.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._state = FeedState.DOWN
        self._reason = "not started"

    @property
    def state(self) -> FeedState:
        """The current state."""
        return self._state

    @property
    def reason(self) -> str:
        """Why it is in its state (empty while live)."""
        return self._reason

    def wait_state(self, *states: FeedState, timeout: float) -> bool:
        """Block until the state is one of ``states``; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._state not in states:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _store_state(self, state: FeedState, reason: str) -> None:
        with self._cond:
            self._state = state
            self._reason = reason
            self._cond.notify_all()
