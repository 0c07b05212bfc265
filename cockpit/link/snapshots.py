"""A viewer's snapshot, taken on the decision thread in milliseconds and built off it.

At 3,000 symbols a snapshot of every book and volume-at-price level (438k levels) took the
decision thread about 0.2 s to build: an exit waiting behind a script's attach went out that
late. The decision thread now takes a :class:`SnapshotDraft`: the snapshot's short parts as
usual, and for its long ones references to state it will not change again -- each symbol's
volume-at-price maps (lent: the engine copies a map before its next change, copy on write)
and the depth ticks whose books were not built yet (immutable). Whoever sends it (the viewer
server's loop thread; :func:`finished`) builds the views from those. The snapshot stays
exactly the state at its ``seq``: consistent with the deltas that follow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeAlias

import msgspec

from cockpit.domain.instruments import Instrument
from cockpit.domain.market import DepthTick
from cockpit.link.protocol import BookView, Msg, Snapshot
from cockpit.link.volume import volume_view

VolumeMaps: TypeAlias = tuple[str, Mapping[int, Decimal | int], Mapping[int, Decimal | int]]
"""``(key, total per price, buyer-initiated part per price)``: maps nobody changes any more."""
PendingBook: TypeAlias = tuple[Instrument, DepthTick]
"""A symbol's latest depth tick whose book was not built yet."""


class SnapshotDraft:
    """A :class:`Snapshot` whose books and volume at price :meth:`finish` builds.

    ``base`` carries everything else (and no books or volume at price); ``books`` is in the
    snapshot's order, each a built view or a depth tick to build it from.
    """

    __slots__ = ("base", "books", "volume")

    def __init__(
        self, base: Snapshot, books: list[BookView | PendingBook], volume: list[VolumeMaps]
    ) -> None:
        self.base = base
        self.books = books
        self.volume = volume

    @property
    def seq(self) -> int:
        return self.base.seq

    def finish(self) -> Snapshot:
        """The whole snapshot (any thread: it reads only what nobody changes)."""
        books = [b if type(b) is BookView else book_of(*b) for b in self.books]  # type: ignore[misc]
        volume = [volume_view(key, vap.items(), bought) for key, vap, bought in self.volume]
        return msgspec.structs.replace(self.base, books=books, volume_at_price=volume)


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


def finished(msg: Msg | SnapshotDraft) -> Msg:
    """``msg``, a draft built into its snapshot."""
    return msg.finish() if isinstance(msg, SnapshotDraft) else msg
