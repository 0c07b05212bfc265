"""One viewer's outgoing side: its market batch taken from what was merged into it, and the
task writing its queued frames. Loop-thread code of :mod:`cockpit.link.server`.

A viewer's queue holds encoded frames and, for a snapshot still being built on the server's
worker thread, the future of its frame: that future holds the viewer's place (what is queued
after it waits for it, in order) and no other viewer's."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from cockpit.link.protocol import MarketBatch, Snapshot
from cockpit.link.slices import encode_sliced
from cockpit.link.viewer import Viewer
from cockpit.link.volume import to_vap

WRITE_AT_ONCE = 512
"""Queued frames joined into one write at most."""


def go_live(v: Viewer, snap: Snapshot) -> None:
    """``v`` receives broadcasts from its snapshot ``snap`` on (queued before them)."""
    v.live = True
    v.quotes.clear()
    v.books.clear()
    v.vap.clear()  # the snapshot carries the whole map
    # quotes published before the snapshot are older than what it carries
    v.floor = {q.key: q.recv_ns for q in snap.quotes}


def take_batch(v: Viewer, seq: int) -> bytes | None:
    """The frame of ``v``'s pending market batch numbered ``seq`` (None: nothing pending);
    its pending state is reset."""
    if not v.quotes and not v.books and v.status is None and not v.vap:
        return None
    quotes = list(v.quotes.values())
    if v.floor:
        floor = v.floor
        quotes = [q for q in quotes if q.recv_ns >= floor.get(q.key, 0)]
        v.floor = {}
    batch = MarketBatch(
        seq=seq,
        quotes=quotes,
        books=list(v.books.values()),
        volume_at_price=[to_vap(key, levels) for key, levels in v.vap.items()],
        status=v.status,
    )
    v.quotes = {}
    v.books = {}
    v.vap = {}
    v.status = None
    return encode_sliced(batch)


async def write_loop(
    v: Viewer,
    batch: Callable[[Viewer], bytes | None],
    lost: Callable[[Viewer, str], None],
) -> None:
    """Write ``v``'s queued frames, then its market batch (``batch``), whenever woken, until
    it closes; ``lost(v, why)`` when the connection fails."""
    writer = v.writer
    try:
        while not v.closed:
            await v.wake.wait()
            v.wake.clear()
            while not v.closed:
                head = v.frames[0] if v.frames else None
                if isinstance(head, asyncio.Future):  # a snapshot, built on the worker
                    try:
                        frame = await head
                    except Exception:  # noqa: BLE001 - logged and counted by the server
                        lost(v, "its snapshot could not be built")
                        return
                    if v.closed:
                        return
                    v.frames.popleft()
                    writer.write(frame)
                elif head is not None:
                    writer.write(b"".join(_ready(v.frames)))
                else:
                    pending = batch(v) if v.live else None
                    if pending is None:
                        break
                    writer.write(pending)
                await writer.drain()
            if v.closing and not v.frames:
                return
    except (ConnectionError, OSError):
        lost(v, "connection lost")
    except asyncio.CancelledError:
        pass


def _ready(frames: deque[bytes | asyncio.Future[bytes]]) -> list[bytes]:
    """The frames at the head of ``frames`` up to a snapshot still being built (taken off)."""
    out: list[bytes] = []
    while frames and len(out) < WRITE_AT_ONCE and type(frames[0]) is bytes:
        out.append(frames.popleft())  # type: ignore[arg-type]
    return out
