"""OpenAlgo WebSocket feed: authenticate, subscribe LTP/quote/depth and orders, decode to events.

The protocol is ``shared/protocols/openalgo.md`` (beside the checkout) §1 and §3. Keys are
``EXCH:SYMBOL``; modes are ``ltp``, ``quote``, ``depth`` (OpenAlgo 1/2/3) and ``orders`` (the
order-update stream, key ``*``). ``market_data`` frames become :class:`LtpTick`/:class:`QuoteTick`/
:class:`DepthTick` by the mode the server tagged them with; ``order_update`` frames become
:class:`OrderUpdate` (source ``pushed``). Prices are ``Decimal`` exactly as sent. Broker
key names vary (``last_quantity``/``last_trade_quantity``, ``average_price``/
``avg_trade_price``, timestamps in s/ms/us/ns): both are read. A bad frame (malformed JSON,
wrong types, NaN, negative, zero or absurd prices) is counted under a reason and skipped.

Usage::

    feed = OpenAlgoFeed(ws_url, api_key, sink)
    feed.subscribe(["NSE:INFY", "NSE:SBIN"], "quote")
    feed.subscribe_orders()
    feed.start()
    ...
    feed.stop()
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import msgspec

from cockpit.adapters.openalgo.rows import to_ns
from cockpit.adapters.venue_feed import WsFeed
from cockpit.adapters.ws import AuthRefused, Backoff, Disconnect, Reject, WsProtocol
from cockpit.domain.feed import OrderUpdate, OrderUpdateSource, Sink
from cockpit.domain.market import DepthTick, Level, LtpTick, QuoteTick

log = logging.getLogger(__name__)

MODES: Final = {"ltp": 1, "quote": 2, "depth": 3}
"""Our mode names -> OpenAlgo mode numbers."""
ORDERS: Final = "orders"
"""The pseudo-mode of the order-update stream (its only key is ``*``)."""

MAX_PRICE: Final = Decimal(10) ** 10
"""Anything at or above this is absurd for any instrument OpenAlgo serves."""
MAX_QTY: Final = Decimal(10) ** 15

_AUTH_ERRORS: Final = frozenset({"AUTHENTICATION_ERROR"})
_ZERO: Final = Decimal(0)


class _Level(msgspec.Struct, gc=False):
    price: Decimal | None = None
    quantity: Decimal | None = None
    qty: Decimal | None = None
    orders: Decimal | None = None


class _Depth(msgspec.Struct, gc=False):
    buy: list[_Level] | None = None
    sell: list[_Level] | None = None
    bids: list[_Level] | None = None
    asks: list[_Level] | None = None


class _Data(msgspec.Struct, gc=False):
    ltp: Decimal | None = None
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    close: Decimal | None = None
    volume: Decimal | None = None
    last_quantity: Decimal | None = None
    last_trade_quantity: Decimal | None = None
    average_price: Decimal | None = None
    avg_trade_price: Decimal | None = None
    total_buy_quantity: Decimal | None = None
    total_sell_quantity: Decimal | None = None
    oi: Decimal | None = None
    timestamp: int | float | str | None = None
    ltt: int | float | str | None = None
    depth: _Depth | None = None


class _Frame(msgspec.Struct, gc=False):
    """Every server frame: market_data, order_update, acks and type-less errors.

    The decode structs are acyclic and short-lived: ``gc=False`` keeps them off the
    cyclic collector's books (fewer collections, shorter pauses on the hot path).
    """

    type: str = ""
    status: str = ""
    code: str = ""
    message: str = ""
    symbol: str = ""
    exchange: str = ""
    mode: int | str | None = None
    data: _Data | None = None
    # order_update (top level)
    orderid: str | int | None = None
    action: str = ""
    quantity: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    pricetype: str = ""
    product: str = ""
    order_status: str = ""
    filled_quantity: Decimal | None = None
    pending_quantity: Decimal | None = None
    average_price: Decimal | None = None
    rejection_reason: str | None = None
    subscriptions: list[dict[str, Any]] | None = None


_DECODER: Final = msgspec.json.Decoder(_Frame)
_RAW: Final = msgspec.json.Decoder(dict[str, Any])
_ENC: Final = msgspec.json.Encoder()


def _text(obj: object) -> str:
    """JSON as a str: sent as a text frame (bytes would go out as a binary frame)."""
    return _ENC.encode(obj).decode()


_MODE_BY_NAME: Final = {"ltp": 1, "quote": 2, "depth": 3, "1": 1, "2": 2, "3": 3}


def _price(v: Decimal | None, what: str) -> Decimal | None:
    """A price that must be finite, positive and sane; 0 or absent means absent."""
    if v is None:
        return None
    try:
        if _ZERO < v < MAX_PRICE:  # the hot path: one chained comparison
            return v
    except InvalidOperation:  # ordering a NaN signals
        raise Reject(f"non-finite {what}") from None
    _bad_price(v, what)  # raises unless the price is 0
    return None


def _bad_price(v: Decimal, what: str) -> None:
    if not v.is_finite():
        raise Reject(f"non-finite {what}")
    if v == 0:
        return None
    if v < 0:
        raise Reject(f"negative {what}")
    raise Reject(f"absurd {what}")


def _qty(v: Decimal | None, what: str) -> Decimal | None:
    if v is None:
        return None
    try:
        if _ZERO <= v < MAX_QTY:
            return v
    except InvalidOperation:
        raise Reject(f"non-finite {what}") from None
    if not v.is_finite():
        raise Reject(f"non-finite {what}")
    if v < 0:
        raise Reject(f"negative {what}")
    raise Reject(f"absurd {what}")


_SIDE_WORDS: Final = {
    side: (f"{side} price", f"{side} quantity", f"{side} orders") for side in ("bid", "ask")
}
"""The words of a bad level's reason, made once (not on every level of every frame)."""


