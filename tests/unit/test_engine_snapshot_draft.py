"""A viewer's attach takes the decision thread a few milliseconds whatever the books and volume
at price it carries: the engine hands the viewer server a draft (books and volume-at-price maps
lent, not built) and the server builds the snapshot on its own thread (issue 19: a script
attaching at 3,000 symbols x 146 levels held the decision thread ~0.2 s).

The draft must stay the state at its ``seq``: what trades after it (and before the server
builds it) goes out as deltas, never into the snapshot."""

from __future__ import annotations

import gc
import sys
from decimal import Decimal

from cockpit.config import Settings
from cockpit.domain.instruments import Exchange, Instrument
from cockpit.domain.market import DepthTick, QuoteTick, TradeTick
from cockpit.engine.core import Engine, EngineOptions
from cockpit.link import protocol as p
from cockpit.link.bus import SnapshotRequest
from cockpit.link.snapshots import SnapshotDraft
from tests.unit.test_engine_core import INFY, SBIN, FakeRouter, Rig
from tests.unit.test_engine_screen_lanes import BookRecorder, FakeTime, clock, depth

__all__ = ["clock"]  # the fixture, used by name


class DraftRecorder(BookRecorder):
    """Keeps replies as the engine hands them (a snapshot's draft not built)."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: list[tuple[int, object]] = []

    def reply(self, conn_id: int, msg: p.Msg | SnapshotDraft) -> None:
        self.raw.append((conn_id, msg))


def draft_rig() -> tuple[Rig, DraftRecorder]:
    rig = Rig()
    pub = DraftRecorder()
    rig.pub = pub
    rig.engine.publisher = pub
    rig.start()
    return rig, pub


def trade(rig: Rig, key: str, price: str, qty: int, side: str = "buy") -> None:
    rig.clock.now += 1_000_000
    exchange, symbol = key.split(":")
    rig.engine.handle(
        TradeTick(rig.clock.now, exchange, symbol, Decimal(price), ltq=Decimal(qty), aggressor=side)
    )


def draft_of(pub: DraftRecorder, conn_id: int) -> SnapshotDraft:
    [draft] = [m for c, m in pub.raw if c == conn_id]
    assert isinstance(draft, SnapshotDraft)
    return draft


def maps(snap: p.Snapshot) -> dict[str, tuple[dict[int, Decimal], dict[int, Decimal]]]:
    return {v.key: (dict(v.levels), dict(v.bought)) for v in snap.volume_at_price}


def test_an_attach_builds_no_volume_level_on_the_decision_thread(clock: FakeTime) -> None:
    """What the attach leaves allocated does not grow with the levels it carries (before: one
    tuple per level and side, 200,000 here, built and held for the reply)."""
    rig, pub = draft_rig()
    levels = 50_000
    for inst in (SBIN, INFY):
        sym = rig.engine._syms[inst.key]
        sym.vap = {20_000 + j: 5 for j in range(levels)}
        sym.bought = {20_000 + j: 2 for j in range(levels)}
    gc.collect()
    gc.disable()
    try:
        before = sys.getallocatedblocks()
        rig.engine.handle(SnapshotRequest(1))  # a script: every book and map
        grown = sys.getallocatedblocks() - before
    finally:
        gc.enable()
    assert grown < 2_000, grown
    snap = draft_of(pub, 1).finish()  # the server's part, on its own thread
    assert sorted(len(v.levels) for v in snap.volume_at_price) == [levels, levels]


def test_a_snapshot_keeps_the_volume_of_its_seq_though_trades_follow_before_it_is_built(
    clock: FakeTime,
) -> None:
    rig, pub = draft_rig()
    trade(rig, SBIN.key, "800.00", 3)
    trade(rig, SBIN.key, "800.05", 4, "sell")
    trade(rig, INFY.key, "1500.00", 5)
    rig.engine.handle(SnapshotRequest(1))
    draft = draft_of(pub, 1)
    trade(rig, SBIN.key, "800.00", 10)  # a level it has
    trade(rig, SBIN.key, "800.10", 1)  # a new level
    trade(rig, INFY.key, "1500.00", 2, "sell")
    assert maps(draft.finish()) == {
        SBIN.key: ({16000: Decimal(3), 16001: Decimal(4)}, {16000: Decimal(3), 16001: 0}),
        INFY.key: ({30000: Decimal(5)}, {30000: Decimal(5)}),
    }
    assert maps(rig.engine.snapshot())[SBIN.key] == (
        {16000: Decimal(13), 16001: Decimal(4), 16002: Decimal(1)},
        {16000: Decimal(13), 16001: 0, 16002: Decimal(1)},
    )
    # taken again with nothing traded in between: the same maps lent twice, both stay put
    rig.engine.handle(SnapshotRequest(2))
    trade(rig, SBIN.key, "800.10", 1)
    assert maps(draft_of(pub, 2).finish())[SBIN.key][0][16002] == Decimal(1)
    assert maps(rig.engine.snapshot())[SBIN.key][0][16002] == Decimal(2)


def test_a_new_session_after_the_draft_leaves_the_drafts_volume_alone(clock: FakeTime) -> None:
    """A drop of the feed's day volume clears the symbol's maps: not the ones lent."""
    rig, pub = draft_rig()

    def quote(volume: int) -> None:
        rig.clock.now += 1_000_000
        ev = QuoteTick(rig.clock.now, "NSE", "SBIN", Decimal("800"), volume=Decimal(volume))
        rig.engine.handle(ev)

    quote(100)
    quote(160)  # 60 traded at 800.00
    rig.engine.handle(SnapshotRequest(1))
    for _ in range(5):  # a new session: five quotes below the old count that hold
        quote(5)
    assert maps(draft_of(pub, 1).finish())[SBIN.key][0] == {16000: Decimal(60)}
    assert rig.engine._syms[SBIN.key].vap == {}


def test_a_drafts_books_are_the_books_of_its_seq(clock: FakeTime) -> None:
    """A book not built yet (no viewer showed the symbol since its depth tick) is built from
    that tick by the server: the same book the engine would build; a depth tick after the
    draft is not in it."""
    rig, pub = draft_rig()
    rig.engine.handle(SnapshotRequest(9, showing=frozenset()))  # a TUI showing nothing yet
    rig.engine.handle(depth(rig, SBIN, "800.00"))
    rig.engine.handle(depth(rig, INFY, "1500.00"))
    rig.engine.flush_screen()  # off screen: no book built
    assert rig.engine._syms[SBIN.key].depth is not None
    rig.engine.handle(SnapshotRequest(1))
    draft = draft_of(pub, 1)
    rig.engine.handle(depth(rig, SBIN, "801.00"))
    books = {b.key: b for b in draft.finish().books}
    assert books[SBIN.key].bids == [(15999, Decimal(10), 1)]
    assert books[SBIN.key].asks == [(16001, Decimal(12), 1)]
    assert books[INFY.key] == rig.engine._book_view(rig.engine._syms[INFY.key])
    assert {b.key: b.bids for b in rig.engine.snapshot().books}[SBIN.key] == [
        (16019, Decimal(10), 1)
    ]


def test_a_drafts_frame_is_its_snapshots_encoding_byte_for_byte(clock: FakeTime) -> None:
    """The server builds and encodes a draft a slice at a time (its views freed slice by
    slice): the frame is exactly the whole snapshot's."""
    rig, pub = draft_rig()
    for n in range(40):
        trade(rig, SBIN.key, f"{800 + n * 0.05:.2f}", 300 + n, "buy" if n % 3 else "sell")
        trade(rig, INFY.key, f"{1500 + n * 0.05:.2f}", 7)
    rig.engine.handle(depth(rig, SBIN, "801.00"))
    rig.engine.handle(SnapshotRequest(1))
    draft = draft_of(pub, 1)
    whole = p.encode(draft.finish())
    assert len(draft.finish().volume_at_price[0].levels) == 40
    for per in (1, 3, 250):
        assert draft.frame(per) == whole


