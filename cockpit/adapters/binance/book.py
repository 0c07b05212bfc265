"""A Binance spot order book kept in sync with a REST snapshot by the official algorithm.

Diff-depth events are buffered until a snapshot (``lastUpdateId`` = N) is loaded; events with
``u <= N`` are dropped, the first applied one must satisfy ``U <= N+1 <= u``, and every later
event must start right after the book's id (``U == bookId + 1``; ``u <= bookId`` is ignored).
A gap throws the book away and resyncs from a fresh snapshot. The snapshot-age check of the
doc (step 3, ``N < U_first`` -> fetch again) is applied in its exact form ``N + 1 < U_first``:
a snapshot ending just before the first buffered event is complete, not stale.

USD-M futures (``chain_by_pu``) differ (protocols file §2.6): events with ``u < N`` are
dropped, the first applied one must satisfy ``U <= N <= u``, and every later one must carry
``pu`` equal to the previous event's ``u`` (its ``U`` may jump); a snapshot is too old when
``N`` is below the first buffered event's ``pu``.

The snapshot is fetched inline, or (with ``submit``) on another thread while events keep
being buffered; the book is loaded on the first event after the snapshot has arrived.

The domain OrderBook was not committed when this was written, so the book is a small local
one (a dict per side plus a sorted price list), keyed by exact ``Decimal`` prices.
"""

from __future__ import annotations

import bisect
import functools
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from decimal import Decimal

from cockpit.adapters.binance.decode import DepthSnapshot, DepthUpdate, PriceQty


class BookSide:
    """One side: price -> quantity, with the prices kept sorted ascending."""

    __slots__ = ("_descending", "_prices", "levels")

    def __init__(self, descending: bool) -> None:
        self._descending = descending
        self._prices: list[Decimal] = []
        self.levels: dict[Decimal, Decimal] = {}

    def set(self, price: Decimal, qty: Decimal) -> None:
        """Set a level's absolute quantity; 0 deletes it (deleting a missing level is fine)."""
        levels = self.levels
        if qty == 0:
            if levels.pop(price, None) is not None:
                prices = self._prices
                del prices[bisect.bisect_left(prices, price)]
            return
        if price not in levels:
            bisect.insort(self._prices, price)
        levels[price] = qty

    def replace(self, pairs: Iterable[PriceQty]) -> None:
        """Replace the whole side."""
        self.levels = {p: q for p, q in pairs if q != 0}
        self._prices = sorted(self.levels)

    def clear(self) -> None:
        """Empty the side."""
        self.levels = {}
        self._prices = []

    def top(self, n: int) -> list[PriceQty]:
        """The best ``n`` levels, best first."""
        prices = self._prices
        chosen = prices[: -n - 1 : -1] if self._descending else prices[:n]
        levels = self.levels
        return [(p, levels[p]) for p in chosen]

    def __len__(self) -> int:
        return len(self.levels)


Fetch = Callable[[str], DepthSnapshot]
"""Fetch a REST snapshot for a symbol (may raise; the sync retries later)."""
Submit = Callable[[Callable[[], DepthSnapshot]], "Future[DepthSnapshot]"]
"""Run a fetch in the background (``ThreadPoolExecutor.submit``)."""


