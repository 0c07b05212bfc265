"""Instruments: exact price <-> tick conversion, snapping, quantity rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cockpit.domain.instruments import (
    Exchange,
    Instrument,
    InvalidPrice,
    InvalidQuantity,
    OffGridPrice,
    Rounding,
    parse_key,
    to_decimal,
)

TICKS = ["0.05", "0.01", "1", "0.0025", "0.1", "5", "0.00000001", "0.25"]


@given(
    tick=st.sampled_from(TICKS),
    ticks=st.integers(min_value=-(10**12), max_value=10**12),
)
def test_ticks_price_round_trip_is_exact(tick: str, ticks: int) -> None:
    inst = Instrument(Exchange.NSE, "X", Decimal(tick))
    price = inst.price(ticks)
    assert inst.ticks(price) == ticks
    assert inst.ticks(str(price)) == ticks
    assert price == Decimal(tick) * ticks


@given(tick=st.sampled_from(TICKS), ticks=st.integers(min_value=0, max_value=10**9))
def test_float_edge_values_convert_exactly(tick: str, ticks: int) -> None:
    """A JSON float such as 1512.35 means the decimal text it was written as."""
    inst = Instrument(Exchange.CRYPTO, "X", Decimal(tick))
    price = inst.price(ticks)
    as_float = float(price)
    if Decimal(repr(as_float)) == price:  # representable in 17 significant digits
        assert inst.ticks(as_float) == ticks


@given(
    tick=st.sampled_from(TICKS),
    price=st.decimals(min_value=0, max_value=10**6, places=6, allow_nan=False),
)
def test_snap_lands_on_grid_within_half_a_tick(tick: str, price: Decimal) -> None:
    inst = Instrument(Exchange.NSE, "X", Decimal(tick))
    snapped = inst.snap(price)
    assert inst.ticks(snapped.price) == snapped.ticks
    assert abs(snapped.price - price) <= Decimal(tick) / 2
    assert snapped.adjusted == (snapped.price != price)
    down = inst.snap(price, Rounding.DOWN)
    up = inst.snap(price, Rounding.UP)
    assert down.price <= price <= up.price
    assert up.ticks - down.ticks in (0, 1)


def test_off_grid_is_reported_not_kept() -> None:
    inst = Instrument(Exchange.NSE, "SBIN", Decimal("0.05"))
    with pytest.raises(OffGridPrice) as err:
        inst.ticks("801.52")
    assert err.value.snapped == Decimal("801.50")
    assert "0.05 tick grid" in str(err.value)
    snapped = inst.snap("801.53")
    assert snapped.adjusted
    assert snapped.price == Decimal("801.55")


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "abc", "", True, None])
def test_non_numbers_are_refused(bad: object) -> None:
    with pytest.raises(InvalidPrice):
        to_decimal(bad)  # type: ignore[arg-type]


def test_precision_and_format() -> None:
    assert Instrument(Exchange.NSE, "X", Decimal("0.05")).precision == 2
    assert Instrument(Exchange.MCX, "X", Decimal("1")).precision == 0
    assert Instrument(Exchange.CDS, "X", Decimal("0.0025")).precision == 4
    inst = Instrument(Exchange.CDS, "USDINR", Decimal("0.0025"))
    assert inst.format_price(33250) == "83.1250"


def test_money_prices_keep_the_precision_and_any_finer_digits() -> None:
    nse = Instrument(Exchange.NSE, "SBIN", Decimal("0.05"))
    assert nse.format_money(Decimal("800")) == "800.00"
    assert nse.format_money(Decimal("802.5")) == "802.50"
    assert nse.format_money(Decimal("800.025")) == "800.025"  # an average of two fills
    assert Instrument(Exchange.MCX, "X", Decimal("1")).format_money(Decimal("5413")) == "5413"


def test_quantities() -> None:
    nfo = Instrument(Exchange.NFO, "NIFTYFUT", Decimal("0.05"), lot_size=Decimal(75))
    assert nfo.check_quantity(150) == 150
    assert nfo.lots(3) == 225
    with pytest.raises(InvalidQuantity, match="multiple of the lot size 75"):
        nfo.check_quantity(100)
    with pytest.raises(InvalidQuantity, match="must be > 0"):
        nfo.check_quantity(0)
    with pytest.raises(InvalidQuantity, match="fractional"):
        Instrument(Exchange.NSE, "SBIN", Decimal("0.05")).check_quantity("1.5")
    btc = Instrument(Exchange.CRYPTO, "BTCUSDT", Decimal("0.01"), lot_size=Decimal("0.00001"))
    assert btc.check_quantity("0.00150") == Decimal("0.0015")
    assert not Instrument(Exchange.NSE_INDEX, "NIFTY", Decimal("0.05")).tradable


def test_bad_instrument_definitions() -> None:
    with pytest.raises(InvalidPrice):
        Instrument(Exchange.NSE, "X", Decimal(0))
    with pytest.raises(ValueError, match="unknown exchange"):
        parse_key("FOO:BAR")
    assert parse_key("nse:INFY") == (Exchange.NSE, "INFY")


@pytest.mark.parametrize(
    ("tick", "price"),
    [
        ("0.01", "0.004"),  # Binance: below half a tick
        ("0.01", "1e-1000000"),
        ("0.05", "0.01"),  # Kite raw 1 (paise) on a 0.05 grid
        ("0.05", "0.02"),
        ("0.05", "0"),
        ("0.05", "-0.05"),
        ("0.05", "NaN"),
        ("0.05", "Infinity"),
        ("0.05", "-Infinity"),
        ("0.05", "1e1000000"),  # no context divides it
    ],
)
def test_an_unusable_print_is_none_after_snapping(tick: str, price: str) -> None:
    """Issue 16.3: a positive sub-tick print snapped to 0 ticks and fired long stops."""
    inst = Instrument(Exchange.NSE, "X", Decimal(tick))
    assert inst.market_ticks(Decimal(price)) is None


@pytest.mark.parametrize(
    ("tick", "price", "ticks"),
    [
        ("0.05", "0.05", 1),
        ("0.05", "0.03", 1),  # snaps up to one tick: a real price
        ("0.05", "1283.75", 25675),
        ("0.05", "1283.76", 25675),
        ("0.01", "0.005", 1),  # half a tick rounds away from zero
    ],
)
def test_a_usable_print_is_its_nearest_tick(tick: str, price: str, ticks: int) -> None:
    inst = Instrument(Exchange.NSE, "X", Decimal(tick))
    assert inst.market_ticks(Decimal(price)) == ticks


@pytest.mark.parametrize("qty", ["1e1000000", "1e27", "1000000000001", "NaN", "Infinity"])
def test_a_quantity_beyond_any_real_order_is_an_invalid_quantity(qty: str) -> None:
    """Issue 16.8: 1e1000000 raised DivisionImpossible inside the engine; 1e27 was sent."""
    inst = Instrument(Exchange.BINANCE, "BTCUSDT", Decimal("0.01"), lot_size=Decimal("0.001"))
    with pytest.raises(InvalidQuantity, match="quantity"):
        inst.check_quantity(Decimal(qty))
    assert inst.check_quantity(Decimal(10) ** 12) == Decimal(10) ** 12
    with pytest.raises(InvalidQuantity, match="decimals"):
        inst.check_quantity(Decimal("1e-1000000"))


def test_lots_beyond_any_context_are_an_invalid_quantity() -> None:
    inst = Instrument(Exchange.NFO, "NIFTYFUT", Decimal("0.05"), lot_size=Decimal(75))
    with pytest.raises(InvalidQuantity):
        inst.check_quantity(inst.lots(Decimal("1e999999")))
