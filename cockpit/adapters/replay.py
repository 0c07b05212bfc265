"""Replay a recorded normalized-tick file (``replay:FILE``) as a feed, paced or flat out.

The file is what ``cockpit record`` writes: one normalized tick line per event
(DESIGN.md §3). :class:`ReplayFeed` has the same shape as the live feeds (``start``,
``stop``, ``stats``, ``state``, ``wait_state``, ``subscribe``) and hands events to the same
kind of ``sink``, with FeedStatus CONNECTING -> LIVE -> DOWN ("end of replay").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from cockpit.adapters.state import StateHolder
from cockpit.domain.feed import FeedState, FeedStatus, Sink
from cockpit.domain.market import decode_line

PREFIX = "replay:"


def parse_spec(spec: str) -> Path:
    """``"replay:FILE"`` -> the file's path; raises ValueError for another spec."""
    if not spec.startswith(PREFIX) or not spec[len(PREFIX) :]:
        raise ValueError(f"not a replay spec (replay:FILE): {spec!r}")
    return Path(spec[len(PREFIX) :]).expanduser()


class ReplayFeed(StateHolder):
    """Plays a normalized tick file into a sink on its own thread."""

    name = "replay"

    def __init__(
        self,
        path: str | Path,
        sink: Sink,
        *,
        speed: float | None = 1.0,
        restamp: bool = True,
        loop: bool = False,
    ) -> None:
        """Create a stopped replay.

        Args:
            path: the recorded file.
            sink: receives events and FeedStatus.
            speed: 1.0 = recorded pace (by ``recv_ns`` gaps), 2.0 twice as fast,
                None = as fast as possible.
            restamp: replace ``recv_ns`` with the time of hand-off (so age checks see a
                live feed); exchange times are kept as recorded.
            loop: start over at the end of the file instead of stopping.
        """
        self.path = Path(path)
        self._sink = sink
        self._speed = speed
        self._restamp = restamp
        self._loop = loop
        self._keys: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        StateHolder.__init__(self)
        self.lines = 0
        self.events = 0
        self.rejected = 0
        self.bytes = 0
        self._last_mono: float | None = None

    @classmethod
    def from_spec(cls, spec: str, sink: Sink, **kwargs: Any) -> ReplayFeed:
        """Build from ``replay:FILE``."""
        return cls(parse_spec(spec), sink, **kwargs)

    def subscribe(self, keys: Iterable[str], mode: str = "quote") -> list[str]:
        """Restrict playback to these ``EXCH:SYMBOL`` keys (no subscription = everything)."""
        new = [k for k in keys if k not in self._keys]
        self._keys.update(new)
        return new

    def unsubscribe(self, keys: Iterable[str], mode: str = "quote") -> list[str]:
        """Stop playing these keys."""
        gone = [k for k in keys if k in self._keys]
        self._keys.difference_update(gone)
        return gone

    def subscribe_orders(self) -> None:
        """Nothing to do: a recording carries no order updates (for duck typing)."""

    def start(self) -> None:
        """Start playing (idempotent)."""
        if self._thread is not None:
            return
        self._set_state(FeedState.CONNECTING)
        self._thread = threading.Thread(target=self._run, name="replay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop playing; bounded join."""
        self._stop.set()
        if self._thread is None or self._thread is threading.current_thread():
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stats(self) -> dict[str, Any]:
        """Counters in the shape of the live feeds' ``stats()``."""
        last = self._last_mono
        return {
            "feed": self.name,
            "state": str(self._state),
            "frames": self.lines,
            "bytes": self.bytes,
            "events": self.events,
            "rejected": self.rejected,
            "rejected_by_reason": {"bad line": self.rejected} if self.rejected else {},
            "gaps": 0,
            "reconnects": 0,
            "attempt": 0,
            "last_frame_age_s": None if last is None else time.monotonic() - last,
            "reason": self._reason,
        }

    def _set_state(self, state: FeedState, reason: str = "") -> None:
        self._store_state(state, reason)
        self._sink(FeedStatus(feed=self.name, state=state, ts_ns=time.time_ns(), reason=reason))

    def _run(self) -> None:
        try:
            fh = self.path.open("rb")
        except OSError as exc:
            self._set_state(FeedState.DOWN, f"cannot open {self.path}: {exc.strerror}")
            return
        self._set_state(FeedState.LIVE)
        reason = "end of replay"
        try:
            with fh:
                while not self._play(fh):
                    if not self._loop or self._stop.is_set():
                        break
                    fh.seek(0)
                if self._stop.is_set():
                    reason = "stopped"
        except Exception as exc:  # never die silently
            reason = f"replay failed: {type(exc).__name__}: {exc}"
        self._set_state(FeedState.DOWN, reason)

    def _play(self, fh: Any) -> bool:
        """Play the file once; True if stopped early."""
        sink = self._sink
        keys = self._keys
        speed = self._speed
        restamp = self._restamp
        replace = msgspec.structs.replace
        t0_file: int | None = None
        t0_wall = 0
        stop = self._stop
        for line in fh:
            if stop.is_set():
                return True
            self.lines += 1
            self.bytes += len(line)
            line = line.strip()
            if not line:
                continue
            try:
                ev = decode_line(line)
            except (msgspec.DecodeError, ValueError):
                self.rejected += 1
                continue
            if keys and f"{ev.exchange}:{ev.symbol}" not in keys:
                continue
            if speed:
                if t0_file is None:
                    t0_file, t0_wall = ev.recv_ns, time.monotonic_ns()
                due = t0_wall + (ev.recv_ns - t0_file) / speed
                wait = (due - time.monotonic_ns()) / 1e9
                if wait > 0 and stop.wait(wait):
                    return True
            if restamp:
                ev = replace(ev, recv_ns=time.time_ns())
            sink(ev)
            self.events += 1
            self._last_mono = time.monotonic()
        return False
