"""Binance USD-M futures market data: aggTrade, bookTicker and ``pu``-chained depth.

The differences from spot (protocols file §2.6): streams are routed by kind, so one feed holds
two connections (``wss://fstream.binance.com/public`` for ``@depth@100ms`` and
``@bookTicker``, ``/market`` for ``@aggTrade``; a stream sent to the wrong route fails
silently); the book's snapshot is ``GET /fapi/v1/depth`` and continuity is ``pu == previous
u`` (:class:`~cockpit.adapters.binance.book.BookSync` with ``chain_by_pu``); the server pings
only every 3 minutes, so the client pings every 20 s (within the 10 messages/s allowed) and
the pongs keep the watchdog fed. Instruments come from ``GET /fapi/v1/exchangeInfo``.
Symbols are ``BTCUSDT`` (perpetual) or ``BTCUSDT_260327`` (delivery), exchange
``BINANCE_FUTURES``.

A connection is only opened for a route that has streams (``ltp`` needs no ``/public``).
With ``url`` (loopback tests) the routes are ``url + "/public"`` and ``url + "/market"`` and
the REST base is the same host.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Final

from cockpit.adapters.binance.feed import MODES, BinanceProtocol, _rest_from_ws, _symbol
from cockpit.adapters.binance.instruments import exchange_info
from cockpit.adapters.venue_feed import DEFAULT_BACKOFF, pick
from cockpit.adapters.ws import Backoff, WsConnection
from cockpit.domain.feed import FeedState, Sink
from cockpit.domain.instruments import Exchange, Instrument

DEFAULT_URL: Final = "wss://fstream.binance.com"
DEFAULT_REST_URL: Final = "https://fapi.binance.com"
EXCHANGE: Final = "BINANCE_FUTURES"
ROUTES: Final = ("market", "public")
_WORST: Final = (
    FeedState.DOWN,
    FeedState.RECONNECTING,
    FeedState.STALE,
    FeedState.CONNECTING,
    FeedState.LIVE,
)


def rest_for(url: str | None, rest_url: str | None) -> str:
    """The REST base: ``rest_url``, else the host of ``url``, else the venue's."""
    return rest_url or (_rest_from_ws(url.rstrip("/")) if url else DEFAULT_REST_URL)


def futures_streams(symbol: str, mode: str) -> list[str]:
    """Every stream one symbol needs in ``mode`` (both routes)."""
    s = symbol.lower()
    if mode == "ltp":
        return [f"{s}@aggTrade"]
    if mode == "quote":
        return [f"{s}@aggTrade", f"{s}@bookTicker"]
    if mode == "depth":
        return [f"{s}@aggTrade", f"{s}@depth@100ms"]
    raise ValueError(f"unknown Binance futures mode {mode!r} (ltp, quote, depth)")


def route_of(stream: str) -> str:
    """``public`` for the high-frequency streams (depth, bookTicker), else ``market``."""
    kind = stream.partition("@")[2]
    return "public" if kind.startswith("depth") or kind == "bookTicker" else "market"


class FuturesProtocol(BinanceProtocol):
    """One route's connection of the USD-M futures feed."""

    exchange = EXCHANGE
    depth_path = "/fapi/v1/depth"
    chain_by_pu = True

    def __init__(
        self, base: str, route: str, rest_url: str, *, ping_interval_s: float = 20.0, **kw: Any
    ) -> None:
        super().__init__(f"{base}/{route}", rest_url, **kw)
        self.route = route
        self.name = f"binance-futures:{route}"
        self.ping_interval_s = ping_interval_s

    def streams(self, symbol: str, mode: str) -> list[str]:
        """The symbol's streams on this route only."""
        return [s for s in futures_streams(symbol, mode) if route_of(s) == self.route]

    def counters(self) -> dict[str, Any]:
        """Acks, error replies, snapshots and resyncs of this route."""
        books = list(self.books.values())
        return {
            "acks": self.acks,
            "error_replies": self.errors,
            "shutdown_notices": self.shutdowns,
            "snapshots": sum(b.snapshots for b in books),
            "resyncs": sum(b.resyncs for b in books),
            "snapshot_errors": sum(b.fetch_errors for b in books),
        }