def _levels(raw: list[_Level] | None, side: str) -> tuple[Level, ...]:
    if not raw:
        return ()
    out = []
    for lv in raw:
        price = lv.price
        qty = lv.quantity if lv.quantity is not None else lv.qty
        orders = lv.orders
        try:  # the hot path: a sane level, checked in one expression (a NaN signals)
            if (
                price is not None
                and qty is not None
                and orders is not None
                and _ZERO < price < MAX_PRICE
                and _ZERO <= qty < MAX_QTY
                and _ZERO <= orders < MAX_QTY
            ):
                out.append((price, qty, int(orders)))
                continue
        except InvalidOperation:
            pass
        words = _SIDE_WORDS[side]
        price = _price(price, words[0])
        qty = _qty(qty, words[1])
        if price is None:
            continue  # zero-padded level
        orders = _qty(orders, words[2])
        out.append((price, qty if qty is not None else _ZERO, int(orders or 0)))
    return tuple(out)


def decode_market_data(f: _Frame, recv_ns: int) -> LtpTick | QuoteTick | DepthTick:
    """Turn one ``market_data`` frame into an event; raises :class:`Reject` if it is bad."""
    d = f.data
    if d is None:
        raise Reject("no data")
    if not f.symbol or not f.exchange:
        raise Reject("no symbol")
    mode = f.mode
    if not isinstance(mode, int):
        mode = _MODE_BY_NAME.get(str(mode).lower(), 0)
    ltp = _price(d.ltp, "ltp")
    if ltp is None:
        if d.ltp is None or mode == 1:
            raise Reject("no ltp" if d.ltp is None else "zero ltp")
        ltp = _ZERO  # no trade yet today: the quote and the book are real (NO_TRADE)
    exch_ns = to_ns(d.timestamp)
    ltt_ns = to_ns(d.ltt)
    if mode == 1:
        return LtpTick(
            recv_ns=recv_ns,
            exchange=f.exchange,
            symbol=f.symbol,
            ltp=ltp,
            exch_ns=exch_ns,
            ltt_ns=ltt_ns,
        )
    if mode not in (2, 3):
        raise Reject("bad mode")
    ltq = d.last_quantity if d.last_quantity is not None else d.last_trade_quantity
    atp = d.average_price if d.average_price is not None else d.avg_trade_price
    depth = d.depth
    if mode == 3 and depth is None:
        raise Reject("no depth")
    cls: type[QuoteTick] = DepthTick if mode == 3 else QuoteTick
    bids: tuple[Level, ...] | None = None
    asks: tuple[Level, ...] | None = None
    if depth is not None:
        bids = _levels(depth.buy if depth.buy is not None else depth.bids, "bid")
        asks = _levels(depth.sell if depth.sell is not None else depth.asks, "ask")
        if bids and asks and bids[0][0] > asks[0][0]:
            raise Reject("crossed book")  # its bid would price a limit exit above the market
        if mode == 2:  # a quote subscriber got a richer tick: keep the top of book
            bids, asks = bids[:1] or None, asks[:1] or None
    return cls(
        recv_ns=recv_ns,
        exchange=f.exchange,
        symbol=f.symbol,
        ltp=ltp,
        exch_ns=exch_ns,
        ltt_ns=ltt_ns,
        ltq=_qty(ltq, "ltq"),
        atp=_price(atp, "atp"),
        open=_price(d.open, "open"),
        high=_price(d.high, "high"),
        low=_price(d.low, "low"),
        close=_price(d.close, "close"),
        volume=_qty(d.volume, "volume"),
        total_buy_qty=_qty(d.total_buy_quantity, "total_buy_qty"),
        total_sell_qty=_qty(d.total_sell_quantity, "total_sell_qty"),
        oi=_qty(d.oi, "oi"),
        bids=bids,
        asks=asks,
    )


