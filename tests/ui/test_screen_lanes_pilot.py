"""The link carries what the screen shows (issue 19.1): the real app against a real engine
process and a paper exchange whose prices walk on their own, many symbols, a short terminal.

The app tells the engine which symbols it draws in full (the selected one, the watchlist rows
in view); rows off screen arrive about once a second, quote only, and a row scrolled into
view gets every batch again. Counted from the messages the app itself received.
"""

from __future__ import annotations

import json
import time
from collections import Counter

from cockpit.link import protocol as p
from cockpit.sim import SimConfig
from cockpit.ui.app import CockpitApp
from cockpit.ui.messages import EngineMessagesReceived
from tests.ui.conftest import wait_for
from tests.ui.test_engine_pilot import SBIN, attached, make_app, running_engine

EXTRA = [f"NSE:LANE{i:02d}" for i in range(30)]
KEYS = [SBIN, "NSE:INFY", *EXTRA]
RATE = 12.0
"""Ticks per second per symbol."""


class Received:
    """Quotes and books per symbol in what the link delivered to the app."""

    def __init__(self) -> None:
        self.quotes: Counter[str] = Counter()
        self.books: Counter[str] = Counter()
        self.since = time.monotonic()

    def hook(self, msg: object) -> None:
        if isinstance(msg, EngineMessagesReceived):
            for m in msg.messages:
                if isinstance(m, p.MarketBatch):
                    self.quotes.update(q.key for q in m.quotes)
                    self.books.update(b.key for b in m.books)

    def reset(self) -> None:
        self.quotes.clear()
        self.books.clear()
        self.since = time.monotonic()

    def seconds(self) -> float:
        return time.monotonic() - self.since


def told(app: CockpitApp, key: str) -> bool:
    """Whether the app told the engine it draws ``key`` in full."""
    return app._shown is not None and key in app._shown


async def test_rows_off_screen_come_once_a_second_and_a_row_scrolled_into_view_in_full() -> None:
    sim = SimConfig(
        seed=7,
        rate=RATE,
        instruments=[f"{k}:{100 + i}.00:0.05" for i, k in enumerate(EXTRA)],
    )
    got = Received()
    with running_engine(sim, COCKPIT_TRADING__WATCHLIST=json.dumps(KEYS)) as engine:
        engine.sim.wait_subscribed(KEYS)
        app = make_app(engine)
        async with app.run_test(size=(160, 30), message_hook=got.hook) as pilot:
            await attached(pilot, app)
            wl = app.screen.watchlist
            await wait_for(pilot, lambda: len(wl.in_view) > 3, 10)
            in_view = set(wl.in_view)
            last, visible = KEYS[-1], KEYS[2]
            assert last not in in_view
            assert visible in in_view
            await wait_for(pilot, lambda: told(app, visible) and not told(app, last), 10)
            await pilot.pause(0.3)  # what was sent before the engine heard it

            got.reset()
            await wait_for(pilot, lambda: got.quotes[visible] >= 15, 30)
            await wait_for(pilot, lambda: got.seconds() >= 2.0, 5)
            seconds = got.seconds()
            assert 1 <= got.quotes[last] <= seconds + 1.5, (got.quotes[last], seconds)
            assert got.books[last] == 0  # no book for a row nobody sees
            assert got.books[visible] >= 1

            # The cursor to the last row: the list scrolls. (The action, not Pilot's press:
            # a press waits for the whole process to go idle, a second each in this flood.)
            wl.focus()
            wl.action_cursor(len(KEYS))
            await wait_for(pilot, lambda: last in wl.in_view and told(app, last), 10)
            assert visible not in wl.in_view
            await wait_for(pilot, lambda: not told(app, visible), 10)
            await pilot.pause(0.3)

            got.reset()
            await wait_for(pilot, lambda: got.quotes[last] >= 15, 30)
            seconds = got.seconds()
            assert got.books[last] >= 1
            assert got.quotes[visible] <= seconds + 1.5, (got.quotes[visible], seconds)
            assert got.quotes[SBIN] >= 5  # the selected symbol is always shown