class BinanceFuturesFeed:
    """The USD-M futures feed: a connection per route, one subscription API."""

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
        base = (url or DEFAULT_URL).rstrip("/")
        rest = rest_for(url, rest_url)
        self.protocols = {r: FuturesProtocol(base, r, rest, **protocol_options) for r in ROUTES}
        self.conns = {
            r: WsConnection(p, sink, backoff=backoff or DEFAULT_BACKOFF, stable_s=stable_s)
            for r, p in self.protocols.items()
        }
        self._started = False

    @property
    def protocol(self) -> FuturesProtocol:
        """The book-carrying route (``public``), for tests and the record command."""
        return self.protocols["public"]

    def _needed(self, route: str) -> bool:
        proto = self.protocols[route]
        with proto._lock:
            return bool(proto._needed())

    def subscribe(self, symbols: Iterable[str], mode: str) -> list[str]:
        """Subscribe symbols (``BTCUSDT``) in ``ltp``/``quote``/``depth``; returns the new ones."""
        if mode not in MODES:
            raise ValueError(f"unknown Binance futures mode {mode!r} (ltp, quote, depth)")
        keys = [_symbol(s) for s in symbols if s.strip()]
        new: dict[str, None] = {}
        for route, proto in self.protocols.items():
            if not any(proto.streams(k, mode) for k in keys):
                continue
            with proto._lock:
                for k in keys:
                    proto.wanted.setdefault(k, set()).add(mode)
            new.update(dict.fromkeys(self.conns[route].subscribe(keys, mode)))
            if self._started:
                self.conns[route].start()  # idempotent: opens a route needed from now on
        return list(new)

    def unsubscribe(self, symbols: Iterable[str], mode: str) -> list[str]:
        """Unsubscribe symbols from ``mode``."""
        keys = [_symbol(s) for s in symbols if s.strip()]
        gone: dict[str, None] = {}
        for route, proto in self.protocols.items():
            with proto._lock:
                for k in keys:
                    modes = proto.wanted.get(k)
                    if modes is not None:
                        modes.discard(mode)
                        if not modes:
                            del proto.wanted[k]
            gone.update(dict.fromkeys(self.conns[route].unsubscribe(keys, mode)))
        return list(gone)

    def start(self) -> None:
        """Open the connection of every route that has streams."""
        self._started = True
        for route, conn in self.conns.items():
            if self._needed(route):
                conn.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop every connection (bounded) and the snapshot thread."""
        ok = all([conn.stop(timeout) for conn in self.conns.values()])
        for proto in self.protocols.values():
            proto.close()
        return ok

    def _open(self) -> list[WsConnection]:
        return [c for c in self.conns.values() if c._thread is not None]

    @property
    def state(self) -> FeedState:
        """The worst state of the open connections (DOWN if none is open)."""
        states = {c.state for c in self._open()}
        return next((s for s in _WORST if s in states), FeedState.DOWN)

    def wait_state(self, *states: FeedState, timeout: float) -> bool:
        """Block until every open connection is in one of ``states``; False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            conns = self._open()
            if conns and all(c.state in states for c in conns):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def stats(self) -> dict[str, Any]:
        """The routes' counters added up (``state``: the worst; ``routes``: each one's)."""
        per = {r: {**c.stats(), **self.protocols[r].counters()} for r, c in self.conns.items()}
        out: dict[str, Any] = {"feed": "binance-futures", "state": str(self.state)}
        for stats in per.values():
            for k, v in stats.items():
                if isinstance(v, int) and not isinstance(v, bool):
                    out[k] = out.get(k, 0) + v
        out["rejected_by_reason"] = {}
        for stats in per.values():
            for reason, n in stats["rejected_by_reason"].items():
                out["rejected_by_reason"][reason] = out["rejected_by_reason"].get(reason, 0) + n
        out["routes"] = per
        return out


def make_feed(
    symbols: list[str],
    mode: str,
    url: str | None,
    sink: Sink,
    *,
    rest_url: str | None = None,
    **options: Any,
) -> BinanceFuturesFeed:
    """A USD-M futures feed subscribed to ``symbols`` in ``mode``; not yet started.

    Known ``options``: ``backoff``, ``stable_s``, ``depth_levels``, ``snapshot_limit``,
    ``liveness_s``, ``refetch_s``, ``http_timeout_s``, ``ping_interval_s``.

    Raises:
        ValueError: an unknown mode, a bad symbol, or no symbols.
    """
    keys = [_symbol(s) for s in symbols if s.strip()]
    if not keys:
        raise ValueError("Binance futures needs at least one symbol (e.g. BTCUSDT)")
    names = (
        "backoff",
        "stable_s",
        "depth_levels",
        "snapshot_limit",
        "liveness_s",
        "refetch_s",
        "http_timeout_s",
        "ping_interval_s",
    )
    feed = BinanceFuturesFeed(sink, url=url, rest_url=rest_url, **pick(options, names))
    feed.subscribe(keys, mode)
    return feed


def listing(rest_url: str, timeout: float = 10.0) -> list[Instrument]:
    """Every trading USD-M contract (``GET /fapi/v1/exchangeInfo``).

    Raises:
        ValueError: the venue unreachable or its answer unreadable.
    """
    return exchange_info(rest_url, "/fapi/v1/exchangeInfo", Exchange.BINANCE_FUTURES, timeout)


def lookup(symbols: list[str], rest_url: str, timeout: float = 10.0) -> list[Instrument]:
    """The instruments of ``symbols`` (one exchangeInfo request: futures lists everything).

    Raises:
        ValueError: a symbol not listed, or the venue unreachable.
    """
    listed = {i.symbol: i for i in listing(rest_url, timeout)}
    out = []
    for raw in symbols:
        symbol = _symbol(raw.split(":", 1)[1] if ":" in raw else raw)
        if symbol not in listed:
            raise ValueError(f"{symbol}: not a trading USD-M futures contract")
        out.append(listed[symbol])
    return out
