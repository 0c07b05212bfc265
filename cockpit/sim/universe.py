"""The paper exchange's instrument universe: a small Indian + crypto desk, and ``--instrument``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from cockpit.domain.instruments import Exchange, Instrument, parse_key, to_decimal

IST = ZoneInfo("Asia/Kolkata")


@dataclass(frozen=True, slots=True)
class Listing:
    """One instrument the sim quotes, with what its random walk and /search need."""

    instrument: Instrument
    start_price: Decimal
    """Where the price path starts (the session open)."""
    vol: float = 1.2e-4
    """Volatility of the price path per square-root second, as a fraction of the price."""
    expiry: str = ""
    """``DD-MMM-YY`` for futures, empty otherwise."""
    instrumenttype: str = "EQ"
    freeze_qty: Decimal = Decimal(0)
    """Largest quantity one order may carry (0 = the default cap)."""
    avg_trade_lots: float = 20.0
    """Mean trade size, in lots."""
    oi: int = 0
    """Open interest for derivatives (0 for cash instruments)."""

    @property
    def key(self) -> str:
        """``EXCH:SYMBOL``."""
        return self.instrument.key


def _last_tuesday(year: int, month: int) -> dt.date:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    day = nxt - dt.timedelta(days=1)
    while day.weekday() != 1:
        day -= dt.timedelta(days=1)
    return day


def monthly_expiry(today: dt.date | None = None) -> dt.date:
    """The current monthly expiry (last Tuesday of the month, or next month's once past)."""
    today = today or dt.datetime.now(IST).date()
    exp = _last_tuesday(today.year, today.month)
    if exp < today:
        year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        exp = _last_tuesday(year, month)
    return exp


def future_symbol(base: str, expiry: dt.date) -> str:
    """OpenAlgo's future symbol format, e.g. ``NIFTY30DEC25FUT``."""
    return f"{base}{expiry.strftime('%d%b%y').upper()}FUT"


def default_listings(today: dt.date | None = None) -> list[Listing]:
    """The default universe: NSE cash, the NIFTY index and future, MCX crude, BTCUSDT."""
    exp = monthly_expiry(today)
    exp_text = exp.strftime("%d-%b-%y").upper()
    nse = Decimal("0.05")

    def eq(symbol: str, name: str, price: str, freeze: int = 100_000) -> Listing:
        return Listing(
            Instrument(Exchange.NSE, symbol, nse, Decimal(1), name=name, kind="equity"),
            Decimal(price),
            freeze_qty=Decimal(freeze),
            avg_trade_lots=25.0,
        )

    return [
        eq("RELIANCE", "RELIANCE INDUSTRIES LTD", "1285.40"),
        eq("INFY", "INFOSYS LIMITED", "1512.35"),
        eq("SBIN", "STATE BANK OF INDIA", "801.50"),
        eq("TCS", "TATA CONSULTANCY SERV LT", "3410.00"),
        eq("HDFCBANK", "HDFC BANK LTD", "1720.55"),
        Listing(
            Instrument(Exchange.NSE_INDEX, "NIFTY", nse, Decimal(1), name="NIFTY 50", kind="index"),
            Decimal("24350.00"),
            vol=0.8e-4,
            instrumenttype="INDEX",
            avg_trade_lots=0.0,
        ),
        Listing(
            Instrument(
                Exchange.NFO,
                future_symbol("NIFTY", exp),
                nse,
                Decimal(75),
                name="NIFTY",
                kind="future",
            ),
            Decimal("24410.00"),
            vol=0.8e-4,
            expiry=exp_text,
            instrumenttype="FUTIDX",
            freeze_qty=Decimal(1800),
            avg_trade_lots=2.0,
            oi=12_450_000,
        ),
        Listing(
            Instrument(
                Exchange.MCX,
                "CRUDEOIL",
                Decimal(1),
                Decimal(100),
                name="CRUDEOIL",
                kind="commodity",
            ),
            Decimal("5412"),
            vol=1.5e-4,
            expiry=exp_text,
            instrumenttype="FUTCOM",
            freeze_qty=Decimal(10_000),
            avg_trade_lots=1.5,
            oi=18_230,
        ),
        Listing(
            Instrument(
                Exchange.CRYPTO,
                "BTCUSDT",
                Decimal("0.01"),
                Decimal("0.00001"),
                name="Bitcoin / Tether",
                kind="crypto",
            ),
            Decimal("97250.00"),
            vol=2.0e-4,
            instrumenttype="CRYPTO",
            freeze_qty=Decimal(100),
            avg_trade_lots=4000.0,
        ),
    ]


def parse_instrument_spec(spec: str) -> Listing:
    """Parse ``EXCH:SYMBOL:PRICE[:TICK]`` (the ``--instrument`` flag) into a listing.

    The tick defaults to 0.05 (0.01 on crypto); the lot is 1 (0.00001 on crypto).
    """
    parts = spec.split(":")
    if len(parts) not in (3, 4):
        raise ValueError(f"expected EXCH:SYMBOL:PRICE[:TICK], got {spec!r}")
    exchange, symbol = parse_key(f"{parts[0]}:{parts[1]}")
    symbol = symbol.strip().upper()
    if not symbol:
        raise ValueError(f"empty symbol in {spec!r}")
    crypto = exchange.fractional_quantity
    tick = to_decimal(parts[3]) if len(parts) == 4 else Decimal("0.01" if crypto else "0.05")
    lot = Decimal("0.00001") if crypto else Decimal(1)
    inst = Instrument(
        exchange,
        symbol,
        tick,
        lot,
        name=symbol,
        kind="index" if exchange.is_index else ("crypto" if crypto else "equity"),
    )
    price = to_decimal(parts[2])
    if price <= 0:
        raise ValueError(f"price must be > 0 in {spec!r}")
    snapped = inst.snap(price).price
    return Listing(
        inst,
        snapped,
        instrumenttype="INDEX" if exchange.is_index else ("CRYPTO" if crypto else "EQ"),
        avg_trade_lots=4000.0 if crypto else (0.0 if exchange.is_index else 20.0),
    )
