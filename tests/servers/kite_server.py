"""A loopback Kite ticker: byte-exact binary packets, heartbeats, postbacks, 403 on a bad key.

Frame builders (``ltp_packet`` ... ``frame``) are pure and shared with the unit tests. The
server (:class:`KiteServer`) accepts ``ws://127.0.0.1:PORT/?api_key=..&access_token=..``,
records every text frame the client sends, keeps each connection's token -> mode map from
``subscribe``/``unsubscribe``/``mode``, and streams one frame per pump round with a packet per
subscribed token in that token's mode (index tokens, segment 9, get the 28/32-byte packets).
When a connection has no subscriptions it gets a 1-byte heartbeat every ``heartbeat_s``.
"""

from __future__ import annotations

import json
import random
import struct
import time
from collections import deque
from typing import Any

from aiohttp import WSMsgType, web

from tests.servers.base import Conn, LoopbackServer

INDEX_SEGMENT = 9


def ltp_packet(token: int, ltp: int) -> bytes:
    """An 8-byte LTP packet (raw integers)."""
    return struct.pack(">II", token, ltp)


def index_packet(
    token: int,
    ltp: int,
    high: int,
    low: int,
    open_: int,
    close: int,
    change: int = 0,
    ts: int | None = None,
) -> bytes:
    """A 28-byte index quote packet, or 32 bytes (full) when ``ts`` is given."""
    body = struct.pack(">IIIIIIi", token, ltp, high, low, open_, close, change)
    return body if ts is None else body + struct.pack(">I", ts)


def quote_packet(
    token: int,
    ltp: int,
    ltq: int,
    atp: int,
    volume: int,
    tbq: int,
    tsq: int,
    open_: int,
    high: int,
    low: int,
    close: int,
) -> bytes:
    """A 44-byte quote packet."""
    return struct.pack(">11I", token, ltp, ltq, atp, volume, tbq, tsq, open_, high, low, close)


def full_packet(
    quote: bytes,
    ltt: int,
    oi: int,
    oi_high: int,
    oi_low: int,
    ts: int,
    bids: list[tuple[int, int, int]],
    asks: list[tuple[int, int, int]],
) -> bytes:
    """A 184-byte full packet: quote + times/OI + 5 bids and 5 asks as (qty, price, orders)."""
    assert len(quote) == 44
    assert len(bids) == 5
    assert len(asks) == 5
    depth = b"".join(struct.pack(">IIH2x", q, p, o) for q, p, o in [*bids, *asks])
    return quote + struct.pack(">IIIII", ltt, oi, oi_high, oi_low, ts) + depth


def frame(packets: list[bytes]) -> bytes:
    """A binary frame: packet count, then (length, packet) for each."""
    parts = [struct.pack(">H", len(packets))]
    for p in packets:
        parts.append(struct.pack(">H", len(p)))
        parts.append(p)
    return b"".join(parts)


class _Token:
    """A random-walking instrument on the server (raw integer prices)."""

    def __init__(self, token: int, rng: random.Random) -> None:
        self.token = token
        self.rng = rng
        self.ltp = rng.randint(10_000, 500_000)
        self.open = self.high = self.low = self.ltp
        self.close = self.ltp - rng.randint(-500, 500)
        self.volume = 0

    def step(self) -> None:
        self.ltp = max(100, self.ltp + self.rng.randint(-20, 20))
        self.high = max(self.high, self.ltp)
        self.low = min(self.low, self.ltp)
        self.volume += self.rng.randint(1, 100)

    def packet(self, mode: str) -> bytes:
        if mode == "ltp":
            return ltp_packet(self.token, self.ltp)
        now = int(time.time())
        if self.token & 0xFF == INDEX_SEGMENT:
            ts = now if mode == "full" else None
            return index_packet(
                self.token, self.ltp, self.high, self.low, self.open, self.close, 0, ts
            )
        q = quote_packet(
            self.token, self.ltp, 5, self.ltp - 3, self.volume, 1000, 1200,
            self.open, self.high, self.low, self.close,
        )  # fmt: skip
        if mode == "quote":
            return q
        bids = [(10 * (i + 1), self.ltp - 5 * (i + 1), i + 1) for i in range(5)]
        asks = [(20 * (i + 1), self.ltp + 5 * (i + 1), i + 2) for i in range(5)]
        return full_packet(q, now - 1, 0, 0, 0, now, bids, asks)


class KiteConn(Conn):
    """A ticker connection and its subscriptions."""

    def __init__(self, cid: int, ws: web.WebSocketResponse, request: web.Request) -> None:
        super().__init__(cid, ws, request)
        self.modes: dict[int, str] = {}
        self.last_send = time.monotonic()


