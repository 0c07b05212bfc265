"""The OpenAlgo WebSocket feed of the paper exchange (openalgo.md §1 and §3).

One :class:`Hub` serves every client on the event loop. Each tick is encoded once per
(mode, depth) that some client wants and the same bytes, already framed as a WebSocket
text frame, are appended to every subscriber's buffer; buffers are written with one
``transport.write`` per client per batch. A client whose unsent backlog passes
``max_buffer`` bytes is told (an error frame) and dropped, so memory stays bounded and a
slow client never holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
import time
from typing import TYPE_CHECKING, Any, Final

import msgspec
from aiohttp import WSMsgType, web

from cockpit.sim.frames import MODE_LABELS, encode_market, normalize_mode, ws_frame
from cockpit.sim.market import SymbolState

if TYPE_CHECKING:
    from cockpit.sim.exchange import Order, PaperExchange

log = logging.getLogger(__name__)

_ENCODER: Final = msgspec.json.Encoder(decimal_format="number")
_DECODER: Final = msgspec.json.Decoder()


def _close_frame(code: int, reason: str) -> bytes:
    body = struct.pack("!H", code) + reason.encode()[:120]
    return bytes((0x88, len(body))) + body


def _abort_if_open(transport: asyncio.Transport) -> None:
    """Abort a transport still draining after a close; nothing if it is already gone.

    By then the peer may have gone and the transport been torn down (its loop reference
    cleared), so a plain ``abort`` could raise from inside the event loop.
    """
    if transport.get_extra_info("socket") is None:
        return
    try:
        transport.abort()
    except (AttributeError, RuntimeError, OSError):
        pass


class WsClient:
    """One connected WebSocket client and its subscriptions."""

    __slots__ = (
        "id",
        "ws",
        "transport",
        "authed",
        "subs",
        "orders",
        "buf",
        "buffered",
        "closed",
        "frames",
    )

    def __init__(self, cid: int, ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        self.id = cid
        self.ws = ws
        self.transport = transport
        self.authed = False
        self.subs: dict[str, dict[int, int]] = {}
        """Instrument key -> {mode: depth levels}."""
        self.orders = False
        self.buf: list[bytes] = []
        self.buffered = False
        self.closed = False
        self.frames = 0


class Hub:
    """Every WebSocket client, their subscriptions, and the fan-out of ticks and orders."""

    def __init__(
        self,
        *,
        market_get: Any,
        api_key: str,
        broker: str = "paper",
        user_id: str = "paper",
        auth_timeout: float = 15.0,
        ping_interval: float = 20.0,
        max_buffer: int = 8 * 1024 * 1024,
    ) -> None:
        self.market_get = market_get
        self.api_key = api_key
        self.broker = broker
        self.user_id = user_id
        self.auth_timeout = auth_timeout
        self.ping_interval = ping_interval
        self.max_buffer = max_buffer
        self.clients: set[WsClient] = set()
        self.index: dict[str, dict[WsClient, tuple[int, int]]] = {}
        self.order_clients: set[WsClient] = set()
        self.orders_enabled = True
        self.snapshot_on_subscribe = False
        """Queue a ``market_data`` frame right after a subscribe (the real server does not)."""
        self.numeric_data_mode = False
        """``data.mode`` as the integer mode (the real server: ``"ltp"|"quote"|"full"``)."""
        """False: ``subscribe_orders`` is refused with INVALID_ACTION (no order stream)."""
        self.dirty: list[WsClient] = []
        self.silent_until = 0.0
        self.exchange: PaperExchange | None = None
        self._next_id = 0
        self._flush_scheduled = False
        self._tasks: set[asyncio.Future[None]] = set()
        self.stats = {
            "connections": 0,
            "frames_sent": 0,
            "bad_messages": 0,
            "auth_failures": 0,
            "slow_drops": 0,
            "auth_timeouts": 0,
        }

    # -- output --------------------------------------------------------------------------------

    def _queue(self, client: WsClient, frame: bytes) -> None:
        if client.closed:
            return
        client.buf.append(frame)
        if not client.buffered:
            client.buffered = True
            self.dirty.append(client)

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def send(self, client: WsClient, obj: Any) -> None:
        """Queue one JSON message for ``client`` (written on the next flush, in order)."""
        self._queue(client, ws_frame(_ENCODER.encode(obj)))
        self._schedule_flush()

    def flush(self) -> None:
        """Write every client's buffered frames; drop clients whose backlog is too big."""
        self._flush_scheduled = False
        dirty, self.dirty = self.dirty, []
        sent = 0
        for client in dirty:
            client.buffered = False
            buf = client.buf
            if not buf or client.closed:
                buf.clear()
                continue
            transport = client.transport
            if transport.is_closing():
                buf.clear()
                continue
            if transport.get_write_buffer_size() > self.max_buffer:
                buf.clear()
                self._drop_slow(client)
                continue
            transport.write(buf[0] if len(buf) == 1 else b"".join(buf))
            sent += len(buf)
            client.frames += len(buf)
            buf.clear()
        self.stats["frames_sent"] += sent

    def _drop_slow(self, client: WsClient) -> None:
        self.stats["slow_drops"] += 1
        log.warning("ws client %d cannot keep up; disconnecting", client.id)
        message = {
            "status": "error",
            "code": "SLOW_CLIENT",
            "message": f"Client is not reading fast enough (over {self.max_buffer} bytes "
            "unsent); disconnecting",
        }
        transport = client.transport
        self._forget(client)
        transport.write(ws_frame(_ENCODER.encode(message)) + _close_frame(1013, "slow client"))
        transport.close()
        asyncio.get_running_loop().call_later(5.0, _abort_if_open, transport)

    def error(self, client: WsClient, code: str, message: str) -> None:
        """Send the flat error frame (no ``type``); the connection stays open."""
        self.send(client, {"status": "error", "code": code, "message": message})

    # -- fan-out -------------------------------------------------------------------------------

    def publish(self, s: SymbolState) -> None:
        """Queue the tick of ``s`` to its subscribers: one encoding per (mode, depth)."""
        subs = self.index.get(s.key)
        if not subs or (self.silent_until and self._silent()):
            return
        frames: dict[tuple[int, int], bytes] = {}
        broker = self.broker
        for client, want in subs.items():
            frame = frames.get(want)
            if frame is None:
                frame = frames[want] = ws_frame(
                    encode_market(s, want[0], want[1], broker, self.numeric_data_mode)
                )
            if not client.closed:
                client.buf.append(frame)
                if not client.buffered:
                    client.buffered = True
                    self.dirty.append(client)

    def _silent(self) -> bool:
        if time.monotonic() < self.silent_until:
            return True
        self.silent_until = 0.0
        return False

    def order_update(self, order: Order) -> None:
        """Push an ``order_update`` to every ``subscribe_orders`` client."""
        if not self.order_clients or self.exchange is None:
            return
        frame = ws_frame(_ENCODER.encode(self.exchange.order_update(order)))
        for client in self.order_clients:
            self._queue(client, frame)
        self._schedule_flush()

    def silence(self, seconds: float) -> None:
        """No market_data frames for ``seconds`` (acks, pongs and order updates continue)."""
        self.silent_until = time.monotonic() + max(0.0, seconds)

    async def drop_all(self, code: int | None = None) -> int:
        """Drop every connection: abort (as a network failure) or close with ``code``."""
        clients = list(self.clients)
        for client in clients:
            self._forget(client)
            if code is None:
                client.transport.abort()
            else:
                client.transport.write(_close_frame(code, "server closing"))
                client.transport.close()
        return len(clients)

    # -- subscriptions -------------------------------------------------------------------------

    def _reindex(self, client: WsClient, key: str) -> None:
        modes = client.subs.get(key)
        if not modes:
            client.subs.pop(key, None)
            subs = self.index.get(key)
            if subs is not None:
                subs.pop(client, None)
                if not subs:
                    del self.index[key]
            return
        top = max(modes)
        self.index.setdefault(key, {})[client] = (top, modes[3] if top == 3 else 0)

    def _forget(self, client: WsClient) -> None:
        if client.closed:
            return
        client.closed = True
        client.buf.clear()
        self.clients.discard(client)
        self.order_clients.discard(client)
        for key in list(client.subs):
            client.subs[key] = {}
            self._reindex(client, key)

    # -- connection ----------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler: one WebSocket connection (the path is ignored, as OpenAlgo's)."""
        ws = web.WebSocketResponse(
            compress=False,
            heartbeat=self.ping_interval or None,
            autoping=True,
            max_msg_size=1 << 20,
        )
        await ws.prepare(request)
        transport = request.transport
        if transport is None:
            return ws
        self._next_id += 1
        client = WsClient(self._next_id, ws, transport)
        self.clients.add(client)
        self.stats["connections"] += 1
        timer = asyncio.get_running_loop().call_later(
            self.auth_timeout, self._start_deadline, client
        )
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    try:
                        self.on_message(client, msg.data)
                    except Exception as exc:  # never let one client's frame kill the loop
                        log.exception("ws client %d: error handling a message", client.id)
                        self.stats["bad_messages"] += 1
                        self.error(client, "SERVER_ERROR", str(exc))
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            timer.cancel()
            self._forget(client)
        return ws

    def _start_deadline(self, client: WsClient) -> None:
        task = asyncio.ensure_future(self._auth_deadline(client))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _auth_deadline(self, client: WsClient) -> None:
        if client.authed or client.closed:
            return
        self.stats["auth_timeouts"] += 1
        self.flush()
        self._forget(client)
        await client.ws.close(code=4401, message=b"auth timeout")

    # -- client messages -----------------------------------------------------------------------

    def on_message(self, client: WsClient, raw: str | bytes) -> None:
        """Dispatch one client frame (``action``, or ``type`` if there is no action)."""
        try:
            data = _DECODER.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError):
            self.stats["bad_messages"] += 1
            self.error(client, "INVALID_JSON", "Invalid JSON message")
            return
        if not isinstance(data, dict):
            self.stats["bad_messages"] += 1
            self.error(client, "INVALID_JSON", "Invalid JSON message: expected an object")
            return
        action = data.get("action") or data.get("type")
        if action in ("authenticate", "auth"):
            self._authenticate(client, data)
        elif action == "ping":
            self._ping(client, data)
        elif action in (
            "subscribe",
            "unsubscribe",
            "unsubscribe_all",
            "subscribe_orders",
            "unsubscribe_orders",
            "get_broker_info",
            "get_supported_brokers",
        ):
            if not client.authed:
                self.error(client, "NOT_AUTHENTICATED", "You must authenticate first")
                return
            if action == "subscribe":
                self._subscribe(client, data)
            elif action in ("unsubscribe", "unsubscribe_all"):
                self._unsubscribe(client, data, action == "unsubscribe_all")
            elif action in ("subscribe_orders", "unsubscribe_orders"):
                self._orders(client, data, action)
            elif action == "get_broker_info":
                self.send(
                    client,
                    {
                        "type": "broker_info",
                        "status": "success",
                        "broker": self.broker,
                        "adapter_status": "connected",
                        "user_id": self.user_id,
                    },
                )
            else:
                self.send(
                    client,
                    {
                        "type": "supported_brokers",
                        "status": "success",
                        "brokers": [self.broker],
                        "count": 1,
                    },
                )
        else:
            self.stats["bad_messages"] += 1
            self.error(client, "INVALID_ACTION", f"Invalid action: {action}")

    def _authenticate(self, client: WsClient, data: dict[str, Any]) -> None:
        key = data.get("api_key") or data.get("apikey")
        if not key:
            self.stats["auth_failures"] += 1
            self.error(client, "AUTHENTICATION_ERROR", "API key is required")
            return
        if not isinstance(key, str) or not secrets.compare_digest(
            key.encode(), self.api_key.encode()
        ):
            self.stats["auth_failures"] += 1
            self.error(client, "AUTHENTICATION_ERROR", "Invalid API key")
            return
        client.authed = True
        self.send(
            client,
            {
                "type": "auth",
                "status": "success",
                "message": "Authentication successful",
                "broker": self.broker,
                "user_id": self.user_id,
                "supported_features": {"ltp": True, "quote": True, "depth": True},
            },
        )

    def _ping(self, client: WsClient, data: dict[str, Any]) -> None:
        reply: dict[str, Any] = {
            "type": "pong",
            "status": "success",
            "server_timestamp": time.time_ns() // 1_000_000,
        }
        if data.get("timestamp") is not None:
            reply["client_timestamp"] = data["timestamp"]
        if data.get("_pingId") is not None:
            reply["_pingId"] = data["_pingId"]
        self.send(client, reply)

    def _subscribe(self, client: WsClient, data: dict[str, Any]) -> None:
        symbols = data.get("symbols") or []
        try:
            mode = normalize_mode(data.get("mode", "Quote"))
        except ValueError as exc:
            self.stats["bad_messages"] += 1
            self.error(client, "INVALID_MODE", str(exc))
            return
        if not symbols and data.get("symbol") and data.get("exchange"):
            symbols = [{"symbol": data.get("symbol"), "exchange": data.get("exchange")}]
        if not symbols or not isinstance(symbols, list):
            self.stats["bad_messages"] += 1
            self.error(client, "INVALID_PARAMETERS", "At least one symbol must be specified")
            return
        depth_req = data.get("depth", 5)
        depth = 20 if isinstance(depth_req, int) and depth_req > 5 else 5
        results: list[dict[str, Any]] = []
        ok = True
        fresh: list[SymbolState] = []
        for entry in symbols:
            if not isinstance(entry, dict):
                continue
            symbol, exchange = entry.get("symbol"), entry.get("exchange")
            if not symbol or not exchange:
                continue
            state = (
                self.market_get(exchange, symbol)
                if isinstance(symbol, str) and isinstance(exchange, str)
                else None
            )
            if state is None:
                ok = False
                results.append(
                    {
                        "symbol": symbol,
                        "exchange": exchange,
                        "status": "error",
                        "message": "Symbol not found",
                        "broker": self.broker,
                    }
                )
                continue
            client.subs.setdefault(state.key, {})[mode] = depth if mode == 3 else 0
            self._reindex(client, state.key)
            fresh.append(state)
            results.append(
                {
                    "symbol": symbol,
                    "exchange": exchange,
                    "status": "success",
                    "mode": MODE_LABELS[mode],
                    "depth": depth,
                    "broker": self.broker,
                }
            )
        reply: dict[str, Any] = {
            "type": "subscribe",
            "status": "success" if ok else "partial",
            "subscriptions": results,
            "message": "Subscription processing complete",
            "broker": self.broker,
        }
        if data.get("request_id") is not None:
            reply["request_id"] = data["request_id"]
        self.send(client, reply)
        # The server sends nothing until the next tick; the old snapshot is a switch.
        if not self.snapshot_on_subscribe or (self.silent_until and self._silent()):
            return
        for state in fresh:
            top, levels = self.index[state.key][client]
            frame = encode_market(state, top, levels, self.broker, self.numeric_data_mode)
            self._queue(client, ws_frame(frame))

    def _unsubscribe(self, client: WsClient, data: dict[str, Any], everything: bool) -> None:
        symbols = data.get("symbols") or []
        ok_list: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        if not symbols and not everything and data.get("symbol") and data.get("exchange"):
            try:
                mode = normalize_mode(data.get("mode", 2))
            except ValueError as exc:
                self.stats["bad_messages"] += 1
                self.error(client, "INVALID_MODE", str(exc))
                return
            symbols = [{"symbol": data["symbol"], "exchange": data["exchange"], "mode": mode}]
        if not symbols and not everything:
            self.stats["bad_messages"] += 1
            self.error(
                client, "INVALID_PARAMETERS", "Either symbols or unsubscribe_all is required"
            )
            return
        if everything:
            for key, modes in list(client.subs.items()):
                exchange, _, symbol = key.partition(":")
                for _mode in modes:
                    ok_list.append(
                        {
                            "symbol": symbol,
                            "exchange": exchange,
                            "status": "success",
                            "broker": self.broker,
                        }
                    )
                client.subs[key] = {}
                self._reindex(client, key)
        elif isinstance(symbols, list):
            for entry in symbols:
                if not isinstance(entry, dict):
                    continue
                sym, exch = entry.get("symbol"), entry.get("exchange")
                try:
                    mode = normalize_mode(entry.get("mode", 2))
                except ValueError as exc:
                    failed.append(
                        {
                            "symbol": sym,
                            "exchange": exch,
                            "status": "error",
                            "message": str(exc),
                            "broker": self.broker,
                        }
                    )
                    continue
                if not sym or not exch:
                    continue
                key = f"{exch}:{sym}"
                held = client.subs.get(key)
                if held:
                    held.pop(mode, None)
                    self._reindex(client, key)
                ok_list.append(
                    {
                        "symbol": sym,
                        "exchange": exch,
                        "status": "success",
                        "broker": self.broker,
                    }
                )
        status = "success"
        if failed:
            status = "partial" if ok_list else "error"
        reply: dict[str, Any] = {
            "type": "unsubscribe",
            "status": status,
            "message": "Unsubscription processing complete",
            "successful": ok_list,
            "failed": failed,
            "broker": self.broker,
        }
        if data.get("request_id") is not None:
            reply["request_id"] = data["request_id"]
        self.send(client, reply)

    def _orders(self, client: WsClient, data: dict[str, Any], action: str) -> None:
        if not self.orders_enabled:
            self.error(client, "INVALID_ACTION", f"Invalid action: {action}")
            return
        if action == "subscribe_orders":
            self.order_clients.add(client)
            client.orders = True
            message = "Subscribed to order updates"
        else:
            self.order_clients.discard(client)
            client.orders = False
            message = "Unsubscribed from order updates"
        reply: dict[str, Any] = {"type": action, "status": "success", "message": message}
        if data.get("request_id") is not None:
            reply["request_id"] = data["request_id"]
        self.send(client, reply)