class BookSync:
    """One symbol's book and its sync state; feed it every diff-depth event in order."""

    def __init__(
        self,
        symbol: str,
        fetch: Fetch,
        *,
        max_buffer: int = 2000,
        refetch_s: float = 1.0,
        max_refetch_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        submit: Submit | None = None,
        chain_by_pu: bool = False,
    ) -> None:
        """Create an unsynced book.

        Args:
            symbol: the venue's symbol (``BTCUSDT``).
            fetch: returns a REST snapshot; called on the caller's thread.
            max_buffer: events kept while unsynced (oldest dropped beyond it).
            refetch_s: the least time between two snapshot requests after a failed sync.
            max_refetch_s: the cap of that interval as failures repeat (it doubles).
            clock: monotonic seconds (tests may pass their own).
            submit: run the fetch elsewhere (e.g. ``executor.submit``): events keep being
                buffered, without blocking the caller, until the snapshot is there. Without
                it the fetch runs inline, on the caller's thread.
            chain_by_pu: the USD-M futures rules (see the module docstring).
        """
        self._chain_by_pu = chain_by_pu
        self._chained = False
        """Futures: an event was applied since the snapshot (``pu`` is checked from then)."""
        self._submit = submit
        self._pending: Future[DepthSnapshot] | None = None
        self.symbol = symbol
        self._fetch = fetch
        self._clock = clock
        self._refetch_s = refetch_s
        self._max_refetch_s = max_refetch_s
        self._interval = refetch_s
        self._next_fetch = float("-inf")
        self.bids = BookSide(descending=True)
        self.asks = BookSide(descending=False)
        self.book_id: int | None = None
        """The last applied update id; None while unsynced."""
        self.buffer: deque[DepthUpdate] = deque(maxlen=max_buffer)
        self.last_event_ns: int | None = None
        self.snapshots = 0
        self.resyncs = 0
        self.gaps = 0
        self.applied = 0
        self.ignored = 0
        self.fetch_errors = 0
        self.last_error = ""

    @property
    def synced(self) -> bool:
        """Whether the book is valid (a snapshot loaded and no gap since)."""
        return self.book_id is not None

    def reset(self) -> None:
        """Forget everything (e.g. after a reconnect: events were missed)."""
        self._drop_book()
        self.buffer.clear()
        self._pending = None  # a snapshot asked for before the reset is not waited for
        self._next_fetch = float("-inf")
        self._interval = self._refetch_s

    def on_update(self, ev: DepthUpdate) -> bool:
        """Take one event; True when the book changed and is synced (emit a depth tick)."""
        if ev.event_time:
            self.last_event_ns = ev.event_time * 1_000_000
        if self.book_id is not None:
            applied = self._apply(ev)
            if applied is not None:
                return applied
            self.gaps += 1
            self.resyncs += 1
            self._drop_book()
        self.buffer.append(ev)
        return self._try_sync()

    def top(self, n: int) -> tuple[list[PriceQty], list[PriceQty]]:
        """The best ``n`` bids and asks, best first."""
        return self.bids.top(n), self.asks.top(n)

    def _drop_book(self) -> None:
        self._chained = False
        self.book_id = None
        self.bids.clear()
        self.asks.clear()

    def _apply(self, ev: DepthUpdate) -> bool | None:
        """Apply if it follows the book; False if already included; None on a gap."""
        book_id = self.book_id
        assert book_id is not None
        if self._chain_by_pu:
            if self._chained:
                if ev.final_id <= book_id:
                    self.ignored += 1
                    return False
                if ev.prev_final_id != book_id:
                    return None
            elif ev.final_id < book_id:
                self.ignored += 1
                return False
            elif ev.first_id > book_id:
                return None
            self._chained = True
        elif ev.final_id <= book_id:
            self.ignored += 1
            return False
        elif ev.first_id > book_id + 1:
            return None
        bset = self.bids.set
        for price, qty in ev.bids:
            bset(price, qty)
        aset = self.asks.set
        for price, qty in ev.asks:
            aset(price, qty)
        self.book_id = ev.final_id
        self.applied += 1
        return True

    def _try_sync(self) -> bool:
        if not self.buffer:
            return False
        pending = self._pending
        if pending is not None:
            if not pending.done():
                return False  # keep buffering until the snapshot is here
            self._pending = None
            try:
                snap = pending.result()
            except Exception as exc:
                return self._fetch_failed(exc)
            return self._load(snap)
        now = self._clock()
        if now < self._next_fetch:
            return False
        self._next_fetch = now + self._interval
        if self._submit is not None:
            self._pending = self._submit(functools.partial(self._fetch, self.symbol))
            return False
        try:
            snap = self._fetch(self.symbol)
        except Exception as exc:  # network, HTTP status, bad JSON: retry later
            return self._fetch_failed(exc)
        return self._load(snap)

    def _fetch_failed(self, exc: BaseException) -> bool:
        self.fetch_errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:200]
        self._interval = min(self._interval * 2, self._max_refetch_s)
        return False

    def _load(self, snap: DepthSnapshot) -> bool:
        """Load a snapshot under the buffered events; True if the book is then synced."""
        self.snapshots += 1
        n = snap.last_update_id
        first = self.buffer[0]
        if n < (first.prev_final_id or 0) if self._chain_by_pu else n + 1 < first.first_id:
            # the snapshot is older than the first buffered event: fetch again later
            self.last_error = f"snapshot {n} older than buffered event {first.first_id}"
            self._interval = min(self._interval * 2, self._max_refetch_s)
            return False
        self.bids.replace(snap.bids)
        self.asks.replace(snap.asks)
        self.book_id = n
        self._chained = False
        pending = list(self.buffer)
        self.buffer.clear()
        for i, ev in enumerate(pending):
            if self._apply(ev) is None:
                # a hole inside the buffer: keep the rest and resync again
                self.gaps += 1
                self.resyncs += 1
                self._drop_book()
                self.buffer.extend(pending[i:])
                self._interval = min(self._interval * 2, self._max_refetch_s)
                return False
        self._interval = self._refetch_s
        return True
