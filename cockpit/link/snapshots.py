"""A viewer's snapshot, taken on the decision thread in milliseconds and built off it.

At 3,000 symbols a snapshot of every book and volume-at-price level (438k levels) took the
decision thread about 0.2 s to build: an exit waiting behind a script's attach went out that
late. The decision thread now takes a :class:`SnapshotDraft`: the snapshot's short parts as
usual, and for its long ones references to state it will not change again -- each symbol's
volume-at-price maps (lent: the engine copies a map before its next change, copy on write)
and the depth ticks whose books were not built yet (immutable). Whoever sends it (the viewer
server's worker thread) builds the views from those. The snapshot stays
exactly the state at its ``seq``: consistent with the deltas that follow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeAlias

import msgspec

from cockpit.domain.instruments import Instrument
from cockpit.domain.market import DepthTick
from cockpit.link.protocol import BookView, Snapshot, VolumeAtPrice
from cockpit.link.slices import SLICE, encode_sliced, sliced
from cockpit.link.volume import volume_view

VolumeMap: TypeAlias = Mapping[int, Decimal | int]
"""Per price (ticks): a total, or its buyer-initiated part; a map nobody changes any more."""


class SnapshotDraft:
    """A :class:`Snapshot` whose books and volume at price :meth:`finish` builds.

    ``base`` carries everything else (and no books or volume at price). ``books``, in the
    snapshot's order, are each a built view or the depth tick to build it from, with its
    instrument at the same index of ``book_insts``; ``volume`` is three parallel lists (keys,
    totals, buyer parts). Lists, not a tuple per symbol: the decision thread makes a few
    objects, not thousands (each thousand may start a collection of the collector).
    """

    __slots__ = ("base", "book_insts", "books", "volume")

    def __init__(
        self,
        base: Snapshot,
        books: list[BookView | DepthTick],
        book_insts: list[Instrument],
        volume: tuple[list[str], list[VolumeMap], list[VolumeMap]],
    ) -> None:
        self.base = base
        self.books = books
        self.book_insts = book_insts
        self.volume = volume

    def finish(self) -> Snapshot:
        """The whole snapshot (any thread: it reads only what nobody changes)."""
        books = [_book(b) for b in zip(self.book_insts, self.books, strict=True)]
        volume = [_volume(m) for m in zip(*self.volume, strict=True)]
        return msgspec.structs.replace(self.base, books=books, volume_at_price=volume)

    def frame(self, per: int = SLICE) -> bytes:
        """:func:`~cockpit.link.protocol.encode` of :meth:`finish`, byte for byte, built and
        encoded a slice at a time: the views of a slice are freed before the next is built
        (hundreds of thousands of levels never live at once, so no full collection of the
        collector is due, holding the GIL), and between slices the GIL may change hands."""
        books = sliced(list(zip(self.book_insts, self.books, strict=True)), per, _book)
        volume = sliced(
            list(zip(*self.volume, strict=True)), per, _volume, lambda m: 1 + len(m[1]) // 8
        )
        return encode_sliced(
            msgspec.structs.replace(self.base, books=books, volume_at_price=volume), per
        )


def _book(b: tuple[Instrument, BookView | DepthTick]) -> BookView:
    inst, view = b
    return view if type(view) is BookView else book_of(inst, view)  # type: ignore[arg-type]


def _volume(m: tuple[str, VolumeMap, VolumeMap]) -> VolumeAtPrice:
    return volume_view(m[0], m[1].items(), m[2])


def book_of(inst: Instrument, ev: DepthTick) -> BookView:
    """The book of ``inst`` from its depth tick (levels whose price is unusable left out)."""
    return BookView(
        key=inst.key,
        bids=levels_of(inst, ev.bids),
        asks=levels_of(inst, ev.asks),
        recv_ns=ev.recv_ns,
    )


def levels_of(inst: Instrument, levels: Any) -> list[tuple[int, Decimal, int]]:
    out: list[tuple[int, Decimal, int]] = []
    for price, qty, n in levels or ():
        ticks = inst.market_ticks(price)
        if ticks is not None:
            out.append((ticks, qty, n))
    return out
