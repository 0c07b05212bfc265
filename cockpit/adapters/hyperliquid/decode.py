"""Hyperliquid WebSocket frames -> typed venue messages and domain events (pure: no I/O).

Sources (Hyperliquid's API docs, ``hyperliquid.gitbook.io/hyperliquid-docs/for-developers/
api/websocket``: "Subscriptions" and "Timeouts and heartbeats"; the official Python SDK's
``websocket_manager.py``). Every server message is ``{"channel": ..., "data": ...}``:

- ``subscriptionResponse`` (data: the subscription echoed) after each subscribe;
- ``pong`` (no data) answering our ``{"method": "ping"}``;
- ``l2Book``: ``WsBook {coin, levels: [bids, asks], time}``, each level ``{px, sz, n}``
  (strings, ``n`` = order count), best first. A full snapshot of the top levels, pushed on
  each block at least 0.5 s after the last push: there is no diff and no sequence to keep;
- ``trades``: ``WsTrade[] {coin, side: "B"|"A" (the aggressor), px, sz, hash, time, tid,
  users}``;
- ``allMids``: ``{mids: {coin: px}}`` for every coin;
- ``error`` (data: a text) for a refused subscription.

Prices and sizes become exact ``Decimal``; a non-finite, negative or zero price, a negative
size, a wrong type or unparseable JSON raises :class:`BadFrame`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec

from cockpit.domain.market import DepthTick, Level, LtpTick, QuoteTick, TradeTick

EXCHANGE: Final = "HYPERLIQUID"
_MS: Final = 1_000_000


class BadFrame(ValueError):
    """A frame that must not reach the engine; ``str()`` is a short, countable reason."""


class Envelope(msgspec.Struct, frozen=True):
    """Any server message: its channel and raw data."""

    channel: str
    data: msgspec.Raw = msgspec.Raw()


class WsLevel(msgspec.Struct, frozen=True):
    """One price level."""

    px: Decimal
    sz: Decimal
    n: int = 0


class WsBook(msgspec.Struct, frozen=True):
    """An ``l2Book`` snapshot."""

    coin: str
    levels: tuple[list[WsLevel], list[WsLevel]]
    time: int = 0


class WsTrade(msgspec.Struct, frozen=True):
    """One trade."""

    coin: str
    side: str
    px: Decimal
    sz: Decimal
    time: int
    tid: int = 0


class AllMids(msgspec.Struct, frozen=True):
    """Every coin's mid price."""

    mids: dict[str, Decimal]


_ENVELOPE = msgspec.json.Decoder(Envelope)
_BOOK = msgspec.json.Decoder(WsBook)
_TRADES = msgspec.json.Decoder(list[WsTrade])
_MIDS = msgspec.json.Decoder(AllMids)


def parse_frame(payload: bytes | str) -> Envelope:
    """The channel and raw data of one text frame.

    Raises:
        BadFrame: not a JSON object with a ``channel``.
    """
    try:
        return _ENVELOPE.decode(payload)
    except msgspec.DecodeError as exc:
        raise BadFrame("hyperliquid: not a channel message") from exc


def _price(value: Decimal, what: str) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise BadFrame(f"hyperliquid: bad {what}")
    return value


def _size(value: Decimal, what: str) -> Decimal:
    if not value.is_finite() or value < 0:
        raise BadFrame(f"hyperliquid: bad {what}")
    return value


def decode_book(raw: msgspec.Raw) -> WsBook:
    """A validated book snapshot. Raises :class:`BadFrame`."""
    try:
        book = _BOOK.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadFrame("hyperliquid: bad l2Book") from exc
    for side in book.levels:
        for lv in side:
            _price(lv.px, "book price")
            _size(lv.sz, "book size")
    bids, asks = book.levels
    if bids and asks and bids[0].px >= asks[0].px:
        raise BadFrame("hyperliquid: crossed l2Book")
    return book


def decode_trades(raw: msgspec.Raw) -> list[WsTrade]:
    """Validated trades. Raises :class:`BadFrame`."""
    try:
        trades = _TRADES.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadFrame("hyperliquid: bad trades") from exc
    for t in trades:
        _price(t.px, "trade price")
        if _size(t.sz, "trade size") == 0:
            raise BadFrame("hyperliquid: bad trade size")
        if t.side not in ("A", "B"):
            raise BadFrame("hyperliquid: bad trade side")
    return trades


def decode_mids(raw: msgspec.Raw) -> dict[str, Decimal]:
    """Every coin's mid; a coin with a bad mid is left out (one bad coin spoils no other)."""
    try:
        mids = _MIDS.decode(raw).mids
    except msgspec.DecodeError as exc:
        raise BadFrame("hyperliquid: bad allMids") from exc
    return {c: px for c, px in mids.items() if px.is_finite() and px > 0}


def book_event(
    book: WsBook, levels: int, depth: bool, ltp: Decimal | None, recv_ns: int
) -> QuoteTick | None:
    """The top ``levels`` as a DepthTick (``depth``) or the touch as a QuoteTick; None if the
    book is empty and no price is known. ``ltp`` is the last trade, else the best bid."""
    bids: tuple[Level, ...] = tuple((lv.px, lv.sz, lv.n) for lv in book.levels[0][:levels])
    asks: tuple[Level, ...] = tuple((lv.px, lv.sz, lv.n) for lv in book.levels[1][:levels])
    if ltp is None:
        touch = bids or asks
        if not touch:
            return None
        ltp = touch[0][0]
    cls = DepthTick if depth else QuoteTick
    return cls(
        recv_ns=recv_ns,
        exchange=EXCHANGE,
        symbol=book.coin,
        ltp=ltp,
        exch_ns=book.time * _MS if book.time else None,
        bids=bids if depth else bids[:1],
        asks=asks if depth else asks[:1],
    )


def trade_event(t: WsTrade, recv_ns: int) -> TradeTick:
    """One trade; ``side`` B means the buyer took liquidity."""
    return TradeTick(
        recv_ns=recv_ns,
        exchange=EXCHANGE,
        symbol=t.coin,
        ltp=t.px,
        exch_ns=t.time * _MS,
        ltq=t.sz,
        ltt_ns=t.time * _MS,
        aggressor="buy" if t.side == "B" else "sell",
        trade_id=str(t.tid) if t.tid else None,
    )


def mid_event(coin: str, mid: Decimal, recv_ns: int) -> LtpTick:
    """A coin's mid as an LtpTick (a price before its first trade)."""
    return LtpTick(recv_ns=recv_ns, exchange=EXCHANGE, symbol=coin, ltp=mid)
