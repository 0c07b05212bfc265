"""Bybit v5 public market data (spot or linear): order book, trades and tickers.

Built on :mod:`cockpit.adapters.ws`; frames per ``../shared/protocols/kite-binance-bybit.md``
§3. One connection per category (``wss://stream.bybit.com/v5/public/spot`` or ``/linear``).
Per symbol and mode: ``ltp`` -> ``publicTrade`` (TradeTick); ``quote`` -> trades +
``orderbook.1`` (the top level as a QuoteTick) + ``tickers`` (last price, 24 h high/low and
the price 24 h ago as a QuoteTick without a book); ``depth`` -> trades + ``orderbook.50``
kept by :mod:`cockpit.adapters.bybit.book` (a DepthTick of the top ``depth_levels`` after
each applied message) + tickers. A gap in ``u`` drops that book and resubscribes its topic
for a fresh snapshot, on the same socket. Subscriptions go out as
``{"op":"subscribe","args":[...],"req_id":"N"}`` with at most 10 args each (the spot
limit); a connection's args may total at most 21,000 characters. The keep-alive is Bybit's
own ``{"op":"ping"}`` every 20 s; its reply (and every data frame) feeds the watchdog.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import msgspec

from cockpit.adapters.binance.decode import depth_event
from cockpit.adapters.bybit.book import BybitBook
from cockpit.adapters.bybit.decode import (
    EXCHANGE,
    BadFrame,
    OpReply,
    TickerState,
    Topic,
    decode_book,
    decode_ticker,
    decode_trades,
    parse_frame,
    trade_event,
)
from cockpit.adapters.venue_feed import WsFeed, pick
from cockpit.adapters.ws import Reject, WsConnection, WsProtocol
from cockpit.domain.feed import FeedState, FeedStatus, Sink
from cockpit.domain.market import QuoteTick

log = logging.getLogger(__name__)

DEFAULT_URL: Final = "wss://stream.bybit.com"
DEFAULT_REST_URL: Final = "https://api.bybit.com"
CATEGORIES: Final = ("spot", "linear")
MODES: Final = ("ltp", "quote", "depth")
BOOK_DEPTH: Final = 50
MAX_ARGS_PER_REQUEST: Final = 10
MAX_ARGS_CHARS: Final = 21_000
_SYMBOL: Final = re.compile(r"[A-Z0-9]{1,40}")
_ENC = msgspec.json.Encoder()


def topics_for(symbol: str, mode: str) -> list[str]:
    """The topics one symbol needs in ``mode``."""
    if mode == "ltp":
        return [f"publicTrade.{symbol}"]
    if mode == "quote":
        return [f"publicTrade.{symbol}", f"orderbook.1.{symbol}", f"tickers.{symbol}"]
    if mode == "depth":
        return [f"publicTrade.{symbol}", f"orderbook.{BOOK_DEPTH}.{symbol}", f"tickers.{symbol}"]
    raise ValueError(f"unknown Bybit mode {mode!r} (ltp, quote, depth)")


def rest_from_ws(url: str) -> str:
    """The REST base on the same host as a WebSocket URL (how the loopback server works)."""
    parts = urlsplit(url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return urlunsplit((scheme, parts.netloc, "", "", ""))


def symbol_of(text: str) -> str:
    """A symbol as Bybit spells it (``BTCUSDT``); ValueError for anything else."""
    symbol = text.strip().upper()
    if ":" in symbol:
        exchange, _, symbol = symbol.partition(":")
        if exchange != EXCHANGE:
            raise ValueError(f"not a Bybit symbol: {text!r} (e.g. BTCUSDT)")
    if not _SYMBOL.fullmatch(symbol):
        raise ValueError(f"not a Bybit symbol: {text!r} (e.g. BTCUSDT)")
    return symbol


class BybitProtocol(WsProtocol):
    """Bybit's public messages for :class:`~cockpit.adapters.ws.WsConnection`."""

    name = "bybit"
    ping_interval_s: float | None = 20.0

    def __init__(
        self,
        url: str | None = None,
        *,
        category: str = "spot",
        depth_levels: int = 20,
        liveness_s: float = 30.0,
        ping_interval_s: float = 20.0,
    ) -> None:
        if category not in CATEGORIES:
            raise ValueError(f"unknown Bybit category {category!r} (spot, linear)")
        self.category = category
        self._base = (url or DEFAULT_URL).rstrip("/")
        self.liveness_s = liveness_s
        self.ping_interval_s = ping_interval_s
        self.depth_levels = depth_levels
        self._lock = threading.Lock()
        self.wanted: dict[str, set[str]] = {}
        """symbol -> modes, maintained by the feed before it (un)subscribes."""
        self._active: set[str] = set()
        """Topics subscribed on this socket."""
        self._ids = itertools.count(1)
        self._conn: WsConnection | None = None
        self.books: dict[str, BybitBook] = {}
        self.tickers: dict[str, TickerState] = {}
        self.last_price: dict[str, Decimal] = {}
        self.subscribe_errors: list[str] = []
        """The venue's refusals of our subscriptions (e.g. an unknown symbol)."""
        self.acks = 0
        self.pongs = 0
        self.resubscribes = 0

    # -- subscriptions -------------------------------------------------------------------

    def needed(self) -> list[str]:
        """Every topic wanted now (each once)."""
        out: dict[str, None] = {}
        for symbol, modes in self.wanted.items():
            for mode in modes:
                for topic in topics_for(symbol, mode):
                    out[topic] = None
        return list(out)

    def url(self) -> str:
        """The category's public stream (``url`` as given if it already names a path)."""
        if urlsplit(self._base).path not in ("", "/"):
            return self._base
        return f"{self._base}/v5/public/{self.category}"

    def ping_message(self) -> str | None:
        """Bybit's heartbeat."""
        return _ENC.encode({"req_id": f"ping-{next(self._ids)}", "op": "ping"}).decode()

    def _ops(self, op: str, topics: list[str]) -> list[str | bytes]:
        out: list[str | bytes] = []
        for i in range(0, len(topics), MAX_ARGS_PER_REQUEST):
            args = topics[i : i + MAX_ARGS_PER_REQUEST]
            req = {"req_id": str(next(self._ids)), "op": op, "args": args}
            out.append(_ENC.encode(req).decode())
        return out

    def subscribe_messages(self, mode: str, keys: Sequence[str]) -> list[str | bytes]:
        """Subscribe the topics not on this socket yet, 10 per request."""
        with self._lock:
            new = [t for k in keys for t in topics_for(k, mode) if t not in self._active]
            new = list(dict.fromkeys(new))
            self._active.update(new)
        return self._ops("subscribe", new) if new else []

    def unsubscribe_messages(self, mode: str, keys: Sequence[str]) -> list[str | bytes]:
        """Unsubscribe topics no remaining (symbol, mode) needs."""
        with self._lock:
            needed = set(self.needed())
            mine = [t for k in keys for t in topics_for(k, mode)]
            gone = list(dict.fromkeys(t for t in mine if t in self._active and t not in needed))
            self._active.difference_update(gone)
            for topic in gone:
                if topic.startswith("orderbook."):
                    self.books.pop(topic.rsplit(".", 1)[1], None)
        return self._ops("unsubscribe", gone) if gone else []

    # -- session -------------------------------------------------------------------------

    def on_connected(self, conn: WsConnection) -> None:
        """A new socket: nothing is subscribed on it yet, and books wait for snapshots."""
        self._conn = conn
        with self._lock:
            self._active.clear()
        for book in self.books.values():
            book.reset()

    def counters(self) -> dict[str, Any]:
        """Acks, pongs, book snapshots, gaps and resubscribes."""
        books = list(self.books.values())
        return {
            "acks": self.acks,
            "pongs": self.pongs,
            "snapshots": sum(b.snapshots for b in books),
            "restarts": sum(b.restarts for b in books),
            "resyncs": self.resubscribes,
            "subscribe_errors": len(self.subscribe_errors),
        }

    def decode(self, payload: bytes, binary: bool, recv_ns: int) -> Sequence[object]:
        """One frame -> events; bad frames raise :class:`Reject`."""
        if binary:
            raise Reject("bybit: binary frame")
        try:
            msg = parse_frame(payload)
            if isinstance(msg, OpReply):
                return self._reply(msg, recv_ns)
            kind, _, symbol = msg.topic.rpartition(".")
            if kind == "publicTrade":
                trades = decode_trades(msg.data)
                if trades:
                    self.last_price[trades[-1].s] = trades[-1].p
                return [trade_event(t, recv_ns) for t in trades]
            if kind == "tickers":
                return self._ticker(msg, symbol, recv_ns)
            if kind.startswith("orderbook."):
                return self._book(msg, kind, symbol, recv_ns)
            raise BadFrame("bybit: unknown topic")
        except BadFrame as exc:
            raise Reject(str(exc)) from None

    def _reply(self, msg: OpReply, recv_ns: int) -> Sequence[object]:
        if msg.op in ("ping", "pong"):
            self.pongs += 1
            return ()
        if msg.success:
            self.acks += 1
            return ()
        text = f"bybit {msg.op} refused: {msg.ret_msg}"[:300]
        self.subscribe_errors.append(text)
        log.warning("%s", text)
        conn = self._conn
        return (
            FeedStatus(
                feed=self.name,
                state=conn.state if conn is not None else FeedState.LIVE,
                ts_ns=recv_ns,
                reason=text,
                reconnects=conn.reconnects if conn is not None else 0,
            ),
        )

    def _ticker(self, msg: Topic, symbol: str, recv_ns: int) -> Sequence[object]:
        t = decode_ticker(msg.data)
        state = self.tickers.get(t.symbol)
        if state is None:
            state = self.tickers[t.symbol] = TickerState()
        state.merge(t, msg.type == "snapshot")
        ev = state.event(t.symbol, msg.ts, recv_ns)
        return () if ev is None else (ev,)

    def _book(self, msg: Topic, kind: str, symbol: str, recv_ns: int) -> Sequence[object]:
        d = decode_book(msg.data)
        book = self.books.get(d.s)
        if book is None:
            book = self.books[d.s] = BybitBook(d.s)
        changed = book.on_message(msg.type, d)
        if changed is None:
            self._resync(f"{kind}.{symbol}")
            return ()
        if not changed:
            return ()
        levels = 1 if kind == "orderbook.1" else self.depth_levels
        bids, asks = book.top(levels)
        ev = depth_event(
            d.s,
            bids,
            asks,
            self.last_price.get(d.s),
            msg.ts * 1_000_000 if msg.ts else None,
            recv_ns,
            exchange=EXCHANGE,
        )
        if ev is None:
            return ()
        if kind == "orderbook.1":  # the top level only: a quote, not a book
            return (
                QuoteTick(
                    recv_ns=recv_ns,
                    exchange=EXCHANGE,
                    symbol=ev.symbol,
                    ltp=ev.ltp,
                    exch_ns=ev.exch_ns,
                    bids=ev.bids,
                    asks=ev.asks,
                ),
            )
        return (ev,)

    def _resync(self, topic: str) -> None:
        """A gap: resubscribe the topic on this socket for a fresh snapshot."""
        conn = self._conn
        self.resubscribes += 1
        log.info("bybit: %s gap, resubscribing for a fresh snapshot", topic)
        if conn is None:
            return
        conn.count_gap()
        for msg in self._ops("unsubscribe", [topic]) + self._ops("subscribe", [topic]):
            conn.send(msg)


