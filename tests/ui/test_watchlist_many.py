"""The watchlist at 3,000 symbols (issue 19): scrolling, selection and sorting stay right, a
row in view shows every batch that moved it (not a slow clock's sample of them), the rows
repainted a second stay bounded when every row moves, and after a burst the rows in view show
the latest prices.

The real app on a MemoryLink fed with protocol messages; a feeder thread plays the engine.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from decimal import Decimal

from textual.widget import Widget

from cockpit.domain.feed import FeedState, FeedStatus
from cockpit.link import protocol as p
from cockpit.ui.app import CockpitApp
from cockpit.ui.link import MemoryLink
from cockpit.ui.options import StaticConnector, UiOptions
from cockpit.ui.widgets.watchlist import ROWS_PER_S, Watchlist
from tests.ui import scenario as sc
from tests.ui.conftest import wait_for

N = 3000
KEYS = [f"NSE:S{(i * 7919) % N:04d}" for i in range(N)]
"""Added in an order that is not the symbols' (S0000 is not first)."""
CLOSE = 20_000
"""Every symbol's previous close, in ticks (1000.00)."""


def quote(key: str, ltp: int, now: int, seq: int = 1, volume: int = 1000) -> p.QuoteView:
    return p.QuoteView(
        key=key,
        ltp=ltp,
        recv_ns=now,
        close=CLOSE,
        volume=Decimal(volume),
        bid=ltp - 1,
        ask=ltp + 1,
        ticks=seq,
    )


def make_app() -> tuple[CockpitApp, MemoryLink]:
    now = time.time_ns()
    snap = p.Snapshot(
        seq=1,
        instruments=[
            p.InstrumentView(k, "NSE", k[4:], Decimal("0.05"), Decimal(1), 2) for k in KEYS
        ],
        quotes=[quote(k, CLOSE, now) for k in KEYS],
        books=[],
        positions=[],
        plans=[],
        orders=[],
        fills=[],
        feeds=[FeedStatus("openalgo", FeedState.LIVE, now)],
        status=sc.status(),
        watchlist=KEYS,
    )
    link = MemoryLink()
    link.feed(sc.welcome(), snap)
    return CockpitApp(StaticConnector(link), UiOptions(remember=False)), link


async def started(pilot: object, app: CockpitApp) -> Watchlist:
    await wait_for(pilot, lambda: app.batches_applied >= 1 and app.selected is not None, 20)
    await pilot.pause()  # type: ignore[attr-defined]
    wl = app.screen.watchlist  # type: ignore[attr-defined]
    wl.focus()
    await pilot.pause()  # type: ignore[attr-defined]
    return wl


def row_of(wl: Watchlist, key: str) -> str:
    """The text of ``key``'s row on screen ('' if it is not in view)."""
    name = key[4:]
    for y in range(1, len(wl.lines())):
        text = wl.text_of(y)
        if text.split()[:1] == [name] or text.startswith(f"●{name} "):
            return text
    return ""


def shown_price(wl: Watchlist, key: str) -> str:
    """The LTP cell of ``key``'s row (without its arrow)."""
    row = row_of(wl, key)
    return row.split()[1].rstrip("▲▼") if row else ""


async def test_scroll_select_and_sort_over_three_thousand_rows() -> None:
    app, link = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        wl = await started(pilot, app)
        height = wl.size.height - 1
        assert wl.current_key() == KEYS[0]
        assert wl.in_view == frozenset(KEYS[:height])
        await pilot.press("end")
        assert wl.current_key() == KEYS[-1]
        assert wl.in_view == frozenset(KEYS[-height:])
        assert KEYS[-1][4:] in wl.text_of(len(wl.lines()) - 1)  # the last row, at the bottom
        await wait_for(pilot, lambda: bool(link.shown) and KEYS[-1] in link.shown[-1])
        assert KEYS[1] not in link.shown[-1]  # the engine is told what is in view, no more
        await pilot.press("pageup")
        assert wl.current_key() == KEYS[-1 - height]
        await pilot.press("home")
        assert wl.current_key() == KEYS[0]
        await pilot.press("pagedown", "down")
        assert wl.current_key() == KEYS[height + 1]
        assert wl.in_view == frozenset(KEYS[2 : height + 2])  # scrolled just enough
        await pilot.press("enter")
        assert app.selected == KEYS[height + 1]
        wl.focus()  # enter went on to the ladder

        await pilot.press("o")  # by symbol
        await pilot.press("home")
        assert wl.sort == "symbol"
        assert wl.text_of(1).split()[0].lstrip("●") == "S0000"
        assert wl.text_of(2).split()[0].lstrip("●") == "S0001"
        link.feed(p.MarketBatch(seq=2, quotes=[quote("NSE:S2345", CLOSE + 400, time.time_ns())]))
        await wait_for(pilot, lambda: app.store.quotes["NSE:S2345"].ltp == CLOSE + 400)
        await pilot.press("o")  # by change: the one that rose 2% on top
        assert wl.sort == "change"
        assert wl.current_key() == "NSE:S2345"
        assert "+2.00%" in wl.text_of(1)


