"""Volume-at-price updates merged as the viewer server and the viewer's pump do: the latest
total and buyer-initiated part per level win; a level sent without its part keeps none."""

from __future__ import annotations

from decimal import Decimal

from cockpit.link.protocol import VolumeAtPrice
from cockpit.link.volume import Levels, merge_levels, to_vap

D = Decimal


def test_later_levels_win_and_the_bought_part_travels_with_its_total() -> None:
    levels: Levels = {}
    merge_levels(levels, VolumeAtPrice("K", [(10, D(5)), (11, D(2))], [(10, D(3)), (11, D(0))]))
    merge_levels(levels, VolumeAtPrice("K", [(11, D(7)), (12, D(1))], [(11, D(4))]))
    assert to_vap("K", levels) == VolumeAtPrice(
        "K",
        [(10, D(5)), (11, D(7)), (12, D(1))],
        [(10, D(3)), (11, D(4))],  # 12 came without its part: none is invented
    )


def test_a_total_sent_again_without_its_part_drops_the_old_part() -> None:
    levels: Levels = {}
    merge_levels(levels, VolumeAtPrice("K", [(10, D(5))], [(10, D(3))]))
    merge_levels(levels, VolumeAtPrice("K", [(10, D(0))]))  # a session reset
    assert to_vap("K", levels) == VolumeAtPrice("K", [(10, D(0))], [])
