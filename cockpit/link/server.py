"""The engine's viewer server: a Unix socket per profile, an asyncio loop in its own thread.

It implements :class:`cockpit.link.bus.Publisher` for the decision thread. Those calls only
touch in-memory structures and return at once (no network I/O, no waiting on a viewer):

- ``market``/``status`` overwrite the latest state per symbol under a tiny lock; a timer on
  the loop (``market_hz``, default 30/s) takes what changed and merges it into each viewer's
  pending batch. A viewer receives at most one :class:`MarketBatch` per tick of that timer;
  if it is slow, its pending batch keeps being merged (latest wins), never queued.
- ``volume`` (changed volume-at-price levels) goes through the ordered deque below, so a
  snapshot and the level updates before/after it stay in order; the loop merges the levels
  into each live viewer's pending batch (latest total per level wins), never a frame each.
- ``event``/``reply`` append to one ordered deque, which the loop polls every
  ``EVENT_INTERVAL_S`` (10 ms) while events flow (only the first event after a quiet spell
  wakes the loop: one syscall). The loop encodes each event once and queues the frame for
  every live viewer, in order; a market batch is encoded a slice at a time (``slices.py``:
  the GIL is never held for a whole megabyte-sized frame). A snapshot's draft is built and
  encoded on the server's worker thread (``snapshot_errors`` counts the ones that fail: the
  viewer is closed); its future holds that viewer's place in its queue, so what follows the
  snapshot waits for it, and the other viewers' frames do not. A viewer with more
  than ``max_backlog`` frames not yet written is disconnected (it resyncs from a snapshot
  when it reconnects), so it never holds the engine back.

Attach: ``Hello`` → ``Welcome`` (or ``Refused(rule="version")`` and close) → a
:class:`SnapshotRequest` on the engine's inbound queue; the viewer becomes live (receives
broadcasts) when the core's ``Snapshot`` reply passes through the ordered deque, so nothing
published before the snapshot reaches it and nothing after is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

from cockpit.link.bus import SnapshotRequest, ViewerGone
from cockpit.link.outgoing import go_live, take_batch, write_loop
from cockpit.link.pace import grid_slot, next_slot
from cockpit.link.protocol import (
    PROTOCOL_VERSION,
    BookView,
    Msg,
    QuoteView,
    Snapshot,
    StatusView,
    Stopping,
    VolumeAtPrice,
    Welcome,
    encode,
)
from cockpit.link.slices import encode_sliced
from cockpit.link.snapshots import SnapshotDraft
from cockpit.link.sockets import (
    EngineAlreadyRunning,
    ServerError,
    bind_socket,
    probe,
)
from cockpit.link.viewer import (
    FRAME_TIMEOUT_S,
    BoundedReader,
    FrameTimeout,
    Viewer,
    read_commands,
    read_hello,
    refuse_extra,
    version_refused,
)
from cockpit.link.volume import merge_levels

__all__ = ["EngineAlreadyRunning", "ServerError", "ViewerServer", "bind_socket", "probe"]

log = logging.getLogger(__name__)

_BROADCAST: Final = 0
_VOLUME: Final = -1
"""Target of a volume-at-price update in the ordered deque (merged, not framed)."""
HELLO_TIMEOUT_S: Final = 5.0
MAX_VIEWERS: Final = 16
"""Connections served at once (attached viewers and handshakes); more are refused."""
EVENT_INTERVAL_S: Final = 0.01
"""How often the loop takes events and replies off the decision thread's deque while busy.

