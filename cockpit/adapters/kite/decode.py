"""Kite Connect ticker frames -> domain events (pure: no I/O, no threads).

Binary frames carry market packets (LTP 8, index 28/32, quote 44, full 184 bytes; the kind is
inferred from the length). Prices are exact ``Decimal``: the raw integer scaled by the
segment's divisor (``token & 0xFF``: CDS 1e7, BCD and NCO 1e4, else 100), never a float.
Text frames carry JSON: order postbacks (-> :class:`~cockpit.domain.feed.OrderUpdate`), errors
and broker messages (-> :class:`KiteNotice`).

Rejections (a truncated frame, an unknown packet length, a negative price, a zero last price in
an LTP or index packet, JSON that is not a Kite message) are counted on the decoder and
skipped; they never raise. A quote or full packet with last price 0 is a contract with no trade
yet today: it is kept (its book is real) with ``ltp`` 0, :data:`~cockpit.domain.market.NO_TRADE`.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

import msgspec

from cockpit.domain.feed import OrderUpdate
from cockpit.domain.market import NO_TRADE as _NO_TRADE
from cockpit.domain.market import DepthTick, Level, LtpTick, QuoteTick

SEGMENTS: Final[dict[int, tuple[str, int]]] = {
    1: ("NSE", 2),
    2: ("NFO", 2),
    3: ("CDS", 7),
    4: ("BSE", 2),
    5: ("BFO", 2),
    6: ("BCD", 4),
    7: ("MCX", 2),
    8: ("MCXSX", 2),
    9: ("INDICES", 2),
    12: ("NCO", 4),
}
"""Segment code (``token & 0xFF``) -> (exchange name for unknown tokens, price decimals)."""

INDICES_SEGMENT: Final = 9

TokenMap = Mapping[int, tuple[str, str]]
"""Instrument token -> ``(exchange, symbol)``, as the caller knows its instruments."""

_I32_MAX: Final = 0x7FFF_FFFF
_UNIT: Final = {d: Decimal(1).scaleb(-d) for d in (2, 4, 7)}
_NS: Final = 1_000_000_000

_LTP = struct.Struct(">II")
_INDEX_QUOTE = struct.Struct(">IIIIIIi")
_INDEX_FULL = struct.Struct(">IIIIIIiI")
_QUOTE = struct.Struct(">11I")
_FULL = struct.Struct(">16I" + "IIH2x" * 10)
_U16 = struct.Struct(">H")

LTP_LEN: Final = _LTP.size
INDEX_QUOTE_LEN: Final = _INDEX_QUOTE.size
INDEX_FULL_LEN: Final = _INDEX_FULL.size
QUOTE_LEN: Final = _QUOTE.size
FULL_LEN: Final = _FULL.size
assert (LTP_LEN, INDEX_QUOTE_LEN, INDEX_FULL_LEN, QUOTE_LEN, FULL_LEN) == (8, 28, 32, 44, 184)

STATUS_MAP: Final[dict[str, str]] = {
    "OPEN": "open",
    "COMPLETE": "complete",
    "CANCELLED": "cancelled",
    "REJECTED": "rejected",
    "TRIGGER PENDING": "trigger pending",
}
"""Kite order statuses -> OpenAlgo-style lower case (any other status is lower-cased as sent)."""


class KiteNotice(msgspec.Struct, frozen=True):
    """A text message from Kite that is not an order: ``kind`` is ``error`` or ``message``."""

    kind: str
    text: str
    recv_ns: int


class _Token:
    """Per-token constants, cached on first sight."""

    __slots__ = ("exchange", "index", "symbol", "token", "unit")

    def __init__(self, token: int, token_map: TokenMap) -> None:
        segment = token & 0xFF
        seg_name, decimals = SEGMENTS.get(segment, (f"SEG{segment}", 2))
        # the price unit (Decimal("0.01") etc.): raw * unit is exact and keeps the scale
        self.unit = _UNIT[decimals]
        self.index = segment == INDICES_SEGMENT
        mapped = token_map.get(token)
        if mapped is None:
            self.exchange, self.symbol = seg_name, str(token)
        else:
            self.exchange, self.symbol = mapped
        self.token = str(token)


class _Bad(Exception):
    """A packet that must not become an event."""


def price_decimals(token: int) -> int:
    """Decimal places of the token's prices (2, 4 or 7), from its segment."""
    return SEGMENTS.get(token & 0xFF, ("", 2))[1]


def scale_price(raw: int, decimals: int) -> Decimal:
    """The exact price for a raw wire integer: ``raw / 10**decimals`` with that exponent."""
    return Decimal(raw).scaleb(-decimals)


