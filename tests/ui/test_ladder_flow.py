"""Order flow on the ladder at the widths people use: traded volume split into sold / bought,
a volume-profile bar, the last trade's size at its price, price grouping; the real app fed
deterministic protocol messages."""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest

from cockpit.link import protocol as p
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import MemoryLink
from cockpit.ui.widgets.ladder import Ladder
from tests.ui import scenario as sc
from tests.ui.conftest import wait_for

SBIN = "NSE:SBIN"
# Traded at 800.00 (the last price): 700 of which 520 bought; at 800.05: 300, 100 bought.
FLOW = p.VolumeAtPrice(
    SBIN,
    [(16_000, Decimal(700)), (16_001, Decimal(300)), (15_998, Decimal(90))],
    [(16_000, Decimal(520)), (16_001, Decimal(100)), (15_998, Decimal(0))],
)


def make() -> CockpitApp:
    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))
    now = time.time_ns()
    snap = sc.snapshot(now)
    link.feed(sc.welcome(), p.Snapshot(**{**_fields(snap), "volume_at_price": [FLOW]}))
    return app


def _fields(snap: p.Snapshot) -> dict[str, object]:
    return {f: getattr(snap, f) for f in snap.__struct_fields__}


def row_at(ladder: Ladder, price: int) -> str:
    y = ladder.row_of(price)
    assert y is not None
    return ladder.text_of(y)


async def ladder_of(pilot) -> Ladder:
    app = pilot.app
    await wait_for(pilot, lambda: app.store.seq >= 1 and app.selected == SBIN)
    ladder = app.screen.query_one(Ladder)
    await wait_for(pilot, lambda: ladder.columns is not None and ladder.row_of(16_000))
    return ladder


@pytest.mark.parametrize("size", [(100, 40), (120, 40), (140, 40), (171, 40)])
async def test_at_100_to_171_columns_the_volume_stays(size: tuple[int, int]) -> None:
    app = make()
    async with app.run_test(size=size) as pilot:
        ladder = await ladder_of(pilot)
        assert ladder.size.width < 56  # the narrow ladder of these layouts
        assert ladder.columns is not None
        assert ladder.columns.volume  # one total column, not the split
        assert "Vol" in ladder.text_of(0)
        assert re.search(r"800\.00\s+700\s+◀LTP", row_at(ladder, 16_000))
        assert re.search(r"799\.90\s+.*\b90\b", row_at(ladder, 15_998))
        assert all(len(ladder.text_of(y)) <= ladder.size.width for y in range(ladder.rows + 1))


@pytest.mark.parametrize("size", [(172, 48), (220, 50)])
async def test_wider_the_volume_splits_into_sold_and_bought(size: tuple[int, int]) -> None:
    app = make()
    async with app.run_test(size=size) as pilot:
        ladder = await ladder_of(pilot)
        assert ladder.columns is not None
        assert ladder.columns.split
        assert re.search(r"Sold\s+Bought", ladder.text_of(0))
        assert re.search(r"800\.00\s+180\s+520\s+◀LTP", row_at(ladder, 16_000))
        assert re.search(r"800\.05\s+\S+\s+200\s+100\b", row_at(ladder, 16_001))


async def test_a_full_width_ladder_adds_the_profile_bar_and_the_last_size() -> None:
    app = make()
    async with app.run_test(size=(90, 30)) as pilot:  # under 100 columns the ladder is wide
        ladder = await ladder_of(pilot)
        assert ladder.columns is not None
        assert ladder.columns.profile
        assert ladder.columns.last
        top = row_at(ladder, 16_000)
        # Biggest level: a full bar; the last trade (10 at 800.00) on its row only.
        assert "█" * ladder.columns.profile in top
        assert re.search(r"520\s+█+\s+10\s+◀LTP", top)
        other = row_at(ladder, 16_001)
        assert re.search(r"100\s+███▍\s+$", other)  # 300 / 700 of 8 cells = 3.4 cells
        # New trades move the split, the bar and the last size.
        app.store.apply(
            p.MarketBatch(
                seq=3,
                quotes=[sc.quote(SBIN, 16_001, time.time_ns(), ticks=3)],
                volume_at_price=[
                    p.VolumeAtPrice(SBIN, [(16_001, Decimal(1400))], [(16_001, Decimal(1200))])
                ],
            )
        )
        ladder.rebuild()
        assert re.search(r"200\s+1,200\s+█{8}\s+10\s+◀LTP", row_at(ladder, 16_001))
        assert not re.search(r"\b10\s+$", row_at(ladder, 16_000).rstrip())


async def test_grouping_sums_rows_of_n_ticks() -> None:
    app = make()
    async with app.run_test(size=(172, 48)) as pilot:
        ladder = await ladder_of(pilot)
        ladder.focus()
        await pilot.press("z")  # two ticks a row
        assert ladder.group == 2
        assert "×2" in ladder.text_of(0)
        assert ladder.price_at(2) == ladder.price_at(1) - 2  # type: ignore[operator]
        # 800.00 and 800.05 share a row: 1000 traded, 620 of it bought; the last price's row.
        assert re.search(r"800\.00\s+(\S+\s+)*?380\s+620\s+◀LTP", row_at(ladder, 16_001))
        assert ladder.row_of(16_000) == ladder.row_of(16_001)
        y = ladder.row_of(16_000)
        await pilot.press("up")
        assert ladder.cursor == 16_002
        assert ladder.row_of(ladder.cursor) == y - 1  # type: ignore[operator]
        for _ in range(4):
            await pilot.press("z")
        assert ladder.group == 1
        assert "Price" in ladder.text_of(0)
