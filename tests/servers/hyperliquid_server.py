"""A loopback Hyperliquid: the public WebSocket (``/ws``) and the info endpoint (``/info``).

Books and trades come from the Binance test book (:class:`SymbolBook`) re-based to whole
dollars around 20000 (Hyperliquid prices have at most 5 significant figures: tick 1 there).
``{"method": "subscribe", "subscription": {"type": "l2Book"|"trades"|"allMids", "coin": C}}``
is answered by a ``subscriptionResponse`` echoing it (an unknown coin by an ``error``);
``{"method": "ping"}`` by ``{"channel": "pong"}``. Each pump pushes every subscribed coin's
``l2Book`` snapshot (unless ``drop_books`` withholds it), sometimes a trade, and ``allMids``.
A connection the client has sent nothing to for ``idle_close_s`` is closed (the venue's rule
is 60 s). ``POST /info`` answers ``meta`` (szDecimals 5) and ``allMids``.
"""

from __future__ import annotations

import json
import random
import time
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from tests.servers.base import Conn, LoopbackServer
from tests.servers.binance_server import SymbolBook

MID = 20000
Side = list[tuple[Decimal, Decimal]]


class HlConn(Conn):
    """A connection, its subscriptions and when the client last sent anything."""

    def __init__(self, cid: int, ws: web.WebSocketResponse, request: web.Request) -> None:
        super().__init__(cid, ws, request)
        self.subs: set[str] = set()
        self.last_heard = self.opened
        self.pings = 0


