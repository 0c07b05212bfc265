"""The Binance book-sync algorithm (spot, doc §2.5) against a simulated venue book."""

from __future__ import annotations

import random
from concurrent.futures import Future
from decimal import Decimal

import pytest

from cockpit.adapters.binance.book import BookSide, BookSync
from cockpit.adapters.binance.decode import DepthSnapshot, DepthUpdate

D = Decimal


def ev(first: int, final: int, bids=(), asks=()) -> DepthUpdate:
    return DepthUpdate(
        symbol="BNBBTC",
        first_id=first,
        final_id=final,
        bids=[(D(p), D(q)) for p, q in bids],
        asks=[(D(p), D(q)) for p, q in asks],
    )


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Venue:
    """A venue-side book producing diff events and snapshots (the truth)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.id = 500
        self.fetches = 0

    def step(self) -> DepthUpdate:
        rng = self.rng
        b: dict[Decimal, Decimal] = {}
        a: dict[Decimal, Decimal] = {}
        for _ in range(rng.randint(1, 5)):
            bid = rng.random() < 0.5
            price = D(100 - rng.randint(1, 15)) if bid else D(100 + rng.randint(1, 15))
            book, ch = (self.bids, b) if bid else (self.asks, a)
            qty = D(0) if price in book and rng.random() < 0.3 else D(rng.randint(1, 999))
            if qty:
                book[price] = qty
            else:
                book.pop(price, None)
            ch[price] = qty
        first = self.id + 1
        self.id += rng.randint(1, 4)
        return DepthUpdate("X", first, self.id, list(b.items()), list(a.items()))

    def snapshot(self, symbol: str) -> DepthSnapshot:
        self.fetches += 1
        return DepthSnapshot(
            self.id,
            sorted(self.bids.items(), reverse=True),
            sorted(self.asks.items()),
        )


def test_book_side_orders_and_deletes() -> None:
    bids = BookSide(descending=True)
    for p, q in [("10", "1"), ("12", "2"), ("11", "3"), ("9", "4")]:
        bids.set(D(p), D(q))
    bids.set(D("11"), D("0"))
    bids.set(D("50"), D("0"))  # deleting a level we never had is normal
    assert bids.top(2) == [(D("12"), D("2")), (D("10"), D("1"))]
    assert bids.top(10) == [(D("12"), D("2")), (D("10"), D("1")), (D("9"), D("4"))]
    asks = BookSide(descending=False)
    asks.replace([(D("13"), D("1")), (D("12.5"), D("2")), (D("14"), D("0"))])
    assert asks.top(5) == [(D("12.5"), D("2")), (D("13"), D("1"))]
    assert len(asks) == 2


def test_doc_worked_example() -> None:
    """N = 1027024: [..1027020] dropped, [1027021..1027030] applied, then a gap."""
    snaps = [DepthSnapshot(1027024, [(D("1"), D("5"))], [(D("2"), D("5"))])]
    fetched: list[str] = []

    def fetch(symbol: str) -> DepthSnapshot:
        fetched.append(symbol)
        return snaps[0]

    clock = Clock()
    book = BookSync("BNBBTC", fetch, clock=clock)
    assert book.on_update(ev(1027000, 1027020, bids=[("1", "9")])) is True
    # the snapshot came after that event: it is dropped (qty stays 5), the book is synced
    assert book.book_id == 1027024
    assert book.bids.top(1) == [(D("1"), D("5"))]
    assert book.on_update(ev(1027021, 1027030, bids=[("1", "7")])) is True
    assert book.book_id == 1027030
    assert book.on_update(ev(1027031, 1027035, asks=[("2", "0"), ("3", "1")])) is True
    assert book.top(5) == ([(D("1"), D("7"))], [(D("3"), D("1"))])
    assert book.on_update(ev(1027020, 1027030)) is False  # old: ignored
    assert book.ignored == 2  # the buffered [..1027020] and this one
    clock.t = 5.0
    snaps[0] = DepthSnapshot(1027045, [(D("1"), D("1"))], [(D("2"), D("2"))])
    assert book.on_update(ev(1027040, 1027044)) is True  # gap -> resync -> event dropped
    assert (book.gaps, book.resyncs, book.book_id) == (1, 1, 1027045)
    assert fetched == ["BNBBTC", "BNBBTC"]
    assert book.top(5) == ([(D("1"), D("1"))], [(D("2"), D("2"))])


def test_first_event_must_straddle_the_snapshot() -> None:
    clock = Clock()
    snaps = iter([DepthSnapshot(100, [], []), DepthSnapshot(130, [], [])])
    book = BookSync("X", lambda s: next(snaps), clock=clock)
    # snapshot 100 is older than the first buffered event (U=120): not usable
    assert book.on_update(ev(120, 125, bids=[("1", "1")])) is False
    assert not book.synced
    assert book.on_update(ev(126, 131, bids=[("2", "1")])) is False  # too soon to refetch
    clock.t = 10
    assert book.on_update(ev(132, 133)) is True
    # 130 < ... : [120,125] dropped, [126,131] applied (126 <= 131 <= 131), [132,133] applied
    assert book.book_id == 133
    assert book.bids.top(5) == [(D("2"), D("1"))]


def test_fetch_errors_back_off_and_recover() -> None:
    clock = Clock()
    calls: list[float] = []

    def fetch(symbol: str) -> DepthSnapshot:
        calls.append(clock.t)
        if len(calls) < 3:
            raise OSError("connection refused")
        return DepthSnapshot(10, [], [])

    book = BookSync("X", fetch, clock=clock, refetch_s=1.0)
    for i in range(40):
        clock.t = i * 0.25
        book.on_update(ev(11 + i, 11 + i))
    assert calls == [0.0, 1.0, 3.0]  # 1 s, then 2 s: no hammering
    assert book.fetch_errors == 2
    assert book.synced
    assert book.book_id == 50


@pytest.mark.parametrize("seed", range(6))
def test_dropped_updates_resync_to_the_true_book(seed: int) -> None:
    venue = Venue(seed)
    clock = Clock()
    book = BookSync("X", venue.snapshot, clock=clock, refetch_s=0.5)
    rng = random.Random(seed + 100)
    for i in range(3000):
        clock.t = i * 0.01
        update = venue.step()
        if rng.random() < 0.01:
            continue  # lost on the way
        book.on_update(update)
        if book.synced and book.book_id == venue.id:
            assert book.bids.levels == venue.bids
            assert book.asks.levels == venue.asks
    assert book.gaps > 0
    assert book.resyncs == book.gaps
    # run on without losses until synced, then the book must be the venue's
    for i in range(3000, 3300):
        clock.t = i * 0.01
        book.on_update(venue.step())
    assert book.synced
    assert book.book_id == venue.id
    assert book.bids.levels == venue.bids
    assert book.asks.levels == venue.asks
    assert venue.fetches <= book.resyncs + 1 + 60  # bounded by the refetch interval


def test_background_fetch_buffers_until_the_snapshot_arrives() -> None:
    venue = Venue(11)
    submitted: list[Future[DepthSnapshot]] = []
    calls: list[object] = []

    def submit(fn):  # noqa: ANN001, ANN202 - an executor's submit, run by hand
        calls.append(fn)
        fut: Future[DepthSnapshot] = Future()
        submitted.append(fut)
        return fut

    clock = Clock()
    book = BookSync("X", venue.snapshot, clock=clock, submit=submit)
    assert book.on_update(venue.step()) is False
    assert len(calls) == 1  # asked for, not waited for
    for _ in range(5):
        assert book.on_update(venue.step()) is False  # buffered meanwhile
    assert len(calls) == 1
    snap = calls[0]()  # the venue answers now: newer than the first buffered events
    submitted[0].set_result(snap)
    for _ in range(3):
        book.on_update(venue.step())
    assert book.synced
    assert book.book_id == venue.id
    assert book.bids.levels == venue.bids
    assert book.asks.levels == venue.asks
    # a failed background fetch is retried after the interval
    book.reset()
    book.on_update(venue.step())
    submitted[1].set_exception(OSError("down"))
    book.on_update(venue.step())
    assert book.fetch_errors == 1
    assert len(calls) == 2
    clock.t = 10
    book.on_update(venue.step())
    assert len(calls) == 3
