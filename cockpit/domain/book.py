"""Order book per symbol keyed by integer ticks: snapshots, sequenced updates, gap detection.

API summary
-----------
- :class:`OrderBook` ``(key)``:
  - ``apply_snapshot(bids, asks, last_id=None) -> BookUpdate``: replace the whole book
    (levels as ``(ticks, qty)`` or ``(ticks, qty, orders)``; qty 0 levels are skipped);
  - ``apply_update(bids, asks, first_id=None, last_id=None) -> BookUpdate``: incremental
    levels, qty 0 deletes. With sequence ids: an update whose ``last_id`` is not newer than
    the book is ``STALE`` (ignored); one whose ``first_id`` is beyond ``book.last_id + 1`` is
    a ``GAP`` (nothing applied, ``BookUpdate.gap`` says what was expected; the book is then
    out of sync and every update answers ``NEEDS_SNAPSHOT`` until the next snapshot: the
    caller resyncs). This is Binance's rule (``U <= lastUpdateId + 1 <= u``). Without ids the
    update is applied as is (once a snapshot exists).
  - ``best_bid()``/``best_ask()`` -> ``(ticks, qty)`` or ``None``; ``top(n)`` -> the best
    ``n`` levels per side, best first; ``mid_ticks()`` (a Fraction: may be half a tick);
    ``spread_ticks()``; ``crossed`` (best bid >= best ask). Every ``BookUpdate`` reports
    whether the book is crossed after it.
- :func:`levels_from_depth`: a :class:`~cockpit.domain.market.DepthTick` or
  :class:`~cockpit.domain.market.QuoteTick`'s Decimal levels as tick levels (exact;
  :class:`~cockpit.domain.instruments.OffGridPrice` on an off-grid price).

A bad level (negative or non-finite quantity, price <= 0) raises :class:`BookError` and the
book is left unchanged: updates are validated before anything is applied.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.domain.instruments import Instrument
    from cockpit.domain.market import QuoteTick

TickLevel = tuple[int, Decimal]
"""``(price_ticks, qty)``."""
LevelIn = tuple[int, Decimal] | tuple[int, Decimal, int]
"""An incoming level: ``(ticks, qty)`` or ``(ticks, qty, orders)`` (orders ignored)."""


class BookError(ValueError):
    """A level that cannot be in a book (bad price or quantity)."""


class UpdateStatus(StrEnum):
    """What :meth:`OrderBook.apply_update` did."""

    APPLIED = "applied"
    STALE = "stale"
    """Older than the book (``last_id`` not newer): ignored."""
    GAP = "gap"
    """Updates are missing between the book and this one: nothing applied, resync."""
    NEEDS_SNAPSHOT = "needs_snapshot"
    """No snapshot yet, or out of sync since a gap: nothing applied."""


@dataclass(frozen=True, slots=True)
class GapDetected:
    """Updates between ``expected_first`` and ``got_first - 1`` never arrived."""

    key: str
    expected_first: int
    got_first: int
    got_last: int

    def __str__(self) -> str:
        return (
            f"{self.key}: book gap: expected update {self.expected_first}, got "
            f"{self.got_first}..{self.got_last}; resync from a snapshot"
        )


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """The outcome of a snapshot or an update."""

    status: UpdateStatus
    crossed: bool = False
    """The book is crossed (best bid >= best ask) after this update."""
    gap: GapDetected | None = None


def _validated(levels: Iterable[LevelIn], key: str) -> list[TickLevel]:
    out = []
    for level in levels:
        ticks, qty = int(level[0]), level[1]
        if not isinstance(qty, Decimal):
            qty = Decimal(str(qty))
        if ticks <= 0:
            raise BookError(f"{key}: book price must be > 0 ticks, got {ticks}")
        if not qty.is_finite() or qty < 0:
            raise BookError(f"{key}: book quantity must be >= 0, got {qty} at {ticks}")
        out.append((ticks, qty))
    return out


class _Side:
    """One side of the book: qty by price, with the best price cached."""

    __slots__ = ("levels", "best", "is_bid")

    def __init__(self, is_bid: bool) -> None:
        self.levels: dict[int, Decimal] = {}
        self.best: int | None = None
        self.is_bid = is_bid

    def better(self, a: int, b: int) -> bool:
        return a > b if self.is_bid else a < b

    def set(self, ticks: int, qty: Decimal) -> None:
        if qty == 0:
            if self.levels.pop(ticks, None) is not None and ticks == self.best:
                self._rescan()
            return
        self.levels[ticks] = qty
        if self.best is None or self.better(ticks, self.best):
            self.best = ticks

    def replace(self, levels: list[TickLevel]) -> None:
        self.levels = {ticks: qty for ticks, qty in levels if qty != 0}
        self._rescan()

    def _rescan(self) -> None:
        if not self.levels:
            self.best = None
        else:
            self.best = max(self.levels) if self.is_bid else min(self.levels)

    def top(self, n: int) -> list[TickLevel]:
        if n <= 0:
            return []
        prices = heapq.nlargest(n, self.levels) if self.is_bid else heapq.nsmallest(n, self.levels)
        return [(p, self.levels[p]) for p in prices]


class OrderBook:
    """A price-level book for one symbol; prices are integer ticks."""

    __slots__ = ("key", "_bids", "_asks", "last_id", "synced", "updates", "gaps", "stale")

    def __init__(self, key: str) -> None:
        """An empty, unsynced book for ``key`` (``EXCH:SYMBOL``)."""
        self.key = key
        self._bids = _Side(is_bid=True)
        self._asks = _Side(is_bid=False)
        self.last_id: int | None = None
        """Sequence id of the last snapshot or update applied (``None`` if unknown)."""
        self.synced = False
        """A snapshot was applied and no gap seen since."""
        self.updates = 0
        self.gaps = 0
        self.stale = 0

    # -- writing ---------------------------------------------------------------------------

    def apply_snapshot(
        self, bids: Iterable[LevelIn], asks: Iterable[LevelIn], last_id: int | None = None
    ) -> BookUpdate:
        """Replace the book with a full snapshot."""
        bid_levels = _validated(bids, self.key)
        ask_levels = _validated(asks, self.key)
        self._bids.replace(bid_levels)
        self._asks.replace(ask_levels)
        self.last_id = last_id
        self.synced = True
        return BookUpdate(UpdateStatus.APPLIED, self.crossed)

    def apply_update(
        self,
        bids: Iterable[LevelIn],
        asks: Iterable[LevelIn],
        first_id: int | None = None,
        last_id: int | None = None,
    ) -> BookUpdate:
        """Apply incremental levels (qty 0 deletes) after checking the sequence ids."""
        if not self.synced:
            return BookUpdate(UpdateStatus.NEEDS_SNAPSHOT, self.crossed)
        if last_id is not None and self.last_id is not None:
            first = last_id if first_id is None else first_id
            if last_id <= self.last_id:
                self.stale += 1
                return BookUpdate(UpdateStatus.STALE, self.crossed)
            if first > self.last_id + 1:
                self.gaps += 1
                self.synced = False
                gap = GapDetected(self.key, self.last_id + 1, first, last_id)
                return BookUpdate(UpdateStatus.GAP, self.crossed, gap)
        bid_levels = _validated(bids, self.key)
        ask_levels = _validated(asks, self.key)
        for ticks, qty in bid_levels:
            self._bids.set(ticks, qty)
        for ticks, qty in ask_levels:
            self._asks.set(ticks, qty)
        if last_id is not None:
            self.last_id = last_id
        self.updates += 1
        return BookUpdate(UpdateStatus.APPLIED, self.crossed)

    def clear(self) -> None:
        """Empty the book and mark it out of sync (e.g. on disconnect)."""
        self._bids.replace([])
        self._asks.replace([])
        self.last_id = None
        self.synced = False

    # -- reading ---------------------------------------------------------------------------

    def best_bid(self) -> TickLevel | None:
        """``(ticks, qty)`` of the best bid."""
        best = self._bids.best
        return None if best is None else (best, self._bids.levels[best])

    def best_ask(self) -> TickLevel | None:
        """``(ticks, qty)`` of the best ask."""
        best = self._asks.best
        return None if best is None else (best, self._asks.levels[best])

    def top(self, n: int) -> tuple[list[TickLevel], list[TickLevel]]:
        """The best ``n`` levels of each side, best first: ``(bids, asks)``."""
        return self._bids.top(n), self._asks.top(n)

    def qty_at(self, ticks: int) -> tuple[Decimal, Decimal]:
        """``(bid_qty, ask_qty)`` resting at ``ticks`` (zeros if none): for a ladder row."""
        return self._bids.levels.get(ticks, Decimal(0)), self._asks.levels.get(ticks, Decimal(0))

    def mid_ticks(self) -> Fraction | None:
        """The mid price in ticks (half a tick when the spread is odd)."""
        bid, ask = self._bids.best, self._asks.best
        if bid is None or ask is None:
            return None
        return Fraction(bid + ask, 2)

    def spread_ticks(self) -> int | None:
        """Best ask minus best bid, in ticks (<= 0 when crossed)."""
        bid, ask = self._bids.best, self._asks.best
        if bid is None or ask is None:
            return None
        return ask - bid

    @property
    def crossed(self) -> bool:
        """Best bid at or above best ask (bad data, or an auction)."""
        bid, ask = self._bids.best, self._asks.best
        return bid is not None and ask is not None and bid >= ask

    @property
    def depth(self) -> tuple[int, int]:
        """Number of levels ``(bids, asks)``."""
        return len(self._bids.levels), len(self._asks.levels)

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.key}, bid={self.best_bid()}, ask={self.best_ask()}, "
            f"last_id={self.last_id}, synced={self.synced})"
        )


def levels_from_depth(
    tick: QuoteTick, instrument: Instrument
) -> tuple[list[TickLevel], list[TickLevel]]:
    """The Decimal levels of a quote/depth tick as exact tick levels ``(bids, asks)``.

    Raises:
        OffGridPrice: a level price is not on the instrument's tick grid.
    """

    def convert(levels: Sequence[tuple[Decimal, Decimal, int]] | None) -> list[TickLevel]:
        if not levels:
            return []
        return [(instrument.ticks(price), qty) for price, qty, _orders in levels]

    return convert(tick.bids), convert(tick.asks)
