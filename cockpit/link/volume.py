"""Merging volume-at-price updates (the viewer server's pending batches, the viewer's pump)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import cast

from cockpit.link.protocol import VolumeAtPrice

Levels = dict[int, tuple[Decimal, Decimal | None]]
"""``price -> (total, buyer-initiated part or None when not sent)``."""


def merge_levels(into: Levels, vap: VolumeAtPrice) -> None:
    """Apply ``vap``'s changed levels to ``into`` (its totals win)."""
    bought = dict(vap.bought)
    for price, total in vap.levels:
        into[price] = (total, bought.get(price))


def to_vap(key: str, levels: Levels) -> VolumeAtPrice:
    """The merged levels as one update, sorted by price."""
    ordered = sorted(levels.items())
    return VolumeAtPrice(
        key,
        [(p, total) for p, (total, _) in ordered],
        [(p, bought) for p, (_, bought) in ordered if bought is not None],
    )


def volume_view(
    key: str, levels: Iterable[tuple[int, Decimal | int]], bought: Mapping[int, Decimal | int]
) -> VolumeAtPrice:
    """Volume-at-price levels (sorted by price) with their buyer-initiated parts.

    The engine keeps whole totals as ints (memory: thousands of symbols and levels); on the
    wire they are numbers like any other and a viewer reads them as Decimal.
    """
    rows = sorted(levels)
    return VolumeAtPrice(
        key,
        cast(list[tuple[int, Decimal]], rows),
        cast(list[tuple[int, Decimal]], [(p, bought.get(p, 0)) for p, _ in rows]),
    )
