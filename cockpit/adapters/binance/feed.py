"""Binance spot market-data feed: combined streams, live (un)subscribe, synced order books.

Built on :mod:`cockpit.adapters.ws`. One combined-stream connection
(``/stream?streams=...`` carrying every stream registered at connect time; streams added
later go out as ``SUBSCRIBE`` with an id, acknowledged by ``{"result":null,"id":N}``).
Per symbol and mode: ``ltp`` -> ``<s>@trade`` (TradeTick); ``quote`` -> trade +
``<s>@bookTicker`` (QuoteTick with the top level; its ``ltp`` is the last trade, else the
best bid); ``depth`` -> trade + ``<s>@depth@100ms`` kept in sync with the REST snapshot
(:mod:`cockpit.adapters.binance.book`), a DepthTick of the top ``depth_levels`` after each
applied update. Protocol pings are answered by the connection (payload echoed); a
``serverShutdown`` notice or the 24-hour close is a routine reconnect, after which books
resync from fresh snapshots. REST snapshots are fetched with httpx on a helper thread while
the feed thread keeps reading (depth events are buffered meanwhile, trades flow on).

For the record command::

    from cockpit.adapters.binance.feed import make_feed
    feed = make_feed(["BTCUSDT"], "depth", url=None, sink=queue.put, rest_url=None)
    feed.start(); ...; feed.stats(); feed.stop()

``url`` overrides ``wss://stream.binance.com:9443`` (``/stream`` is appended unless
present); ``rest_url`` overrides ``https://api.binance.com``; when only ``url`` is given the
REST base is the same host and port over http(s) (how the loopback test server works).
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import httpx
import msgspec

from cockpit.adapters.binance.book import BookSync
from cockpit.adapters.binance.decode import (
    Ack,
    BadFrame,
    DepthSnapshot,
    ErrorReply,
    ServerShutdown,
    decode_book_ticker,
    decode_depth,
    decode_snapshot,
    decode_trade,
    depth_event,
    parse_frame,
    quote_event,
    trade_event,
)
from cockpit.adapters.ws import Backoff, Disconnect, Reject, WsConnection, WsProtocol
from cockpit.domain.feed import FeedState, FeedStatus, Sink

log = logging.getLogger(__name__)

DEFAULT_URL: Final = "wss://stream.binance.com:9443"
DEFAULT_REST_URL: Final = "https://api.binance.com"
DEPTH_STREAM: Final = "depth@100ms"
MODES: Final = ("ltp", "quote", "depth")
MAX_STREAMS: Final = 1024
"""Streams per connection (Binance's documented limit)."""
_SYMBOL: Final = re.compile(r"[A-Z0-9_\-]{1,40}")

_ENC = msgspec.json.Encoder()


def streams_for(symbol: str, mode: str) -> list[str]:
    """The stream names one symbol needs in ``mode``."""
    s = symbol.lower()
    if mode == "ltp":
        return [f"{s}@trade"]
    if mode == "quote":
        return [f"{s}@trade", f"{s}@bookTicker"]
    if mode == "depth":
        return [f"{s}@trade", f"{s}@{DEPTH_STREAM}"]
    raise ValueError(f"unknown Binance mode {mode!r} (ltp, quote, depth)")


class BinanceProtocol(WsProtocol):
    """Binance's messages for :class:`~cockpit.adapters.ws.WsConnection`."""

    name = "binance"
    exchange = "BINANCE"
    depth_path = "/api/v3/depth"
    chain_by_pu = False
    """USD-M futures book continuity (``pu``) instead of spot's ``U == u + 1``."""

    def streams(self, symbol: str, mode: str) -> list[str]:
        """The streams this connection carries for one symbol in ``mode``."""
        return streams_for(symbol, mode)

    liveness_s = 30.0  # the server pings every 20 s even when nothing trades
    ping_interval_s: float | None = None  # ours would count against 5 incoming messages/s
    connect_timeout_s = 10.0

    def __init__(
        self,
        url: str | None = None,
        rest_url: str | None = None,
        *,
        depth_levels: int = 20,
        snapshot_limit: int = 1000,
        liveness_s: float = 30.0,
        refetch_s: float = 1.0,
        http_timeout_s: float = 5.0,
    ) -> None:
        """Create the protocol.

        Args:
            url: the stream base (default ``wss://stream.binance.com:9443``).
            rest_url: the REST base for depth snapshots (default from ``url``, see module doc).
            depth_levels: levels per side in each DepthTick.
            snapshot_limit: ``limit`` of the REST snapshot (1000 costs weight 50 of 6000/min;
                5000 costs 250).
            liveness_s: silence (no frame at all, pings included) that means a dead socket.
            refetch_s: the least time between snapshot retries for one symbol.
            http_timeout_s: REST timeout.
        """
        self._base = (url or DEFAULT_URL).rstrip("/")
        if rest_url is None:
            rest_url = DEFAULT_REST_URL if url is None else _rest_from_ws(self._base)
        self.rest_url = rest_url.rstrip("/")
        self.liveness_s = liveness_s
        self.depth_levels = depth_levels
        self.snapshot_limit = snapshot_limit
        self._refetch_s = refetch_s
        self._http_timeout_s = http_timeout_s
        self._http: httpx.Client | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._conn: WsConnection | None = None
        self._lock = threading.Lock()
        self.wanted: dict[str, set[str]] = {}
        """symbol -> modes, maintained by the feed before it (un)subscribes."""
        self._active: set[str] = set()
        """Streams this socket carries (URL + acknowledged or sent SUBSCRIBEs)."""
        self._ids = itertools.count(1)
        self.pending: dict[int, str] = {}
        """Control-message id -> method, until acknowledged."""
        self.books: dict[str, BookSync] = {}
        self.last_price: dict[str, Decimal] = {}
        self.acks = 0
        self.errors = 0
        self.shutdowns = 0

    # -- subscriptions -----------------------------------------------------------------

    def _needed(self) -> list[str]:
        out: dict[str, None] = {}
        for symbol, modes in self.wanted.items():
            for mode in modes:
                for stream in self.streams(symbol, mode):
                    out[stream] = None
        return list(out)

    def url(self) -> str:
        """The combined-stream URL carrying every stream wanted right now."""
        with self._lock:
            streams = self._needed()
            self._active = set(streams)
        path = self._base if self._base.endswith("/stream") else self._base + "/stream"
        return f"{path}?streams={'/'.join(streams)}" if streams else path

    def subscribe_messages(self, mode: str, keys: Sequence[str]) -> list[str | bytes]:
        """A SUBSCRIBE for the streams not on this socket yet (none right after connecting)."""
        with self._lock:
            new = [s for k in keys for s in self.streams(k, mode) if s not in self._active]
            new = list(dict.fromkeys(new))
            if not new:
                return []
            self._active.update(new)
            return [self._control("SUBSCRIBE", new)]

    def unsubscribe_messages(self, mode: str, keys: Sequence[str]) -> list[str | bytes]:
        """An UNSUBSCRIBE for streams no remaining (symbol, mode) needs."""
        with self._lock:
            needed = set(self._needed())
            gone = [
                s
                for k in keys
                for s in self.streams(k, mode)
                if s in self._active and s not in needed
            ]
            gone = list(dict.fromkeys(gone))
            if not gone:
                return []
            self._active.difference_update(gone)
            for k in keys:
                if mode == "depth" and "depth" not in self.wanted.get(k, ()):
                    self.books.pop(k, None)
            return [self._control("UNSUBSCRIBE", gone)]

    def _control(self, method: str, params: list[str]) -> str:
        ident = next(self._ids)
        self.pending[ident] = method
        return _ENC.encode({"method": method, "params": params, "id": ident}).decode()

    # -- session -------------------------------------------------------------------------

    def on_connected(self, conn: WsConnection) -> None:
        """A new socket: books missed events while we were away, so they resync."""
        self._conn = conn
        self.pending.clear()
        for book in self.books.values():
            book.reset()

    def _book(self, symbol: str) -> BookSync | None:
        book = self.books.get(symbol)
        if book is None and "depth" in self.wanted.get(symbol, ()):
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="binance-snapshot")
            book = self.books[symbol] = BookSync(
                symbol,
                self.fetch_snapshot,
                refetch_s=self._refetch_s,
                submit=self._executor.submit,
                chain_by_pu=self.chain_by_pu,
            )
        return book

    def fetch_snapshot(self, symbol: str) -> DepthSnapshot:
        """GET the depth snapshot (``/api/v3/depth``; futures ``/fapi/v1/depth``) on the
        snapshot thread; the feed thread keeps reading."""
        if self._http is None:
            self._http = httpx.Client(base_url=self.rest_url, timeout=self._http_timeout_s)
        resp = self._http.get(
            self.depth_path, params={"symbol": symbol, "limit": self.snapshot_limit}
        )
        resp.raise_for_status()
        return decode_snapshot(resp.content)

    def close(self) -> None:
        """Stop the snapshot thread and release the HTTP client."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        if self._http is not None:
            self._http.close()
            self._http = None

    def decode(self, payload: bytes, binary: bool, recv_ns: int) -> Sequence[object]:
        """One frame -> events; bad frames raise :class:`Reject`."""
        if binary:
            raise Reject("binance: binary frame")
        try:
            msg = parse_frame(payload)
            if isinstance(msg, ServerShutdown):
                self.shutdowns += 1
                raise Disconnect("server shutdown notice (routine reconnect)")
            if isinstance(msg, Ack):
                if isinstance(msg.id, int):
                    self.pending.pop(msg.id, None)
                self.acks += 1
                return ()
            if isinstance(msg, ErrorReply):
                return self._error(msg, recv_ns)
            _, _, kind = msg.stream.partition("@")
            if kind == "trade" or kind == "aggTrade":
                t = decode_trade(msg.data)
                self.last_price[t.symbol] = t.price
                return (trade_event(t, recv_ns, self.exchange),)
            if kind == "bookTicker":
                b = decode_book_ticker(msg.data)
                return (quote_event(b, self.last_price.get(b.symbol), recv_ns, self.exchange),)
            if kind.startswith("depth"):
                return self._depth(msg.data, recv_ns)
            raise BadFrame("binance: unknown stream")
        except BadFrame as exc:
            raise Reject(str(exc)) from None

    def _depth(self, data: msgspec.Raw, recv_ns: int) -> Sequence[object]:
        d = decode_depth(data)
        book = self._book(d.symbol)
        if book is None:
            return ()
        gaps, errors = book.gaps, book.fetch_errors
        changed = book.on_update(d)
        conn = self._conn
        if book.gaps != gaps and conn is not None:
            conn.count_gap(book.gaps - gaps)
            log.info("binance: %s depth gap, resyncing", d.symbol)
        if book.fetch_errors != errors:  # at most once per (growing) retry interval
            log.warning("binance: %s depth snapshot failed: %s", d.symbol, book.last_error)
        if not changed:
            return ()
        bids, asks = book.top(self.depth_levels)
        ev = depth_event(
            d.symbol,
            bids,
            asks,
            self.last_price.get(d.symbol),
            book.last_event_ns,
            recv_ns,
            exchange=self.exchange,
        )
        return () if ev is None else (ev,)

    def _error(self, msg: ErrorReply, recv_ns: int) -> Sequence[object]:
        self.errors += 1
        if isinstance(msg.id, int):
            self.pending.pop(msg.id, None)
        log.warning("binance: error reply %s: %s", msg.code, msg.msg)
        conn = self._conn
        return (
            FeedStatus(
                feed=self.name,
                state=conn.state if conn is not None else FeedState.LIVE,
                ts_ns=recv_ns,
                reason=f"binance error {msg.code}: {msg.msg}"[:300],
                reconnects=conn.reconnects if conn is not None else 0,
            ),
        )


def _symbol(text: str) -> str:
    """A symbol as Binance spells it (``BTCUSDT``); ValueError for anything else."""
    symbol = text.strip().upper()
    if not _SYMBOL.fullmatch(symbol):
        raise ValueError(f"not a Binance symbol: {text!r} (e.g. BTCUSDT)")
    return symbol


def _rest_from_ws(url: str) -> str:
    parts = urlsplit(url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return urlunsplit((scheme, parts.netloc, "", "", ""))


class BinanceFeed:
    """A Binance spot market-data connection with a subscription API."""

    def __init__(
        self,
        sink: Sink,
        *,
        url: str | None = None,
        rest_url: str | None = None,
        backoff: Backoff | None = None,
        stable_s: float = 10.0,
        **protocol_options: Any,
    ) -> None:
        """Create a stopped feed; ``protocol_options`` go to :class:`BinanceProtocol`."""
        self.protocol = BinanceProtocol(url, rest_url, **protocol_options)
        self.conn = WsConnection(
            self.protocol,
            sink,
            backoff=backoff or Backoff(initial=1.0, factor=2.0, cap=60.0),
            stable_s=stable_s,
        )

    def subscribe(self, symbols: Iterable[str], mode: str) -> list[str]:
        """Subscribe symbols (``BTCUSDT``) in ``ltp``/``quote``/``depth``; returns the new ones."""
        if mode not in MODES:
            raise ValueError(f"unknown Binance mode {mode!r} (ltp, quote, depth)")
        keys = [_symbol(s) for s in symbols if s.strip()]
        proto = self.protocol
        with proto._lock:
            before = {k: set(v) for k, v in proto.wanted.items()}
            for k in keys:
                proto.wanted.setdefault(k, set()).add(mode)
            if len(proto._needed()) > MAX_STREAMS:
                proto.wanted = before
                raise ValueError(f"Binance allows at most {MAX_STREAMS} streams per connection")
        return self.conn.subscribe(keys, mode)

    def unsubscribe(self, symbols: Iterable[str], mode: str) -> list[str]:
        """Unsubscribe symbols from ``mode``."""
        keys = [_symbol(s) for s in symbols if s.strip()]
        with self.protocol._lock:
            for k in keys:
                modes = self.protocol.wanted.get(k)
                if modes is not None:
                    modes.discard(mode)
                    if not modes:
                        del self.protocol.wanted[k]
        return self.conn.unsubscribe(keys, mode)

    def start(self) -> None:
        """Start the connection thread."""
        self.conn.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop the connection thread (bounded) and close the HTTP client."""
        ok = self.conn.stop(timeout)
        self.protocol.close()
        return ok

    @property
    def state(self) -> FeedState:
        """The connection state."""
        return self.conn.state

    def wait_state(self, *states: FeedState, timeout: float) -> bool:
        """Block until the state is one of ``states``; False on timeout."""
        return self.conn.wait_state(*states, timeout=timeout)

    def stats(self) -> dict[str, Any]:
        """Connection counters plus acks, error replies, snapshots and resyncs."""
        out = self.conn.stats()
        books = list(self.protocol.books.values())
        out.update(
            acks=self.protocol.acks,
            error_replies=self.protocol.errors,
            shutdown_notices=self.protocol.shutdowns,
            snapshots=sum(b.snapshots for b in books),
            resyncs=sum(b.resyncs for b in books),
            snapshot_errors=sum(b.fetch_errors for b in books),
        )
        return out


def make_feed(
    symbols: list[str],
    mode: str,
    url: str | None,
    sink: Sink,
    *,
    rest_url: str | None = None,
    **options: Any,
) -> BinanceFeed:
    """A Binance feed subscribed to ``symbols`` in ``mode``; not yet started.

    Binance market data needs no credentials; unknown keyword arguments (e.g. Kite's
    ``api_key``) are ignored. Known ``options``: ``backoff``, ``stable_s``, ``depth_levels``,
    ``snapshot_limit``, ``liveness_s``, ``refetch_s``, ``http_timeout_s``.

    Raises:
        ValueError: an unknown mode or no symbols.
    """
    keys = [_symbol(s) for s in symbols if s.strip()]
    if not keys:
        raise ValueError("Binance needs at least one symbol (e.g. BTCUSDT)")
    known = {
        k: v
        for k, v in options.items()
        if k
        in (
            "backoff",
            "stable_s",
            "depth_levels",
            "snapshot_limit",
            "liveness_s",
            "refetch_s",
            "http_timeout_s",
        )
    }
    feed = BinanceFeed(sink, url=url, rest_url=rest_url, **known)
    feed.subscribe(keys, mode)
    return feed
