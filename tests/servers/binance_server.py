"""A loopback Binance spot stream + REST depth endpoint with a true order book per symbol.

``ws://127.0.0.1:PORT/stream?streams=a/b`` (combined, wrapped events) accepts live
``SUBSCRIBE``/``UNSUBSCRIBE``/``LIST_SUBSCRIPTIONS`` with ``{"result":..,"id":..}`` replies,
sends ``trade``, ``bookTicker`` and diff ``depth`` events generated from a seeded random book,
pings every ``ping_s`` (closing a connection whose pong does not echo the payload in time),
and can send ``serverShutdown``. ``GET /api/v3/depth?symbol=..&limit=..`` serves the true book
at its current update id. Depth events can be withheld (``drop_depth``) while still applied to
the true book, to force a client resync.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from tests.servers.base import Conn, LoopbackServer

TICK = Decimal("0.01")


def fmt(ticks: int) -> str:
    """A price in Binance's 8-decimal string form."""
    return f"{Decimal(ticks) * TICK:.8f}"


class SymbolBook:
    """The server's true book for one symbol, in integer ticks."""

    def __init__(self, symbol: str, rng: random.Random, levels: int = 12) -> None:
        self.symbol = symbol
        self.rng = rng
        self.levels = levels
        self.mid = 2_000_000  # 20000.00
        self.bids: dict[int, Decimal] = {}
        self.asks: dict[int, Decimal] = {}
        self.update_id = 1000
        self.trade_id = 0
        for i in range(1, levels + 1):
            self.bids[self.mid - i] = self._qty()
            self.asks[self.mid + i] = self._qty()

    def _qty(self) -> Decimal:
        return Decimal(self.rng.randint(1, 500_000)).scaleb(-5)

    def step(self) -> dict[str, Any]:
        """Change a few levels; return the diff-depth event (ids advance by 1..3)."""
        rng = self.rng
        changes: dict[str, dict[int, Decimal]] = {"b": {}, "a": {}}
        for _ in range(rng.randint(1, 4)):
            side = rng.choice("ba")
            book = self.bids if side == "b" else self.asks
            off = rng.randint(1, self.levels + 2)
            price = self.mid - off if side == "b" else self.mid + off
            qty = Decimal(0) if (price in book and rng.random() < 0.3) else self._qty()
            if qty == 0:
                del book[price]
            else:
                book[price] = qty
            changes[side][price] = qty
        first = self.update_id + 1
        self.update_id += rng.randint(1, 3)
        return {
            "e": "depthUpdate",
            "E": int(time.time() * 1000),
            "s": self.symbol,
            "U": first,
            "u": self.update_id,
            "b": [[fmt(p), f"{q:.8f}"] for p, q in changes["b"].items()],
            "a": [[fmt(p), f"{q:.8f}"] for p, q in changes["a"].items()],
        }

    def trade(self) -> dict[str, Any]:
        """A trade at the best bid or ask."""
        self.trade_id += 1
        buyer_maker = self.rng.random() < 0.5
        price = max(self.bids) if buyer_maker and self.bids else min(self.asks or [self.mid + 1])
        now = int(time.time() * 1000)
        return {
            "e": "trade",
            "E": now,
            "s": self.symbol,
            "t": self.trade_id,
            "p": fmt(price),
            "q": f"{self._qty():.8f}",
            "T": now,
            "m": buyer_maker,
            "M": True,
        }

    def book_ticker(self) -> dict[str, Any] | None:
        """The top of the book (None if a side is empty)."""
        if not self.bids or not self.asks:
            return None
        b, a = max(self.bids), min(self.asks)
        return {
            "u": self.update_id,
            "s": self.symbol,
            "b": fmt(b),
            "B": f"{self.bids[b]:.8f}",
            "a": fmt(a),
            "A": f"{self.asks[a]:.8f}",
        }

    def snapshot(self, limit: int) -> dict[str, Any]:
        """The REST depth answer."""
        bids = sorted(self.bids, reverse=True)[:limit]
        asks = sorted(self.asks)[:limit]
        return {
            "lastUpdateId": self.update_id,
            "bids": [[fmt(p), f"{self.bids[p]:.8f}"] for p in bids],
            "asks": [[fmt(p), f"{self.asks[p]:.8f}"] for p in asks],
        }

    def as_decimal(self) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """The book keyed by Decimal price, for comparisons."""
        return (
            {Decimal(fmt(p)): q for p, q in self.bids.items()},
            {Decimal(fmt(p)): q for p, q in self.asks.items()},
        )


class BinanceConn(Conn):
    """A stream connection and its stream names."""

    def __init__(self, cid: int, ws: web.WebSocketResponse, request: web.Request) -> None:
        super().__init__(cid, ws, request)
        self.streams: set[str] = set()
        self.pings: dict[bytes, float] = {}
        """Pings not answered yet: payload -> when sent."""
        self.pings_sent: list[bytes] = []
        self.pongs: list[bytes] = []
        self.next_ping = self.opened