def decode_order_update(f: _Frame, payload: bytes, recv_ns: int) -> OrderUpdate:
    """Turn one ``order_update`` frame into an :class:`OrderUpdate`."""
    if f.orderid is None or str(f.orderid) == "":
        raise Reject("order without id")
    if not f.order_status:
        raise Reject("order without status")
    zero = Decimal(0)
    try:
        raw = _RAW.decode(payload)
    except (msgspec.DecodeError, ValueError):
        raw = None
    return OrderUpdate(
        orderid=str(f.orderid),
        exchange=f.exchange,
        symbol=f.symbol,
        action=f.action.upper(),
        status=f.order_status.lower(),
        recv_ns=recv_ns,
        quantity=_qty(f.quantity, "quantity") or zero,
        filled_qty=_qty(f.filled_quantity, "filled_quantity") or zero,
        pending_qty=_qty(f.pending_quantity, "pending_quantity") or zero,
        price=_price(f.price, "price") or zero,
        trigger_price=_price(f.trigger_price, "trigger_price") or zero,
        average_price=_price(f.average_price, "average_price") or zero,
        pricetype=f.pricetype,
        product=f.product,
        rejection_reason=f.rejection_reason or "",
        source=OrderUpdateSource.PUSHED,
        raw=raw,
    )


def split_key(key: str) -> dict[str, str]:
    """``"NSE:INFY"`` -> ``{"symbol": "INFY", "exchange": "NSE"}``."""
    exchange, sep, symbol = key.partition(":")
    if not sep or not exchange or not symbol:
        raise ValueError(f"not an EXCH:SYMBOL key: {key!r}")
    return {"symbol": symbol, "exchange": exchange}


