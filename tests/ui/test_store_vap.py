"""Volume at price in the viewer: whole map in a snapshot, changed levels in market batches."""

from __future__ import annotations

from decimal import Decimal

from cockpit.link import protocol as p
from cockpit.ui.link import merge_market
from cockpit.ui.store import Store
from tests.ui import scenario as sc


def _batch(seq: int, *vaps: p.VolumeAtPrice) -> p.MarketBatch:
    return p.MarketBatch(seq=seq, quotes=[], volume_at_price=list(vaps))


def test_batches_update_only_the_levels_they_carry() -> None:
    store = Store()
    store.apply(sc.snapshot())
    whole = dict(store.vap["NSE:SBIN"])
    assert whole[16_000] == Decimal(1000)
    ch = store.apply(_batch(2, p.VolumeAtPrice("NSE:SBIN", [(16_000, Decimal(1001))])))
    assert ch.vap == {"NSE:SBIN"}
    assert store.vap["NSE:SBIN"][16_000] == Decimal(1001)
    assert store.vap["NSE:SBIN"][16_001] == whole[16_001]  # the other levels stay
    assert len(store.vap["NSE:SBIN"]) == len(whole)
    store.apply(_batch(3, p.VolumeAtPrice("NSE:INFY", [(30_000, Decimal(5))])))
    assert store.vap["NSE:INFY"] == {30_000: Decimal(5)}


def test_a_zero_total_removes_the_level() -> None:
    store = Store()
    store.apply(sc.snapshot())
    store.apply(_batch(2, p.VolumeAtPrice("NSE:SBIN", [(16_000, Decimal(0))])))
    assert 16_000 not in store.vap["NSE:SBIN"]


def test_merged_batches_keep_levels_of_both() -> None:
    a = _batch(2, p.VolumeAtPrice("NSE:SBIN", [(16_000, Decimal(3)), (16_001, Decimal(1))]))
    b = _batch(3, p.VolumeAtPrice("NSE:SBIN", [(16_001, Decimal(2)), (16_002, Decimal(0))]))
    m = merge_market(a, b)
    assert [(v.key, v.levels) for v in m.volume_at_price] == [
        ("NSE:SBIN", [(16_000, Decimal(3)), (16_001, Decimal(2)), (16_002, Decimal(0))])
    ]
