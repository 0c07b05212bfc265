"""A symbol whose instrument the viewer does not know: no raw ticks read as prices (found in a
trial: its ladder showed "16004" for 800.20)."""

from __future__ import annotations

import time

import msgspec

from tests.ui import scenario as sc
from tests.ui.conftest import wait_for
from tests.ui.test_app_keys import make_app, started


async def test_a_symbol_with_no_known_instrument_shows_no_raw_ticks_as_prices() -> None:
    app, link = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        key = "NSE:NOSUCH"
        like = sc.market(5, "NSE:SBIN", 16_004, time.time_ns())  # the same, another key
        quotes = [msgspec.structs.replace(q, key=key) for q in like.quotes]
        books = [msgspec.structs.replace(b, key=key) for b in like.books]
        link.feed(msgspec.structs.replace(like, quotes=quotes, books=books))
        await wait_for(pilot, lambda: key in app.store.quotes)
        app.select_symbol(key)
        ladder = app.screen.ladder
        await wait_for(pilot, lambda: "instrument unknown" in ladder.text_of(0))
        rows = [ladder.text_of(y) for y in range(ladder.rows + 1)]
        assert not any("1600" in r for r in rows), rows
