"""Order book: snapshots, sequenced updates, stale and gap handling, resync, crossed books."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.domain.book import (
    BookError,
    GapDetected,
    OrderBook,
    UpdateStatus,
    levels_from_depth,
)
from cockpit.domain.instruments import Exchange, Instrument, OffGridPrice
from cockpit.domain.market import DepthTick

D = Decimal


def synced_book() -> OrderBook:
    """Bids 99/98/97, asks 101/102/103, last update id 100."""
    book = OrderBook("BINANCE:BTCUSDT")
    result = book.apply_snapshot(
        [(99, D(1)), (98, D(2)), (97, D(3))],
        [(101, D(1)), (102, D(2)), (103, D(3))],
        last_id=100,
    )
    assert result.status is UpdateStatus.APPLIED
    assert not result.crossed
    return book


def test_snapshot_best_top_mid_spread() -> None:
    book = synced_book()
    assert book.best_bid() == (99, D(1))
    assert book.best_ask() == (101, D(1))
    assert book.top(2) == ([(99, D(1)), (98, D(2))], [(101, D(1)), (102, D(2))])
    assert book.top(0) == ([], [])
    assert book.mid_ticks() == 100
    assert book.spread_ticks() == 2
    assert book.depth == (3, 3)
    assert book.qty_at(98) == (D(2), D(0))
    book.apply_update([(100, D(5))], [], 101, 101)
    assert book.mid_ticks() == Fraction(201, 2)
    assert book.spread_ticks() == 1


def test_update_sets_and_deletes_levels_and_moves_best() -> None:
    book = synced_book()
    result = book.apply_update([(99, D(0)), (98, D("2.5"))], [(101, D(0)), (100, D(4))], 101, 102)
    assert result.status is UpdateStatus.APPLIED
    assert book.best_bid() == (98, D("2.5"))
    assert book.best_ask() == (100, D(4))
    assert book.last_id == 102
    # Deleting a level that does not exist is harmless.
    assert book.apply_update([(50, D(0))], [], 103, 103).status is UpdateStatus.APPLIED
    assert book.depth == (2, 3)


def test_stale_update_is_ignored() -> None:
    book = synced_book()
    result = book.apply_update([(99, D(9))], [], 90, 100)
    assert result.status is UpdateStatus.STALE
    assert book.best_bid() == (99, D(1))
    assert book.stale == 1


def test_first_update_may_straddle_the_snapshot_id() -> None:
    # Binance: the first event after the snapshot has U <= lastUpdateId + 1 <= u.
    book = synced_book()
    assert book.apply_update([(99, D(7))], [], 95, 105).status is UpdateStatus.APPLIED
    assert book.best_bid() == (99, D(7))
    assert book.last_id == 105


def test_gap_is_reported_then_resync_from_a_snapshot() -> None:
    book = synced_book()
    result = book.apply_update([(99, D(9))], [], 103, 104)
    assert result.status is UpdateStatus.GAP
    assert result.gap == GapDetected("BINANCE:BTCUSDT", 101, 103, 104)
    assert "expected update 101, got 103..104" in str(result.gap)
    assert book.best_bid() == (99, D(1))  # nothing applied
    assert not book.synced
    assert book.gaps == 1
    # Until a snapshot, every update is refused, even a contiguous one.
    assert book.apply_update([(99, D(9))], [], 101, 101).status is UpdateStatus.NEEDS_SNAPSHOT
    book.apply_snapshot([(95, D(1))], [(96, D(1))], last_id=200)
    assert book.synced
    assert book.apply_update([], [(96, D(0))], 201, 201).status is UpdateStatus.APPLIED
    assert book.best_ask() is None
    assert book.mid_ticks() is None
    assert book.spread_ticks() is None


def test_no_snapshot_yet_and_unsequenced_updates() -> None:
    book = OrderBook("NSE:SBIN")
    assert book.apply_update([(1, D(1))], []).status is UpdateStatus.NEEDS_SNAPSHOT
    book.apply_snapshot([(10, D(1))], [(12, D(1))])
    assert book.apply_update([(11, D(3))], []).status is UpdateStatus.APPLIED
    assert book.best_bid() == (11, D(3))
    book.clear()
    assert not book.synced
    assert book.best_bid() is None


def test_crossed_book_is_reported() -> None:
    book = synced_book()
    result = book.apply_update([(101, D(1))], [], 101, 101)
    assert result.crossed
    assert book.crossed
    assert book.spread_ticks() == 0
    result = book.apply_update([], [(101, D(0))], 102, 102)
    assert not result.crossed
    snap = OrderBook("X").apply_snapshot([(10, D(1))], [(9, D(1))])
    assert snap.crossed


def test_bad_levels_raise_and_leave_the_book_unchanged() -> None:
    book = synced_book()
    with pytest.raises(BookError, match="quantity"):
        book.apply_update([(98, D(5)), (97, D(-1))], [], 101, 101)
    assert book.qty_at(98) == (D(2), D(0))
    assert book.last_id == 100
    with pytest.raises(BookError, match="price"):
        book.apply_snapshot([(0, D(1))], [])
    with pytest.raises(BookError):
        book.apply_update([(98, D("NaN"))], [], 101, 101)
    assert book.best_bid() == (99, D(1))


def test_levels_from_depth_tick() -> None:
    inst = Instrument(Exchange.NSE, "SBIN", D("0.05"))
    tick = DepthTick(
        recv_ns=1,
        exchange="NSE",
        symbol="SBIN",
        ltp=D("800.05"),
        bids=((D("800.00"), D(10), 2), (D("799.95"), D(5), 1)),
        asks=((D("800.10"), D(7), 1),),
    )
    bids, asks = levels_from_depth(tick, inst)
    assert bids == [(16000, D(10)), (15999, D(5))]
    assert asks == [(16002, D(7))]
    book = OrderBook(inst.key)
    book.apply_snapshot(bids, asks)
    assert book.spread_ticks() == 2
    bad = DepthTick(
        recv_ns=1, exchange="NSE", symbol="SBIN", ltp=D(1), bids=((D("1.01"), D(1), 1),)
    )
    with pytest.raises(OffGridPrice):
        levels_from_depth(bad, inst)
    empty = DepthTick(recv_ns=1, exchange="NSE", symbol="SBIN", ltp=D(1))
    assert levels_from_depth(empty, inst) == ([], [])


level_updates = st.lists(
    st.tuples(
        st.booleans(),
        st.integers(min_value=1, max_value=40),
        st.sampled_from([D(0), D(0), D(1), D("2.5"), D(7)]),
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(snapshot=level_updates, updates=level_updates, n=st.integers(min_value=1, max_value=6))
def test_book_matches_a_plain_dict_model(
    snapshot: list[tuple[bool, int, Decimal]],
    updates: list[tuple[bool, int, Decimal]],
    n: int,
) -> None:
    model: dict[bool, dict[int, Decimal]] = {True: {}, False: {}}
    for is_bid, ticks, qty in snapshot:
        if qty:
            model[is_bid][ticks] = qty
        else:
            model[is_bid].pop(ticks, None)
    book = OrderBook("X")
    book.apply_snapshot(list(model[True].items()), list(model[False].items()), last_id=0)
    for i, (is_bid, ticks, qty) in enumerate(updates, start=1):
        level = [(ticks, qty)]
        book.apply_update(level if is_bid else [], [] if is_bid else level, i, i)
        if qty:
            model[is_bid][ticks] = qty
        else:
            model[is_bid].pop(ticks, None)
        bids = sorted(model[True].items(), reverse=True)
        asks = sorted(model[False].items())
        assert book.best_bid() == (bids[0] if bids else None)
        assert book.best_ask() == (asks[0] if asks else None)
        assert book.top(n) == (bids[:n], asks[:n])
        assert book.crossed == bool(bids and asks and bids[0][0] >= asks[0][0])
