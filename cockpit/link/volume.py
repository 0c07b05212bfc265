"""Merging volume-at-price updates (the viewer server's pending batches, the viewer's pump)."""

from __future__ import annotations

from decimal import Decimal

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