def test_an_attach_at_3000_symbols_makes_a_handful_of_objects(clock: FakeTime) -> None:
    """Each thousand objects the decision thread makes may start a collection (a full one
    holds the GIL for as long as the heap takes to scan): the attach of a script at 3,000
    symbols with books and volume makes lists, not an object per symbol (before: two tuples
    per symbol, 6,000)."""
    insts = [Instrument(Exchange.NSE, f"D{i:04d}", Decimal("0.05")) for i in range(3000)]
    pub = DraftRecorder()
    engine = Engine(
        config=Settings(),
        instruments=insts,
        router=FakeRouter(),
        publisher=pub,
        options=EngineOptions(reconcile_interval_s=0),
    )
    engine.reconciled = True
    for n, inst in enumerate(insts):
        d = Decimal(100) + n * inst.tick_size
        engine.handle(
            DepthTick(
                1_700_000_000_000_000_000 + n,
                "NSE",
                inst.symbol,
                d,
                ltq=Decimal(5),
                bids=((d - inst.tick_size, Decimal(10), 1),),
                asks=((d + inst.tick_size, Decimal(12), 1),),
            )
        )
        engine._syms[inst.key].vap = {2000 + n: 5}
    engine.handle(SnapshotRequest(1))  # the views every snapshot reuses, built once
    gc.collect()
    gc.disable()
    try:
        before = sys.getallocatedblocks()
        engine.handle(SnapshotRequest(2))
        grown = sys.getallocatedblocks() - before
    finally:
        gc.enable()
    assert grown < 300, grown
    snap = draft_of(pub, 2).finish()
    assert len(snap.books) == len(snap.volume_at_price) == 3000


def test_a_trim_after_the_draft_leaves_the_drafts_volume_alone(clock: FakeTime) -> None:
    """A new level past the symbol's share trims its maps (the far levels go): not the ones
    lent to a draft, whose levels are all still there when the server builds it."""
    rig, pub = draft_rig()
    rig.engine._vap_cap = 8
    for j in range(8):
        trade(rig, SBIN.key, f"{800 + j * 0.05:.2f}", 1)
    rig.engine.handle(SnapshotRequest(1))
    trade(rig, SBIN.key, "800.40", 1)  # a ninth level: trimmed to 7 nearest 800.40
    assert rig.engine.counters.get("vap_levels_trimmed", 0) > 0
    totals, bought = maps(draft_of(pub, 1).finish())[SBIN.key]
    assert sorted(totals) == list(range(16000, 16008))
    assert sorted(bought) == list(range(16000, 16008))
    assert len(rig.engine._syms[SBIN.key].vap) == 7
