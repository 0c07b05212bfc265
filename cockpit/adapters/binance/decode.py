"""Binance spot stream frames -> typed venue messages and domain events (pure: no I/O).

Frames are JSON text: combined-stream events ``{"stream": "...", "data": {...}}``, control
replies ``{"result": ..., "id": N}`` / ``{"code": N, "msg": "...", "id": N}``, and the
``serverShutdown`` notice. Prices and quantities arrive as JSON strings and become exact
``Decimal``; a non-finite, negative or zero price, a negative quantity, a wrong type or
unparseable JSON raises :class:`BadFrame` (the feed counts it and skips the frame).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec

from cockpit.domain.market import DepthTick, Level, QuoteTick, TradeTick

EXCHANGE: Final = "BINANCE"
_MS: Final = 1_000_000  # ms -> ns

PriceQty = tuple[Decimal, Decimal]


class BadFrame(ValueError):
    """A frame that must not reach the engine; ``str()`` is a short, countable reason."""


class Trade(msgspec.Struct, frozen=True):
    """``<symbol>@trade`` (and ``@aggTrade``: ``t`` is then the aggregate id ``a``)."""

    symbol: str = msgspec.field(name="s")
    price: Decimal = msgspec.field(name="p")
    qty: Decimal = msgspec.field(name="q")
    trade_time: int = msgspec.field(name="T")
    event_time: int = msgspec.field(name="E", default=0)
    trade_id: int | None = msgspec.field(name="t", default=None)
    agg_id: int | None = msgspec.field(name="a", default=None)
    buyer_is_maker: bool = msgspec.field(name="m", default=False)


class BookTicker(msgspec.Struct, frozen=True):
    """``<symbol>@bookTicker``: the best bid and ask (no event time on spot)."""

    update_id: int = msgspec.field(name="u")
    symbol: str = msgspec.field(name="s")
    bid: Decimal = msgspec.field(name="b")
    bid_qty: Decimal = msgspec.field(name="B")
    ask: Decimal = msgspec.field(name="a")
    ask_qty: Decimal = msgspec.field(name="A")


class DepthUpdate(msgspec.Struct, frozen=True):
    """``<symbol>@depth[@100ms]``: changed levels (absolute quantities; 0 deletes)."""

    symbol: str = msgspec.field(name="s")
    first_id: int = msgspec.field(name="U")
    final_id: int = msgspec.field(name="u")
    bids: list[PriceQty] = msgspec.field(name="b")
    asks: list[PriceQty] = msgspec.field(name="a")
    event_time: int = msgspec.field(name="E", default=0)
    prev_final_id: int | None = msgspec.field(name="pu", default=None)
    """USD-M futures only: the previous event's ``u`` (the continuity check there)."""


class DepthSnapshot(msgspec.Struct, frozen=True):
    """``GET /api/v3/depth``: the book at ``last_update_id``."""

    last_update_id: int = msgspec.field(name="lastUpdateId")
    bids: list[PriceQty]
    asks: list[PriceQty]


class Ack(msgspec.Struct, frozen=True):
    """A reply to a control message (SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS...)."""

    id: int | str | None
    result: object = None


class ErrorReply(msgspec.Struct, frozen=True):
    """An error reply to a control message."""

    code: int
    msg: str
    id: int | str | None = None


class ServerShutdown(msgspec.Struct, frozen=True):
    """The venue will close this connection soon: reconnect."""

    event_time: int = 0


class StreamEvent(msgspec.Struct, frozen=True):
    """A combined-stream event not decoded yet: ``stream`` name and raw ``data``."""

    stream: str
    data: msgspec.Raw


class _Top(msgspec.Struct, frozen=True):
    stream: str | None = None
    data: msgspec.Raw = msgspec.Raw()
    result: msgspec.Raw = msgspec.Raw()
    id: int | str | None | msgspec.UnsetType = msgspec.UNSET
    code: int | None = None
    msg: str | None = None
    e: str | None = None
    E: int = 0  # noqa: N815 - Binance's field name


_TOP = msgspec.json.Decoder(_Top)
_TRADE = msgspec.json.Decoder(Trade)
_BOOK = msgspec.json.Decoder(BookTicker)
_DEPTH = msgspec.json.Decoder(DepthUpdate)
_SNAPSHOT = msgspec.json.Decoder(DepthSnapshot)


