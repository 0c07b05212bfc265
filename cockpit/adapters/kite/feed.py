"""Kite Connect ticker feed: the binary market stream and order postbacks on one WebSocket.

Built on :mod:`cockpit.adapters.ws` (thread, watchdog, backoff, resubscribe, counters); this
module only knows Kite's messages. Liveness follows the Go/JS clients: no frame of any kind
(1-byte heartbeats included) for 5 s means the socket is dead and it is reconnected. A bad
key or token makes the HTTP upgrade fail with 403: the feed goes DOWN, with no retries.

For the record command (and anything else that wants a ready-made feed)::

    from cockpit.adapters.kite.feed import make_feed
    feed = make_feed(["408065", "256265"], "quote", url=None, sink=queue.put,
                     api_key="...", access_token="...")   # or KITE_API_KEY / KITE_ACCESS_TOKEN
    feed.start(); ...; feed.stats(); feed.stop()

``symbols`` are instrument tokens (decimal strings); ``mode`` is ``ltp``, ``quote`` or
``depth`` (Kite's ``full``); ``url`` overrides ``wss://ws.kite.trade`` (tests point it at a
loopback server); the sink receives :mod:`cockpit.domain.market` events, ``OrderUpdate`` and
``FeedStatus`` objects on the feed's thread. ``token_map`` (token -> (exchange, symbol)) names
the instruments; unknown tokens get the segment's exchange and ``symbol = str(token)``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import msgspec

from cockpit.adapters.kite.decode import KiteDecoder, KiteNotice, TokenMap
from cockpit.adapters.ws import Backoff, Reject, WsConnection, WsProtocol
from cockpit.domain.feed import FeedState, FeedStatus, OrderUpdate, Sink

log = logging.getLogger(__name__)

DEFAULT_URL: Final = "wss://ws.kite.trade"
KITE_MODES: Final = {"ltp": "ltp", "quote": "quote", "depth": "full", "full": "full"}
"""Our mode names (and Kite's own ``full``) -> Kite's mode names."""

MAX_TOKENS: Final = 3000
"""Instruments per connection (Kite's documented limit)."""

_ENC = msgspec.json.Encoder()


class KiteProtocol(WsProtocol):
    """Kite's messages for :class:`~cockpit.adapters.ws.WsConnection`."""

    name = "kite"
    liveness_s = 5.0
    ping_interval_s = None  # a pong would count as a frame and hide a dead server
    connect_timeout_s = 10.0

    def __init__(
        self,
        api_key: str,
        access_token: str,
        token_map: TokenMap | None = None,
        url: str | None = None,
        liveness_s: float = 5.0,
    ) -> None:
        """Create the protocol.

        Args:
            api_key: the Kite Connect app's key.
            access_token: the session's access token.
            token_map: instrument token -> (exchange, symbol).
            url: the ticker address (default ``wss://ws.kite.trade``).
            liveness_s: silence (no frame at all) that counts as a dead connection.
        """
        self._api_key = api_key
        self._access_token = access_token
        self._base = url or DEFAULT_URL
        self.liveness_s = liveness_s
        self.decoder = KiteDecoder(token_map)
        self._conn: WsConnection | None = None

    def url(self) -> str:
        """The ticker URL with the credentials as query parameters (never logged)."""
        parts = urlsplit(self._base)
        creds = urlencode({"api_key": self._api_key, "access_token": self._access_token})
        query = f"{parts.query}&{creds}" if parts.query else creds
        return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))

    def headers(self) -> list[str]:
        """Kite's API version header."""
        return ["X-Kite-Version: 3"]

    def subscribe_messages(self, mode: str, keys: Sequence[str]) -> list[str | bytes]:
        """``subscribe`` then an explicit ``mode`` (the default mode is not documented)."""
        tokens = [int(k) for k in keys]
        return [
            _ENC.encode({"a": "subscribe", "v": tokens}).decode(),
            _ENC.encode({"a": "mode", "v": [KITE_MODES[mode], tokens]}).decode(),
        ]

    def unsubscribe_messages(self, mode: str, keys: Sequence[str]) -> list[str | bytes]:
        """``unsubscribe`` for the tokens."""
        return [_ENC.encode({"a": "unsubscribe", "v": [int(k) for k in keys]}).decode()]

    def on_connected(self, conn: WsConnection) -> None:
        """Remember the connection (for counting rejections and reading its state)."""
        self._conn = conn

    def decode(self, payload: bytes, binary: bool, recv_ns: int) -> Sequence[object]:
        """Binary -> market events; text -> OrderUpdate, or a FeedStatus carrying an error."""
        dec = self.decoder
        if binary:
            events: Sequence[object] = dec.decode_binary(payload, recv_ns)
        else:
            item = dec.decode_text(payload, recv_ns)
            if isinstance(item, OrderUpdate):
                events = (item,)
            elif isinstance(item, KiteNotice):
                events = self._notice(item)
            else:
                events = ()
        if dec.reject_reasons:
            reasons = dec.reject_reasons
            dec.reject_reasons = []
            log.debug("kite: rejected %d (%s)", len(reasons), dec.last_reject)
            if not events and len(reasons) == 1:
                raise Reject(f"kite: {reasons[0]}")
            conn = self._conn
            if conn is not None:
                for reason in reasons:
                    conn.count_reject(f"kite: {reason}")
        return events

    def _notice(self, notice: KiteNotice) -> Sequence[object]:
        if notice.kind == "error":
            log.warning("kite: error from the ticker: %s", notice.text)
            conn = self._conn
            state = conn.state if conn is not None else FeedState.LIVE
            return (
                FeedStatus(
                    feed=self.name,
                    state=state,
                    ts_ns=notice.recv_ns,
                    reason=f"kite error: {notice.text}",
                    reconnects=conn.reconnects if conn is not None else 0,
                ),
            )
        log.info("kite: message from the ticker: %s", notice.text)
        return ()


