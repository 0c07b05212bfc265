"""A loopback aiohttp server on its own thread and event loop, for feed integration tests.

Subclasses add routes and a pump; this base owns the thread, the listening socket on
127.0.0.1 (port 0 the first time, the same port again after :meth:`kill` + :meth:`restart`),
the live WebSocket connections and a thread-safe way to run code on the server's loop.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from aiohttp import web


class Conn:
    """One accepted WebSocket connection."""

    def __init__(self, cid: int, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.cid = cid
        self.ws = ws
        self.request = request
        self.opened = time.monotonic()
        self.received: list[str] = []
        """Text frames received from the client, in order."""


class LoopbackServer:
    """Base class: ``start()``, ``kill()`` (abrupt, like a crash), ``restart()``, ``stop()``."""

    pump_interval = 0.02

    def __init__(self) -> None:
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._next_cid = 0
        self.conns: dict[int, Conn] = {}
        self.all_conns: list[Conn] = []
        """Every connection ever accepted (for assertions on what the server received)."""
        self.handshakes = 0
        """HTTP upgrade attempts (accepted or refused)."""
        self.handshake_times: list[float] = []
        self.silent = False
        """When set, nothing at all is sent (the socket stays open)."""
        self.cond = threading.Condition()

    # -- lifecycle (called from the test thread) -------------------------------------------

    def make_app(self) -> web.Application:
        """The aiohttp application (subclasses add routes)."""
        raise NotImplementedError

    async def pump_once(self) -> None:
        """Send one round of data to the connections (subclasses)."""

    def start(self) -> LoopbackServer:
        """Start the loop thread and listen on a free loopback port."""
        self._thread.start()
        self.call(self._listen())
        return self

    def kill(self) -> None:
        """Abort every connection (no close frame) and stop listening, like a crashed server."""
        self.call(self._kill())

    def restart(self) -> None:
        """Listen again on the same port."""
        self.call(self._listen())

    def stop(self) -> None:
        """Kill and end the loop thread."""
        if not self._thread.is_alive():
            return
        try:
            self.call(self._kill())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 10) -> Any:
        """Run a coroutine on the server loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call_soon(self, fn: Callable[[], Any]) -> Any:
        """Run a plain function on the server loop and wait for its result."""

        async def run() -> Any:
            return fn()

        return self.call(run())

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10) -> bool:
        """Wait (bounded) until ``predicate()`` is true; it is evaluated on the server loop."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.call_soon(predicate):
                return True
            time.sleep(0.01)
        return False

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- on the loop ------------------------------------------------------------------------

    async def _listen(self) -> None:
        self._runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]
        self._pump_task = asyncio.ensure_future(self._pump())

    async def _kill(self) -> None:
        if self._pump_task is not None:
            self._pump_task.cancel()
            self._pump_task = None
        for conn in list(self.conns.values()):
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
        self.conns.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _pump(self) -> None:
        while True:
            await asyncio.sleep(self.pump_interval)
            if self.silent or not self.conns:
                continue
            try:
                await self.pump_once()
            except (ConnectionError, RuntimeError):
                pass

    def note_handshake(self) -> None:
        """Count an upgrade attempt."""
        self.handshakes += 1
        self.handshake_times.append(time.monotonic())

    async def accept(
        self, request: web.Request, conn_cls: type[Conn] = Conn, **ws_kwargs: Any
    ) -> Any:
        """Upgrade the request and register the connection (an instance of ``conn_cls``)."""
        ws = web.WebSocketResponse(**ws_kwargs)
        await ws.prepare(request)
        self._next_cid += 1
        conn = conn_cls(self._next_cid, ws, request)
        self.conns[conn.cid] = conn
        self.all_conns.append(conn)
        return conn

    def drop(self, conn: Conn) -> None:
        """Forget a connection that ended."""
        self.conns.pop(conn.cid, None)

    async def send_all(self, payload: bytes | str) -> None:
        """Send one frame (binary for bytes, text for str) to every connection."""
        for conn in list(self.conns.values()):
            try:
                if isinstance(payload, bytes):
                    await conn.ws.send_bytes(payload)
                else:
                    await conn.ws.send_str(payload)
            except (ConnectionError, RuntimeError):
                self.drop(conn)

    def send(self, payload: bytes | str) -> None:
        """Thread-safe :meth:`send_all` from the test thread."""
        self.call(self.send_all(payload))


class Collector:
    """A thread-safe sink that keeps everything a feed emits."""

    def __init__(self) -> None:
        self.items: list[object] = []
        self._lock = threading.Lock()

    def __call__(self, item: object) -> None:
        with self._lock:
            self.items.append(item)

    def snapshot(self) -> list[object]:
        """A copy of what was collected so far."""
        with self._lock:
            return list(self.items)

    def of(self, cls: type | tuple[type, ...]) -> list[Any]:
        """The collected items of a type."""
        return [i for i in self.snapshot() if isinstance(i, cls)]


class QueueSink:
    """A feed sink that queues items from any thread; the test thread drains them into ``items``."""

    wait_timeout = 10.0
    """Default deadline of :meth:`wait`, in seconds."""
    poll = 0.01

    def __init__(self) -> None:
        self.q: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.items: list[object] = []

    def __call__(self, item: object) -> None:
        self.q.put(item)

    def drain(self) -> list[object]:
        """Move what was queued into ``items`` and return ``items``."""
        while True:
            try:
                self.items.append(self.q.get_nowait())
            except queue.Empty:
                return self.items

    def wait(self, pred: Callable[[], bool], timeout: float | None = None) -> bool:
        """Drain and poll ``pred`` until true or the deadline passes (returns its last value)."""
        deadline = time.monotonic() + (self.wait_timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            self.drain()
            if pred():
                return True
            time.sleep(self.poll)
        self.drain()
        return pred()


def wait_until(pred: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``pred`` until true or the deadline passes (returns its last value)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


def wait_on(
    cond: threading.Condition,
    pred: Callable[[], Any],
    timeout: float,
    what: str = "",
    poll: float | None = None,
) -> Any:
    """Wait on ``cond`` until ``pred()`` (called under its lock) is truthy; return that value.

    Raises AssertionError naming ``what`` after ``timeout`` seconds. ``poll`` caps each wait so
    ``pred`` is also re-checked without a notify.
    """
    deadline = time.monotonic() + timeout
    with cond:
        while True:
            value = pred()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what or pred}")
            cond.wait(left if poll is None else min(left, poll))


def poll_until(
    pred: Callable[[], Any], timeout: float, what: str = "", interval: float = 0.02
) -> Any:
    """Call ``pred`` every ``interval`` s until truthy and return that value.

    Raises AssertionError naming ``what`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or pred}")
        time.sleep(interval)


def place_order(sim: Any, **fields: str) -> httpx.Response:
    """POST one ``placeorder`` to a paper exchange: a market BUY of 1 NSE:SBIN unless told."""
    body = {
        "apikey": sim.api_key,
        "strategy": "t",
        "exchange": "NSE",
        "symbol": "SBIN",
        "action": "BUY",
        "quantity": "1",
        "pricetype": "MARKET",
        "product": "MIS",
        **fields,
    }
    return httpx.post(f"{sim.rest_url}/api/v1/placeorder", json=body, timeout=5)
