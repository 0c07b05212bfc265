"""A snapshot shows the latest state of every symbol and instrument, also when views built
earlier (for a previous snapshot or the screen) are reused for what did not change since."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from tests.unit.test_engine_core import INFY, SBIN, Rig


def quotes(rig: Rig) -> dict[str, tuple[int | None, int | None, int]]:
    return {q.key: (q.ltp, q.bid, q.ticks) for q in rig.engine.snapshot().quotes}


def test_every_tick_since_the_last_snapshot_or_flush_shows_in_the_next_one() -> None:
    rig = Rig()
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.tick(INFY, "1500.00")
    first = quotes(rig)
    assert first[SBIN.key][0] == 16000
    assert first[INFY.key][0] == 30000
    rig.tick(SBIN, "800.50", quote=True)
    rig.engine.flush_screen()  # the screen took SBIN's new quote
    rig.tick(SBIN, "801.00", quote=True)  # and a tick after that
    second = quotes(rig)
    assert second[SBIN.key][0] == 16020
    assert second[SBIN.key][2] == first[SBIN.key][2] + 2
    assert second[INFY.key] == first[INFY.key]  # unchanged: the same view again
    published = [q for q in rig.pub.quotes if q.key == SBIN.key]
    assert published[-1].ltp == 16010  # the screen's view of its time, not rebuilt later


def test_an_instrument_replaced_shows_its_new_description() -> None:
    rig = Rig()
    rig.start()
    before = {i.key: i for i in rig.engine.snapshot().instruments}
    assert before[SBIN.key].lot_size == Decimal(1)
    renamed = dataclasses.replace(SBIN, lot_size=Decimal(5), name="State Bank")
    rig.engine._add_instrument(renamed)
    after = {i.key: i for i in rig.engine.snapshot().instruments}
    assert (after[SBIN.key].lot_size, after[SBIN.key].name) == (Decimal(5), "State Bank")
    assert after[INFY.key] == before[INFY.key]
