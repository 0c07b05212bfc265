"""The paper exchange server: market, matching, REST and WebSocket on one asyncio loop.

:class:`SimServer` runs inside an existing loop; :func:`start_in_thread` runs one in a
background thread for tests and scripts and returns a :class:`SimHandle` with the URLs, the
API key, the control API as methods, and ``stop()``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import heapq
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from cockpit.sim.accounts import AccountStore
from cockpit.sim.exchange import Order, PaperExchange
from cockpit.sim.inputs import (
    MAX_REJECT_COUNT,
    MAX_SILENCE_S,
    bounded_int,
    finite_number,
    load_script,
    sane_price,
)
from cockpit.sim.market import Market, SymbolState
from cockpit.sim.rest import RestApi
from cockpit.sim.universe import Listing, default_listings, parse_instrument_spec
from cockpit.sim.ws import Hub

log = logging.getLogger(__name__)

PRICE_SAVE_S: Final = 1.0
"""How often the last prices of open positions are written to the state file."""
_MAX_BATCH_S: Final = 0.01
"""At most this many seconds' worth of ticks per instrument per loop turn (backlog is dropped)."""
_COALESCE_S: Final = 0.002
"""Instruments due within this many seconds of now step together (fewer loop wakes)."""


@dataclass
class SimConfig:
    """Everything a paper exchange needs to start."""

    host: str = "127.0.0.1"
    rest_port: int = 0
    """0 picks a free port."""
    ws_port: int = 0
    api_key: str | None = None
    """Generated (and printed by the CLI) when None."""
    listings: list[Listing] | None = None
    """The universe; None means :func:`default_listings`."""
    instruments: list[str] = field(default_factory=list)
    """Extra ``EXCH:SYMBOL:PRICE[:TICK]`` specs."""
    rate: float = 10.0
    """Ticks per second per instrument."""
    seed: int | None = None
    script: str | None = None
    """JSON-lines price script; the random walk is paused while one is given."""
    paused: bool = False
    """Start with every random walk paused (prices move only via the control API)."""
    auth_timeout: float = 15.0
    ping_interval: float = 20.0
    order_rate_limit: int = 1000
    """Order endpoint calls per second (OpenAlgo's default is 10)."""
    api_rate_limit: int = 1000
    """Other endpoint calls per second (OpenAlgo: 10 by default, 50 in its sample env)."""
    max_client_buffer: int = 8 * 1024 * 1024
    """Unsent bytes a WebSocket client may fall behind before it is dropped."""
    capital: Decimal = Decimal(10_000_000)
    upstream_port: int | None = None
    """Listen on this loopback port for upstream prices (0: a free port; None: no endpoint).
    See :mod:`cockpit.sim.upstream`."""
    order_updates: bool = True
    """Push ``order_update`` frames; False refuses ``subscribe_orders`` with INVALID_ACTION, as
    OpenAlgo brokers without an order stream do."""
    # -- where the paper exchange used to differ from the real OpenAlgo server ---------------
    # Each default is what the running server does (openalgo.md, last section); True brings
    # back the paper exchange's older, friendlier behaviour.
    retry_after_429: bool = False
    """A 429 says ``{"status":"error",...,"retry_after":1}`` with a Retry-After header. The
    server's own answer is ``{"message":"10 per 1 second"}`` and nothing else."""
    cancel_all_trigger_pending: bool = False
    """``cancelallorder`` cancels ``trigger pending`` orders too. The server's analyze mode
    skips them (answering "No open orders to cancel" when nothing else works)."""
    subscribe_snapshot: bool = False
    """A ``market_data`` frame right after each subscribe. The server sends none: the first
    frame is the next tick."""
    modify_updates: bool = False
    """An ``order_update`` after a modify. The server sends none (accept, fill, cancel and
    reject only)."""
    accept_pending_quantity: bool = False
    """The accept ``order_update`` carries the unfilled quantity as ``pending_quantity``. The
    server sends 0 there."""
    state_dir: str | None = None
    """Keep the account (orders, fills, positions, funds) in this directory and reload it at
    start (:mod:`cockpit.sim.accounts`); None: the account lives in memory only."""
    semi_auto: bool = False
    """OpenAlgo's semi-auto order mode: ``placeorder`` queues the order for approval and
    answers success with no ``orderid``; ``/sim/approve`` places every queued order."""
    semi_auto_live: bool = False
    """With ``semi_auto``: OpenAlgo in live mode (analyze off), where semi-auto also refuses
    ``cancelorder``, ``modifyorder``, ``cancelallorder`` and ``closeposition`` from the API
    with a 403 (:data:`cockpit.sim.rest.SEMI_AUTO_BLOCKED`)."""
    zerodha_order_rows: bool = False
    """``/orderbook`` and ``/orderstatus`` rows as OpenAlgo's live Zerodha mapping sends them:
    no ``filled_quantity``, ``average_price`` or ``pending_quantity`` (a partial fill shows
    only in ``/tradebook``)."""
    numeric_data_mode: bool = False
    """``data.mode`` inside ``market_data`` is the integer mode. The server (Zerodha adapter)
    sends a string: ``"ltp"``, ``"quote"`` or ``"full"``."""


