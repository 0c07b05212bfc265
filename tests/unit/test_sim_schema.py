"""Request validation with OpenAlgo's (marshmallow's) rules and wording."""

from __future__ import annotations

from decimal import Decimal

from cockpit.sim import schema


def _order(**change: object) -> dict[str, object]:
    body: dict[str, object] = {
        "apikey": "k",
        "strategy": "s",
        "exchange": "NSE",
        "symbol": "SBIN",
        "action": "buy",
        "quantity": "10",
    }
    body.update(change)
    return body


def test_defaults_and_numeric_strings() -> None:
    values, errors = schema.load(schema.ORDER, _order(price="801.5"))
    assert errors == {}
    assert values["quantity"] == Decimal("10")
    assert values["price"] == Decimal("801.5")
    assert values["pricetype"] == "MARKET"
    assert values["product"] == "MIS"
    assert values["trigger_price"] == 0
    assert values["disclosed_quantity"] == 0


def test_floats_become_exact_decimals() -> None:
    values, errors = schema.load(schema.ORDER, _order(price=801.15, quantity=3))
    assert not errors
    assert values["price"] == Decimal("801.15")


def test_errors_in_marshmallow_wording() -> None:
    _, errors = schema.load(
        schema.ORDER,
        _order(quantity=True, price="abc", pricetype="STOP", extra=1, disclosed_quantity="2.5"),
    )
    assert errors == {
        "quantity": ["Not a valid number."],
        "pricetype": ["Must be one of: MARKET, LIMIT, SL, SL-M."],
        "price": ["Not a valid number."],
        "disclosed_quantity": ["Not a valid integer."],
        "extra": ["Unknown field."],
    }
    assert str({"extra": ["Unknown field."]}) == "{'extra': ['Unknown field.']}"


def test_missing_nan_and_ranges() -> None:
    body = _order(quantity="NaN")
    del body["symbol"]
    _, errors = schema.load(schema.ORDER, body)
    assert errors["symbol"] == ["Missing data for required field."]
    assert errors["quantity"] == ["Special numeric values (nan or infinity) are not permitted."]
    _, errors = schema.load(schema.ORDER, _order(quantity="0"))
    assert errors == {"quantity": ["Quantity must be a positive number."]}
    _, errors = schema.load(schema.SMART_ORDER, {**_order(quantity="0"), "position_size": "-5"})
    assert errors == {}
    _, errors = schema.load(schema.ORDER, _order(price="-0.05"))
    assert errors == {"price": ["Price must be a non-negative number."]}


def test_fractional_quantity_only_on_crypto() -> None:
    _, errors = schema.load(schema.ORDER, _order(quantity="1.5"))
    assert errors == {
        "quantity": ["Fractional quantity (1.5) is not allowed for non-crypto exchanges."]
    }
    _, errors = schema.load(schema.ORDER, _order(quantity="0.001", exchange="CRYPTO"))
    assert errors == {}


def test_not_an_object() -> None:
    assert schema.load(schema.KEY_ONLY, [1]) == ({}, {"_schema": ["Invalid input type."]})
    _, errors = schema.load(schema.KEY_ONLY, {"apikey": "x" * 257})
    assert errors == {"apikey": ["Length must be between 1 and 256."]}
