"""After the engine dies (SIGKILL) and the app restarts it (`r`), the panes follow the price.

The real app against a real engine process and the paper exchange: a position is opened,
the engine is killed, the restart path starts a new engine in the same private dirs and the
app re-attaches to it. Then the price moves, and every market-driven pane (positions, quote,
depth, watchlist) must show it, repeatedly, without any other event forcing a redraw,
while the event loop runs late (see tests/ui/test_grid_soon.py).
"""

from __future__ import annotations

import signal
import subprocess
import types
from decimal import Decimal

import pytest
import textual.timer

from cockpit.link.client import EngineClient
from cockpit.ui.app import CockpitApp, UiOptions
from cockpit.ui.fmt import fmt_money
from cockpit.ui.link import ClientLink
from tests.engine_child import REPO, engine_run_argv
from tests.ui.conftest import showing, wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc, _die_with_parent, attached, qty
from tests.ui.test_grid_soon import LateLoop


class RestartingConnector:
    """Attaches to the test engine; ``restart`` starts it again (as `r` does) and attaches."""

    started_engine = False

    def __init__(self, engine: EngineProc) -> None:
        self.engine = engine
        self.restarts = 0

    def connect(self) -> ClientLink:
        return ClientLink(EngineClient.connect(path=self.engine.socket, client="pilot"))

    def restart(self) -> ClientLink:
        e = self.engine
        e.proc.wait(10)
        e.proc = subprocess.Popen(
            engine_run_argv(e.sim),
            env=e.env,
            stdin=subprocess.DEVNULL,
            stdout=e.log,
            stderr=subprocess.STDOUT,
            cwd=str(REPO),
            preexec_fn=_die_with_parent,
        )
        e.wait_ready()
        self.restarts += 1
        return self.connect()


def depth_shows_the_book(app: CockpitApp) -> bool:
    """The depth pane's first row holds the best bid the store has."""
    book = app.store.books.get(SBIN)
    if book is None or not book.bids:
        return False
    return app.store.fmt_price(SBIN, book.bids[0][0]) in app.screen.depth.text_of(1)


def ltp_cell(app: CockpitApp) -> str:
    """The LTP and Unreal columns of SBIN's positions row ('' when not shown)."""
    row = app.screen.positions.text_of(1)
    return row[30:49] if "SBIN" in row else ""


async def test_positions_quote_depth_and_watchlist_follow_the_price_after_a_reattach(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    e = EngineProc()
    try:
        e.price("SBIN", "800.00")
        e.wait_ready()
        conn = RestartingConnector(e)
        app = CockpitApp(conn, UiOptions(remember=False))  # type: ignore[arg-type]
        async with app.run_test(size=(160, 48)) as pilot:
            await attached(pilot, app)
            e.price("SBIN", "800.00")  # a fresh tick: the engine's stale-data gate is on
            await wait_for(pilot, lambda: SBIN in app.store.quotes, 10)
            await pilot.press("b")
            await wait_for(pilot, lambda: qty(app) == 1, 10)
            e.price("SBIN", "800.20")
            await wait_for(pilot, lambda: "800.20" in ltp_cell(app), 10)

            # From the crash on, the event loop runs late, as it can under load (the link
            # threads re-attaching and decoding the snapshot hold the GIL): Textual's timers
            # see every clock read 5 ms after the one before. A capped redraw asked for then
            # was dropped, and the pane never redrew for the market again.
            late = LateLoop(lag=0.005)
            monkeypatch.setattr(
                textual.timer, "_time", types.SimpleNamespace(get_time=late.get_time)
            )
            e.proc.send_signal(signal.SIGKILL)
            await wait_for(pilot, lambda: showing(app, "EngineLostScreen"), 15)
            await pilot.press("r")
            await wait_for(pilot, lambda: conn.restarts == 1 and app.link_state == "live", 40)
            await wait_for(pilot, lambda: app.store.connected and qty(app) == 1, 15)
            await wait_for(pilot, lambda: showing(app, "TradeScreen"))
            scr = app.screen

            def watch_row() -> str:
                rows = [scr.watchlist.text_of(y) for y in range(1, 4)]
                return next((r for r in rows if "SBIN" in r), "")

            avg = app.store.positions[SBIN].avg_price
            for price in ("800.10", "800.35", "799.90"):  # inside stop and target
                e.price("SBIN", price)
                want = int(Decimal(price) / app.store.instruments[SBIN].tick_size)
                await wait_for(pilot, lambda w=want: app.store.mark(SBIN) == w, 10)
                # Only market batches from here: the panes redraw at their max_hz.
                await wait_for(pilot, lambda p=price: p in ltp_cell(app), 3)
                assert fmt_money(Decimal(price) - avg) in ltp_cell(app)
                await wait_for(pilot, lambda p=price: p in scr.quote.text_of(0), 3)
                await wait_for(pilot, lambda p=price: p in watch_row(), 3)
                await wait_for(pilot, lambda: depth_shows_the_book(app), 3)
    finally:
        e.stop()
