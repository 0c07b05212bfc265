"""The pump against the engine's 30/s clock: a late batch does not make the later ones late."""

from __future__ import annotations

import pytest

from cockpit.link import protocol as p
from cockpit.link.pace import FrameGate
from cockpit.ui.link import LinkClosed, Pump
from tests.ui import scenario as sc

P = 1 / 30


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class EngineAt30:
    """The engine's socket as the pump sees it: batches arriving at set times on a clock the
    pump reads (waiting in ``recv`` moves the clock on)."""

    def __init__(self, clock: Clock, arrivals: list[float]) -> None:
        self.clock = clock
        self.script = [
            (clock.now + t, sc.market(n + 2, "NSE:SBIN", 16_000 + n, sc.T0))
            for n, t in enumerate(arrivals)
        ]

    def recv(self, timeout: float) -> list[p.Msg]:
        if not self.script:
            raise LinkClosed("done")
        at, msg = self.script[0]
        if at > self.clock.now + timeout:
            self.clock.now += timeout
            return []
        self.clock.now = max(self.clock.now, at)
        self.script.pop(0)
        return [msg]

    def send(self, command: p.Command) -> int:
        return command.id

    def show(self, keys: list[str]) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_late_batch_does_not_hold_back_the_ones_after_it() -> None:
    """The engine's batch 2 comes 20 ms late, the rest on time; the app paints at once. Each
    batch goes to the app as it comes (the one after the late one half a frame after it).
    Gated on a whole frame since the last delivery, every batch after the late one was held
    20 ms, for good."""
    clock = Clock()
    arrivals = [0, P, 2 * P + 0.020, 3 * P, 4 * P, 5 * P, 6 * P]
    link = EngineAt30(clock, arrivals)
    delivered: list[float] = []
    pump: Pump

    def deliver(batch: list[p.Msg]) -> None:
        delivered.append(clock.now - 100.0)
        pump.consumed.set()  # painted at once

    pump = Pump(link, deliver, fps=30, clock=clock)
    pump.run()
    assert len(delivered) == len(arrivals)  # none merged
    want = [0, P, 2 * P + 0.020, 2 * P + 0.020 + P / 2, 4 * P, 5 * P, 6 * P]
    assert delivered == pytest.approx(want, abs=0.0015)


def test_the_gate_holds_the_average_to_fps_when_batches_come_faster() -> None:
    gate = FrameGate(30)
    now, sent = 0.0, 0
    while now < 10.0:  # a batch offered every 5 ms for 10 s
        if gate.ready(now):
            gate.took(now)
            sent += 1
        now += 0.005
    assert 299 <= sent <= 302
