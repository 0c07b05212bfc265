"""Instruments: identity, tick grid, lot size, and exact price <-> integer-tick conversion.

Inside the engine a price is an integer count of the instrument's ticks
(``price = ticks * tick_size``). Conversion happens at the edges and is exact in both
directions; a price that is not on the grid is snapped the way a venue would and the
snap is reported, never silently kept off-grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Final


class Exchange(StrEnum):
    """Exchange codes as OpenAlgo names them, plus the crypto venues we take data from."""

    NSE = "NSE"
    NFO = "NFO"
    CDS = "CDS"
    BSE = "BSE"
    BFO = "BFO"
    BCD = "BCD"
    MCX = "MCX"
    NCDEX = "NCDEX"
    NCO = "NCO"
    NSE_INDEX = "NSE_INDEX"
    BSE_INDEX = "BSE_INDEX"
    MCX_INDEX = "MCX_INDEX"
    GLOBAL_INDEX = "GLOBAL_INDEX"
    CRYPTO = "CRYPTO"
    BINANCE = "BINANCE"
    BINANCE_FUTURES = "BINANCE_FUTURES"
    BYBIT = "BYBIT"
    HYPERLIQUID = "HYPERLIQUID"
    CCXT = "CCXT"

    @property
    def is_index(self) -> bool:
        """Index exchanges carry prices but nothing is tradable on them."""
        return self.name.endswith("_INDEX")

    @property
    def fractional_quantity(self) -> bool:
        """Whether quantities may be fractional (crypto venues)."""
        return self in _FRACTIONAL


_FRACTIONAL: Final = frozenset(
    {
        Exchange.CRYPTO,
        Exchange.BINANCE,
        Exchange.BINANCE_FUTURES,
        Exchange.BYBIT,
        Exchange.HYPERLIQUID,
        Exchange.CCXT,
    }
)


_INDIAN: Final = frozenset(
    {
        Exchange.NSE,
        Exchange.NFO,
        Exchange.CDS,
        Exchange.BSE,
        Exchange.BFO,
        Exchange.BCD,
        Exchange.MCX,
        Exchange.NCDEX,
        Exchange.NCO,
        Exchange.NSE_INDEX,
        Exchange.BSE_INDEX,
        Exchange.MCX_INDEX,
    }
)
QUOTE_ASSETS: Final = (
    "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "DAI", "USD", "EUR", "GBP", "TRY", "BRL",
    "JPY", "INR", "BTC", "ETH", "BNB",
)  # fmt: skip
"""The assets a crypto symbol may be quoted in, longest first where one ends another."""


def currency_of(exchange: Exchange, symbol: str) -> str:
    """The currency an instrument's prices (and so its P&L) are in: ``INR`` on the Indian
    exchanges, the quote (or settlement) asset of a crypto pair (``BTCUSDT`` -> ``USDT``,
    ``BTC/USDT:USDT`` -> ``USDT``, Hyperliquid's perpetuals ``USDC``); ``""`` when unknown."""
    if exchange in _INDIAN:
        return "INR"
    text = symbol.upper()
    if exchange is Exchange.CCXT or "/" in text:
        pair, _, settle = text.partition(":")
        return settle or pair.partition("/")[2]
    if exchange is Exchange.HYPERLIQUID:
        return "USDC"  # its perpetuals (``BTC``) are margined and settled in USDC
    if exchange is Exchange.GLOBAL_INDEX:
        return ""
    pair = text.partition("_")[0]  # BTCUSDT_260327: a delivery future
    for asset in QUOTE_ASSETS:
        if pair.endswith(asset) and len(pair) > len(asset):
            return asset
    return ""


class Rounding(StrEnum):
    """How an off-grid price is snapped to the tick grid."""

    NEAREST = "nearest"
    """Nearest tick, halves away from zero (what brokers do when they adjust a price)."""
    DOWN = "down"
    """Towards minus infinity: the conservative side for a buy limit."""
    UP = "up"
    """Towards plus infinity: the conservative side for a sell limit."""


_ROUNDING: Final = {
    Rounding.NEAREST: ROUND_HALF_UP,
    Rounding.DOWN: ROUND_FLOOR,
    Rounding.UP: ROUND_CEILING,
}


class InvalidPrice(ValueError):
    """A price that is not a finite number, or is negative where it may not be."""


class OffGridPrice(ValueError):
    """A price that is not a whole number of ticks, where an exact price was required."""

    def __init__(self, instrument: Instrument, price: Decimal, snapped: Decimal) -> None:
        super().__init__(
            f"{instrument.key}: price {price} is not on the {instrument.tick_size} tick grid "
            f"(nearest valid price {snapped})"
        )
        self.price = price
        self.snapped = snapped


MAX_QUANTITY: Final = Decimal(10) ** 12
"""No order quantity is larger (a trillion units: beyond any venue's order, crypto included);
larger values are refused before any arithmetic on them."""
_MIN_QTY_EXPONENT: Final = -18
"""No quantity has more decimals than this (crypto venues use at most 8)."""


class InvalidQuantity(ValueError):
    """A quantity that is not positive, not a lot multiple, or fractional where not allowed."""


@dataclass(frozen=True, slots=True)
class Snapped:
    """The result of snapping a price to the grid."""

    ticks: int
    """The price as an integer number of ticks."""
    price: Decimal
    """The snapped price (``ticks * tick_size``)."""
    requested: Decimal
    """The price that was asked for."""

    @property
    def adjusted(self) -> bool:
        """True when the requested price was off the grid and had to move."""
        return self.price != self.requested


def to_decimal(value: Decimal | int | str | float) -> Decimal:
    """Convert an edge value to a finite Decimal.

    Floats are converted through ``repr`` (their shortest round-tripping text), which is what
    a JSON decoder produced them from, so ``1512.35`` becomes ``Decimal("1512.35")``.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise InvalidPrice(f"not a number: {value!r}")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise InvalidPrice(f"not a number: {value!r}") from exc
    else:
        raise InvalidPrice(f"not a number: {value!r}")
    if not result.is_finite():
        raise InvalidPrice(f"not a finite number: {value!r}")
    return result


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable (or index) instrument on one exchange."""

    exchange: Exchange
    symbol: str
    tick_size: Decimal
    lot_size: Decimal = Decimal(1)
    """The quantity step: orders are whole multiples of it (fractional for crypto)."""
    name: str = ""
    kind: str = "equity"
    """equity | index | future | option | commodity | crypto."""
    token: str = ""
    """The venue's own id (Kite instrument token, broker token), if any."""
    precision: int = field(init=False)
    """Decimal places of a price on the grid (display precision)."""
    currency: str = field(init=False, compare=False)
    """What its prices and P&L are counted in (:func:`currency_of`; ``""`` when unknown)."""

    def __post_init__(self) -> None:
        tick = to_decimal(self.tick_size)
        if tick <= 0:
            raise InvalidPrice(f"{self.exchange}:{self.symbol}: tick size must be > 0, got {tick}")
        lot = to_decimal(self.lot_size)
        if lot <= 0:
            raise InvalidQuantity(f"{self.exchange}:{self.symbol}: lot size must be > 0")
        object.__setattr__(self, "exchange", Exchange(self.exchange))
        object.__setattr__(self, "tick_size", tick)
        object.__setattr__(self, "lot_size", lot)
        exponent = tick.normalize().as_tuple().exponent
        assert isinstance(exponent, int)
        object.__setattr__(self, "precision", max(0, -exponent))
        object.__setattr__(self, "currency", currency_of(self.exchange, self.symbol))

    @property
    def key(self) -> str:
        """``EXCH:SYMBOL``, the identity used everywhere as a dictionary key."""
        return f"{self.exchange}:{self.symbol}"

    @property
    def tradable(self) -> bool:
        """Indices carry prices but cannot be traded."""
        return not self.exchange.is_index

    # -- prices ------------------------------------------------------------------------

    def price(self, ticks: int) -> Decimal:
        """The exact price of ``ticks`` ticks, quantized to the instrument's precision."""
        return (self.tick_size * ticks).quantize(Decimal(1).scaleb(-self.precision))

    def ticks(self, price: Decimal | int | str | float) -> int:
        """The exact number of ticks of ``price``; raises :class:`OffGridPrice` if off-grid."""
        value = to_decimal(price)
        count, remainder = divmod(value, self.tick_size)
        if remainder != 0:
            raise OffGridPrice(self, value, self.snap(value).price)
        return int(count)

    def snap(
        self, price: Decimal | int | str | float, rounding: Rounding = Rounding.NEAREST
    ) -> Snapped:
        """Snap ``price`` to the tick grid and report whether it moved."""
        value = to_decimal(price)
        ticks = int((value / self.tick_size).to_integral_value(rounding=_ROUNDING[rounding]))
        return Snapped(ticks=ticks, price=self.price(ticks), requested=value)

    def market_ticks(self, price: Decimal) -> int | None:
        """A venue's print as whole ticks, or ``None`` when it is unusable.

        The ONE conversion of a market price every feed goes through: exact when on the grid,
        else snapped to the nearest tick, and only THEN checked. ``None`` for a value that
        is not a finite number, that no context can divide (``1e1000000``), or that is not
        at least one tick after snapping: a positive sub-tick print (``0.004`` on a 0.01
        grid, ``1e-1000000``, Kite's raw 1 on a 0.05 grid) is as unusable as 0 -- taken as
        0 ticks it would cross every long stop.
        """
        try:
            if not price.is_finite():
                return None
            count, rest = divmod(price, self.tick_size)
            ticks = int(count) if rest == 0 else self.snap(price, Rounding.NEAREST).ticks
        except (ArithmeticError, ValueError, TypeError, AttributeError):
            return None
        return ticks if ticks > 0 else None

    def format_price(self, ticks: int) -> str:
        """Text of a price with exactly the instrument's precision."""
        return f"{self.price(ticks):.{self.precision}f}"

    def format_money(self, price: Decimal) -> str:
        """Text of a money price with the instrument's precision, or with more digits where it
        has them (an average of fills): ``800.00`` for ``Decimal('800')``."""
        places = max(self.precision, -int(price.as_tuple().exponent)) if price.is_finite() else 0
        return f"{price:.{places}f}"

    # -- quantities --------------------------------------------------------------------

    def check_quantity(self, qty: Decimal | int | str) -> Decimal:
        """Validate an order quantity: positive, at most :data:`MAX_QUANTITY`, a whole number
        of lots, whole unless crypto. Every failure is an :class:`InvalidQuantity`."""
        try:
            value = to_decimal(qty)
        except InvalidPrice as exc:
            raise InvalidQuantity(f"{self.key}: quantity {exc}") from None
        if value <= 0:
            raise InvalidQuantity(f"{self.key}: quantity must be > 0, got {value}")
        if value > MAX_QUANTITY:
            raise InvalidQuantity(
                f"{self.key}: quantity {value:.3g} is beyond any real order "
                f"(at most {MAX_QUANTITY:,})"
            )
        exponent = value.as_tuple().exponent  # an int: the value is finite
        if isinstance(exponent, int) and exponent < _MIN_QTY_EXPONENT:
            raise InvalidQuantity(f"{self.key}: quantity {value:.3g} has too many decimals")
        if value != value.to_integral_value() and not self.exchange.fractional_quantity:
            raise InvalidQuantity(f"{self.key}: fractional quantity {value} not allowed")
        if value % self.lot_size != 0:
            raise InvalidQuantity(
                f"{self.key}: quantity {value} is not a multiple of the lot size {self.lot_size}"
            )
        return value

    def lots(self, count: int | Decimal) -> Decimal:
        """The quantity of ``count`` lots (check it with :meth:`check_quantity`)."""
        try:
            return self.lot_size * to_decimal(count)
        except (ArithmeticError, InvalidPrice) as exc:
            raise InvalidQuantity(f"{self.key}: {count} lots is not a quantity") from exc


def parse_key(key: str) -> tuple[Exchange, str]:
    """Split ``EXCH:SYMBOL`` into its parts; the exchange must be known."""
    exchange, sep, symbol = key.partition(":")
    if not sep or not symbol:
        raise ValueError(f"expected EXCH:SYMBOL, got {key!r}")
    try:
        return Exchange(exchange.upper()), symbol
    except ValueError:
        raise ValueError(f"unknown exchange {exchange!r} in {key!r}") from None