class OpenAlgoProtocol(WsProtocol):
    """The OpenAlgo WebSocket messages (see the module docstring)."""

    name = "openalgo"
    awaits_auth = True
    auth_timeout_s = 10.0
    liveness_s = 15.0
    """No frame at all (our pings get pongs) for this long: the socket is dead."""
    data_liveness_s: float | None = 30.0
    """No market data for this long while subscribed: the feed says it is quiet (a LIVE status
    with the reason ``quiet: ...``) and stays connected; the server answers our pings, and a
    reconnect would make it rebuild the broker's socket and lose the order updates pushed
    meanwhile. The silent symbols turn STALE by their own tick times (the entry gate, the
    screen)."""
    quiet_modes = frozenset({ORDERS})
    ping_interval_s = 5.0
    reorder_window_s = 2.0
    """A symbol's frames behind its newest exchange time are dropped as out of order (a
    duplicate or delayed frame would move an exit on a stale price) until they have kept
    coming behind this long by our clock: then the server's clock went back (or the stream
    carries a second clock), and its time is taken (see :meth:`_in_order`)."""

    def __init__(self, ws_url: str, api_key: str, depth_levels: int = 5) -> None:
        """Args: ws_url: e.g. ``ws://127.0.0.1:8765``; api_key: the OpenAlgo key."""
        self._url = ws_url
        self._api_key = api_key
        self.depth_levels = depth_levels
        self.subscribe_errors: list[str] = []
        self.server_errors: list[str] = []
        self._newest: dict[tuple[str, str, type], int] = {}
        """(exchange, symbol, event class) -> the newest exchange time taken (ns)."""
        self._behind: dict[tuple[str, str, type], list[int]] = {}
        """(exchange, symbol, event class) -> its run of frames behind: when (our ns) the
        run's first and its latest frame came (see :meth:`_in_order`)."""

    def url(self) -> str:
        return self._url

    def open_messages(self) -> list[str | bytes]:
        return [_text({"action": "authenticate", "api_key": self._api_key})]

    def auth_reply(self, payload: bytes, binary: bool) -> bool | None:
        try:
            f = _DECODER.decode(payload)
        except (msgspec.DecodeError, ValueError):
            return None
        if f.type == "auth":
            if f.status == "success":
                return True
            raise AuthRefused(f.message or f.status or "refused")
        if not f.type and f.status == "error":
            if f.code in _AUTH_ERRORS:
                raise AuthRefused(f.message or f.code)
            if f.code.startswith("BROKER"):
                raise Disconnect(f"server error at authentication: {f.code}: {f.message}")
        return None

    def subscribe_messages(self, mode: str, keys: Sequence[str]) -> list[str | bytes]:
        if mode == ORDERS:
            return [_text({"action": "subscribe_orders"})]
        return [
            _text(
                {
                    "action": "subscribe",
                    "mode": MODES[mode],
                    "depth": self.depth_levels,
                    "symbols": [split_key(k) for k in keys],
                }
            )
        ]

    def unsubscribe_messages(self, mode: str, keys: Sequence[str]) -> list[str | bytes]:
        if mode == ORDERS:
            return [_text({"action": "unsubscribe_orders"})]
        n = MODES[mode]
        return [
            _text({"action": "unsubscribe", "symbols": [{**split_key(k), "mode": n} for k in keys]})
        ]

    def decode(self, payload: bytes, binary: bool, recv_ns: int) -> Sequence[object]:
        try:
            f = _DECODER.decode(payload)
        except msgspec.ValidationError:
            raise Reject("wrong types") from None
        except (msgspec.DecodeError, ValueError):
            raise Reject("malformed") from None
        t = f.type
        if t == "market_data":
            ev = decode_market_data(f, recv_ns)
            if ev.exch_ns is not None:
                self._in_order(ev.exchange, ev.symbol, type(ev), ev.exch_ns, recv_ns)
            return (ev,)
        if t == "order_update":
            return (decode_order_update(f, payload, recv_ns),)
        if not t:
            if f.status == "error":
                self._note(self.server_errors, f"{f.code}: {f.message}")
            return ()
        if t == "subscribe" and f.status != "success":
            for sub in f.subscriptions or ():
                if sub.get("status") != "success":
                    self._note(
                        self.subscribe_errors,
                        f"{sub.get('exchange')}:{sub.get('symbol')}: {sub.get('message', '')}",
                    )
        return ()

    def _in_order(self, exchange: str, symbol: str, cls: type, exch_ns: int, recv_ns: int) -> None:
        """Raise :class:`Reject` for a frame behind its stream's newest exchange time (each
        mode's stream on its own: brokers stamp quotes and books from different clocks).

        A run of frames behind -- from the first until one in order comes more than the
        window after the run's latest -- is taken once it has lasted the window, and its later
        frames with it: the server's clock went back (all its frames behind, however sparse),
        or the stream carries a second clock (a higher mode's tick re-tagged for this mode, a
        tick stamped with the server's time): frames in order between them do not end the
        run, so that clock is never dropped for good. A lone frame behind now and then (a
        duplicate, a replay) starts a run of its own and is dropped."""
        key = (exchange, symbol, cls)
        newest = self._newest.get(key)
        run = self._behind.get(key) if self._behind else None  # most frames: no run
        if newest is not None and exch_ns < newest:
            if run is None:
                run = self._behind[key] = [recv_ns, recv_ns]
            else:
                run[1] = recv_ns
            if recv_ns - run[0] < self.reorder_window_s * 1e9:
                raise Reject("out of order")
            log.warning(  # behind for the window: the server's (or the second) clock is taken
                "openalgo: %s:%s frames behind by %.3f s for %.1f s: taking the server's time",
                exchange,
                symbol,
                (newest - exch_ns) / 1e9,
                (recv_ns - run[0]) / 1e9,
            )
        elif run is not None and recv_ns - run[1] > self.reorder_window_s * 1e9:
            del self._behind[key]  # in order, and nothing behind for the window: run over
        self._newest[key] = exch_ns

    def _note(self, where: list[str], text: str) -> None:
        if len(where) < 100:
            where.append(text)
        log.warning("openalgo: %s", text)


