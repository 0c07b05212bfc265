"""Sizing from risk: budget ÷ (stop distance × tick value), rounded down to the lot."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from cockpit.config import TradingSettings
from cockpit.ui.sizing import risk_size


def test_units_round_down_and_the_risk_stays_within_the_budget() -> None:
    size = risk_size(Decimal(1000), 6, Decimal("0.05"), Decimal(1))
    assert size is not None
    assert size.units == 3333  # 3,333.33…
    assert size.count == 3333
    assert size.risk == Decimal("999.90")


def test_lots_round_down_to_the_lot() -> None:
    # 10,000 ÷ (20 ticks × 0.05 × 50 per lot) = 200 lots
    size = risk_size(Decimal(10_000), 20, Decimal("0.05"), Decimal(50))
    assert size is not None
    assert (size.count, size.units) == (200, 10_000)
    size = risk_size(Decimal(10_049), 20, Decimal("0.05"), Decimal(75))  # 133.98… lots
    assert size is not None
    assert size.count == 133


def test_under_one_lot_or_no_distance_is_none() -> None:
    assert risk_size(Decimal(40), 20, Decimal("0.05"), Decimal(50)) is None
    assert risk_size(Decimal(1000), 0, Decimal("0.05"), Decimal(1)) is None


def test_fractional_lots_stay_exact() -> None:
    size = risk_size(Decimal(100), 10, Decimal("0.1"), Decimal("0.001"))  # crypto
    assert size is not None
    assert size.count == 100  # units: the keys count lots only where a lot is over 1


def test_presets_are_one_to_four_quantities_above_zero() -> None:
    ok = TradingSettings(qty_presets={"*": [1, 2, 5, 10], "NSE:SBIN": ["0.5"]})
    assert ok.qty_presets["NSE:SBIN"] == [Decimal("0.5")]
    for bad in ([], [1, 2, 3, 4, 5], [1, 0]):
        with pytest.raises(ValidationError):
            TradingSettings(qty_presets={"*": bad})