class Stream:
    """Feeds a market batch about every ``period`` s: each moves ``moving`` one tick up."""

    def __init__(self, link: MemoryLink, moving: list[str], period: float = 1 / 30) -> None:
        self.link = link
        self.moving = moving
        self.period = period
        self.seq = 10
        self.ltp = {k: CLOSE for k in moving}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            self.seq += 1
            now = time.time_ns()
            for k in self.moving:
                self.ltp[k] += 1
            quotes = [quote(k, self.ltp[k], now, self.seq) for k in self.moving]
            self.link.feed(p.MarketBatch(seq=self.seq, quotes=quotes))
            time.sleep(self.period)


async def test_a_row_in_view_shows_each_batch_that_moved_it() -> None:
    """At 3,000 symbols × 5,000 ticks/s each symbol moves under twice a second: the screen has
    something new for a row in view only now and then, and shows it at the next frame. The list
    was redrawn at most 5 times a second, so such a price waited up to 200 ms for its frame (the
    whole screen drew 18 frames a second where the market gave it 30)."""
    app, link = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        wl = await started(pilot, app)
        key = KEYS[5]
        stream = Stream(link, [key])
        drawn: set[str] = set()
        b0 = app.batches_applied
        stream.thread.start()
        try:
            t_end = time.monotonic() + 2.0
            while time.monotonic() < t_end:
                drawn.add(shown_price(wl, key))
                await asyncio.sleep(0.004)
            applied = app.batches_applied - b0
        finally:
            stream.stop.set()
            stream.thread.join(5)
    assert applied >= 20  # the stream went on
    assert len(drawn) >= 0.7 * applied, (len(drawn), applied)


async def test_when_every_row_moves_on_every_batch_the_list_paces_its_repaints() -> None:
    """The other end (50 symbols at 5,000 ticks/s): every row in view moves on every batch.
    Repainting all of them at 30 Hz would multiply the bytes sent to the terminal for a blur
    nobody reads; the list spends at most ``ROWS_PER_S`` row repaints a second."""
    app, link = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        wl = await started(pilot, app)
        stream = Stream(link, sorted(wl.in_view))
        stream.thread.start()
        try:
            await pilot.pause(0.5)
            r0, b0, t0 = wl.rows_rendered, app.batches_applied, time.monotonic()
            await pilot.pause(2.0)
            rows_per_s = (wl.rows_rendered - r0) / (time.monotonic() - t0)
            applied = app.batches_applied - b0
        finally:
            stream.stop.set()
            stream.thread.join(5)
        last = {k: app.store.fmt_price(k, v) for k, v in stream.ltp.items()}
        await wait_for(pilot, lambda: all(shown_price(wl, k) == v for k, v in last.items()), 5)
    assert applied >= 20
    assert len(stream.moving) * 2 <= rows_per_s <= ROWS_PER_S * 1.2, rows_per_s  # still drawn


async def test_after_a_burst_the_rows_in_view_show_the_latest_prices() -> None:
    app, link = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        wl = await started(pilot, app)
        await pilot.press("pagedown", "pagedown")  # somewhere in the middle
        in_view = sorted(wl.in_view)
        others = [k for k in KEYS if k not in wl.in_view]
        ltp = dict.fromkeys(KEYS, CLOSE)
        for seq in range(2, 302):  # as fast as it goes: the app merges what it cannot draw
            now = time.time_ns()
            moved = in_view[seq % 7 :: 3] + others[seq * 10 % 2900 :][:100]
            for k in moved:
                ltp[k] += 1 if seq % 5 else -3
            link.feed(p.MarketBatch(seq=seq, quotes=[quote(k, ltp[k], now, seq) for k in moved]))
        await wait_for(pilot, lambda: app.store.seq == 301, 20)
        want = {k: app.store.fmt_price(k, ltp[k]) for k in in_view}
        await wait_for(pilot, lambda: all(shown_price(wl, k) == v for k, v in want.items()), 5)
        assert app.batches_applied < 300  # merged, not queued


