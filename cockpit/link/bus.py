"""The seam between the engine's decision thread and its viewer server.

Threading model of the engine process:

- Feed threads (one per connection) hand market events, ``OrderUpdate`` and ``FeedStatus``
  objects to the engine, which handles them on the feed's thread under its lock (see
  :mod:`cockpit.engine.core`).
- The viewer server (an asyncio loop in its own thread) puts :class:`ViewerCommand`,
  :class:`SnapshotRequest` and :class:`ViewerGone` on the engine's one :class:`Inbound`
  queue; the router (REST, its own threads) puts the results of order requests on it.
- Items are taken off that queue only under the engine's lock, in order: by the decision
  thread, or by a feed thread right after it handled a read (so a busy feed thread does the
  work itself instead of fighting the decision thread for the GIL). Whoever handles an item
  owns all trading state meanwhile, decides exits on the tick, journals before acting,
  hands order requests to the router, and publishes through a :class:`Publisher` — never
  waiting on the network.

The server implements :class:`Publisher`: ``market`` is latest-wins per symbol (flushed to
viewers at most ~30 times a second), ``volume`` is latest-wins per price level (sent with the
market batches), ``event`` is broadcast to every viewer in order and never dropped or merged,
``reply`` goes to one viewer. All of them are called on the decision thread and must return
at once.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from cockpit.link.protocol import BookView, Command, Msg, QuoteView, StatusView, VolumeAtPrice


class Publisher(Protocol):
    """How the decision thread talks to viewers."""

    def market(self, quote: QuoteView, book: BookView | None = None) -> None:
        """The latest state of one symbol (replaces any not yet sent)."""

    def status(self, status: StatusView) -> None:
        """The latest engine status (latest-wins, sent with the next market batch)."""

    def volume(self, vap: VolumeAtPrice) -> None:
        """Session volume at the price levels that changed (each level latest-wins).

        Optional: the engine skips it on a publisher without this method.
        """

    def event(self, msg: Msg) -> None:
        """An event for every viewer, in order, never dropped or merged."""

    def reply(self, conn_id: int, msg: Msg) -> None:
        """A message for one viewer (Ack, Refused, Snapshot, SearchResult, Pong)."""


class ViewerCommand(msgspec.Struct, frozen=True):
    """A command from viewer ``conn_id``; answer it with exactly one Ack or Refused."""

    conn_id: int
    command: Command
    read_only: bool = False


class SnapshotRequest(msgspec.Struct, frozen=True):
    """Viewer ``conn_id`` attached (or must resync): reply with a Snapshot."""

    conn_id: int


class ViewerGone(msgspec.Struct, frozen=True):
    """Viewer ``conn_id`` disconnected."""

    conn_id: int


class Inbound:
    """The engine's inbound queue: any thread puts; the engine takes, under its lock.

    Unlike ``queue.SimpleQueue`` the consumer can wait for an item without taking it
    (:meth:`wait`), so that every item is taken while the engine's lock is held and items
    are handled in the order they were put, whichever thread takes them. :meth:`kick` wakes
    a waiter without an item (work for the decision thread that is not an item: commits).
    """

    __slots__ = ("_cv", "_items", "_kicked")

    def __init__(self) -> None:
        self._items: deque[object] = deque()
        self._cv = threading.Condition(threading.Lock())
        self._kicked = False

    def put(self, item: object) -> None:
        """Add ``item`` (never blocks for long) and wake the waiter."""
        with self._cv:
            self._items.append(item)
            self._cv.notify()

    def kick(self) -> None:
        """Wake the waiter without an item."""
        with self._cv:
            self._kicked = True
            self._cv.notify()

    def wait(self, timeout: float | None = None, *, items: bool = True) -> bool:
        """Until there is an item or a kick (True) or ``timeout`` passed (False); takes none.

        With ``items=False`` only a kick ends the wait (items may be there all along).
        """
        with self._cv:
            if not self._kicked and not (items and self._items):
                self._cv.wait(timeout)
            kicked, self._kicked = self._kicked, False
            return kicked or (items and bool(self._items))

    def take(self) -> object | None:
        """The oldest item, or None if there is none (never waits)."""
        try:
            return self._items.popleft()
        except IndexError:
            return None

    def __len__(self) -> int:
        return len(self._items)


class LockedSink:
    """A feed sink that also names the lock it takes (``WsConnection`` holds it per read).

    A feed thread that holds the engine's lock while it parses a whole read, not only while
    each event is handled, does not take the GIL from the thread that owns the engine at
    that moment: it waits for the lock instead of parsing in between.
    """

    __slots__ = ("lock", "many", "put")

    def __init__(
        self,
        put: Callable[[object], None],
        lock: Any,
        many: Callable[[list[object], Callable[[], bool] | None], None] | None = None,
    ) -> None:
        self.put = put
        self.lock = lock
        self.many = many
        """Takes a whole read's events at once (in order), if the receiver can, and a way
        to see whether the feed has more waiting (or None)."""

    def __call__(self, item: object) -> None:
        self.put(item)


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

    def reply(self, conn_id: int, msg: Msg) -> None:
        """Drop it."""
