"""A viewer says what it shows with its ``Hello``: its snapshot carries books and volume at price
only for those symbols, and the rest comes whole when it scrolls into view (issue 19).

At 3,000 symbols a snapshot of every symbol's volume at price (438k levels) held the decision
thread for about 0.65 s; a viewer that says nothing (a script) still gets everything."""

from __future__ import annotations

from decimal import Decimal

from cockpit.domain.market import TradeTick
from cockpit.link import protocol as p
from cockpit.link.bus import SnapshotRequest, ViewerGone
from tests.unit.test_engine_core import INFY, SBIN, Rig
from tests.unit.test_engine_screen_lanes import FakeTime, clock, depth, lanes_rig, show

__all__ = ["clock"]  # the fixture, used by name


def trade(rig: Rig, key: str, price: str, qty: int) -> None:
    rig.clock.now += 1_000_000
    exchange, symbol = key.split(":")
    rig.engine.handle(TradeTick(rig.clock.now, exchange, symbol, Decimal(price), ltq=Decimal(qty)))


def market(rig: Rig) -> None:
    """Both symbols with a book and two volume levels each."""
    for inst, base in ((SBIN, 800), (INFY, 1500)):
        rig.engine.handle(depth(rig, inst, f"{base}.00"))
        trade(rig, inst.key, f"{base}.00", 3)
        trade(rig, inst.key, f"{base}.05", 4)


def snapshot_of(pub: object, conn_id: int) -> p.Snapshot:
    snaps = [m for c, m in pub.replies if c == conn_id and isinstance(m, p.Snapshot)]  # type: ignore[attr-defined]
    assert len(snaps) == 1
    return snaps[0]


def test_a_viewer_attaching_with_what_it_shows_gets_books_and_volume_only_for_those(
    clock: FakeTime,
) -> None:
    rig, pub = lanes_rig()
    market(rig)
    rig.engine.handle(SnapshotRequest(1, showing=frozenset({SBIN.key})))
    snap = snapshot_of(pub, 1)
    assert {q.key for q in snap.quotes} == {SBIN.key, INFY.key}  # every row's quote
    assert [b.key for b in snap.books] == [SBIN.key]
    assert [v.key for v in snap.volume_at_price] == [SBIN.key]
    assert snap.volume_at_price[0].levels == [(16000, Decimal(3)), (16001, Decimal(4))]


def test_a_viewer_that_says_nothing_gets_every_book_and_volume_in_its_snapshot(
    clock: FakeTime,
) -> None:
    rig, pub = lanes_rig()
    market(rig)
    rig.engine.handle(SnapshotRequest(1))  # a script, the CLI
    snap = snapshot_of(pub, 1)
    assert sorted(b.key for b in snap.books) == sorted([SBIN.key, INFY.key])
    assert sorted(v.key for v in snap.volume_at_price) == sorted([SBIN.key, INFY.key])


def test_scrolling_a_symbol_into_view_brings_its_whole_volume_map(clock: FakeTime) -> None:
    rig, pub = lanes_rig()
    market(rig)
    engine = rig.engine
    engine.handle(SnapshotRequest(1, showing=frozenset({SBIN.key})))
    engine._publish_volume()
    pub.volumes.clear()
    pub.pairs.clear()
    show(rig, 1, SBIN.key, INFY.key)  # INFY scrolls into view
    [(quote, book)] = pub.of_key(INFY.key)
    assert book is not None
    assert quote.ltp == 30001
    engine._publish_volume()
    assert pub.volumes == [
        p.VolumeAtPrice(
            INFY.key, [(30000, Decimal(3)), (30001, Decimal(4))], [(30000, 0), (30001, 4)]
        )
    ]


def test_a_symbol_another_viewer_shows_comes_whole_to_the_viewer_newly_showing_it(
    clock: FakeTime,
) -> None:
    """What is new is per viewer: INFY was on viewer 1's screen all along, but viewer 2's
    snapshot did not carry its map."""
    rig, pub = lanes_rig()
    engine = rig.engine
    engine.handle(SnapshotRequest(1, showing=frozenset({INFY.key})))
    market(rig)
    engine._publish_volume()
    engine.handle(SnapshotRequest(2, showing=frozenset()))
    assert snapshot_of(pub, 2).volume_at_price == []
    pub.volumes.clear()
    pub.pairs.clear()
    show(rig, 2, INFY.key)
    assert [b is not None for _, b in pub.of_key(INFY.key)] == [True]
    engine._publish_volume()
    assert [(v.key, len(v.levels)) for v in pub.volumes] == [(INFY.key, 2)]


def test_no_flood_of_whole_maps_on_the_timer_after_a_viewer_attaches(clock: FakeTime) -> None:
    """Symbols that traded off screen before the attach: neither a viewer that says what it
    shows nor one that wants everything (its snapshot carried them) makes the next timer
    send their maps."""
    rig, pub = lanes_rig()
    engine = rig.engine
    engine.handle(SnapshotRequest(1, showing=frozenset({SBIN.key})))
    market(rig)  # INFY trades off screen
    engine._publish_volume()
    pub.volumes.clear()
    engine.handle(SnapshotRequest(2, showing=frozenset()))
    engine._publish_volume()
    assert pub.volumes == []
    engine.handle(SnapshotRequest(3))  # a script: INFY's map is in its snapshot
    assert INFY.key in {v.key for v in snapshot_of(pub, 3).volume_at_price}
    engine._publish_volume()
    assert pub.volumes == []


def test_a_level_changed_while_off_screen_never_goes_out_with_an_older_total(
    clock: FakeTime,
) -> None:
    """A level changed on screen, then off screen before the timer: when a viewer that wants
    everything attaches, the level's current total is what follows its snapshot."""
    rig, pub = lanes_rig()
    engine = rig.engine
    engine.handle(SnapshotRequest(1))
    show(rig, 1, INFY.key)
    trade(rig, INFY.key, "1500.00", 3)  # on screen: 3 waits for the timer
    show(rig, 1, SBIN.key)  # INFY scrolls away before the timer
    trade(rig, INFY.key, "1500.00", 4)  # off screen: 7
    engine.handle(SnapshotRequest(2))
    assert snapshot_of(pub, 2).volume_at_price[0].levels == [(30000, Decimal(7))]
    engine._publish_volume()
    sent = [lv for v in pub.volumes if v.key == INFY.key for lv in v.levels]
    assert sent in ([], [(30000, Decimal(7))])


def test_a_viewer_gone_takes_its_symbols_with_it(clock: FakeTime) -> None:
    rig, pub = lanes_rig()
    engine = rig.engine
    engine.handle(SnapshotRequest(1, showing=frozenset({SBIN.key})))
    engine.handle(SnapshotRequest(2, showing=frozenset({INFY.key})))
    assert engine.screen.shown == frozenset({SBIN.key, INFY.key})
    engine.handle(ViewerGone(2))
    assert engine.screen.shown == frozenset({SBIN.key})
