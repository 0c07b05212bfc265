"""Keys first (issue 19.2): under a flood of market batches heavier than the app can apply,
a key is handled within a bounded number of frames, frames that cannot keep up are merged
(never queued), and the screen ends on the latest price.

The real app on a MemoryLink; a feeder thread plays the engine, as fast as it can.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

from textual import events

from cockpit.link import protocol as p
from cockpit.ui.messages import EngineMessagesReceived
from tests.ui import scenario as sc
from tests.ui.conftest import wait_for
from tests.ui.test_app_keys import make_app, started

SBIN = "NSE:SBIN"
FAR = [f"NSE:FAR{i:04d}" for i in range(2000)]
"""Symbols the app does not show: each batch carries them all (a heavy frame)."""


class Flood:
    """Feeds market batches until stopped; SBIN's price climbs one tick per batch."""

    def __init__(self, link: object) -> None:
        self.link = link
        self.seq = 10
        self.ltp = sc.BASE[SBIN]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            now = time.time_ns()
            self.seq += 1
            self.ltp += 1
            far = [
                p.QuoteView(key=k, recv_ns=now, ltp=10_000 + self.seq, ticks=self.seq) for k in FAR
            ]
            self.link.feed(  # type: ignore[attr-defined]
                p.MarketBatch(
                    seq=self.seq,
                    quotes=[sc.quote(SBIN, self.ltp, now, ticks=self.seq), *far],
                    books=[sc.book(SBIN, self.ltp)],
                )
            )
            time.sleep(0.002)


class Watch:
    """Batches the app applied between a key reaching it and the key's effect (its quantity
    step), seen from every message any part of the app dispatches."""

    def __init__(self) -> None:
        self.app: object = None
        self.waiting: list[tuple[Decimal, int]] = []
        """Per key not yet handled: the quantity before it, batches applied when it came."""
        self.behind: list[int] = []
        """Batches applied while each key waited."""
        self.queue_sizes: list[int] = []
        self.batches = 0
        self.keys: set[int] = set()

    def hook(self, msg: object) -> None:
        app = self.app
        if app is None:
            return
        qty, applied = self.settle()
        if isinstance(msg, events.Key) and msg.key == "plus" and id(msg) not in self.keys:
            self.keys.add(id(msg))  # first seen at the app (then forwarded to the focus)
            self.waiting.append((qty + len(self.waiting), applied))
        elif isinstance(msg, EngineMessagesReceived):
            self.batches += 1
            self.queue_sizes.append(app.message_queue_size)  # type: ignore[attr-defined]

    def settle(self) -> tuple[Decimal, int]:
        """Close the keys handled since the last look; returns (quantity, batches applied)."""
        qty = self.app.qty_of(SBIN)  # type: ignore[attr-defined]
        applied = self.app.batches_applied  # type: ignore[attr-defined]
        while self.waiting and qty > self.waiting[0][0]:
            self.behind.append(applied - self.waiting.pop(0)[1])
        return qty, applied


def ladder_shows(app: object, text: str) -> bool:
    lad = app.screen.ladder  # type: ignore[attr-defined]
    return any(text in lad.text_of(y) for y in range(lad.rows + 1))


async def test_keys_are_handled_within_a_frame_or_two_of_a_flood() -> None:
    app, link = make_app()
    watch = Watch()
    flood = Flood(link)
    async with app.run_test(size=(160, 48), message_hook=watch.hook) as pilot:
        await started(pilot, app)
        app.select_symbol(SBIN)
        watch.app = app
        flood.thread.start()
        try:
            await wait_for(pilot, lambda: watch.batches >= 5, 20)
            before = app.qty_of(SBIN)
            for _ in range(5):
                await pilot.press("plus")
            await wait_for(pilot, lambda: app.qty_of(SBIN) == before + 5, 20)
            watch.settle()
            applied = watch.batches
        finally:
            flood.stop.set()
            flood.thread.join(5)
        last = app.store.fmt_price(SBIN, flood.ltp)
        await wait_for(pilot, lambda: app.store.quotes[SBIN].ltp == flood.ltp, 20)
        await wait_for(pilot, lambda: ladder_shows(app, last) and ladder_shows(app, "◀LTP"), 10)
    assert applied >= 10  # the flood went on while the keys were pressed
    assert len(watch.behind) == 5
    assert max(watch.behind) <= 1, watch.behind  # never more than one frame before a key
    assert max(watch.queue_sizes) <= 5, watch.queue_sizes  # no backlog of updates
    assert flood.seq - 10 > applied  # frames that could not keep up were merged, not queued
