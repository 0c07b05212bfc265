"""The OpenAlgo ``market_data`` frames of the paper exchange (openalgo.md §3), encoded once.

Each tick is encoded once per (mode, depth) that some client wants; :func:`ws_frame` frames
the JSON as a WebSocket text frame so the same bytes go to every subscriber.
"""

from __future__ import annotations

import struct
from decimal import Decimal
from typing import Any, Final

import msgspec

from cockpit.sim.market import SymbolState

MODE_LABELS: Final = {1: "LTP", 2: "Quote", 3: "Depth"}
DATA_MODES: Final = {1: "ltp", 2: "quote", 3: "full"}
"""``data.mode`` as OpenAlgo's Zerodha adapter spells it."""
_MODE_BY_NAME: Final = {"LTP": 1, "QUOTE": 2, "DEPTH": 3}
_ENCODER: Final = msgspec.json.Encoder(decimal_format="number")


def ws_frame(payload: bytes) -> bytes:
    """``payload`` as one unmasked, final WebSocket text frame (server to client)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def normalize_mode(raw: object) -> int:
    """1/2/3 or a case-insensitive LTP/Quote/Depth; anything else raises ValueError."""
    if isinstance(raw, bool):
        raise ValueError(f"Invalid mode {raw!r}: use 1/2/3 or LTP/Quote/Depth")
    if isinstance(raw, int) and raw in MODE_LABELS:
        return raw
    if isinstance(raw, str) and raw.strip().upper() in _MODE_BY_NAME:
        return _MODE_BY_NAME[raw.strip().upper()]
    raise ValueError(f"Invalid mode {raw!r}: use 1/2/3 or LTP/Quote/Depth")


# -- market_data payloads -------------------------------------------------------------


class LtpData(msgspec.Struct, kw_only=True):
    symbol: str
    exchange: str
    mode: int | str
    ltp: Decimal
    ltt: int
    timestamp: int


class QuoteData(msgspec.Struct, kw_only=True):
    symbol: str
    exchange: str
    mode: int | str
    ltp: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int | Decimal
    last_trade_quantity: int | Decimal
    avg_trade_price: Decimal
    change: Decimal
    change_percent: Decimal
    timestamp: int
    ltt: int
    last_quantity: int | Decimal
    average_price: Decimal
    total_buy_quantity: int | Decimal
    total_sell_quantity: int | Decimal
    oi: int
    bid: Decimal
    ask: Decimal


class DepthLevel(msgspec.Struct):
    price: Decimal
    quantity: int | Decimal
    orders: int


class DepthBook(msgspec.Struct):
    buy: list[DepthLevel]
    sell: list[DepthLevel]


class DepthData(QuoteData, kw_only=True):
    depth: DepthBook


class MarketFrame(msgspec.Struct, kw_only=True):
    type: str = "market_data"
    symbol: str
    exchange: str
    mode: int
    broker: str
    data: LtpData | QuoteData | DepthData


def _quote(s: SymbolState, mode: int | str, book: DepthBook | None = None) -> QuoteData | DepthData:
    px = s.px
    change, pct = s.change()
    atp = s.atp()
    ltq = s.qty(s.ltq)
    zero = _ZERO
    tradable = s.tradable
    fields: dict[str, Any] = {
        "symbol": s.symbol,
        "exchange": s.exchange,
        "mode": mode,
        "ltp": px(s.ltp),
        "open": px(s.open),
        "high": px(s.high),
        "low": px(s.low),
        "close": px(s.prev_close),
        "volume": s.qty(s.volume),
        "last_trade_quantity": ltq,
        "avg_trade_price": atp,
        "change": change,
        "change_percent": pct,
        "timestamp": s.ts_ms,
        "ltt": s.ltt_ms,
        "last_quantity": ltq,
        "average_price": atp,
        "total_buy_quantity": s.qty(s.total_buy) if tradable else 0,
        "total_sell_quantity": s.qty(s.total_sell) if tradable else 0,
        "oi": s.oi,
        "bid": px(s.bid) if s.bid else zero,
        "ask": px(s.ask) if s.ask else zero,
    }
    if book is None:
        return QuoteData(**fields)
    return DepthData(**fields, depth=book)


_ZERO: Final = Decimal(0)


def encode_market(
    s: SymbolState, mode: int, depth: int, broker: str, numeric_mode: bool = False
) -> bytes:
    """The JSON of one ``market_data`` frame for ``s`` at ``mode`` (depth levels for mode 3).

    The envelope's ``mode`` is the subscribed integer mode; ``data.mode`` is the adapter's
    text (``ltp``/``quote``/``full``, as Zerodha's) unless ``numeric_mode``.
    """
    data: LtpData | QuoteData | DepthData
    inner: int | str = mode if numeric_mode else DATA_MODES[mode]
    if mode == 1:
        data = LtpData(
            symbol=s.symbol,
            exchange=s.exchange,
            mode=inner,
            ltp=s.px(s.ltp),
            ltt=s.ltt_ms,
            timestamp=s.ts_ms,
        )
    elif mode == 2:
        data = _quote(s, inner)
    else:
        bids, asks = s.book(depth)
        px, qty = s.px, s.qty
        book = DepthBook(
            buy=[DepthLevel(px(p), qty(q), o) for p, q, o in bids],
            sell=[DepthLevel(px(p), qty(q), o) for p, q, o in asks],
        )
        data = _quote(s, inner, book)
    frame = MarketFrame(symbol=s.symbol, exchange=s.exchange, mode=mode, broker=broker, data=data)
    return _ENCODER.encode(frame)


# -- clients ------------------------------------------------------------------------------
