"""One viewer's outgoing side: its market batch taken from what was merged into it, and the
task writing its queued frames. Loop-thread code of :mod:`cockpit.link.server`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from cockpit.link.protocol import MarketBatch
from cockpit.link.slices import encode_sliced
from cockpit.link.viewer import Viewer
from cockpit.link.volume import to_vap

WRITE_AT_ONCE = 512
"""Queued frames joined into one write at most."""


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
                if v.frames:
                    n = min(len(v.frames), WRITE_AT_ONCE)
                    writer.write(b"".join([v.frames.popleft() for _ in range(n)]))
                else:
                    frame = batch(v) if v.live else None
                    if frame is None:
                        break
                    writer.write(frame)
                await writer.drain()
            if v.closing and not v.frames:
                return
    except (ConnectionError, OSError):
        lost(v, "connection lost")
    except asyncio.CancelledError:
        pass
