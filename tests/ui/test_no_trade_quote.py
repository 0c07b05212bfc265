"""Issue 17.6 on screen: a contract not traded today (a quote with no last price) shows its
bid, ask and book, with a blank LTP and no change, never 0.00 or -100%."""

from __future__ import annotations

import time
from decimal import Decimal

import msgspec

from cockpit.link import protocol as p
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import MemoryLink
from cockpit.ui.store import Store
from tests.ui import scenario as sc
from tests.ui.conftest import wait_for

FUT = "NFO:NIFTY25JANFUT"
CLOSE = 470_000  # 23500.00
BID, ASK = 469_990, 470_010  # 23499.50 / 23500.50


def untraded(now: int) -> p.MarketBatch:
    """What the engine sends for a depth frame with LTP 0: no ``ltp``, a real book."""
    quote = p.QuoteView(
        key=FUT,
        recv_ns=now,
        close=CLOSE,
        bid=BID,
        bid_qty=Decimal(75),
        ask=ASK,
        ask_qty=Decimal(150),
        ticks=1,
    )
    book = p.BookView(FUT, bids=[(BID, Decimal(75), 2)], asks=[(ASK, Decimal(150), 1)])
    return p.MarketBatch(seq=2, quotes=[quote], books=[book])


def untraded_snapshot(now: int) -> p.Snapshot:
    """The scenario's snapshot, the future with no quote yet."""
    snap = sc.snapshot(now)
    return msgspec.structs.replace(snap, quotes=[q for q in snap.quotes if q.key != FUT])


def test_store_keeps_an_untraded_quote_without_a_price() -> None:
    store = Store()
    store.apply_all([untraded_snapshot(sc.T0), untraded(sc.T0)])
    assert store.quotes[FUT].ltp is None
    assert store.quotes[FUT].bid == BID
    assert FUT in store.books
    assert store.mark(FUT) is None  # nothing to value a position at, not 0
    assert not store.history.get(FUT)  # no 0 in the sparkline


async def test_watchlist_quote_and_ladder_show_the_book_with_no_last_price() -> None:
    now = time.time_ns()
    link = MemoryLink()
    link.feed(sc.welcome(), untraded_snapshot(now))
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.batches_applied >= 1 and app.selected is not None)
        app.select_symbol(FUT)
        link.feed(untraded(now))
        await wait_for(pilot, lambda: FUT in app.store.quotes)
        scr = app.screen

        def fut_row() -> str:
            rows = [scr.watchlist.text_of(y) for y in range(1, 6)]
            return next((r for r in rows if "NIFTY25JA" in r), "")

        await wait_for(pilot, lambda: "23499.50" in fut_row())  # the list redraws at 10 Hz
        row = fut_row()
        assert "23500.50" in row
        assert "—" in row
        assert "0.00" not in row.replace("23499.50", "").replace("23500.50", "")
        assert "%" not in row

        def ladder_row(price: str) -> list[str]:
            return next((r.split() for r in ladder_rows(app) if price in r), [])

        await wait_for(pilot, lambda: ladder_row("23499.50") == ["75", "23499.50"])  # the bid
        assert ladder_row("23500.50") == ["23500.50", "150"]  # the ask
        assert not any("◀LTP" in r for r in ladder_rows(app))
        top = scr.quote.text_of(0)
        assert "—" in top
        assert "%" not in top
        assert " 0.00" not in top


def ladder_rows(app: CockpitApp) -> list[str]:
    lad = app.screen.ladder
    return [lad.text_of(y) for y in range(lad.rows + 1)]
