"""Market batches to viewers on a fixed 1/market_hz grid, not re-armed after each flush."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cockpit.link.pace import next_slot
from cockpit.link.server import ViewerServer


class HeldLoop:
    """The server's loop as a clock the test moves: records when each flush is armed for."""

    def __init__(self, now: float, real: asyncio.AbstractEventLoop) -> None:
        self.now = now
        self.armed: list[float] = []
        self.real = real

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, _cb: Any) -> asyncio.TimerHandle:
        self.armed.append(when)
        return asyncio.TimerHandle(when, _cb, (), self.real)

    def call_later(self, delay: float, cb: Any) -> asyncio.TimerHandle:
        return self.call_at(self.now + delay, cb)


def test_flushes_that_run_late_keep_the_rate(tmp_path: Path) -> None:
    """Each flush runs 3 ms after it was due (a busy loop at 3,000 symbols): the next is still
    due one interval after the last was due, so 30 a second stay 30 (re-arming an interval
    after the run gave 1/36.3 ms = 27.5 a second)."""
    server = ViewerServer(tmp_path / "s.sock", lambda _: None, market_hz=30.0)
    real = asyncio.new_event_loop()
    loop = HeldLoop(1000.0, real)
    server._loop = loop  # type: ignore[assignment]
    server._flush_due = 1000.0
    try:
        for _ in range(30):
            server._flush_market()
            loop.now = loop.armed[-1] + 0.003
    finally:
        real.close()
    gaps = [b - a for a, b in zip(loop.armed, loop.armed[1:], strict=False)]
    assert gaps == pytest.approx([1 / 30] * 29, abs=1e-9)
    assert loop.armed[-1] == pytest.approx(1001.0)


def test_a_slot_missed_whole_is_skipped_not_run_in_a_burst() -> None:
    period = 0.1
    assert next_slot(10.0, 10.05, period) == pytest.approx(10.1)
    assert next_slot(10.0, 10.25, period) == pytest.approx(10.3)  # 10.1 and 10.2 passed
    assert next_slot(10.0, 13.05, period) == pytest.approx(13.1)  # a 3 s stall: no catch-up


def test_grid_slot_is_the_next_multiple_of_the_period() -> None:
    from cockpit.link.pace import grid_slot

    period = 1 / 30
    for now in (0.0, 0.01, 1 / 30, 1234.5678, 98765.4321):
        slot = grid_slot(now, period)
        assert now < slot <= now + period + 1e-9
        assert abs(slot / period - round(slot / period)) < 1e-6
