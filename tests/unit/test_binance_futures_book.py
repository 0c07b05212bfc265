"""The USD-M futures book rules (protocols file §2.6): ``U <= N <= u`` first, then ``pu``."""

from __future__ import annotations

from decimal import Decimal

from cockpit.adapters.binance.book import BookSync
from cockpit.adapters.binance.decode import DepthSnapshot, DepthUpdate


def ev(first: int, final: int, pu: int, bids: tuple[tuple[str, str], ...] = ()) -> DepthUpdate:
    return DepthUpdate(
        symbol="BTCUSDT",
        first_id=first,
        final_id=final,
        bids=[(Decimal(p), Decimal(q)) for p, q in bids],
        asks=[],
        prev_final_id=pu,
    )


def synced(n: int) -> BookSync:
    snap = DepthSnapshot(n, [(Decimal(90), Decimal(1))], [(Decimal(110), Decimal(1))])
    return BookSync("BTCUSDT", lambda _s: snap, chain_by_pu=True)


def test_the_event_ending_at_the_snapshot_id_applies_and_u_may_jump_after_it() -> None:
    book = synced(100)
    assert book.on_update(ev(95, 100, 94, (("91", "2"),)))  # U <= N <= u
    assert book.book_id == 100
    # futures ids jump (U = 105, not 101): continuity is pu == previous u
    assert book.on_update(ev(105, 110, 100, (("92", "3"),)))
    assert book.on_update(ev(118, 120, 110))
    assert book.gaps == 0
    assert book.top(3)[0] == [
        (Decimal(92), Decimal(3)),
        (Decimal(91), Decimal(2)),
        (Decimal(90), Decimal(1)),
    ]


def test_a_broken_pu_chain_is_a_gap_and_resyncs() -> None:
    book = synced(100)
    assert book.on_update(ev(99, 104, 98))
    assert book.on_update(ev(106, 108, 104))
    assert not book.on_update(ev(112, 115, 110))  # pu 110 != 108: events were lost
    assert book.gaps == 1
    assert book.resyncs == 1


def test_events_before_the_snapshot_are_dropped_and_a_stale_snapshot_refetched() -> None:
    book = synced(100)
    assert book.on_update(ev(80, 90, 79))  # the snapshot loads; the event (u < N) is dropped
    assert book.ignored == 1
    assert book.book_id == 100
    stale = synced(100)
    assert not stale.on_update(ev(130, 140, 120))  # pu 120 > N 100: the snapshot is too old
    assert not stale.synced
    assert "older" in stale.last_error
