"""A loopback Bybit v5 public stream + instruments endpoint, books from the Binance test book.

``ws://127.0.0.1:PORT/v5/public/{spot|linear}`` accepts ``{"op":"subscribe"|"unsubscribe",
"args":[...]}`` (at most 10 args, else refused as Bybit does) and answers each with the
category's ack; ``{"op":"ping"}`` gets the category's pong. Each subscribed
``orderbook.{1|50}.{symbol}`` first gets a ``snapshot``, then ``delta``s whose ``u`` rises by
one per message (``drop_deltas`` withholds some, still applied to the true book, to force a
gap; ``restart_u`` sends a ``u == 1`` message as after a service restart); ``publicTrade`` and
``tickers`` (linear: a snapshot then deltas carrying only what changed) follow the same seeded
book. ``GET /v5/market/instruments-info`` lists the symbols (tick 0.01; lot 0.00001 on spot as
``basePrecision``, 0.001 on linear as ``qtyStep``). Optionally, a connection that has not
pinged for ``ping_timeout_s`` is closed, as Bybit does.
"""

from __future__ import annotations

import json
import random
import time
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from tests.servers.base import Conn, LoopbackServer
from tests.servers.binance_server import TICK, SymbolBook, fmt


class BybitConn(Conn):
    """A stream connection and its topics."""

    def __init__(self, cid: int, ws: web.WebSocketResponse, request: web.Request) -> None:
        super().__init__(cid, ws, request)
        self.topics: set[str] = set()
        self.pings = 0
        self.last_ping = self.opened
        self.category = request.match_info["category"]


