"""Bybit v5 public WebSocket frames -> typed venue messages and domain events (pure: no I/O).

Frames are JSON text (``../shared/protocols/kite-binance-bybit.md`` §3): topic messages
``{"topic": "orderbook.50.BTCUSDT", "type": "snapshot"|"delta", "ts": ms, "data": ...}``,
operation replies ``{"success": true, "ret_msg": "pong"|"subscribe"|..., "op": "ping"|...}``
and the option/spread pong ``{"op": "pong", "args": [...]}``. Prices and sizes are JSON
strings and become exact ``Decimal``; a non-finite, negative or zero price, a negative size,
a wrong type or unparseable JSON raises :class:`BadFrame`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec

from cockpit.domain.market import QuoteTick, TradeTick

EXCHANGE: Final = "BYBIT"
_MS: Final = 1_000_000

PriceQty = tuple[Decimal, Decimal]


class BadFrame(ValueError):
    """A frame that must not reach the engine; ``str()`` is a short, countable reason."""


class OpReply(msgspec.Struct, frozen=True):
    """A reply to ``subscribe``/``unsubscribe``/``ping``."""

    op: str
    success: bool = True
    ret_msg: str = ""
    req_id: str = ""


class Topic(msgspec.Struct, frozen=True):
    """A topic message not decoded yet."""

    topic: str
    type: str
    ts: int
    data: msgspec.Raw


class BookData(msgspec.Struct, frozen=True):
    """``orderbook.{depth}.{symbol}`` data: changed (delta) or all (snapshot) levels."""

    s: str
    b: list[PriceQty]
    a: list[PriceQty]
    u: int
    seq: int = 0


class Trade(msgspec.Struct, frozen=True):
    """One ``publicTrade`` entry: ``S`` is the taker side."""

    T: int  # noqa: N815 - Bybit's field names
    s: str
    S: str  # noqa: N815
    v: Decimal
    p: Decimal
    i: str = ""


class Ticker(msgspec.Struct, frozen=True):
    """``tickers.{symbol}`` data; on linear deltas absent fields are unchanged (None here)."""

    symbol: str
    lastPrice: Decimal | None = None  # noqa: N815
    highPrice24h: Decimal | None = None  # noqa: N815
    lowPrice24h: Decimal | None = None  # noqa: N815
    prevPrice24h: Decimal | None = None  # noqa: N815
    bid1Price: Decimal | None = None  # noqa: N815
    bid1Size: Decimal | None = None  # noqa: N815
    ask1Price: Decimal | None = None  # noqa: N815
    ask1Size: Decimal | None = None  # noqa: N815
    openInterest: Decimal | None = None  # noqa: N815


class _Top(msgspec.Struct, frozen=True):
    topic: str | None = None
    type: str = ""
    ts: int = 0
    data: msgspec.Raw = msgspec.Raw()
    op: str | None = None
    success: bool = True
    ret_msg: str = ""
    req_id: str = ""


_TOP = msgspec.json.Decoder(_Top)
_BOOK = msgspec.json.Decoder(BookData)
_TRADES = msgspec.json.Decoder(list[Trade])
_TICKER = msgspec.json.Decoder(Ticker)


def parse_frame(payload: bytes | str) -> Topic | OpReply:
    """Classify one text frame.

    Raises:
        BadFrame: not JSON, not an object, or none of the known shapes.
    """
    try:
        top = _TOP.decode(payload)
    except msgspec.DecodeError as exc:
        raise BadFrame("bybit: not a JSON object") from exc
    if top.topic is not None:
        if not top.data:
            raise BadFrame("bybit: topic without data")
        if top.type not in ("snapshot", "delta"):
            raise BadFrame("bybit: bad message type")
        return Topic(top.topic, top.type, top.ts, top.data)
    if top.op is not None:
        return OpReply(top.op, top.success, top.ret_msg, top.req_id)
    raise BadFrame("bybit: unknown message")


def _price(value: Decimal, what: str) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise BadFrame(f"bybit: bad {what}")
    return value


def _qty(value: Decimal, what: str) -> Decimal:
    if not value.is_finite() or value < 0:
        raise BadFrame(f"bybit: bad {what}")
    return value


def decode_book(raw: msgspec.Raw) -> BookData:
    """Validated order book data. Raises :class:`BadFrame`."""
    try:
        d = _BOOK.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadFrame("bybit: bad orderbook") from exc
    if d.u < 0:
        raise BadFrame("bybit: bad orderbook ids")
    for levels in (d.b, d.a):
        for price, qty in levels:
            _price(price, "orderbook price")
            _qty(qty, "orderbook size")
    return d


def decode_trades(raw: msgspec.Raw) -> list[Trade]:
    """Validated trades. Raises :class:`BadFrame`."""
    try:
        trades = _TRADES.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadFrame("bybit: bad publicTrade") from exc
    for t in trades:
        _price(t.p, "trade price")
        if _qty(t.v, "trade size") == 0:
            raise BadFrame("bybit: bad trade size")
    return trades


def decode_ticker(raw: msgspec.Raw) -> Ticker:
    """A validated ticker (fields may be absent). Raises :class:`BadFrame`."""
    try:
        t = _TICKER.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadFrame("bybit: bad ticker") from exc
    for name in ("lastPrice", "highPrice24h", "lowPrice24h", "prevPrice24h"):
        value = getattr(t, name)
        if value is not None:
            _price(value, "ticker price")
    for name in ("bid1Price", "ask1Price"):
        value = getattr(t, name)
        if value is not None and value != 0:  # an empty side is "0" on Bybit
            _price(value, "ticker price")
    for name in ("bid1Size", "ask1Size", "openInterest"):
        value = getattr(t, name)
        if value is not None:
            _qty(value, "ticker size")
    return t


def trade_event(t: Trade, recv_ns: int) -> TradeTick:
    """The domain event for one trade (``S`` is the taker's side)."""
    return TradeTick(
        recv_ns=recv_ns,
        exchange=EXCHANGE,
        symbol=t.s,
        ltp=t.p,
        exch_ns=t.T * _MS,
        ltq=t.v,
        ltt_ns=t.T * _MS,
        aggressor="buy" if t.S == "Buy" else "sell",
        trade_id=t.i or None,
    )


class TickerState:
    """One symbol's ticker, merged across linear deltas (absent fields are unchanged)."""

    FIELDS: Final = tuple(f for f in Ticker.__struct_fields__ if f != "symbol")

    def __init__(self) -> None:
        self.values: dict[str, Decimal] = {}

    def merge(self, t: Ticker, snapshot: bool) -> None:
        """Take a snapshot (replaces) or a delta (overlays)."""
        if snapshot:
            self.values = {}
        for name in self.FIELDS:
            value = getattr(t, name)
            if value is not None:
                self.values[name] = value

    def event(self, symbol: str, ts_ms: int, recv_ns: int) -> QuoteTick | None:
        """A QuoteTick of the merged ticker (None before a last price is known).

        No ``volume``: Bybit's is a rolling 24-hour sum, which would not read as a day's
        cumulative volume (trades come from ``publicTrade``); no bid/ask: the order book
        stream owns the touch.
        """
        v = self.values
        ltp = v.get("lastPrice")
        if ltp is None:
            return None
        return QuoteTick(
            recv_ns=recv_ns,
            exchange=EXCHANGE,
            symbol=symbol,
            ltp=ltp,
            exch_ns=ts_ms * _MS if ts_ms else None,
            high=v.get("highPrice24h"),
            low=v.get("lowPrice24h"),
            close=v.get("prevPrice24h"),
            oi=v.get("openInterest"),
        )