class KiteDecoder:
    """Stateful only in its token cache and counters; one per connection/feed.

    Counters: ``frames`` (binary frames seen), ``heartbeats`` (short binary frames),
    ``packets`` (market packets decoded into events), ``rejected`` (packets or frames skipped
    as invalid), ``orders``, ``notices`` (error/message texts).
    """

    def __init__(self, token_map: TokenMap | None = None) -> None:
        self._token_map: TokenMap = token_map or {}
        self._tokens: dict[int, _Token] = {}
        self._json = msgspec.json.Decoder(float_hook=Decimal)
        self.frames = 0
        self.heartbeats = 0
        self.packets = 0
        self.rejected = 0
        self.orders = 0
        self.notices = 0
        self.last_reject = ""
        """Why the last rejection happened, in detail (for logs)."""
        self.reject_reasons: list[str] = []
        """Short reason of each rejection since the caller last cleared this list."""

    # -- binary ---------------------------------------------------------------------------

    def decode_binary(self, data: bytes, recv_ns: int) -> list[LtpTick | QuoteTick | DepthTick]:
        """Decode one binary frame. Heartbeats (frames shorter than 2 bytes) yield nothing."""
        self.frames += 1
        size = len(data)
        if size < 2:
            self.heartbeats += 1
            return []
        view = memoryview(data)
        (count,) = _U16.unpack_from(view, 0)
        pos = 2
        out: list[LtpTick | QuoteTick | DepthTick] = []
        for _ in range(count):
            if pos + 2 > size:
                self._reject("truncated frame", "packet length missing")
                return out
            (length,) = _U16.unpack_from(view, pos)
            pos += 2
            if pos + length > size:
                self._reject("truncated frame", f"packet of {length} bytes overruns the frame")
                return out
            if length < LTP_LEN:
                self._reject("corrupt frame", f"packet of {length} bytes")
                return out
            try:
                out.append(self._packet(view, pos, length, recv_ns))
                self.packets += 1
            except _Bad as exc:
                self._reject("bad packet", str(exc))
            pos += length
        if pos != size:
            self._reject("trailing bytes", f"{size - pos} bytes after {count} packets")
        return out

    def _reject(self, reason: str, detail: str) -> None:
        self.rejected += 1
        self.reject_reasons.append(reason)
        self.last_reject = f"{reason}: {detail}"

    def _token(self, token: int) -> _Token:
        info = self._tokens.get(token)
        if info is None:
            info = self._tokens[token] = _Token(token, self._token_map)
        return info

    def _packet(
        self, view: memoryview, pos: int, length: int, recv_ns: int
    ) -> LtpTick | QuoteTick | DepthTick:
        if length == LTP_LEN:
            token, ltp = _LTP.unpack_from(view, pos)
            t = self._token(token)
            return LtpTick(
                recv_ns=recv_ns,
                exchange=t.exchange,
                symbol=t.symbol,
                ltp=_ltp(ltp, t.unit),
                token=t.token,
            )
        if length in (INDEX_QUOTE_LEN, INDEX_FULL_LEN):
            if length == INDEX_QUOTE_LEN:
                token, ltp, high, low, open_, close, _change = _INDEX_QUOTE.unpack_from(view, pos)
                ts = 0
            else:
                token, ltp, high, low, open_, close, _change, ts = _INDEX_FULL.unpack_from(
                    view, pos
                )
            t = self._token(token)
            unit = t.unit
            return QuoteTick(
                recv_ns=recv_ns,
                exchange=t.exchange,
                symbol=t.symbol,
                ltp=_ltp(ltp, unit),
                token=t.token,
                exch_ns=ts * _NS if ts else None,
                open=_opt_price(open_, unit),
                high=_opt_price(high, unit),
                low=_opt_price(low, unit),
                close=_opt_price(close, unit),
            )
        if length == QUOTE_LEN:
            token, ltp, ltq, atp, vol, tbq, tsq, open_, high, low, close = _QUOTE.unpack_from(
                view, pos
            )
            t = self._token(token)
            unit = t.unit
            return QuoteTick(
                recv_ns=recv_ns,
                exchange=t.exchange,
                symbol=t.symbol,
                ltp=_book_ltp(ltp, unit),
                token=t.token,
                ltq=Decimal(ltq),
                atp=_opt_price(atp, unit),
                volume=Decimal(vol),
                total_buy_qty=Decimal(tbq),
                total_sell_qty=Decimal(tsq),
                open=_opt_price(open_, unit),
                high=_opt_price(high, unit),
                low=_opt_price(low, unit),
                close=_opt_price(close, unit),
            )
        if length == FULL_LEN:
            f = _FULL.unpack_from(view, pos)
            t = self._token(f[0])
            unit = t.unit
            ltt, oi, oi_high, oi_low, ts = f[11], f[12], f[13], f[14], f[15]
            return DepthTick(
                recv_ns=recv_ns,
                exchange=t.exchange,
                symbol=t.symbol,
                ltp=_book_ltp(f[1], unit),
                token=t.token,
                ltq=Decimal(f[2]),
                atp=_opt_price(f[3], unit),
                volume=Decimal(f[4]),
                total_buy_qty=Decimal(f[5]),
                total_sell_qty=Decimal(f[6]),
                open=_opt_price(f[7], unit),
                high=_opt_price(f[8], unit),
                low=_opt_price(f[9], unit),
                close=_opt_price(f[10], unit),
                ltt_ns=ltt * _NS if ltt else None,
                oi=Decimal(oi) if oi else None,
                oi_high=Decimal(oi_high) if oi_high else None,
                oi_low=Decimal(oi_low) if oi_low else None,
                exch_ns=ts * _NS if ts else None,
                bids=_levels(f, 16, unit),
                asks=_levels(f, 31, unit),
            )
        raise _Bad(f"unknown packet length {length}")

    # -- text -----------------------------------------------------------------------------

    def decode_text(self, text: str | bytes, recv_ns: int) -> OrderUpdate | KiteNotice | None:
        """Decode one text frame: an order postback, an error, a broker message, or None.

        Returns None (and counts a rejection) for JSON that is not a Kite message, and None
        without counting for an empty order postback (Kite clients ignore those too).
        """
        try:
            msg = self._json.decode(text)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            self._reject("bad text", f"not JSON: {exc}")
            return None
        if not isinstance(msg, dict):
            self._reject("bad text", "not a JSON object")
            return None
        kind = msg.get("type")
        data = msg.get("data")
        if kind == "order":
            if not data:
                return None
            if not isinstance(data, dict):
                self._reject("bad order", "postback data is not an object")
                return None
            try:
                update = order_update(data, recv_ns)
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                self._reject("bad order", repr(exc))
                return None
            self.orders += 1
            return update
        if kind in ("error", "message"):
            self.notices += 1
            return KiteNotice(kind=kind, text=str(data)[:500], recv_ns=recv_ns)
        self._reject("bad text", f"unknown message type {str(kind)[:40]!r}")
        return None