class BinanceServer(LoopbackServer):
    """The loopback Binance spot server (WS streams + REST depth)."""

    def __init__(
        self,
        symbols: tuple[str, ...] = ("BTCUSDT",),
        seed: int = 7,
        ping_s: float | None = None,
        pong_timeout_s: float = 2.0,
    ) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.books = {s: SymbolBook(s, self.rng) for s in symbols}
        self.ping_s = ping_s
        self.pong_timeout_s = pong_timeout_s
        self.streaming = True
        """When false nothing is generated (the books stand still); pings continue."""
        self.drop_depth = 0
        """Withhold this many upcoming depth events (still applied to the true book)."""
        self.dropped_ids: list[tuple[int, int]] = []
        self.refuse_status: int | None = None
        self.snapshot_requests: list[str] = []
        self.fail_snapshots = 0
        """Answer this many upcoming snapshot requests with HTTP 429."""
        self.acks = 0
        self.pong_timeouts = 0

    @property
    def url(self) -> str:
        """The WebSocket base URL (the client adds ``/stream?streams=...``)."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def rest_url(self) -> str:
        """The REST base URL."""
        return f"http://127.0.0.1:{self.port}"

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/stream", self._stream)
        app.router.add_get("/api/v3/depth", self._depth)
        app.router.add_get("/api/v3/exchangeInfo", self._exchange_info)
        return app

    async def _exchange_info(self, request: web.Request) -> web.Response:
        """``GET /api/v3/exchangeInfo[?symbol=X]``: one symbol, or (no ``symbol``) every one the
        server has, with a HALTED listing among them as the real list has; PRICE_FILTER
        tickSize, LOT_SIZE stepSize."""
        symbol = request.query.get("symbol")
        if symbol is not None and symbol not in self.books:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        listed = [symbol] if symbol is not None else sorted(self.books)
        entries = [_symbol_info(s, "TRADING") for s in listed]
        if symbol is None:
            entries.append(_symbol_info("LUNAUSDT", "HALTED"))
        return web.json_response(
            {"timezone": "UTC", "serverTime": int(time.time() * 1000), "symbols": entries}
        )

    def set_mid(self, symbol: str, mid: int, qty: Decimal = Decimal(10)) -> None:
        """Move ``symbol``'s book to ``mid`` ticks (bids mid-1.., asks mid+1.., ``qty`` each)
        and send the depth diff, a trade at ``mid`` and the book ticker at once. Use with
        ``streaming = False`` to hold the price there."""

        async def run() -> None:
            book = self.books[symbol]
            old_b, old_a = dict(book.bids), dict(book.asks)
            book.mid = mid
            book.bids = {mid - i: qty for i in range(1, book.levels + 1)}
            book.asks = {mid + i: qty for i in range(1, book.levels + 1)}
            first = book.update_id + 1
            book.update_id += 1
            diff = {
                "e": "depthUpdate",
                "E": int(time.time() * 1000),
                "s": symbol,
                "U": first,
                "u": book.update_id,
                "b": [[fmt(p), "0.00000000"] for p in old_b if p not in book.bids]
                + [[fmt(p), f"{q:.8f}"] for p, q in book.bids.items()],
                "a": [[fmt(p), "0.00000000"] for p in old_a if p not in book.asks]
                + [[fmt(p), f"{q:.8f}"] for p, q in book.asks.items()],
            }
            book.trade_id += 1
            now = int(time.time() * 1000)
            trade = {
                "e": "trade",
                "E": now,
                "s": symbol,
                "t": book.trade_id,
                "p": fmt(mid),
                "q": "0.00100000",
                "T": now,
                "m": False,
                "M": True,
            }
            low = symbol.lower()
            for conn in [c for c in self.conns.values() if isinstance(c, BinanceConn)]:
                await self._send(conn, f"{low}@depth@100ms", diff)
                await self._send(conn, f"{low}@depth", diff)
                await self._send(conn, f"{low}@trade", trade)
                ticker = book.book_ticker()
                if ticker is not None:
                    await self._send(conn, f"{low}@bookTicker", ticker)

        self.call(run())

    def received(self) -> list[tuple[int, dict[str, Any]]]:
        """(connection id, parsed message) of every text frame received."""

        def collect() -> list[tuple[int, dict[str, Any]]]:
            return [(c.cid, json.loads(t)) for c in self.all_conns for t in c.received]

        return self.call_soon(collect)

    def url_streams(self) -> list[list[str]]:
        """The ``streams`` query of each accepted connection, in order."""
        return [
            [s for s in c.request.query.get("streams", "").split("/") if s] for c in self.all_conns
        ]

    def live_streams(self) -> list[set[str]]:
        """The stream set of each live connection."""
        return self.call_soon(
            lambda: [set(c.streams) for c in self.conns.values() if isinstance(c, BinanceConn)]
        )

    def true_book(self, symbol: str) -> tuple[int, dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """(update id, bids, asks) of the server's book, read on the loop."""
        book = self.books[symbol]
        return self.call_soon(lambda: (book.update_id, *book.as_decimal()))

    def shutdown_notice(self, close_after: float = 0.05) -> None:
        """Send ``serverShutdown`` on every connection, then close them."""

        async def run() -> None:
            msg = json.dumps(
                {
                    "stream": "!serverShutdown",
                    "data": {"e": "serverShutdown", "E": int(time.time() * 1000)},
                }
            )
            notified = list(self.conns.values())
            await self.send_all(msg)
            await asyncio.sleep(close_after)
            for conn in notified:  # not the connections made since
                await conn.ws.close(code=1001, message=b"server shutdown")

        self.call(run())

    async def _depth(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        self.snapshot_requests.append(symbol)
        if self.fail_snapshots > 0:
            self.fail_snapshots -= 1
            return web.json_response({"code": -1003, "msg": "Too many requests."}, status=429)
        book = self.books.get(symbol)
        if book is None:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        limit = int(request.query.get("limit", "100"))
        return web.json_response(book.snapshot(limit))

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        self.note_handshake()
        if self.refuse_status is not None:
            return web.Response(status=self.refuse_status, text="refused")
        conn: BinanceConn = await self.accept(request, BinanceConn, autoping=False)
        conn.streams.update(s for s in request.query.get("streams", "").split("/") if s)
        try:
            async for msg in conn.ws:
                if msg.type == WSMsgType.TEXT:
                    conn.received.append(msg.data)
                    await self._control(conn, msg.data)
                elif msg.type == WSMsgType.PING:
                    await conn.ws.pong(bytes(msg.data))
                elif msg.type == WSMsgType.PONG:
                    conn.pongs.append(bytes(msg.data))
                    conn.pings.pop(bytes(msg.data), None)
        finally:
            self.drop(conn)
        return conn.ws

    async def _control(self, conn: BinanceConn, text: str) -> None:
        try:
            msg = json.loads(text)
            method, ident = msg["method"], msg.get("id")
        except (ValueError, KeyError, TypeError):
            await conn.ws.send_str(json.dumps({"code": 3, "msg": "Invalid JSON", "id": None}))
            return
        params = msg.get("params", [])
        if method == "SUBSCRIBE":
            conn.streams.update(params)
            reply: dict[str, Any] = {"result": None, "id": ident}
        elif method == "UNSUBSCRIBE":
            conn.streams.difference_update(params)
            reply = {"result": None, "id": ident}
        elif method == "LIST_SUBSCRIPTIONS":
            reply = {"result": sorted(conn.streams), "id": ident}
        else:
            reply = {"code": 2, "msg": f"Invalid request: unknown method {method}", "id": ident}
        self.acks += 1
        await conn.ws.send_str(json.dumps(reply))

    async def _send(self, conn: BinanceConn, stream: str, data: dict[str, Any]) -> None:
        if stream in conn.streams:
            await conn.ws.send_str(json.dumps({"stream": stream, "data": data}))

    async def pump_once(self) -> None:
        conns = [c for c in self.conns.values() if isinstance(c, BinanceConn)]
        await self._pings(conns)
        if not self.streaming:
            return
        for symbol, book in self.books.items():
            low = symbol.lower()
            depth = book.step()
            send_depth = True
            if self.drop_depth > 0:
                self.drop_depth -= 1
                self.dropped_ids.append((depth["U"], depth["u"]))
                send_depth = False
            trade = book.trade() if self.rng.random() < 0.5 else None
            ticker = book.book_ticker()
            for conn in conns:
                try:
                    if send_depth:
                        await self._send(conn, f"{low}@depth@100ms", depth)
                        await self._send(conn, f"{low}@depth", depth)
                    if trade is not None:
                        await self._send(conn, f"{low}@trade", trade)
                    if ticker is not None:
                        await self._send(conn, f"{low}@bookTicker", ticker)
                except (ConnectionError, RuntimeError):
                    self.drop(conn)

    async def _pings(self, conns: list[BinanceConn]) -> None:
        if self.ping_s is None:
            return
        now = time.monotonic()
        for conn in conns:
            if any(now - t > self.pong_timeout_s for t in conn.pings.values()):
                self.pong_timeouts += 1
                await conn.ws.close(code=1008, message=b"pong timeout")
                continue
            if now < conn.next_ping:
                continue
            conn.next_ping = now + self.ping_s
            payload = f"{now:.6f}".encode()
            conn.pings[payload] = now
            conn.pings_sent.append(payload)
            try:
                await conn.ws.ping(payload)
            except (ConnectionError, RuntimeError):
                self.drop(conn)


def _symbol_info(symbol: str, status: str) -> dict[str, object]:
    """One ``exchangeInfo`` symbol entry, as Binance writes it (the fields the cockpit reads)."""
    return {
        "symbol": symbol,
        "status": status,
        "baseAsset": symbol[:-4],
        "quoteAsset": symbol[-4:],
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01000000",
                "maxPrice": "1000000.00000000",
                "tickSize": f"{TICK:.8f}",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00001000",
                "maxQty": "9000.00000000",
                "stepSize": "0.00001000",
            },
        ],
    }