async def test_the_engine_is_told_the_rows_of_the_screen_on_top() -> None:
    """The full-screen watchlist shows more rows than the trade screen's; back on the trade
    screen the engine is told its rows again (not on every batch: when the screens change)."""
    app, link = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        wl = await started(pilot, app)
        trade_rows = wl.in_view | {app.selected}
        await wait_for(pilot, lambda: bool(link.shown) and set(link.shown[-1]) == trade_rows)
        told = len(link.shown)
        await pilot.press("escape", "w")
        full = app.screen.watchlist  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: set(link.shown[-1]) == full.in_view | {app.selected})
        assert len(full.in_view) > len(trade_rows)
        await pilot.press("escape")
        for seq in range(2, 12):  # batches go on; the screens changed once
            link.feed(p.MarketBatch(seq=seq, quotes=[quote(KEYS[1], CLOSE + seq, time.time_ns())]))
        await wait_for(pilot, lambda: app.store.seq == 11)
        await wait_for(pilot, lambda: set(link.shown[-1]) == trade_rows)
        assert len(link.shown) == told + 2  # the full list's rows, then the trade screen's


async def test_sorted_by_change_a_symbol_rising_off_view_comes_to_the_top() -> None:
    """A price sort is redone a few times a second (not 3,000 symbols sorted every frame),
    while the rows in view keep moving: a symbol off view that rises to the top shows there
    within a fraction of a second."""
    app, link = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        wl = await started(pilot, app)
        await pilot.press("o", "o")
        assert wl.sort == "change"
        stream = Stream(link, sorted(wl.in_view))  # rows in view move on every batch
        stream.thread.start()
        try:
            await pilot.pause(0.3)
            riser = KEYS[2500]
            assert riser not in wl.in_view
            link.feed(p.MarketBatch(seq=1, quotes=[quote(riser, CLOSE + 1000, time.time_ns())]))
            t0 = time.monotonic()
            await wait_for(pilot, lambda: wl.text_of(1).split()[0] == riser[4:], 2)
            took = time.monotonic() - t0
        finally:
            stream.stop.set()
            stream.thread.join(5)
    assert took < 0.8, took


def painter() -> str:
    """Who is painting: an action (``run_action`` on the stack) or the frame clock."""
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "run_action":
            return "key"
        frame = frame.f_back  # type: ignore[assignment]
    return "clock"


def quiet(app: CockpitApp) -> bool:
    """Nothing but repaints on its way to the screen: no message waiting, no batch (a
    recompose), no callback waiting for the next paint, no layout, scroll or style change."""
    screen = app.screen
    pumps = [app, *screen.walk_children(with_self=True)]
    flags = ("_layout_required", "_scroll_required", "_refresh_styles_required")
    return (
        not app._batch_count
        and not screen._callbacks
        and not screen._layout_required
        and all(pump._message_queue.empty() for pump in pumps)
        and not any(getattr(w, f) for w in screen.walk_children(Widget) for f in flags)
    )


async def settle(pilot: object, app: CockpitApp) -> None:
    """Until a focus change has reached the screen. It changes the bindings, and the footer
    recomposes: a batch then a layout, several messages apart. A key that comes meanwhile is
    painted by the frame clock (paint_now leaves a batch or a layout to it), and how long that
    takes depends on the host's load, not on a fixed pause."""
    for _ in range(200):
        await pilot.pause()  # type: ignore[attr-defined]
        if quiet(app):
            return
    raise AssertionError("the screen did not settle")


async def test_what_a_key_changed_is_painted_with_the_key_not_at_the_next_frame() -> None:
    """Frames come from a 30 Hz clock; a key's effect waited for its next tick (up to 33 ms
    on top of the key's own handling) while the market kept the clock busy. The key's frame
    is painted as its action returns; market frames keep their pace."""
    from textual import events

    app, link = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        app.screen.ladder.focus()  # type: ignore[attr-defined]
        await settle(pilot, app)  # the footer has the ladder's keys: nothing is on its way
        stream = Stream(link, [app.selected or KEYS[0], *KEYS[1:40]])  # the screen is busy
        painted_by: list[str] = []
        status = app.screen.status  # type: ignore[attr-defined]
        display = app._display

        def watch(screen: object, update: object) -> None:
            if update is not None and want and f"qty {want[-1]}" in status.text_of(0):
                painted_by.append(painter())
                want.clear()
            display(screen, update)  # type: ignore[arg-type]

        want: list[int] = []
        app._display = watch  # type: ignore[method-assign]
        stream.thread.start()
        try:
            for n in range(2, 12):
                await pilot.pause(0.1)
                want.append(n)
                app.post_message(events.Key("plus", "+"))
                await wait_for(pilot, lambda: not want, 5)
        finally:
            stream.stop.set()
            stream.thread.join(5)
    assert painted_by == ["key"] * 10, painted_by