class OpenAlgoFeed(WsFeed):
    """An OpenAlgo market-data and order-update feed on its own thread."""

    protocol: OpenAlgoProtocol

    def __init__(
        self,
        ws_url: str,
        api_key: str,
        sink: Sink,
        *,
        backoff: Backoff | None = None,
        liveness_s: float | None = None,
        data_liveness_s: float | None | bool = False,
        ping_interval_s: float | None = None,
        poll_s: float = 0.2,
        stable_s: float = 10.0,
    ) -> None:
        """Create a stopped feed.

        Args:
            ws_url: the server's WebSocket URL.
            api_key: the OpenAlgo API key (never logged).
            sink: receives events, FeedStatus and OrderUpdate.
            backoff: reconnect delays.
            liveness_s: silence limit (default 15 s; our pings every 5 s keep it fed).
            data_liveness_s: market-data silence that is reported as quiet (default 30 s,
                again at 2x, 4x, 8x); None disables it. It never reconnects.
            ping_interval_s: protocol ping interval.
            poll_s: housekeeping wake-up interval.
            stable_s: a session live this long resets the reconnect backoff.
        """
        protocol = OpenAlgoProtocol(ws_url, api_key)
        if liveness_s is not None:
            protocol.liveness_s = liveness_s
        if data_liveness_s is not False:
            protocol.data_liveness_s = data_liveness_s
        if ping_interval_s is not None:
            protocol.ping_interval_s = ping_interval_s
        super().__init__(
            protocol, sink, backoff=backoff or Backoff(), stable_s=stable_s, poll_s=poll_s
        )

    def subscribe(self, keys: Iterable[str], mode: str = "quote") -> list[str]:
        """Subscribe ``EXCH:SYMBOL`` keys in ``ltp``/``quote``/``depth``; returns the new ones."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        keys = list(keys)
        for k in keys:
            split_key(k)
        return self.conn.subscribe(keys, mode)

    def unsubscribe(self, keys: Iterable[str], mode: str = "quote") -> list[str]:
        """Unsubscribe keys from a mode; returns those that were subscribed."""
        return self.conn.unsubscribe(keys, mode)

    def subscribe_orders(self) -> None:
        """Ask for the account's order updates (replayed on every reconnect)."""
        self.conn.subscribe(["*"], ORDERS)

    def unsubscribe_orders(self) -> None:
        """Stop the order-update stream."""
        self.conn.unsubscribe(["*"], ORDERS)