class HyperliquidServer(LoopbackServer):
    """The loopback Hyperliquid."""

    def __init__(
        self, coins: tuple[str, ...] = ("BTC",), seed: int = 5, idle_close_s: float | None = None
    ) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.books: dict[str, SymbolBook] = {}
        for coin in coins:
            book = SymbolBook(coin, self.rng)
            book.mid = MID
            book.bids = {MID - i: book._qty() for i in range(1, book.levels + 1)}
            book.asks = {MID + i: book._qty() for i in range(1, book.levels + 1)}
            self.books[coin] = book
        self.idle_close_s = idle_close_s
        self.streaming = True
        self.drop_books = 0
        self.trading = True
        """When false no trades are sent (books and mids go on)."""
        self.trades_sent = 0
        self.sent_books: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        """The WebSocket base (the client adds ``/ws``)."""
        return f"ws://127.0.0.1:{self.port}"

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ws", self._stream)
        app.router.add_post("/info", self._info)
        return app

    async def _info(self, request: web.Request) -> web.Response:
        body = await request.json()
        kind = body.get("type")
        if kind == "meta":
            universe = [{"name": c, "szDecimals": 5, "maxLeverage": 40} for c in self.books]
            universe.append({"name": "OLD", "szDecimals": 2, "maxLeverage": 3, "isDelisted": True})
            return web.json_response({"universe": universe})
        if kind == "allMids":
            return web.json_response({c: str(b.mid) for c, b in self.books.items()})
        return web.json_response({"error": f"unknown type {kind}"}, status=422)

    def true_book(
        self, coin: str
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """The server's top 20 levels per side, best first."""
        book = self.books[coin]

        def read() -> tuple[Side, Side]:
            bids = sorted(book.bids, reverse=True)[:20]
            asks = sorted(book.asks)[:20]
            return (
                [(Decimal(p), book.bids[p].normalize()) for p in bids],
                [(Decimal(p), book.asks[p].normalize()) for p in asks],
            )

        return self.call_soon(read)

    def subscriptions(self) -> list[list[str]]:
        """Each connection's subscribe requests as keys, in order."""

        def collect() -> list[list[str]]:
            out = []
            for c in self.all_conns:
                keys = []
                for text in c.received:
                    msg = json.loads(text)
                    if msg.get("method") == "subscribe":
                        sub = msg["subscription"]
                        keys.append(sub["type"] + (f":{sub['coin']}" if "coin" in sub else ""))
                out.append(keys)
            return out

        return self.call_soon(collect)

    def _conns(self) -> list[HlConn]:
        return [c for c in self.conns.values() if isinstance(c, HlConn)]

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        self.note_handshake()
        conn: HlConn = await self.accept(request, HlConn)
        try:
            async for msg in conn.ws:
                if msg.type == WSMsgType.TEXT:
                    conn.received.append(msg.data)
                    conn.last_heard = time.monotonic()
                    await self._method(conn, msg.data)
        finally:
            self.drop(conn)
        return conn.ws

    async def _method(self, conn: HlConn, text: str) -> None:
        try:
            msg = json.loads(text)
            method = msg["method"]
        except (ValueError, KeyError, TypeError):
            await conn.ws.send_str(json.dumps({"channel": "error", "data": "bad request"}))
            return
        if method == "ping":
            conn.pings += 1
            await conn.ws.send_str(json.dumps({"channel": "pong"}))
            return
        sub = msg.get("subscription") or {}
        coin = sub.get("coin")
        if coin is not None and coin not in self.books:
            await conn.ws.send_str(
                json.dumps({"channel": "error", "data": f"Invalid subscription {json.dumps(sub)}"})
            )
            return
        key = sub.get("type", "") + (f":{coin}" if coin else "")
        if method == "subscribe":
            conn.subs.add(key)
        elif method == "unsubscribe":
            conn.subs.discard(key)
        await conn.ws.send_str(json.dumps({"channel": "subscriptionResponse", "data": msg}))
        if method == "subscribe" and key.startswith("l2Book:"):
            await conn.ws.send_str(json.dumps(self._book_msg(coin)))

    def _book_msg(self, coin: str) -> dict[str, Any]:
        book = self.books[coin]
        bids = sorted(book.bids, reverse=True)[:20]
        asks = sorted(book.asks)[:20]

        def level(p: int, q: Decimal) -> dict[str, Any]:
            return {"px": str(p), "sz": str(q.normalize()), "n": self.rng.randint(1, 9)}

        return {
            "channel": "l2Book",
            "data": {
                "coin": coin,
                "time": int(time.time() * 1000),
                "levels": [
                    [level(p, book.bids[p]) for p in bids],
                    [level(p, book.asks[p]) for p in asks],
                ],
            },
        }

    async def pump_once(self) -> None:
        conns = self._conns()
        if self.idle_close_s is not None:
            now = time.monotonic()
            for conn in conns:
                if now - conn.last_heard > self.idle_close_s:
                    await conn.ws.close(code=1000, message=b"idle")
        if not self.streaming:
            return
        mids = {"mids": {c: str(b.mid) for c, b in self.books.items()}}
        for coin, book in self.books.items():
            book.step()
            msg = self._book_msg(coin)
            send_book = True
            if self.drop_books > 0:
                self.drop_books -= 1
                send_book = False
            trade = None
            if self.trading and self.rng.random() < 0.5:
                t = book.trade()
                self.trades_sent += 1
                trade = {
                    "channel": "trades",
                    "data": [
                        {
                            "coin": coin,
                            "side": "A" if t["m"] else "B",
                            "px": str(int(Decimal(t["p"]) * 100)),
                            "sz": str(Decimal(t["q"]).normalize()),
                            "hash": "0x" + "ab" * 32,
                            "time": t["T"],
                            "tid": t["t"],
                            "users": ["0x01", "0x02"],
                        }
                    ],
                }
            for conn in conns:
                try:
                    if send_book and f"l2Book:{coin}" in conn.subs:
                        await conn.ws.send_str(json.dumps(msg))
                    if trade is not None and f"trades:{coin}" in conn.subs:
                        await conn.ws.send_str(json.dumps(trade))
                except (ConnectionError, RuntimeError):
                    self.drop(conn)
        for conn in conns:
            if "allMids" in conn.subs and self.rng.random() < 0.3:
                try:
                    await conn.ws.send_str(json.dumps({"channel": "allMids", "data": mids}))
                except (ConnectionError, RuntimeError):
                    self.drop(conn)
