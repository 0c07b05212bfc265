"""The TUI's link to the engine: a Link (socket client or in-memory) and the pump that paces it.

The pump runs in a Textual thread worker. It reads whatever the engine sent, folds
consecutive market batches together (latest state per symbol; order events are never merged
or dropped) and hands the app ONE list of messages at a time — at most ``fps`` times a
second, and only once the app has applied the previous list and painted it: a frame the app
cannot finish in time is merged into the next, never queued. No Textual here.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from typing import Protocol

from cockpit.link.pace import FrameGate
from cockpit.link.protocol import Ack, Command, MarketBatch, Msg, Snapshot
from cockpit.link.volume import Levels, merge_levels, to_vap


class LinkClosed(ConnectionError):
    """The engine link is gone."""


class Link(Protocol):
    """A connection to an engine (already past hello/welcome or about to be)."""

    def recv(self, timeout: float) -> list[Msg]:
        """Messages received so far (waiting at most ``timeout`` s for the first).

        Raises:
            LinkClosed: the engine went away.
        """

    def send(self, command: Command) -> int:
        """Send a command; return the id it went out with (answers carry it).

        Raises:
            LinkClosed: the engine went away.
        """

    def show(self, keys: list[str]) -> None:
        """Tell the engine which symbols the screen draws in full (the others come at most
        about once a second, quote only).

        Raises:
            LinkClosed: the engine went away.
        """

    def close(self) -> None:
        """Close the connection."""


def merge_market(a: MarketBatch, b: MarketBatch) -> MarketBatch:
    """Two consecutive market batches as one (b's state wins per symbol)."""
    quotes = {q.key: q for q in a.quotes}
    quotes.update((q.key, q) for q in b.quotes)
    books = {x.key: x for x in a.books}
    books.update((x.key, x) for x in b.books)
    levels: dict[str, Levels] = {}
    for x in (*a.volume_at_price, *b.volume_at_price):  # changed levels: b's total wins
        merge_levels(levels.setdefault(x.key, {}), x)
    vap = {key: to_vap(key, lv) for key, lv in levels.items()}
    return MarketBatch(
        seq=b.seq,
        quotes=list(quotes.values()),
        books=list(books.values()),
        volume_at_price=list(vap.values()),
        status=b.status if b.status is not None else a.status,
    )


class Pump:
    """Moves messages from a Link to the app, paced and coalesced for the eye only."""

    def __init__(
        self,
        link: Link,
        deliver: Callable[[list[Msg]], object],
        *,
        fps: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.link = link
        self.deliver = deliver
        self.gate = FrameGate(fps)
        """At most ``fps`` deliveries a second, a batch a little early not held a frame."""
        self.clock = clock
        self.consumed = threading.Event()
        """Set by the app when it has applied the last delivery and painted it."""
        self.consumed.set()
        self.stall_s = 1.0
        """A delivery not consumed after this long is followed by the next one anyway (the
        app never waits on a lost signal; at worst two are queued)."""
        self.stop = threading.Event()
        self.deliveries = 0
        self.received = 0

    def run(self, cancelled: Callable[[], bool] = lambda: False) -> str:
        """Pump until stopped (``stop`` set or ``cancelled()``) or the link closes.

        Returns why it ended.
        """
        pending: list[Msg] = []
        last = -math.inf
        while not self.stop.is_set() and not cancelled():
            now = self.clock()
            if not pending:
                wait = 0.05
            elif self._ready(now, last):
                wait = 0.0
            else:  # the gate's time, or (the app still painting) a millisecond
                wait = max(0.001, min(0.05, self.gate.wait(now)))
            try:
                got = self.link.recv(wait)
            except LinkClosed as exc:
                if pending:
                    self.deliver(pending)
                return str(exc) or "engine connection closed"
            self.received += len(got)
            for msg in got:
                if (
                    isinstance(msg, MarketBatch)
                    and pending
                    and isinstance(pending[-1], MarketBatch)
                ):
                    pending[-1] = merge_market(pending[-1], msg)
                else:
                    if isinstance(msg, Snapshot):  # it carries every symbol's latest state
                        pending = [m for m in pending if not isinstance(m, MarketBatch)]
                    pending.append(msg)
            now = self.clock()
            if pending and self._ready(now, last):
                self.consumed.clear()
                batch, pending = pending, []
                last = now
                self.gate.took(now)
                self.deliveries += 1
                self.deliver(batch)
        return "stopped"

    def _ready(self, now: float, last: float) -> bool:
        """Whether the app may get the next delivery: it painted the last, or it stalled."""
        if not self.gate.ready(now):
            return False
        return self.consumed.is_set() or (self.deliveries > 0 and now - last >= self.stall_s)


class MemoryLink:
    """A Link fed in-process with protocol messages (snapshot tests, demos, offline use).

    Commands sent are recorded; by default each is answered with an :class:`Ack`.
    """

    def __init__(self, *, auto_ack: bool = True) -> None:
        self._q: queue.SimpleQueue[Msg | None] = queue.SimpleQueue()
        self.sent: list[Command] = []
        self.auto_ack = auto_ack
        self.closed = False
        self.responder: Callable[[Command], list[Msg]] | None = None
        """Optional: answers a command with messages (instead of a bare Ack)."""
        self.shown: list[list[str]] = []
        """Every :meth:`show` call's symbols, in order."""

    def feed(self, *messages: Msg) -> None:
        """Messages as if the engine had sent them."""
        for m in messages:
            self._q.put(m)

    def drop(self) -> None:
        """Simulate the engine going away."""
        self._q.put(None)

    def recv(self, timeout: float) -> list[Msg]:
        """See :class:`Link`."""
        out: list[Msg] = []
        try:
            first = self._q.get(timeout=timeout) if timeout > 0 else self._q.get_nowait()
        except queue.Empty:
            return out
        item: Msg | None = first
        while True:
            if item is None:
                self.closed = True
                if out:
                    self._q.put(None)
                    return out
                raise LinkClosed("engine went away")
            out.append(item)
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                return out

    def send(self, command: Command) -> int:
        """See :class:`Link`."""
        if self.closed:
            raise LinkClosed("engine went away")
        self.sent.append(command)
        if self.responder is not None:
            self.feed(*self.responder(command))
        elif self.auto_ack:
            self.feed(Ack(id=command.id))
        return command.id

    def show(self, keys: list[str]) -> None:
        """See :class:`Link`."""
        if self.closed:
            raise LinkClosed("engine went away")
        self.shown.append(keys)

    def close(self) -> None:
        """See :class:`Link`."""
        self.closed = True


class ClientLink:
    """A Link over the engine's Unix socket (``cockpit.link.client.EngineClient``, pull mode)."""

    MAX_PER_RECV = 5000

    def __init__(self, client: object) -> None:
        from cockpit.link.client import EngineClient

        assert isinstance(client, EngineClient)
        self.client = client
        self._first: list[Msg] = [client.welcome]

    def recv(self, timeout: float) -> list[Msg]:
        """See :class:`Link`."""
        from cockpit.link.client import ClientError

        out, self._first = self._first, []
        try:
            msg = self.client.recv(0.0 if out else timeout)
            while msg is not None:
                out.append(msg)
                if len(out) >= self.MAX_PER_RECV:
                    break
                msg = self.client.recv(0.0)
        except ClientError as exc:
            if out:
                return out  # the next recv raises again (the client keeps its error)
            raise LinkClosed(str(exc)) from exc
        return out

    def send(self, command: Command) -> int:
        """See :class:`Link` (the client numbers commands itself)."""
        from cockpit.link.client import ClientError

        try:
            return self.client.send(command)
        except ClientError as exc:
            raise LinkClosed(str(exc)) from exc

    def show(self, keys: list[str]) -> None:
        """See :class:`Link`."""
        from cockpit.link.client import ClientError

        try:
            self.client.show(keys)
        except ClientError as exc:
            raise LinkClosed(str(exc)) from exc

    def close(self) -> None:
        """See :class:`Link`."""
        self.client.close()