class SimServer:
    """The whole paper exchange on the running event loop."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        cfg = self.config
        if not 0 <= cfg.rate <= 1_000_000:
            raise ValueError(f"rate must be between 0 and 1,000,000 ticks/s, got {cfg.rate}")
        self.api_key = cfg.api_key or secrets.token_hex(32)
        listings = list(cfg.listings if cfg.listings is not None else default_listings())
        listings += [parse_instrument_spec(spec) for spec in cfg.instruments]
        self.market = Market(listings, cfg.seed, cfg.rate)
        self.hub = Hub(
            market_get=self.market.get,
            api_key=self.api_key,
            auth_timeout=cfg.auth_timeout,
            ping_interval=cfg.ping_interval,
            max_buffer=cfg.max_client_buffer,
        )
        self.hub.snapshot_on_subscribe = cfg.subscribe_snapshot
        self.hub.numeric_data_mode = cfg.numeric_data_mode
        self.exchange = PaperExchange(self.market, self._notify, capital=cfg.capital)
        self.exchange.modify_updates = cfg.modify_updates
        self.exchange.accept_pending_quantity = cfg.accept_pending_quantity
        self.exchange.cancel_all_trigger_pending = cfg.cancel_all_trigger_pending
        self.store: AccountStore | None = None
        self.restored: dict[str, int] = {}
        if cfg.state_dir:
            self.store = AccountStore(Path(cfg.state_dir))
            try:
                self.restored = self.store.load(self.exchange)
            except BaseException:
                self.store.close()
                raise
            store, exchange = self.store, self.exchange
            exchange.on_change = lambda order: store.record(exchange, order)
        self.hub.exchange = self.exchange
        self.hub.orders_enabled = cfg.order_updates
        self.upstream: Any = None
        if cfg.upstream_port is not None:
            from cockpit.sim.upstream import UpstreamServer

            self.upstream = UpstreamServer(self, cfg.host, cfg.upstream_port)
        self.rest = RestApi(self)
        self.rest_port = 0
        self.ws_port = 0
        self._runners: list[web.AppRunner] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._rebuild = True
        self.script_events: list[dict[str, Any]] = []
        if cfg.script:
            self.script_events = load_script(Path(cfg.script).read_text())
        if cfg.paused or cfg.script:
            for state in self.market.states.values():
                state.paused = True

    # -- life ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind both ports and start the ticker (and the script, if any)."""
        self._wake = asyncio.Event()
        rest_runner = web.AppRunner(self.rest.app(), access_log=None, shutdown_timeout=1.0)
        await rest_runner.setup()
        rest_site = web.TCPSite(rest_runner, self.config.host, self.config.rest_port)
        await rest_site.start()
        self._runners.append(rest_runner)
        ws_app = web.Application()
        ws_app.router.add_get("/{tail:.*}", self.hub.handle)
        ws_runner = web.AppRunner(ws_app, access_log=None, shutdown_timeout=1.0)
        await ws_runner.setup()
        ws_site = web.TCPSite(ws_runner, self.config.host, self.config.ws_port)
        await ws_site.start()
        self._runners.append(ws_runner)
        self.rest_port = _bound_port(rest_runner)
        self.ws_port = _bound_port(ws_runner)
        if self.upstream is not None:
            await self.upstream.start()
        self._tasks.append(asyncio.create_task(self._ticker(), name="sim-ticker"))
        if self.store is not None:
            self._tasks.append(asyncio.create_task(self._save_prices(), name="sim-prices"))
        if self.script_events:
            self._tasks.append(asyncio.create_task(self._play_script(), name="sim-script"))

    async def stop(self) -> None:
        """Stop ticking, drop every client and release both ports."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.upstream is not None:
            await self.upstream.stop()
        await self.hub.drop_all(code=1001)
        for runner in reversed(self._runners):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(runner.cleanup(), timeout=3.0)
        self._runners.clear()
        if self.store is not None:
            self.store.record_prices(self.exchange)
            self.store.close()

    # -- ticking -------------------------------------------------------------------------------

    async def _save_prices(self) -> None:
        """Once a second, the last price of each open position goes to the state file."""
        assert self.store is not None
        while True:
            await asyncio.sleep(PRICE_SAVE_S)
            self.store.record_prices(self.exchange)

    def _notify(self, order: Order) -> None:
        self.hub.order_update(order)

    def on_tick(self, state: SymbolState) -> None:
        """A new tick of ``state``: queue it to subscribers, then match working orders.

        Subscribers see the tick before any fill it causes, as on a real venue.
        """
        self.hub.publish(state)
        if state.key in self.exchange.working:
            self.exchange.on_tick(state)

    def _rephase(self, states: list[SymbolState] | None = None) -> None:
        now = asyncio.get_running_loop().time()
        rate = self.market.rate
        for state in states or list(self.market.states.values()):
            # Stagger instruments so they do not all tick at the same instant.
            state.t0 = now + state.rng.random() / rate if rate > 0 else now
            state.count = 0
        self._rebuild = True
        self._wake.set()

    async def _ticker(self) -> None:
        """Step every running instrument at the market rate, due ones first.

        A heap holds each instrument's next due time, so a turn touches only the instruments
        that are due (not all of them: with 3,000 symbols that scan was most of the sim's CPU).
        Instruments due within :data:`_COALESCE_S` step in the same turn, bounding the wakes.
        """
        loop = asyncio.get_running_loop()
        self._rephase()
        on_tick = self.on_tick
        heap: list[tuple[float, int, SymbolState]] = []
        push, pop = heapq.heappush, heapq.heappop
        while True:
            rate = self.market.rate
            if self._rebuild:
                self._rebuild = False
                heap = []
                if rate > 0:
                    heap = [
                        (state.t0 + (state.count + 1) / rate, i, state)
                        for i, state in enumerate(self.market.states.values())
                        if not state.paused
                    ]
                    heapq.heapify(heap)
            now = loop.time()
            horizon = now + _COALESCE_S
            if heap and heap[0][0] <= horizon:
                max_batch = max(1, int(rate * _MAX_BATCH_S))
                stamp = time.time_ns()
                while heap and heap[0][0] <= horizon:
                    _, i, state = pop(heap)
                    if state.paused:
                        continue  # back in the heap when resumed (_rephase)
                    n = max(1, int((now - state.t0) * rate) - state.count)
                    if n > max_batch:
                        state.count += n - max_batch
                        n = max_batch
                    for _ in range(n):
                        state.step(stamp)
                        on_tick(state)
                    state.count += n
                    push(heap, (state.t0 + (state.count + 1) / rate, i, state))
                self.hub.flush()
            delay = (heap[0][0] if heap else now + 1.0) - loop.time()
            if delay <= 0:
                await asyncio.sleep(0)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _play_script(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for event in self.script_events:
            delay = start + event["t"] - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                self.set_price(event["exchange"], event["symbol"], event["ltp"])
            except ValueError as exc:
                log.warning("script: %s", exc)
            self.hub.flush()

    # -- control API ---------------------------------------------------------------------------

    def _resolve(self, exchange: str | None, symbol: str) -> SymbolState:
        state = self.market.get(exchange, symbol) if exchange else self.market.find_symbol(symbol)
        if state is None:
            raise ValueError(f"unknown instrument {exchange or '?'}:{symbol}")
        return state

    def set_price(
        self,
        exchange: str | None,
        symbol: str,
        ltp: Any,
        bid: Any = None,
        ask: Any = None,
    ) -> dict[str, Any]:
        """Put ``symbol`` at ``ltp`` now (bid/ask default to one tick either side)."""
        state = self._resolve(exchange, symbol)
        inst = state.inst
        ticks = inst.ticks(sane_price(ltp, "ltp"))
        if ticks <= 0:
            raise ValueError("ltp must be > 0")
        bid_t = inst.ticks(sane_price(bid, "bid")) if bid is not None else None
        ask_t = inst.ticks(sane_price(ask, "ask")) if ask is not None else None
        state.set_price(ticks, time.time_ns(), bid_t, ask_t)
        self.on_tick(state)
        return {"exchange": state.exchange, "symbol": state.symbol, "ltp": state.px(state.ltp)}

    def pause(
        self, exchange: str | None = None, symbol: str | None = None, paused: bool = True
    ) -> dict[str, Any]:
        """Pause (or resume) the random walk of one instrument, or of all."""
        states = [self._resolve(exchange, symbol)] if symbol else list(self.market.states.values())
        for state in states:
            state.paused = paused
        if not paused:
            self._rephase(states)
        return {"paused": paused, "instruments": [s.key for s in states]}

    def reject_next(
        self, exchange: str | None, symbol: str, count: Any = 1, reason: str = ""
    ) -> dict[str, Any]:
        """Reject the next ``count`` orders of ``symbol`` with ``reason``."""
        count = bounded_int(count, 1, MAX_REJECT_COUNT, "count")
        state = self._resolve(exchange, symbol)
        queue = self.exchange.reject_queue.setdefault(state.key, deque())
        for _ in range(count):
            queue.append(reason or "Order rejected by the paper exchange")
        return {"pending_rejections": len(queue)}

    def set_rate(self, rate: float) -> dict[str, Any]:
        """Ticks per second per instrument."""
        rate = float(rate)
        if not 0 <= rate <= 1_000_000:
            raise ValueError("rate must be between 0 and 1,000,000")
        self.market.set_rate(rate)
        self._rephase()
        return {"rate": rate}

    def silence(self, seconds: float) -> dict[str, Any]:
        """No market_data frames for ``seconds`` while sockets stay open."""
        value = finite_number(seconds, "seconds")
        if not 0 <= value <= MAX_SILENCE_S:
            raise ValueError(f"seconds must be between 0 and {MAX_SILENCE_S:g}")
        self.hub.silence(value)
        return {"seconds": value}

    async def drop_ws(self, code: int | None = None) -> dict[str, Any]:
        """Drop every WebSocket connection (abort, or close with ``code``)."""
        return {"dropped": await self.hub.drop_all(code)}

    def stats(self) -> dict[str, Any]:
        """Counters of the feed and the REST API."""
        out: dict[str, Any] = {
            "ws": dict(self.hub.stats, clients=len(self.hub.clients)),
            "rest": dict(self.rest.stats),
            "rate": self.market.rate,
        }
        if self.upstream is not None:
            out["upstream"] = dict(self.upstream.stats)
        return out

    def control_routes(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        """``/sim/<name>`` handlers taking the JSON body."""
        return {
            "price": lambda b: self.set_price(
                b.get("exchange"), b["symbol"], b["ltp"], b.get("bid"), b.get("ask")
            ),
            "pause": lambda b: self.pause(
                b.get("exchange"), b.get("symbol"), bool(b.get("paused", True))
            ),
            "resume": lambda b: self.pause(b.get("exchange"), b.get("symbol"), False),
            "reject_next": lambda b: self.reject_next(
                b.get("exchange"), b["symbol"], b.get("count", 1), str(b.get("reason", ""))
            ),
            "drop_ws": lambda b: self.drop_ws(b.get("code")),
            "silence": lambda b: self.silence(b["seconds"]),
            "rate": lambda b: self.set_rate(b["rate"]),
            "stats": lambda b: self.stats(),
        }


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("server did not bind a TCP port")


class SimHandle:
    """A paper exchange running in a background thread."""

    def __init__(
        self, server: SimServer, loop: asyncio.AbstractEventLoop, thread: threading.Thread
    ):
        self.server = server
        self.loop = loop
        self.thread = thread
        self.api_key = server.api_key
        self.rest_port = server.rest_port
        self.ws_port = server.ws_port
        self.rest_url = f"http://127.0.0.1:{server.rest_port}"
        self.ws_url = f"ws://127.0.0.1:{server.ws_port}"
        self.upstream_port: int | None = server.upstream.port if server.upstream else None
        self._stop: asyncio.Event | None = None

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 5.0, **kwargs: Any) -> Any:
        """Run ``fn`` on the server's loop and return its result (awaiting coroutines)."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                future.set_exception(exc)
                return
            if asyncio.iscoroutine(result):
                task = asyncio.ensure_future(result)

                def done(t: asyncio.Future[Any]) -> None:
                    exc = t.exception()
                    if exc is not None:
                        future.set_exception(exc)
                    else:
                        future.set_result(t.result())

                task.add_done_callback(done)
            else:
                future.set_result(result)
            self.server.hub.flush()

        self.loop.call_soon_threadsafe(run)
        return future.result(timeout)

    # -- control -------------------------------------------------------------------------------

    def set_price(
        self, exchange: str, symbol: str, ltp: Any, bid: Any = None, ask: Any = None
    ) -> dict[str, Any]:
        """Put the instrument at ``ltp`` now (see :meth:`SimServer.set_price`)."""
        return self.call(self.server.set_price, exchange, symbol, ltp, bid, ask)

    def pause(self, exchange: str | None = None, symbol: str | None = None) -> dict[str, Any]:
        """Pause the random walk of one instrument (or all)."""
        return self.call(self.server.pause, exchange, symbol, True)

    def resume(self, exchange: str | None = None, symbol: str | None = None) -> dict[str, Any]:
        """Resume the random walk of one instrument (or all)."""
        return self.call(self.server.pause, exchange, symbol, False)

    def reject_next(
        self, exchange: str, symbol: str, count: int = 1, reason: str = ""
    ) -> dict[str, Any]:
        """Reject the next ``count`` orders of the instrument."""
        return self.call(self.server.reject_next, exchange, symbol, count, reason)

    def drop_ws(self, code: int | None = None) -> int:
        """Drop every WebSocket connection; returns how many."""
        return int(self.call(self.server.drop_ws, code)["dropped"])

    def silence(self, seconds: float) -> None:
        """No market data for ``seconds`` while the sockets stay open."""
        self.call(self.server.silence, seconds)

    def set_rate(self, rate: float) -> None:
        """Ticks per second per instrument."""
        self.call(self.server.set_rate, rate)

    def stats(self) -> dict[str, Any]:
        """Server counters."""
        return self.call(self.server.stats)

    def instruments(self) -> list[str]:
        """Every listed ``EXCH:SYMBOL``."""
        return list(self.server.market.states)

    def wait_subscribed(self, keys: list[str], timeout: float = 5.0) -> None:
        """Wait until some WebSocket client is subscribed to every one of ``keys``.

        The server sends no snapshot on subscribe, so a price set before the subscription
        is processed reaches nobody: tests that move the market right after a client
        connects wait here first.
        """
        deadline = time.monotonic() + timeout
        index = self.server.hub.index
        while not self.call(lambda: all(key in index for key in keys)):
            if time.monotonic() > deadline:
                missing = self.call(lambda: [key for key in keys if key not in index])
                raise TimeoutError(f"no subscriber for {', '.join(missing)} after {timeout}s")
            time.sleep(0.01)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server and join its thread (bounded by ``timeout``)."""
        if self._stop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout)

    def __enter__(self) -> SimHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(config: SimConfig | None = None, timeout: float = 10.0) -> SimHandle:
    """Start a paper exchange in a daemon thread; returns once both ports listen."""
    ready: concurrent.futures.Future[SimHandle] = concurrent.futures.Future()

    def main() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def body() -> None:
            server = SimServer(config)
            stop = asyncio.Event()
            try:
                await server.start()
            except BaseException as exc:
                ready.set_exception(exc)
                await server.stop()
                return
            handle = SimHandle(server, loop, threading.current_thread())
            handle._stop = stop
            ready.set_result(handle)
            await stop.wait()
            await server.stop()

        try:
            loop.run_until_complete(body())
        except BaseException as exc:  # construction errors end up here
            if not ready.done():
                ready.set_exception(exc)
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=main, name="cockpit-sim", daemon=True)
    thread.start()
    return ready.result(timeout)
