"""Issues 15.2 and 15.3: the stale-data gate and fat-finger limits are on by default (a trader
can raise or switch them off in config), and a refusal names the numbers."""

from __future__ import annotations

from decimal import Decimal

from cockpit.config import Settings
from cockpit.link import protocol as p
from tests.unit.test_engine_core import SBIN, Rig


def test_the_defaults_are_on() -> None:
    limits = Settings().risk.to_domain()
    assert limits.max_tick_age_ns == 5_000_000_000
    assert limits.max_order_qty == Decimal(100_000)
    assert limits.max_notional == Decimal(5_000_000)


def test_an_entry_on_a_stale_price_is_refused_by_default_with_the_numbers() -> None:
    rig = Rig()
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.clock.now += 11_300_000_000  # /sim/silence: 11.3 s without a tick
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1))
    assert isinstance(answer, p.Refused), answer
    assert answer.rule == "stale_data"
    assert "11.3 s old, over the limit 5 s" in answer.message
    assert rig.places() == []
    rig.tick(SBIN, "800.05")  # fresh again: the entry goes
    assert isinstance(rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1)), p.Ack)


def test_a_fat_finger_quantity_is_refused_by_default() -> None:
    rig = Rig()
    rig.start()
    rig.tick(SBIN, "800.00")
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1_000_000))
    assert isinstance(answer, p.Refused), answer
    assert "max_order_qty: quantity 1000000 exceeds the limit 100000" in answer.message
    big = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(10_000))
    assert isinstance(big, p.Refused), big  # 8,000,000 of SBIN
    assert "order value 8,000,000.00 (10000 x 800.00)" in big.message
    assert rig.places() == []


def test_a_trader_can_raise_or_switch_the_limits_off() -> None:
    rig = Rig(risk={"max_order_qty": None, "max_order_value": None, "max_tick_age_s": None})
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.clock.now += 60_000_000_000
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1_000_000))
    assert isinstance(answer, p.Ack), answer


def test_the_engines_confirmation_names_the_value_in_money_words() -> None:
    rig = Rig(trading={"armed_at_start": True, "confirm_value_over": "1000"})
    rig.start()
    rig.tick(SBIN, "800.05")
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(2))
    assert isinstance(answer, p.Refused), answer
    assert answer.rule == "confirm"
    assert answer.message == "value 1,600.10 is over 1,000.00: confirm it"