class KiteServer(LoopbackServer):
    """The loopback Kite ticker. ``url`` is what a client connects to (without credentials)."""

    def __init__(
        self,
        api_key: str = "key",
        access_token: str = "token",
        seed: int = 1,
        heartbeat_s: float = 0.5,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.access_token = access_token
        self.heartbeat_s = heartbeat_s
        self.rng = random.Random(seed)
        self.tokens: dict[int, _Token] = {}
        self.refused = 0
        self.headers: list[dict[str, str]] = []
        """Request headers of every accepted upgrade."""
        self.sent: deque[tuple[int, str, int]] = deque(maxlen=100_000)
        """(token, mode, raw ltp) of every packet sent."""
        self.streaming = True
        """When false only heartbeats are sent."""
        self.pinned: set[int] = set()
        """Tokens whose price stands still (see :meth:`set_price`)."""

    @property
    def url(self) -> str:
        """The WebSocket address (credentials are added by the client)."""
        return f"ws://127.0.0.1:{self.port}/"

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._handle)
        app.router.add_get("/instruments", self._instruments)
        return app

    async def _instruments(self, request: web.Request) -> web.Response:
        """Kite Connect's ``GET /instruments``: the CSV of every instrument (its header and
        columns as Kite writes them); 403 without ``Authorization: token key:access_token``."""
        if request.headers.get("Authorization") != f"token {self.api_key}:{self.access_token}":
            return web.json_response(
                {"status": "error", "message": "Incorrect `api_key` or `access_token`.",
                 "error_type": "TokenException"}, status=403,
            )  # fmt: skip
        return web.Response(text=INSTRUMENTS_CSV, content_type="text/csv")

    def set_price(self, token: int, raw: int) -> None:
        """Hold ``token`` at ``raw`` (paise for NSE) from the next packet on."""

        def pin() -> None:
            t = self.tokens.get(token)
            if t is None:
                t = self.tokens[token] = _Token(token, self.rng)
            t.ltp = t.open = t.high = t.low = raw
            self.pinned.add(token)

        self.call_soon(pin)

    def subscriptions(self) -> list[dict[int, str]]:
        """Token -> mode of each live connection (evaluated on the loop)."""
        return self.call_soon(lambda: [dict(c.modes) for c in self.conns.values()])

    def received(self) -> list[tuple[int, dict[str, Any]]]:
        """(connection id, parsed message) of every text frame received, in order."""

        def collect() -> list[tuple[int, dict[str, Any]]]:
            return [(c.cid, json.loads(t)) for c in self.all_conns for t in c.received]

        return self.call_soon(collect)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.note_handshake()
        q = request.query
        if q.get("api_key") != self.api_key or q.get("access_token") != self.access_token:
            self.refused += 1
            return web.Response(status=403, text="Forbidden")
        self.headers.append(dict(request.headers))
        conn: KiteConn = await self.accept(request, KiteConn)
        try:
            async for msg in conn.ws:
                if msg.type == WSMsgType.TEXT:
                    conn.received.append(msg.data)
                    self._control(conn, msg.data)
        finally:
            self.drop(conn)
        return conn.ws

    def _control(self, conn: KiteConn, text: str) -> None:
        try:
            msg = json.loads(text)
            action, value = msg["a"], msg["v"]
        except (ValueError, KeyError, TypeError):
            return
        if action == "subscribe":
            for token in value:
                conn.modes.setdefault(int(token), "quote")
        elif action == "unsubscribe":
            for token in value:
                conn.modes.pop(int(token), None)
        elif action == "mode":
            mode, tokens = value
            for token in tokens:
                conn.modes[int(token)] = mode

    async def pump_once(self) -> None:
        now = time.monotonic()
        for conn in list(self.conns.values()):
            if not isinstance(conn, KiteConn):
                continue
            packets = []
            if self.streaming:
                for token, mode in conn.modes.items():
                    t = self.tokens.get(token)
                    if t is None:
                        t = self.tokens[token] = _Token(token, self.rng)
                    if token not in self.pinned:
                        t.step()
                    packets.append(t.packet(mode))
                    self.sent.append((token, mode, t.ltp))
            payload = frame(packets) if packets else None
            if payload is None and now - conn.last_send >= self.heartbeat_s:
                payload = b"\x00"
            if payload is None:
                continue
            try:
                await conn.ws.send_bytes(payload)
                conn.last_send = now
            except (ConnectionError, RuntimeError):
                self.drop(conn)


INSTRUMENTS_CSV = (
    "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,"
    "lot_size,instrument_type,segment,exchange\n"
    "408065,1594,INFY,INFOSYS,0,,,0.05,1,EQ,NSE,NSE\n"
    "779521,3045,SBIN,STATE BANK OF INDIA,0,,,0.05,1,EQ,NSE,NSE\n"
    "2953217,11536,TCS,TATA CONSULTANCY SERV LT,0,,,0.05,1,EQ,NSE,NSE\n"
    "256265,1001,NIFTY 50,NIFTY 50,0,,,0,0,EQ,INDICES,NSE\n"
    "13368834,52222,NIFTY25DECFUT,NIFTY,0,2025-12-30,0,0.1,75,FUT,NFO-FUT,NFO\n"
)
"""What ``/instruments`` answers (a few of Kite's rows, as Kite writes them)."""