def _ltp(raw: int, unit: Decimal) -> Decimal:
    if raw == 0 or raw > _I32_MAX:
        raise _Bad(f"last price raw value {raw} is not a positive int32")
    return raw * unit


def _book_ltp(raw: int, unit: Decimal) -> Decimal:
    """The last price of a quote or full packet: 0 is "no trade yet" (its book is real)."""
    return _NO_TRADE if raw == 0 else _ltp(raw, unit)


def _opt_price(raw: int, unit: Decimal) -> Decimal | None:
    if raw == 0:
        return None
    if raw > _I32_MAX:
        raise _Bad(f"price raw value {raw} is negative as int32")
    return raw * unit


def _levels(f: tuple[int, ...], start: int, unit: Decimal) -> tuple[Level, ...]:
    """Five depth entries (qty, price, orders) from ``f[start:start+15]``, empty ones dropped."""
    out: list[Level] = []
    for i in range(start, start + 15, 3):
        qty, price, orders = f[i], f[i + 1], f[i + 2]
        if qty == 0 or price == 0:
            continue
        if price > _I32_MAX:
            raise _Bad(f"depth price raw value {price} is negative as int32")
        out.append((price * unit, Decimal(qty), orders))
    return tuple(out)


def _dec(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool):
        raise TypeError(f"not a number: {value!r}")
    result = value if isinstance(value, Decimal) else Decimal(str(value))
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def order_update(data: dict[str, Any], recv_ns: int) -> OrderUpdate:
    """A Kite order postback (``{"type":"order","data":{...}}``'s data) as an OrderUpdate."""
    status = str(data["status"]).strip().upper()
    quantity = _dec(data.get("quantity"))
    filled = _dec(data.get("filled_quantity"))
    pending = data.get("pending_quantity")
    return OrderUpdate(
        orderid=str(data["order_id"]),
        exchange=str(data.get("exchange") or ""),
        symbol=str(data.get("tradingsymbol") or ""),
        action=str(data.get("transaction_type") or "").upper(),
        status=STATUS_MAP.get(status, status.lower()),
        recv_ns=recv_ns,
        quantity=quantity,
        filled_qty=filled,
        pending_qty=_dec(pending) if pending is not None else max(quantity - filled, Decimal(0)),
        price=_dec(data.get("price")),
        trigger_price=_dec(data.get("trigger_price")),
        average_price=_dec(data.get("average_price")),
        pricetype=str(data.get("order_type") or ""),
        product=str(data.get("product") or ""),
        rejection_reason=str(data.get("status_message") or ""),
        raw=data,
    )
