"""The seam between the engine's decision thread and its viewer server.

Every producer (feed threads, the viewer server's loop, the router's workers) puts its items
on the engine's one :class:`Inbound` queue; the decision thread alone takes them, in order
(the threading model: :mod:`cockpit.engine.core`). The viewer server is its :class:`Publisher`.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Protocol

import msgspec

from cockpit.link.protocol import BookView, Command, Msg, QuoteView, StatusView, VolumeAtPrice
from cockpit.link.snapshots import SnapshotDraft


class Publisher(Protocol):
    """How the decision thread talks to viewers (every call returns at once)."""

    def market(self, quote: QuoteView, book: BookView | None = None) -> None:
        """The latest state of one symbol (replaces any not yet sent)."""

    def status(self, status: StatusView) -> None:
        """The latest engine status (latest-wins, sent with the next market batch)."""

    def volume(self, vap: VolumeAtPrice) -> None:
        """Session volume at the price levels that changed (each level latest-wins)."""

    def event(self, msg: Msg) -> None:
        """An event for every viewer, in order, never dropped or merged."""

    def reply(self, conn_id: int, msg: Msg | SnapshotDraft) -> None:
        """A message for one viewer (Ack, Refused, SearchResult, Pong), or its snapshot's
        draft (built into the Snapshot off the decision thread: ``draft.finish()``)."""


class ViewerCommand(msgspec.Struct, frozen=True):
    """A command from viewer ``conn_id``; answer it with exactly one Ack or Refused (the
    viewer server has refused what a read-only viewer may not send: it never comes here)."""

    conn_id: int
    command: Command


class SnapshotRequest(msgspec.Struct, frozen=True):
    """Viewer ``conn_id`` attached (or must resync): reply with a Snapshot."""

    conn_id: int
    showing: frozenset[str] | None = None
    """What it draws in full (its ``Hello.showing``): the snapshot's books and volume at price
    only for those; None: every symbol in full."""


class ViewerShowing(msgspec.Struct, frozen=True):
    """Viewer ``conn_id`` draws ``keys`` in full now (its :class:`~cockpit.link.protocol.Showing`);
    no answer."""

    conn_id: int
    keys: frozenset[str]


class ViewerGone(msgspec.Struct, frozen=True):
    """Viewer ``conn_id`` disconnected."""

    conn_id: int


class Inbound:
    """The engine's inbound queue: any thread puts; the decision thread takes, in order."""

    __slots__ = ("_cv", "_items")

    def __init__(self) -> None:
        self._items: deque[object] = deque()
        self._cv = threading.Condition(threading.Lock())

    def put(self, item: object) -> None:
        """Add ``item`` (never blocks for long) and wake the decision thread."""
        with self._cv:
            self._items.append(item)
            self._cv.notify()

    def take_all(self, timeout: float | None = None) -> list[object]:
        """Every item waiting, oldest first; waits up to ``timeout`` s for one (0: never)."""
        with self._cv:
            if not self._items and (timeout is None or timeout > 0):
                self._cv.wait(timeout)
            items = list(self._items)
            self._items.clear()
        return items

    def __len__(self) -> int:
        return len(self._items)


class NullPublisher:
    """A publisher with no viewers (headless runs and benchmarks)."""

    def market(self, quote: QuoteView, book: BookView | None = None) -> None:
        """Drop it."""

    def status(self, status: StatusView) -> None:
        """Drop it."""

    def volume(self, vap: VolumeAtPrice) -> None:
        """Drop it."""

    def event(self, msg: Msg) -> None:
        """Drop it."""

    def reply(self, conn_id: int, msg: Msg | SnapshotDraft) -> None:
        """Drop it."""
