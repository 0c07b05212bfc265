"""One viewer's connection to the engine's server: its state, its bounded reader, the
handshake (the hello, refusals), its commands read and handed to the engine. Loop-thread code
of :mod:`cockpit.link.server`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from cockpit.link.bus import ViewerCommand, ViewerShowing
from cockpit.link.protocol import (
    MAX_COMMAND_FRAME,
    PROTOCOL_VERSION,
    READ_ONLY_COMMANDS,
    BookView,
    FrameReader,
    Hello,
    ProtocolError,
    QuoteView,
    Refused,
    Showing,
    StatusView,
    decode_to_engine,
    encode,
)
from cockpit.link.sockets import hello_from_other_version
from cockpit.link.volume import Levels

FRAME_TIMEOUT_S: Final = 10.0
"""A frame a viewer started must be complete within this (else the connection closes)."""


class Viewer:
    """One attached viewer (loop-thread state only)."""

    __slots__ = (
        "conn_id",
        "client",
        "read_only",
        "writer",
        "frames",
        "wake",
        "live",
        "quotes",
        "books",
        "status",
        "closed",
        "closing",
        "task",
        "floor",
        "vap",
    )

    def __init__(
        self, conn_id: int, client: str, read_only: bool, writer: asyncio.StreamWriter
    ) -> None:
        self.conn_id = conn_id
        self.client = client
        self.read_only = read_only
        self.writer = writer
        self.frames: deque[bytes | asyncio.Future[bytes]] = deque()
        """Frames to write, in order; a future: a snapshot being built (its place held)."""
        self.wake = asyncio.Event()
        self.live = False
        self.quotes: dict[str, QuoteView] = {}
        self.books: dict[str, BookView] = {}
        self.status: StatusView | None = None
        self.closed = False
        self.closing = False
        """Close once the frames queued so far are written (engine stopping)."""
        self.task: asyncio.Task[None] | None = None
        self.floor: dict[str, int] = {}
        """recv_ns per key in the snapshot: older quotes are not sent after it."""
        self.vap: dict[str, Levels] = {}
        """Volume-at-price levels changed since the last batch, per key (latest wins)."""


class FrameTimeout(Exception):
    """A viewer's frame did not complete in time."""


class BoundedReader:
    """A viewer's frames off its socket: at most :data:`MAX_COMMAND_FRAME` bytes each, and a
    frame once started must be whole within ``timeout`` (a byte now and then does not keep
    it alive)."""

    __slots__ = ("_reader", "_framer", "_timeout", "_since")

    def __init__(self, reader: asyncio.StreamReader, timeout: float) -> None:
        self._reader = reader
        self._framer = FrameReader(MAX_COMMAND_FRAME)
        self._timeout = timeout
        self._since: float | None = None

    async def read(self) -> list[bytes]:
        """The frames completed by the next read (maybe none).

        Raises:
            EOFError: the viewer closed the connection.
            ProtocolError: a frame too long.
            FrameTimeout: a frame did not complete in time.
        """
        if self._framer.pending:
            now = time.monotonic()
            if self._since is None:
                self._since = now
            left = self._since + self._timeout - now
            if left <= 0:
                raise FrameTimeout
            try:
                data = await asyncio.wait_for(self._reader.read(65536), left)
            except TimeoutError:
                raise FrameTimeout from None
        else:
            data = await self._reader.read(65536)
        if not data:
            raise EOFError
        bodies = self._framer.feed(data)
        if bodies or not self._framer.pending:
            self._since = None
        return bodies


async def read_hello(framer: BoundedReader) -> tuple[Hello | None, list[bytes], int]:
    """The viewer's Hello (None: it sent something else or left), the frames it pipelined
    behind it, and how many protocol errors that was (0 or 1)."""
    while True:
        try:
            bodies = await framer.read()
        except EOFError:
            return None, [], 0
        except ProtocolError:
            return None, [], 1
        if bodies:
            try:
                msg = decode_to_engine(bodies[0])
            except ProtocolError:
                return hello_from_other_version(bodies[0]), [], 1
            if not isinstance(msg, Hello):
                return None, [], 1
            return msg, bodies[1:], 0


def version_refused(version: int) -> Refused:
    """The answer to a viewer of a version this engine does not serve."""
    return Refused(
        id=0,
        rule="version",
        message=f"protocol version mismatch: this engine speaks v{PROTOCOL_VERSION}, the "
        f"viewer v{version}; run the same cockpit version for both (restart the engine)",
    )


async def refuse_extra(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, max_viewers: int
) -> None:
    """One connection too many: say so (the client shows it) and close."""
    message = (
        f"too many viewers: this engine serves {max_viewers} connections at once; "
        "close another cockpit window or viewer first"
    )
    with contextlib.suppress(Exception):
        writer.write(encode(Refused(id=0, rule="viewers", message=message)))
        await writer.drain()
        # Take the viewer's hello off the socket first: closing on unread bytes would
        # reset the connection before the refusal is read.
        await asyncio.wait_for(reader.read(65536), 1.0)
    with contextlib.suppress(Exception):
        writer.close()


async def read_commands(
    v: Viewer,
    framer: BoundedReader,
    pending: list[bytes],
    inbound: Callable[[object], None],
    push: Callable[[Viewer, bytes], None],
    counters: dict[str, int],
) -> None:
    """Hand ``v``'s commands (``pending``, then what it sends) to the engine (``inbound``)
    until it leaves; what it may not send is refused to it (``push``), and counted."""
    while not v.closed:
        for body in pending:
            try:
                msg = decode_to_engine(body)
            except ProtocolError as exc:
                counters["protocol_errors"] += 1
                push(v, encode(Refused(id=0, rule="protocol", message=str(exc))))
                continue
            if isinstance(msg, Hello):
                push(v, encode(Refused(id=0, rule="protocol", message="hello twice")))
                continue
            if isinstance(msg, Showing):  # no answer; read-only viewers say it too
                counters["showing"] += 1
                inbound(ViewerShowing(conn_id=v.conn_id, keys=frozenset(msg.keys)))
                continue
            counters["commands"] += 1
            if v.read_only and not isinstance(msg, READ_ONLY_COMMANDS):
                what = f"this viewer is read-only: {type(msg).__name__} is not allowed"
                push(v, encode(Refused(id=msg.id, rule="read_only", message=what)))
                continue
            inbound(ViewerCommand(conn_id=v.conn_id, command=msg))
        try:
            pending = await framer.read()
        except EOFError:
            return
        except ProtocolError as exc:
            counters["protocol_errors"] += 1
            push(v, encode(Refused(id=0, rule="protocol", message=str(exc))))
            return
