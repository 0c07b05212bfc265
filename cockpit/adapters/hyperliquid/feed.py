"""Hyperliquid perpetuals market data: l2Book, trades and allMids over the public WebSocket.

Built on :mod:`cockpit.adapters.ws`; frames per :mod:`cockpit.adapters.hyperliquid.decode`.
One connection (``wss://api.hyperliquid.xyz/ws``). Per coin and mode: ``ltp`` -> ``trades``
(TradeTick); ``quote`` -> trades + ``l2Book`` (the touch as a QuoteTick); ``depth`` ->
trades + ``l2Book`` (a DepthTick of the top ``depth_levels``; every push is a full snapshot,
so a lost message costs nothing but its own update). ``allMids`` (one subscription for every
coin) gives a coin its price before its first trade. Each subscription is its own
``{"method": "subscribe", "subscription": {...}}`` (the venue takes no batches), answered by
a ``subscriptionResponse``; a refusal comes as an ``error`` message. Heartbeat: the server
closes a connection it has sent nothing to for 60 s, so the client sends ``{"method":
"ping"}`` every 20 s and the ``pong`` feeds the watchdog.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import msgspec

from cockpit.adapters.hyperliquid.decode import (
    EXCHANGE,
    BadFrame,
    book_event,
    decode_book,
    decode_mids,
    decode_trades,
    mid_event,
    parse_frame,
    trade_event,
)
from cockpit.adapters.venue_feed import WsFeed, pick
from cockpit.adapters.ws import Reject, WsConnection, WsProtocol
from cockpit.domain.feed import FeedState, FeedStatus, Sink

log = logging.getLogger(__name__)

DEFAULT_URL: Final = "wss://api.hyperliquid.xyz/ws"
DEFAULT_REST_URL: Final = "https://api.hyperliquid.xyz"
MODES: Final = ("ltp", "quote", "depth")
ALL_MIDS: Final = "allMids"
_COIN: Final = re.compile(r"[A-Za-z0-9]{1,20}")
_ENC = msgspec.json.Encoder()
_PING: Final = _ENC.encode({"method": "ping"}).decode()


def coin_of(text: str) -> str:
    """A perpetual as Hyperliquid names it (``BTC``, ``kPEPE``); ValueError for anything else."""
    coin = text.strip()
    if ":" in coin:
        exchange, _, coin = coin.partition(":")
        if exchange.upper() != EXCHANGE:
            raise ValueError(f"not a Hyperliquid coin: {text!r} (e.g. BTC)")
    if not _COIN.fullmatch(coin):
        raise ValueError(f"not a Hyperliquid coin: {text!r} (e.g. BTC)")
    # coins are upper case except a leading k (thousands: kPEPE)
    return coin if coin[:1] == "k" and coin[1:].isupper() else coin.upper()


def subscriptions_for(coin: str, mode: str) -> list[str]:
    """Subscription keys (``type`` or ``type:coin``) one coin needs in ``mode``."""
    if mode == "ltp":
        return [f"trades:{coin}", ALL_MIDS]
    if mode in ("quote", "depth"):
        return [f"trades:{coin}", f"l2Book:{coin}", ALL_MIDS]
    raise ValueError(f"unknown Hyperliquid mode {mode!r} (ltp, quote, depth)")


def rest_from_ws(url: str) -> str:
    """The info endpoint's base on the same host as a WebSocket URL."""
    parts = urlsplit(url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return urlunsplit((scheme, parts.netloc, "", "", ""))


class HyperliquidProtocol(WsProtocol):
    """Hyperliquid's public messages for :class:`~cockpit.adapters.ws.WsConnection`."""

    name = "hyperliquid"

    def __init__(
        self,
        url: str | None = None,
        *,
        depth_levels: int = 20,
        liveness_s: float = 45.0,
        ping_interval_s: float = 20.0,
    ) -> None:
        base = (url or DEFAULT_URL).rstrip("/")
        self._url = base if urlsplit(base).path not in ("", "/") else base + "/ws"
        self.liveness_s = liveness_s
        self.ping_interval_s = ping_interval_s
        self.depth_levels = depth_levels
        self._lock = threading.Lock()
        self.wanted: dict[str, set[str]] = {}
        """coin -> modes, maintained by the feed before it (un)subscribes."""
        self._active: set[str] = set()
        self._conn: WsConnection | None = None
        self.last_trade: dict[str, Decimal] = {}
        self.subscribe_errors: list[str] = []
        self.acks = 0
        self.pongs = 0
        self.books = 0

    def url(self) -> str:
        """The WebSocket URL."""
        return self._url

    def ping_message(self) -> str | None:
        """Hyperliquid's heartbeat."""
        return _PING

    def needed(self) -> set[str]:
        """Every subscription key wanted now."""
        return {
            key
            for coin, modes in self.wanted.items()
            for mode in modes
            for key in subscriptions_for(coin, mode)
        }

    @staticmethod
    def _message(method: str, key: str) -> str:
        kind, _, coin = key.partition(":")
        sub: dict[str, str] = {"type": kind}
        if coin:
            sub["coin"] = coin
        return _ENC.encode({"method": method, "subscription": sub}).decode()

    def subscribe_messages(self, mode: str, keys: Sequence[str]) -> list[str | bytes]:
        """One subscribe per subscription not on this socket yet."""
        with self._lock:
            new = [s for k in keys for s in subscriptions_for(k, mode) if s not in self._active]
            new = list(dict.fromkeys(new))
            self._active.update(new)
        return [self._message("subscribe", s) for s in new]

    def unsubscribe_messages(self, mode: str, keys: Sequence[str]) -> list[str | bytes]:
        """One unsubscribe per subscription no remaining (coin, mode) needs."""
        with self._lock:
            needed = self.needed()
            mine = [s for k in keys for s in subscriptions_for(k, mode)]
            gone = list(dict.fromkeys(s for s in mine if s in self._active and s not in needed))
            self._active.difference_update(gone)
        return [self._message("unsubscribe", s) for s in gone]

    def on_connected(self, conn: WsConnection) -> None:
        """A new socket carries no subscription yet."""
        self._conn = conn
        with self._lock:
            self._active.clear()

    def counters(self) -> dict[str, Any]:
        """Acks, pongs, book snapshots and refused subscriptions."""
        return {
            "acks": self.acks,
            "pongs": self.pongs,
            "snapshots": self.books,
            "subscribe_errors": len(self.subscribe_errors),
        }

    def decode(self, payload: bytes, binary: bool, recv_ns: int) -> Sequence[object]:
        """One frame -> events; bad frames raise :class:`Reject`."""
        if binary:
            raise Reject("hyperliquid: binary frame")
        try:
            msg = parse_frame(payload)
            channel = msg.channel
            if channel == "l2Book":
                return self._book(msg.data, recv_ns)
            if channel == "trades":
                trades = decode_trades(msg.data)
                for t in trades:
                    self.last_trade[t.coin] = t.px
                return [trade_event(t, recv_ns) for t in trades if t.coin in self.wanted]
            if channel == "allMids":
                mids = decode_mids(msg.data)
                return [
                    mid_event(coin, mids[coin], recv_ns)
                    for coin in tuple(self.wanted)  # a copy: subscribe() runs on other threads
                    if coin in mids and coin not in self.last_trade
                ]
            if channel == "pong":
                self.pongs += 1
                return ()
            if channel == "subscriptionResponse":
                self.acks += 1
                return ()
            if channel == "error":
                return self._error(msg.data, recv_ns)
            raise BadFrame("hyperliquid: unknown channel")
        except BadFrame as exc:
            raise Reject(str(exc)) from None

    def _book(self, raw: msgspec.Raw, recv_ns: int) -> Sequence[object]:
        book = decode_book(raw)
        modes = self.wanted.get(book.coin)
        if not modes or not modes & {"quote", "depth"}:
            return ()
        self.books += 1
        ev = book_event(
            book, self.depth_levels, "depth" in modes, self.last_trade.get(book.coin), recv_ns
        )
        return () if ev is None else (ev,)

    def _error(self, raw: msgspec.Raw, recv_ns: int) -> Sequence[object]:
        try:
            text = str(msgspec.json.decode(raw)) if raw else "error"
        except msgspec.DecodeError:
            text = "error"
        text = f"hyperliquid error: {text}"[:300]
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


class HyperliquidFeed(WsFeed):
    """A Hyperliquid public market-data connection with a subscription API."""

    protocol: HyperliquidProtocol

    def __init__(
        self,
        sink: Sink,
        *,
        url: str | None = None,
        backoff: Any = None,
        stable_s: float = 10.0,
        **protocol_options: Any,
    ) -> None:
        """Create a stopped feed; ``protocol_options`` go to :class:`HyperliquidProtocol`."""
        super().__init__(
            HyperliquidProtocol(url, **protocol_options), sink, backoff=backoff, stable_s=stable_s
        )

    def subscribe(self, symbols: Iterable[str], mode: str) -> list[str]:
        """Subscribe coins (``BTC``) in ``ltp``/``quote``/``depth``; returns the new ones."""
        if mode not in MODES:
            raise ValueError(f"unknown Hyperliquid mode {mode!r} (ltp, quote, depth)")
        keys = [coin_of(s) for s in symbols if s.strip()]
        with self.protocol._lock:
            for k in keys:
                self.protocol.wanted.setdefault(k, set()).add(mode)
        return self.conn.subscribe(keys, mode)

    def unsubscribe(self, symbols: Iterable[str], mode: str) -> list[str]:
        """Unsubscribe coins from ``mode``."""
        keys = [coin_of(s) for s in symbols if s.strip()]
        return self.unwant(keys, mode)


def make_feed(
    symbols: list[str], mode: str, url: str | None, sink: Sink, **options: Any
) -> HyperliquidFeed:
    """A Hyperliquid feed subscribed to ``symbols`` in ``mode``; not yet started.

    Known ``options``: ``backoff``, ``stable_s``, ``depth_levels``, ``liveness_s``,
    ``ping_interval_s``; others are ignored.

    Raises:
        ValueError: an unknown mode, a bad coin, or no coins.
    """
    keys = [coin_of(s) for s in symbols if s.strip()]
    if not keys:
        raise ValueError("Hyperliquid needs at least one coin (e.g. BTC)")
    names = ("backoff", "stable_s", "depth_levels", "liveness_s", "ping_interval_s")
    feed = HyperliquidFeed(sink, url=url, **pick(options, names))
    feed.subscribe(keys, mode)
    return feed
