"""The seam between the engine's decision thread and its viewer server.

Threading model of the engine process:

- Feed threads (one per connection) put market events, ``OrderUpdate`` and ``FeedStatus``
  objects on the engine's one inbound ``queue.SimpleQueue``.
- The viewer server (an asyncio loop in its own thread) puts :class:`ViewerCommand`,
  :class:`SnapshotRequest` and :class:`ViewerGone` on the same queue.
- The router (REST, its own thread) puts the results of order requests on it as well.
- One decision thread takes items off that queue, owns all trading state, decides exits on
  the tick, journals before acting, hands order requests to the router, and publishes
  through a :class:`Publisher` — never waiting on the network.

The server implements :class:`Publisher`: ``market`` is latest-wins per symbol (flushed to
viewers at most ~30 times a second), ``volume`` is latest-wins per price level (sent with the
market batches), ``event`` is broadcast to every viewer in order and never dropped or merged,
``reply`` goes to one viewer. All of them are called on the decision thread and must return
at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import msgspec

from cockpit.engine.protocol import BookView, Command, Msg, QuoteView, StatusView, VolumeAtPrice


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
        many: Callable[[list[object]], None] | None = None,
    ) -> None:
        self.put = put
        self.lock = lock
        self.many = many
        """Takes a whole read's events at once (in order), if the receiver can."""

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
