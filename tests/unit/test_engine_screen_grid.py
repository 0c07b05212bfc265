"""The decision loop flushes the screen on the viewer server's send grid (``screen_grid_s``):
once per send, just before it, not every ``screen_fold_s`` (flushes between two sends were
sent nowhere); a lone tick after a quiet spell still goes at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from cockpit.domain.market import LtpTick
from cockpit.engine.core import Engine, EngineOptions
from cockpit.link import protocol as p
from cockpit.link.bus import Inbound
from cockpit.link.pace import grid_slot
from tests.unit.test_engine_core import INFY, SBIN, FakeRouter, Recorder, Rig


class TimedRecorder(Recorder):
    """When (monotonic) each quote was published."""

    def __init__(self) -> None:
        super().__init__()
        self.at: list[float] = []
        self.published = threading.Event()

    def market(self, quote: p.QuoteView, book: p.BookView | None = None) -> None:
        super().market(quote, book)
        self.at.append(time.monotonic())
        self.published.set()


@contextmanager
def running(grid: float, lead: float) -> Iterator[tuple[Inbound, TimedRecorder]]:
    pub = TimedRecorder()
    inbound = Inbound()
    engine = Engine(
        config=Rig().config,
        instruments=[SBIN, INFY],
        router=FakeRouter(),
        publisher=pub,
        inbound=inbound,
        options=EngineOptions(
            reconcile_interval_s=0,
            timer_interval_s=5.0,
            screen_fold_s=0.01,
            screen_grid_s=grid,
            screen_lead_s=lead,
        ),
    )
    stop = threading.Event()
    thread = threading.Thread(target=engine.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield inbound, pub
    finally:
        stop.set()
        thread.join(5)


def tick(inbound: Inbound, i: int) -> None:
    inbound.put(LtpTick(time.time_ns(), "NSE", "SBIN", Decimal(800) + Decimal(i % 100) / 20))


def test_a_flood_is_flushed_once_per_send_just_before_it() -> None:
    grid, lead = 0.1, 0.01
    with running(grid, lead) as (inbound, pub):
        end = time.monotonic() + 0.8
        i = 0
        while time.monotonic() < end:  # a tick every millisecond or so
            tick(inbound, i)
            i += 1
            time.sleep(0.001)
        time.sleep(grid)
    at = pub.at
    assert len(at) >= 4, at
    for before, after in zip(at, at[1:], strict=False):
        # each flush is for a later send than the one before (at most one per send)
        assert after >= grid_slot(before + lead, grid) - lead, (before, after)
    assert len(at) <= 0.8 / grid + 3  # the 10 ms fold alone made ~80


def test_a_lone_tick_after_a_quiet_spell_goes_at_once() -> None:
    grid = 2.0
    with running(grid, 0.01) as (inbound, pub):
        time.sleep(grid_slot(time.monotonic(), grid) - time.monotonic() + 0.05)
        t0 = time.monotonic()  # just after a send: held for the next would be ~2 s
        tick(inbound, 0)
        assert pub.published.wait(3.0)
        assert pub.at[0] - t0 < 0.5