class BybitServer(LoopbackServer):
    """The loopback Bybit v5 public server."""

    def __init__(
        self,
        symbols: tuple[str, ...] = ("BTCUSDT",),
        seed: int = 11,
        ping_timeout_s: float | None = None,
    ) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.books = {s: SymbolBook(s, self.rng) for s in symbols}
        self.u = dict.fromkeys(symbols, 1000)
        """Each symbol's orderbook update id (one per delta)."""
        self.seq = 7_000_000
        self.ping_timeout_s = ping_timeout_s
        self.streaming = True
        self.drop_deltas = 0
        self.dropped: list[int] = []
        self.instrument_requests: list[dict[str, str]] = []
        self.sent_tickers: dict[tuple[int, str], dict[str, str]] = {}
        self.sent_deltas: list[dict[str, Any]] = []
        """Linear ticker deltas sent (each carries only the fields that changed)."""

    @property
    def url(self) -> str:
        """The WebSocket base (the client appends ``/v5/public/{category}``)."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def rest_url(self) -> str:
        """The REST base URL."""
        return f"http://127.0.0.1:{self.port}"

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v5/public/{category}", self._stream)
        app.router.add_get("/v5/market/instruments-info", self._instruments)
        return app

    # -- REST ------------------------------------------------------------------------------

    async def _instruments(self, request: web.Request) -> web.Response:
        q = dict(request.query)
        self.instrument_requests.append(q)
        category = q.get("category", "")
        if category not in ("spot", "linear", "inverse", "option"):
            return web.json_response({"retCode": 10001, "retMsg": "params error", "result": {}})
        wanted = q.get("symbol")
        rows = []
        for symbol in self.books if category in ("spot", "linear") else ():
            if wanted and symbol != wanted:
                continue
            lot = (
                {"basePrecision": "0.00001", "minOrderQty": "0.0001", "maxOrderQty": "100"}
                if category == "spot"
                else {"qtyStep": "0.001", "minOrderQty": "0.001", "maxOrderQty": "1190"}
            )
            rows.append(
                {
                    "symbol": symbol,
                    "status": "Trading",
                    "baseCoin": symbol[:-4],
                    "quoteCoin": symbol[-4:],
                    "lotSizeFilter": lot,
                    "priceFilter": {"tickSize": f"{TICK}"},
                }
            )
        return web.json_response(
            {
                "retCode": 0,
                "retMsg": "OK",
                "result": {"category": category, "list": rows, "nextPageCursor": ""},
                "time": int(time.time() * 1000),
            }
        )

    # -- test controls ----------------------------------------------------------------------

    def received(self) -> list[tuple[int, dict[str, Any]]]:
        """(connection id, parsed message) of every text frame received, pings left out."""

        def collect() -> list[tuple[int, dict[str, Any]]]:
            out = []
            for c in self.all_conns:
                for t in c.received:
                    msg = json.loads(t)
                    if msg.get("op") != "ping":
                        out.append((c.cid, msg))
            return out

        return self.call_soon(collect)

    def true_book(self, symbol: str) -> tuple[int, dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """(u, bids, asks) of the server's book, read on the loop."""
        book = self.books[symbol]
        return self.call_soon(lambda: (self.u[symbol], *book.as_decimal()))

    def restart_u(self, symbol: str) -> None:
        """Send a delta with ``u == 1`` carrying the whole book, as after a service restart."""

        async def run() -> None:
            self.u[symbol] = 1
            for conn in self._conns():
                for depth in (1, 50):
                    topic = f"orderbook.{depth}.{symbol}"
                    if topic in conn.topics:
                        await self._send(conn, self._book_msg(symbol, depth, "delta"))

        self.call(run())

    def send_raw(self, text: str | bytes) -> None:
        """Send one frame as is to every connection (hostile-frame tests)."""
        self.send(text)

    # -- on the loop --------------------------------------------------------------------

    def _conns(self) -> list[BybitConn]:
        return [c for c in self.conns.values() if isinstance(c, BybitConn)]

    def _book_msg(self, symbol: str, depth: int, kind: str) -> dict[str, Any]:
        book = self.books[symbol]
        bids = sorted(book.bids, reverse=True)[:depth]
        asks = sorted(book.asks)[:depth]
        self.seq += 1
        now = int(time.time() * 1000)
        return {
            "topic": f"orderbook.{depth}.{symbol}",
            "type": kind,
            "ts": now,
            "data": {
                "s": symbol,
                "b": [[fmt(p), f"{book.bids[p]:.8f}"] for p in bids],
                "a": [[fmt(p), f"{book.asks[p]:.8f}"] for p in asks],
                "u": self.u[symbol],
                "seq": self.seq,
            },
            "cts": now - 2,
        }

    async def _send(self, conn: BybitConn, msg: dict[str, Any]) -> None:
        await conn.ws.send_str(json.dumps(msg))

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        self.note_handshake()
        conn: BybitConn = await self.accept(request, BybitConn)
        try:
            async for msg in conn.ws:
                if msg.type == WSMsgType.TEXT:
                    conn.received.append(msg.data)
                    await self._op(conn, msg.data)
        finally:
            self.drop(conn)
        return conn.ws

    async def _op(self, conn: BybitConn, text: str) -> None:
        if self.silent:  # a dead upstream: not even a pong
            return
        try:
            msg = json.loads(text)
            op = msg["op"]
        except (ValueError, KeyError, TypeError):
            await conn.ws.send_str(json.dumps({"success": False, "ret_msg": "bad json"}))
            return
        if op == "ping":
            conn.pings += 1
            conn.last_ping = time.monotonic()
            reply: dict[str, Any] = {"success": True, "ret_msg": "pong", "conn_id": "c", "op": op}
            if conn.category == "linear":
                reply["req_id"] = msg.get("req_id", "")
            await self._send(conn, reply)
            return
        args = msg.get("args", [])
        ok = op in ("subscribe", "unsubscribe") and len(args) <= 10
        bad = [a for a in args if a.rsplit(".", 1)[-1] not in self.books]
        ret = "subscribe" if conn.category == "spot" else ""
        if not ok or bad:
            ret = f"Invalid symbol :[{','.join(bad)}]" if bad else "args size >10"
        reply = {"success": ok and not bad, "ret_msg": ret, "conn_id": "c", "op": op}
        reply["req_id"] = msg.get("req_id", "")
        await self._send(conn, reply)
        if not reply["success"]:
            return
        if op == "unsubscribe":
            conn.topics.difference_update(args)
            return
        for topic in args:
            conn.topics.add(topic)
            kind, _, symbol = topic.rpartition(".")
            if kind.startswith("orderbook."):
                await self._send(conn, self._book_msg(symbol, int(kind.split(".")[1]), "snapshot"))
            elif kind == "tickers":
                await self._send(conn, self._ticker(conn, symbol))

    def _ticker(self, conn: BybitConn, symbol: str) -> dict[str, Any]:
        book = self.books[symbol]
        full = {
            "symbol": symbol,
            "lastPrice": fmt(book.mid),
            "highPrice24h": fmt(book.mid + 500),
            "lowPrice24h": fmt(book.mid - 500),
            "prevPrice24h": fmt(book.mid - 100),
            "volume24h": "1234.5",
        }
        if conn.category == "linear":
            full["openInterest"] = "55.5"
        key = (conn.cid, symbol)
        before = self.sent_tickers.get(key)
        kind = "snapshot"
        data = full
        if before is not None and conn.category == "linear":
            kind = "delta"  # absent fields are unchanged
            data = {"symbol": symbol, **{k: v for k, v in full.items() if before.get(k) != v}}
        self.sent_tickers[key] = full
        msg = {
            "topic": f"tickers.{symbol}",
            "type": kind,
            "ts": int(time.time() * 1000),
            "cs": self.seq,
            "data": data,
        }
        if kind == "delta":
            self.sent_deltas.append(msg)
        return msg

    async def pump_once(self) -> None:
        conns = self._conns()
        if self.ping_timeout_s is not None:
            now = time.monotonic()
            for conn in conns:
                if now - conn.last_ping > self.ping_timeout_s:
                    await conn.ws.close(code=1000, message=b"no ping")
        if not self.streaming:
            return
        for symbol, book in self.books.items():
            step = book.step()
            self.u[symbol] += 1
            send_delta = True
            if self.drop_deltas > 0:
                self.drop_deltas -= 1
                self.dropped.append(self.u[symbol])
                send_delta = False
            self.seq += 1
            now = int(time.time() * 1000)
            delta = {
                "topic": f"orderbook.50.{symbol}",
                "type": "delta",
                "ts": now,
                "data": {
                    "s": symbol,
                    "b": step["b"],
                    "a": step["a"],
                    "u": self.u[symbol],
                    "seq": self.seq,
                },
                "cts": now - 1,
            }
            trade = book.trade() if self.rng.random() < 0.5 else None
            for conn in conns:
                try:
                    if send_delta and delta["topic"] in conn.topics:
                        await self._send(conn, delta)
                    if f"orderbook.1.{symbol}" in conn.topics:
                        await self._send(conn, self._book_msg(symbol, 1, "snapshot"))
                    if trade is not None and f"publicTrade.{symbol}" in conn.topics:
                        t = {
                            "T": trade["T"],
                            "s": symbol,
                            "S": "Sell" if trade["m"] else "Buy",
                            "v": trade["q"],
                            "p": trade["p"],
                            "L": "PlusTick",
                            "i": f"t-{trade['t']}",
                            "BT": False,
                            "RPI": False,
                            "seq": self.seq,
                        }
                        await self._send(
                            conn,
                            {
                                "topic": f"publicTrade.{symbol}",
                                "type": "snapshot",
                                "ts": now,
                                "data": [t],
                            },
                        )
                    if f"tickers.{symbol}" in conn.topics and self.rng.random() < 0.2:
                        await self._send(conn, self._ticker(conn, symbol))
                except (ConnectionError, RuntimeError):
                    self.drop(conn)