Each poll takes the GIL from the engine's threads, so not too often: 10 ms is below what a
trader sees (a 60 Hz screen redraws every 16 ms) and 100 wake-ups a second at most."""
IDLE_AFTER_TICKS: Final = 10
"""Quiet polls (x 10 ms) after which the loop stops polling and waits to be woken."""


class ViewerServer:
    """Serves viewers over a Unix socket; a :class:`~cockpit.link.bus.Publisher`.

    Args:
        path: the socket path (its directory is created 0700; the socket is 0600).
        inbound: where viewer commands, snapshot requests and departures go (the engine's
            ``queue.SimpleQueue.put``).
        profile: shown to viewers in :class:`Welcome`.
        venue: shown to viewers in :class:`Welcome`.
        market_hz: market batches per second per viewer at most.
        max_backlog: frames pending for one viewer beyond which it is disconnected.
        frame_timeout_s: a frame a viewer started must arrive whole within this.
        max_viewers: connections served at once; the next one gets ``Refused(viewers)``.

    A viewer's frames are bounded (:data:`MAX_COMMAND_FRAME`): what one connection can make
    the engine hold is about that plus one read, and only for ``frame_timeout_s``.
    """

    def __init__(
        self,
        path: str | Path,
        inbound: Callable[[object], None],
        *,
        profile: str = "default",
        venue: str = "",
        market_hz: float = 30.0,
        max_backlog: int = 5000,
        frame_timeout_s: float = FRAME_TIMEOUT_S,
        max_viewers: int = MAX_VIEWERS,
    ) -> None:
        self.path = Path(path)
        self._inbound = inbound
        self.profile = profile
        self.venue = venue
        self.market_interval = 1.0 / market_hz
        self.max_backlog = max_backlog
        self.frame_timeout_s = frame_timeout_s
        self.max_viewers = max_viewers
        self._connections = 0
        """Open connections (attached or in their handshake), loop thread only."""
        self.started_ns = time.time_ns()
        # decision thread -> loop
        self._lock = threading.Lock()
        self._quotes: dict[str, QuoteView] = {}
        self._books: dict[str, BookView] = {}
        self._status: StatusView | None = None
        self._out: deque[tuple[int, Msg | VolumeAtPrice | SnapshotDraft]] = deque()
        self._vap_pending = False
        """Volume levels were merged into viewers since the last market flush."""
        # loop-thread state
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._builder: ThreadPoolExecutor | None = None
        """Builds and encodes the viewers' snapshots (one at a time) off the loop."""
        self._viewers: dict[int, Viewer] = {}
        self._conn_ids = itertools.count(1)
        self._batch_seq = 0
        self._flush_handle: asyncio.TimerHandle | None = None
        self._flush_due = 0.0
        """When the current market flush was due (the loop's clock): the next is one interval
        after it, not after the flush ran, so the viewers get ``market_hz`` batches a second
        (``call_later`` from each flush gave 1/(interval + lateness): 28-29 at 30)."""
        self._drain_handle: asyncio.TimerHandle | None = None
        self._idle = False
        """True while the loop does not poll the deque (the next append wakes it)."""
        self._quiet_ticks = 0
        self._stopping = False
        self._stopped = threading.Event()
        self.counters: dict[str, int] = {
            "viewers_attached": 0,
            "viewers_dropped": 0,
            "viewers_refused": 0,
            "protocol_errors": 0,
            "frame_timeouts": 0,
            "market_batches": 0,
            "events": 0,
            "commands": 0,
            "showing": 0,
            "snapshot_errors": 0,
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 5.0) -> None:
        """Bind the socket and start serving on a new thread; return once listening.

        Raises:
            EngineAlreadyRunning: an engine answers on the socket already.
            ServerError: the socket cannot be created.
        """
        sock = bind_socket(self.path)
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._builder = ThreadPoolExecutor(1, thread_name_prefix="viewer-snapshot")
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_unix_server(self._on_connect, sock=sock)
                )
                self._flush_due = grid_slot(loop.time(), self.market_interval)
                self._flush_handle = loop.call_at(self._flush_due, self._flush_market)
                self._drain_handle = loop.call_later(EVENT_INTERVAL_S, self._drain_tick)
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                failure.append(exc)
                ready.set()
                loop.close()
                self._builder.shutdown(wait=False)
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                with contextlib.suppress(Exception):
                    pending = asyncio.all_tasks(loop)
                    for task in pending:
                        task.cancel()
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.close()
                self._builder.shutdown(wait=False, cancel_futures=True)
                self._stopped.set()

        self._thread = threading.Thread(target=main, name="viewer-server", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise ServerError("viewer server did not start in time")
        if failure:
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise ServerError(f"viewer server failed to start: {failure[0]}") from failure[0]
        log.info("viewer server listening on %s", self.path)

    def stop(self, reason: str = "engine stopping", timeout: float = 3.0) -> None:
        """Tell every viewer (``Stopping``), close connections, remove the socket. Idempotent."""
        loop = self._loop
        if loop is None or self._stopping:
            return
        self._stopping = True
        if not loop.is_closed() and loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(reason), loop)
            with contextlib.suppress(Exception):
                fut.result(timeout)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        log.info("viewer server stopped")

    async def _shutdown(self, reason: str) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        if self._drain_handle is not None:
            self._drain_handle.cancel()
        self._drain_out()  # what the decision thread published last (e.g. Stopping)
        if self._server is not None:
            self._server.close()
        frame = encode(Stopping(reason=reason))
        viewers = list(self._viewers.values())
        for v in viewers:
            v.frames.append(frame)
            v.closing = True
            v.wake.set()
        tasks = [v.task for v in viewers if v.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        for v in viewers:
            self._close_viewer(v, "engine stopping", notify=False)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 0.5) if self._server else None

    # ------------------------------------------------------------------ Publisher

    def market(self, quote: QuoteView, book: BookView | None = None) -> None:
        """The latest state of one symbol (replaces any not yet sent). Never blocks."""
        with self._lock:
            self._quotes[quote.key] = quote
            if book is not None:
                self._books[book.key] = book

    def status(self, status: StatusView) -> None:
        """The latest engine status, sent with the next market batch. Never blocks."""
        with self._lock:
            self._status = status

    def volume(self, vap: VolumeAtPrice) -> None:
        """Changed volume-at-price levels of one symbol, sent with the next market batch.

        Never blocks and never wakes the loop (the market timer picks it up): one deque
        append, in order with events and snapshot replies.
        """
        self._out.append((_VOLUME, vap))

    def event(self, msg: Msg) -> None:
        """Broadcast ``msg`` to every live viewer, in order. Never blocks.

        A deque append; while events flow the loop polls the deque every
        ``EVENT_INTERVAL_S``, so only the first event after a quiet spell costs a wake-up
        (one syscall), not every event.
        """
        self._out.append((_BROADCAST, msg))
        if self._idle:
            self._wake()

    def reply(self, conn_id: int, msg: Msg | SnapshotDraft) -> None:
        """Send ``msg`` to viewer ``conn_id`` (gone viewers are ignored). Never blocks; a
        snapshot's draft is built on the loop thread (never for a viewer already gone)."""
        self._out.append((conn_id, msg))
        if self._idle:
            self._wake()

    def _wake(self) -> None:
        self._idle = False
        loop = self._loop
        if loop is None or self._stopping:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
            loop.call_soon_threadsafe(self._drain_tick)

    def _drain_tick(self) -> None:
        """Drain the deque; keep polling every ``EVENT_INTERVAL_S`` while busy, go idle after
        ``IDLE_AFTER_TICKS`` quiet polls (~100 ms)."""
        loop = self._loop
        if loop is None or self._stopping:
            return
        if self._drain_handle is not None:
            self._drain_handle.cancel()
            self._drain_handle = None
        if self._out:
            self._drain_out()
            self._quiet_ticks = 0
        else:
            self._quiet_ticks += 1
            if self._quiet_ticks >= IDLE_AFTER_TICKS:
                self._idle = True
                if not self._out:  # re-check: an append may have seen _idle still False
                    return
                self._idle = False
                self._drain_out()
        self._drain_handle = loop.call_later(EVENT_INTERVAL_S, self._drain_tick)

    # ------------------------------------------------------------------ introspection

    def viewer_count(self) -> int:
        """Viewers attached (past the handshake)."""
        return len(self._viewers)

    def viewers(self) -> list[tuple[int, str, bool]]:
        """``(conn_id, client name, read_only)`` of every attached viewer."""
        return [(v.conn_id, v.client, v.read_only) for v in list(self._viewers.values())]

    # ------------------------------------------------------------------ loop side

    def _drain_out(self) -> None:
        out = self._out
        viewers = self._viewers
        while out:
            target, msg = out.popleft()
            if isinstance(msg, VolumeAtPrice):  # target _VOLUME
                self._merge_volume(msg)
                continue
            v: Viewer | None = None
            if target == _BROADCAST:
                live = [v for v in viewers.values() if v.live]
                if not live:
                    continue  # nobody to send it to: not even encoded
            else:
                v = viewers.get(target)
                if v is None:
                    continue
            if isinstance(msg, SnapshotDraft):  # a reply, built off the loop
                if v is not None:
                    go_live(v, msg.base)
                    self._push(v, self._build(msg))
                continue
            try:  # a reply may be a whole snapshot: its long lists a slice at a time
                frame = encode(msg) if target == _BROADCAST else encode_sliced(msg)
            except Exception:  # noqa: BLE001 - a bad message must not kill the server
                log.exception("cannot encode %s for viewers", type(msg).__name__)
                continue
            if target == _BROADCAST:
                self.counters["events"] += 1
                for v in live:
                    self._push(v, frame)
            elif v is not None:
                if isinstance(msg, Snapshot):
                    go_live(v, msg)
                self._push(v, frame)

    def _build(self, draft: SnapshotDraft) -> asyncio.Future[bytes]:
        """The frame of ``draft``'s snapshot, built and encoded on the worker thread: the loop
        goes on writing the other viewers' frames meanwhile."""
        assert self._loop is not None
        assert self._builder is not None
        fut = self._loop.run_in_executor(self._builder, draft.frame)
        fut.add_done_callback(self._built)
        return fut

    def _built(self, fut: asyncio.Future[bytes]) -> None:
        if fut.cancelled() or fut.exception() is None:
            return
        self.counters["snapshot_errors"] += 1
        log.error("cannot build a viewer's snapshot", exc_info=fut.exception())

    def _merge_volume(self, vap: VolumeAtPrice) -> None:
        merged = False
        for v in self._viewers.values():
            if v.live and not v.closed:
                merge_levels(v.vap.setdefault(vap.key, {}), vap)
                merged = True
        if merged:
            self._vap_pending = True

    def _push(self, v: Viewer, frame: bytes | asyncio.Future[bytes]) -> None:
        if v.closed:
            return
        v.frames.append(frame)
        if len(v.frames) > self.max_backlog:
            self.counters["viewers_dropped"] += 1
            log.warning(
                "viewer %d (%s) fell %d events behind: disconnected (it resyncs on reconnect)",
                v.conn_id,
                v.client,
                len(v.frames),
            )
            self._close_viewer(v, "too slow")
            return
        v.wake.set()

    def _flush_market(self) -> None:
        loop = self._loop
        if loop is None or self._stopping:
            return
        self._flush_due = next_slot(self._flush_due, loop.time(), self.market_interval)
        self._flush_handle = loop.call_at(self._flush_due, self._flush_market)
        if self._out:
            self._drain_out()  # snapshots first: a viewer is live before the batch is merged
        vap, self._vap_pending = self._vap_pending, False
        if not self._quotes and not self._books and self._status is None and not vap:
            return
        with self._lock:
            quotes, self._quotes = self._quotes, {}
            books, self._books = self._books, {}
            status, self._status = self._status, None  # taken and cleared at once
        for v in self._viewers.values():
            if not v.live or v.closed:
                continue
            v.quotes.update(quotes)
            v.books.update(books)
            if status is not None:
                v.status = status
            v.wake.set()

    def _take_batch(self, v: Viewer) -> bytes | None:
        frame = take_batch(v, self._batch_seq + 1)
        if frame is not None:
            self._batch_seq += 1
            self.counters["market_batches"] += 1
        return frame

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._connections >= self.max_viewers:
            self.counters["viewers_refused"] += 1
            log.warning("viewer refused: %d connections already (the most)", self.max_viewers)
            await refuse_extra(reader, writer, self.max_viewers)
            return
        self._connections += 1
        try:
            await self._serve(reader, writer)
        finally:
            self._connections -= 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn_id = next(self._conn_ids)
        framer = BoundedReader(reader, self.frame_timeout_s)
        viewer: Viewer | None = None
        try:
            hello, early, bad = await asyncio.wait_for(read_hello(framer), HELLO_TIMEOUT_S)
            self.counters["protocol_errors"] += bad
            if hello is None:
                return
            if hello.version != PROTOCOL_VERSION:
                self.counters["viewers_refused"] += 1
                writer.write(encode(version_refused(hello.version)))
                await writer.drain()
                return
            viewer = Viewer(conn_id, hello.client, hello.read_only, writer)
            self._viewers[conn_id] = viewer
            self.counters["viewers_attached"] += 1
            writer.write(
                encode(
                    Welcome(
                        version=PROTOCOL_VERSION,
                        engine_pid=os.getpid(),
                        profile=self.profile,
                        venue=self.venue,
                        read_only=hello.read_only,
                        started_ns=self.started_ns,
                        viewers=len(self._viewers),
                    )
                )
            )
            viewer.task = asyncio.ensure_future(
                write_loop(viewer, self._take_batch, self._close_viewer)
            )
            log.info(
                "viewer %d attached (%s%s)",
                conn_id,
                hello.client,
                ", read-only" if hello.read_only else "",
            )
            showing = None if hello.showing is None else frozenset(hello.showing)
            self._inbound(SnapshotRequest(conn_id=conn_id, showing=showing))
            await read_commands(viewer, framer, early, self._inbound, self._push, self.counters)
        except FrameTimeout:
            self.counters["frame_timeouts"] += 1
            log.warning("viewer %d: a frame did not complete in time: closed", conn_id)
        except (TimeoutError, asyncio.IncompleteReadError, OSError, asyncio.CancelledError):
            pass  # the viewer went quiet or away, or the server stops
        finally:
            if viewer is not None:
                self._close_viewer(viewer, "disconnected")
            else:
                with contextlib.suppress(Exception):
                    writer.close()

    def _close_viewer(self, v: Viewer, why: str, notify: bool = True) -> None:
        if v.closed:
            return
        v.closed = True
        for frame in v.frames:
            if isinstance(frame, asyncio.Future):
                frame.cancel()  # a snapshot being built: nobody waits for it any more
        v.frames.clear()
        v.wake.set()
        if self._viewers.pop(v.conn_id, None) is not None and notify:
            self._inbound(ViewerGone(conn_id=v.conn_id))
        transport = v.writer.transport
        if why == "too slow":
            transport.abort()
        else:
            with contextlib.suppress(Exception):
                v.writer.close()
        log.info("viewer %d (%s) detached: %s", v.conn_id, v.client, why)