def _token_key(token: str | int) -> str:
    """A token as the registry key (decimal string); ValueError if it is not a uint32."""
    try:
        value = int(str(token).strip())
    except ValueError:
        raise ValueError(f"Kite instrument tokens are integers, not {token!r}") from None
    if not 0 < value <= 0xFFFF_FFFF:
        raise ValueError(f"Kite instrument token out of range: {token!r}")
    return str(value)


class KiteFeed:
    """A started-on-demand Kite ticker connection with a subscription API."""

    def __init__(
        self,
        api_key: str,
        access_token: str,
        sink: Sink,
        *,
        token_map: TokenMap | None = None,
        url: str | None = None,
        liveness_s: float = 5.0,
        backoff: Backoff | None = None,
        stable_s: float = 10.0,
    ) -> None:
        """Create a stopped feed; see :class:`KiteProtocol` for the arguments."""
        self.protocol = KiteProtocol(api_key, access_token, token_map, url, liveness_s)
        self.conn = WsConnection(
            self.protocol,
            sink,
            backoff=backoff or Backoff(initial=1.0, factor=2.0, cap=60.0),
            stable_s=stable_s,
        )

    def subscribe(self, tokens: Iterable[str | int], mode: str) -> list[str]:
        """Subscribe instrument tokens in ``ltp``/``quote``/``depth``; returns the new ones.

        A token already subscribed in another mode is moved to this one.
        """
        if mode not in KITE_MODES:
            raise ValueError(f"unknown Kite mode {mode!r} (ltp, quote, depth)")
        keys = [_token_key(t) for t in tokens]
        current = {k for ks in self.conn.subscriptions().values() for k in ks}
        if len(current | set(keys)) > MAX_TOKENS:
            raise ValueError(f"Kite allows at most {MAX_TOKENS} instruments per connection")
        for other, subscribed in self.conn.subscriptions().items():
            if other != mode:
                moved = [k for k in keys if k in subscribed]
                if moved:
                    self.conn.unsubscribe(moved, other)
        return self.conn.subscribe(keys, mode)

    def unsubscribe(self, tokens: Iterable[str | int], mode: str = "") -> None:
        """Unsubscribe tokens from whatever mode they are in (``mode`` is not needed)."""
        keys = [_token_key(t) for t in tokens]
        for mode in list(self.conn.subscriptions()):
            self.conn.unsubscribe(keys, mode)

    def start(self) -> None:
        """Start the connection thread."""
        self.conn.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop the connection thread (bounded)."""
        return self.conn.stop(timeout)

    @property
    def state(self) -> FeedState:
        """The connection state."""
        return self.conn.state

    def wait_state(self, *states: FeedState, timeout: float) -> bool:
        """Block until the state is one of ``states``; False on timeout."""
        return self.conn.wait_state(*states, timeout=timeout)

    def stats(self) -> dict[str, Any]:
        """Connection counters plus the decoder's (packets, heartbeats, orders, notices)."""
        out = self.conn.stats()
        dec = self.protocol.decoder
        out.update(
            packets=dec.packets,
            heartbeats=dec.heartbeats,
            orders=dec.orders,
            notices=dec.notices,
        )
        return out


def make_feed(
    symbols: list[str],
    mode: str,
    url: str | None,
    sink: Sink,
    *,
    api_key: str | None = None,
    access_token: str | None = None,
    token_map: TokenMap | None = None,
    **options: Any,
) -> KiteFeed:
    """A Kite feed subscribed to ``symbols`` (instrument tokens) in ``mode``; not yet started.

    Credentials default to ``KITE_API_KEY`` / ``KITE_ACCESS_TOKEN`` from the environment.
    Extra ``options`` go to :class:`KiteFeed` (``liveness_s``, ``backoff``, ``stable_s``);
    others (e.g. a ``rest_url`` meant for another venue) are ignored.

    Raises:
        ValueError: missing credentials, a symbol that is not a token, or an unknown mode.
    """
    api_key = api_key or os.environ.get("KITE_API_KEY", "")
    access_token = access_token or os.environ.get("KITE_ACCESS_TOKEN", "")
    if not api_key or not access_token:
        raise ValueError(
            "Kite needs an API key and an access token (KITE_API_KEY, KITE_ACCESS_TOKEN)"
        )
    tokens: list[str] = []
    for s in symbols:
        s = s.strip()
        if not s:
            continue
        if not s.isdigit():
            raise ValueError(f"Kite symbols are instrument tokens (digits), not {s!r}")
        tokens.append(s)
    known = {k: v for k, v in options.items() if k in ("liveness_s", "backoff", "stable_s")}
    feed = KiteFeed(api_key, access_token, sink, token_map=token_map, url=url, **known)
    feed.subscribe(tokens, mode)
    return feed