def parse_frame(payload: bytes | str) -> StreamEvent | Ack | ErrorReply | ServerShutdown:
    """Classify one text frame.

    Raises:
        BadFrame: not JSON, not an object, or none of the known shapes.
    """
    try:
        top = _TOP.decode(payload)
    except msgspec.DecodeError as exc:
        raise BadFrame("binance: not a JSON object") from exc
    if top.stream is not None:
        if top.stream == "!serverShutdown":
            return ServerShutdown()
        if not top.data:
            raise BadFrame("binance: stream event without data")
        return StreamEvent(top.stream, top.data)
    if top.e == "serverShutdown":
        return ServerShutdown(top.E)
    ident = None if top.id is msgspec.UNSET else top.id
    if top.code is not None:
        return ErrorReply(top.code, top.msg or "", ident)
    if top.id is not msgspec.UNSET:
        return Ack(ident, msgspec.json.decode(top.result) if top.result else None)
    raise BadFrame("binance: unknown message")


def _price(value: Decimal, what: str) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise BadFrame(f"binance: bad {what}")
    return value


def _qty(value: Decimal, what: str) -> Decimal:
    if not value.is_finite() or value < 0:
        raise BadFrame(f"binance: bad {what}")
    return value


def decode_trade(raw: bytes | msgspec.Raw) -> Trade:
    """A validated trade. Raises :class:`BadFrame`."""
    try:
        t = _TRADE.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadFrame("binance: bad trade") from exc
    _price(t.price, "trade price")
    if _qty(t.qty, "trade qty") == 0:
        raise BadFrame("binance: bad trade qty")
    return t


def decode_book_ticker(raw: bytes | msgspec.Raw) -> BookTicker:
    """A validated bookTicker (both sides present). Raises :class:`BadFrame`."""
    try:
        b = _BOOK.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadFrame("binance: bad bookTicker") from exc
    _price(b.bid, "bookTicker price")
    _price(b.ask, "bookTicker price")
    _qty(b.bid_qty, "bookTicker qty")
    _qty(b.ask_qty, "bookTicker qty")
    if b.bid >= b.ask:
        raise BadFrame("binance: crossed bookTicker")
    return b


def _levels(levels: list[PriceQty], what: str) -> None:
    for price, qty in levels:
        _price(price, what + " price")
        _qty(qty, what + " qty")


def decode_depth(raw: bytes | msgspec.Raw) -> DepthUpdate:
    """A validated diff-depth event. Raises :class:`BadFrame`."""
    try:
        d = _DEPTH.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadFrame("binance: bad depth update") from exc
    if d.first_id > d.final_id or d.first_id < 0:
        raise BadFrame("binance: bad depth update ids")
    _levels(d.bids, "depth")
    _levels(d.asks, "depth")
    return d


def decode_snapshot(raw: bytes | str) -> DepthSnapshot:
    """A validated REST depth snapshot. Raises :class:`BadFrame`."""
    try:
        s = _SNAPSHOT.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadFrame("binance: bad depth snapshot") from exc
    _levels(s.bids, "snapshot")
    _levels(s.asks, "snapshot")
    return s


def trade_event(t: Trade, recv_ns: int, exchange: str = EXCHANGE) -> TradeTick:
    """The domain event for a trade; the aggressor is the taker (``m`` = buyer is maker)."""
    tid = t.trade_id if t.trade_id is not None else t.agg_id
    return TradeTick(
        recv_ns=recv_ns,
        exchange=exchange,
        symbol=t.symbol,
        ltp=t.price,
        exch_ns=t.event_time * _MS if t.event_time else None,
        ltq=t.qty,
        ltt_ns=t.trade_time * _MS,
        aggressor="sell" if t.buyer_is_maker else "buy",
        trade_id=None if tid is None else str(tid),
    )


def quote_event(
    b: BookTicker, ltp: Decimal | None, recv_ns: int, exchange: str = EXCHANGE
) -> QuoteTick:
    """Top of book as a QuoteTick; ``ltp`` is the last trade price, else the best bid."""
    return QuoteTick(
        recv_ns=recv_ns,
        exchange=exchange,
        symbol=b.symbol,
        ltp=ltp if ltp is not None else b.bid,
        bids=((b.bid, b.bid_qty, 0),),
        asks=((b.ask, b.ask_qty, 0),),
    )


def depth_event(
    symbol: str,
    bids: list[PriceQty],
    asks: list[PriceQty],
    ltp: Decimal | None,
    exch_ns: int | None,
    recv_ns: int,
    exchange: str = EXCHANGE,
) -> DepthTick | None:
    """Top-N levels as a DepthTick (None if the book is empty and no trade is known)."""
    if ltp is None:
        if bids:
            ltp = bids[0][0]
        elif asks:
            ltp = asks[0][0]
        else:
            return None
    b: tuple[Level, ...] = tuple((p, q, 0) for p, q in bids)
    a: tuple[Level, ...] = tuple((p, q, 0) for p, q in asks)
    return DepthTick(
        recv_ns=recv_ns,
        exchange=exchange,
        symbol=symbol,
        ltp=ltp,
        exch_ns=exch_ns,
        bids=b,
        asks=a,
    )
