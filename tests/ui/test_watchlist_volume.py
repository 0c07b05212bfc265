"""Fractional volumes (crypto) fit the watchlist's volume column: a day's volume of
520.07012345 BTC showed as ``520.070…`` (cut), now as ``520.07``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from cockpit.link import protocol as p
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.fmt import fmt_volume
from cockpit.ui.link import MemoryLink
from cockpit.ui.widgets.watchlist import COLUMNS
from tests.ui import scenario as sc
from tests.ui.conftest import wait_for

WIDTH = next(c.width for c in COLUMNS if c.name == "volume")


@pytest.mark.parametrize(
    ("volume", "shown"),
    [
        ("520.07012345", "520.07"),
        ("0.00123456", "0.00123"),
        ("7.5", "7.5"),
        ("12.345678", "12.3457"),
        ("999.9999", "1,000"),
        ("4321.987654", "4,322"),
        ("99999.5", "100K"),
        ("1234567.891", "1235K"),
        ("123456789.5", "123.5M"),
        ("-520.07012345", "-520.07"),
    ],
)
def test_a_volume_fits_its_column(volume: str, shown: str) -> None:
    text = fmt_volume(Decimal(volume))
    assert text == shown
    assert len(text) < WIDTH  # one space between columns


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_a_fractional_volume_is_not_cut_in_the_watchlist(size: tuple[int, int]) -> None:
    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))
    quote = msgspec.structs.replace(
        sc.quote("NSE:SBIN", 16_002, sc.T0, ticks=2), volume=Decimal("520.07012345")
    )
    link.feed(sc.welcome(), sc.snapshot(sc.T0), p.MarketBatch(seq=2, quotes=[quote], books=[]))
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.store.seq >= 2)
        await pilot.pause(0.3)
        # The trade screen's own watchlist (narrow: the volume may give way, never cut).
        check(sbin_row(app.screen.query_one("#watchlist")), shown=False)
        await pilot.press("w")  # every symbol, on a screen of its own
        await pilot.pause(0.3)
        check(sbin_row(app.screen.query_one("#watchlist-full")))


def sbin_row(watchlist: Any) -> str:
    [row] = [r for r in map(watchlist.text_of, range(len(watchlist.lines()))) if "SBIN" in r]
    return str(row)


def check(row: str, *, shown: bool = True) -> None:
    assert "…" not in row, row
    assert not shown or " 520.07 " in row, row
