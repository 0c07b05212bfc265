"""Issue 16.8: every command gets an answer, and quantities beyond sane bounds are refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cockpit.link import protocol as p
from tests.unit.test_engine_core import SBIN, Rig


@pytest.fixture
def rig() -> Rig:
    r = Rig()
    r.start()
    r.tick(SBIN, "800.00")
    return r


@pytest.mark.parametrize("qty", ["1e1000000", "1e27", "1e13", "-1e1000000", "1e-1000000"])
def test_an_absurd_entry_quantity_is_refused_with_a_message(rig: Rig, qty: str) -> None:
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(qty))
    assert isinstance(answer, p.Refused), answer
    assert answer.rule == "quantity"
    assert "quantity" in answer.message
    assert rig.places() == []
    assert rig.engine.counters["errors"] == 0
    assert not rig.pub.of(p.Alarm)


def test_absurd_lots_are_refused(rig: Rig) -> None:
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", lots=10**18)
    assert isinstance(answer, p.Refused), answer
    assert rig.places() == []


@pytest.mark.parametrize("price", [0, -5, 10**30])
def test_an_absurd_limit_price_is_refused_with_a_message(rig: Rig, price: int) -> None:
    answer = rig.command(
        p.PlaceEntry,
        key=SBIN.key,
        side="BUY",
        qty=Decimal(1),
        order_type="LIMIT",
        price=price,
    )
    assert isinstance(answer, p.Refused), answer
    assert "price" in answer.message
    assert rig.places() == []
    assert rig.engine.counters["errors"] == 0


def test_an_absurd_modify_quantity_is_refused(rig: Rig) -> None:
    answer = rig.command(
        p.PlaceEntry,
        key=SBIN.key,
        side="BUY",
        qty=Decimal(1),
        order_type="LIMIT",
        price=15980,
    )
    assert isinstance(answer, p.Ack)
    req = rig.places()[-1]
    rig.accept(req)
    modify = rig.command(p.ModifyOrder, cid=answer.cid, qty=Decimal("1e1000000"))
    assert isinstance(modify, p.Refused), modify
    assert rig.engine.counters["errors"] == 0


@pytest.mark.parametrize("field", ["price", "trigger"])
def test_an_absurd_modify_price_is_refused(rig: Rig, field: str) -> None:
    answer = rig.command(
        p.PlaceEntry,
        key=SBIN.key,
        side="BUY",
        qty=Decimal(1),
        order_type="SL",
        price=16100,
        trigger=16090,
    )
    assert isinstance(answer, p.Ack), answer
    rig.accept(rig.places()[-1])
    modify = rig.command(p.ModifyOrder, cid=answer.cid, **{field: 10**30})
    assert isinstance(modify, p.Refused), modify
    assert rig.engine.counters["errors"] == 0