class BybitFeed(WsFeed):
    """A Bybit v5 public market-data connection with a subscription API."""

    protocol: BybitProtocol

    def __init__(
        self,
        sink: Sink,
        *,
        url: str | None = None,
        category: str = "spot",
        backoff: Any = None,
        stable_s: float = 10.0,
        **protocol_options: Any,
    ) -> None:
        """Create a stopped feed; ``protocol_options`` go to :class:`BybitProtocol`."""
        super().__init__(
            BybitProtocol(url, category=category, **protocol_options),
            sink,
            backoff=backoff,
            stable_s=stable_s,
        )

    def subscribe(self, symbols: Iterable[str], mode: str) -> list[str]:
        """Subscribe symbols (``BTCUSDT``) in ``ltp``/``quote``/``depth``; returns the new ones."""
        if mode not in MODES:
            raise ValueError(f"unknown Bybit mode {mode!r} (ltp, quote, depth)")
        keys = [symbol_of(s) for s in symbols if s.strip()]
        proto = self.protocol
        with proto._lock:
            before = {k: set(v) for k, v in proto.wanted.items()}
            for k in keys:
                proto.wanted.setdefault(k, set()).add(mode)
            if sum(len(t) for t in proto.needed()) > MAX_ARGS_CHARS:
                proto.wanted = before
                raise ValueError(
                    f"Bybit allows at most {MAX_ARGS_CHARS} characters of topics per connection"
                )
        return self.conn.subscribe(keys, mode)

    def unsubscribe(self, symbols: Iterable[str], mode: str) -> list[str]:
        """Unsubscribe symbols from ``mode``."""
        keys = [symbol_of(s) for s in symbols if s.strip()]
        return self.unwant(keys, mode)


def make_feed(
    symbols: list[str],
    mode: str,
    url: str | None,
    sink: Sink,
    *,
    category: str = "spot",
    **options: Any,
) -> BybitFeed:
    """A Bybit feed subscribed to ``symbols`` in ``mode``; not yet started.

    Known ``options``: ``backoff``, ``stable_s``, ``depth_levels``, ``liveness_s``,
    ``ping_interval_s``; others are ignored.

    Raises:
        ValueError: an unknown mode or category, a bad symbol, or no symbols.
    """
    keys = [symbol_of(s) for s in symbols if s.strip()]
    if not keys:
        raise ValueError("Bybit needs at least one symbol (e.g. BTCUSDT)")
    known = pick(options, ("backoff", "stable_s", "depth_levels", "liveness_s", "ping_interval_s"))
    feed = BybitFeed(sink, url=url, category=category, **known)
    feed.subscribe(keys, mode)
    return feed
