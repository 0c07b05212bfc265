"""Market-data events: immutable, typed, and the normalized tick line of DESIGN.md §3.

Every feed adapter turns venue frames into these. Prices and quantities are ``Decimal``
(exact, as the venue sent them); the engine converts prices to integer ticks with the
instrument. Encoding an event with :data:`ENCODER` gives exactly one normalized tick line
(absent fields omitted, prices as JSON numbers); :func:`decode_line` reads one back.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec

NO_TRADE: Final = Decimal(0)
"""``ltp`` of a quote or depth event whose contract has not traded today: the venue sends its
book and quotes with a last price of 0. Feeds keep such events (never an LTP-only one);
consumers take the last price as absent and keep the quotes and the book."""

Level = tuple[Decimal, Decimal, int]
"""One book level: ``(price, quantity, orders)``; ``orders`` is 0 where the venue omits it."""


class MarketEvent(msgspec.Struct, frozen=True, tag_field="kind", omit_defaults=True, gc=False):
    """Fields every market event has. Times are integer nanoseconds since the epoch."""

    recv_ns: int
    """When the frame carrying this event was received (``time.time_ns()``)."""
    exchange: str
    symbol: str
    ltp: Decimal
    """The last traded price; :data:`NO_TRADE` (0) in a quote or depth event of a contract
    that has not traded today (its quotes and book are real): there is no last price."""
    exch_ns: int | None = None
    """Exchange time of the event, where the venue sends one."""
    token: str | None = None
    """The venue's own instrument id (Kite instrument token)."""

    @property
    def key(self) -> str:
        """``EXCH:SYMBOL``."""
        return f"{self.exchange}:{self.symbol}"

    @property
    def traded(self) -> bool:
        """Whether ``ltp`` is a price (False: :data:`NO_TRADE`, no trade yet today)."""
        return self.ltp != NO_TRADE


class LtpTick(MarketEvent, frozen=True, tag="ltp"):
    """Last traded price only."""

    ltt_ns: int | None = None


class TradeTick(MarketEvent, frozen=True, tag="trade"):
    """One trade: price ``ltp`` and size ``ltq``."""

    ltq: Decimal | None = None
    ltt_ns: int | None = None
    aggressor: str | None = None
    """``buy`` or ``sell``: the taker's side, where the venue says."""
    trade_id: str | None = None


class QuoteTick(MarketEvent, frozen=True, tag="quote"):
    """Last price with session statistics and, where present, the top of the book."""

    ltt_ns: int | None = None
    ltq: Decimal | None = None
    atp: Decimal | None = None
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    close: Decimal | None = None
    """The previous session's close."""
    volume: Decimal | None = None
    total_buy_qty: Decimal | None = None
    total_sell_qty: Decimal | None = None
    oi: Decimal | None = None
    oi_high: Decimal | None = None
    oi_low: Decimal | None = None
    bids: tuple[Level, ...] | None = None
    """Best bid first; for a quote at most the top level."""
    asks: tuple[Level, ...] | None = None


class DepthTick(QuoteTick, frozen=True, tag="depth"):
    """A full depth snapshot (``bids``/``asks`` best first) with the quote fields."""


AnyMarketEvent = LtpTick | TradeTick | QuoteTick | DepthTick
"""The union every feed yields; ``kind`` says which."""

ENCODER: Final = msgspec.json.Encoder(decimal_format="number")
_DECODER: Final = msgspec.json.Decoder(AnyMarketEvent)


def encode_line(event: AnyMarketEvent) -> bytes:
    """One normalized tick line (without the newline)."""
    return ENCODER.encode(event)


def decode_line(line: bytes | str) -> AnyMarketEvent:
    """Parse one normalized tick line; raises ``msgspec.ValidationError`` on a bad one."""
    return _DECODER.decode(line)
