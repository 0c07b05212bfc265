"""Positions and money arithmetic of the paper account: exact, with flips and rounding."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from cockpit.sim.exchange import OrderError, PaperExchange, Position, _dec
from cockpit.sim.market import Market
from cockpit.sim.universe import default_listings


@pytest.fixture
def ex() -> PaperExchange:
    market = Market(default_listings(), 1, 10)
    for state in market.states.values():
        state.paused = True
    return PaperExchange(market)


def test_position_average_realized_and_flip(ex: PaperExchange) -> None:
    pos = Position(ex.market.states["NSE:SBIN"], "MIS")
    pos.fill(1, 16000, 10)  # buy 10 @ 800.00
    pos.fill(1, 16010, 5)  # buy 5 @ 800.50
    assert pos.net == 15
    assert pos.avg == Fraction(16000 * 10 + 16010 * 5, 15)
    pos.fill(-1, 16020, 20)  # sell 20 @ 801.00: close 15, open 5 short at 801.00
    assert pos.net == -5
    assert pos.avg == 16020
    assert pos.realized == (16020 - Fraction(16000 * 10 + 16010 * 5, 15)) * 15
    pos.fill(1, 16000, 5)  # cover at 800.00: +1.00 x 5
    assert pos.net == 0
    assert pos.avg == 0
    assert pos.realized == (16020 - Fraction(16000 * 10 + 16010 * 5, 15)) * 15 + 20 * 5


def test_money_of_ticks_and_lots(ex: PaperExchange) -> None:
    fut = next(s for s in ex.market.states.values() if s.exchange == "NFO")
    # 3 ticks x 2 lots = 0.15 x 150 units = 22.50
    assert ex._money(fut, 3 * 2) == Fraction(45, 2)
    btc = ex.market.states["CRYPTO:BTCUSDT"]
    assert ex._money(btc, 100 * 1000) == Fraction(1, 100) * 100 * Fraction(1, 100)


def test_dec_rounds_half_up_exactly() -> None:
    assert _dec(Fraction(1, 8), 2) == Decimal("0.13")
    assert _dec(Fraction(-1, 8), 2) == Decimal("-0.13")
    assert _dec(Fraction(2, 3), 2) == Decimal("0.67")
    assert _dec(5, 2) == Decimal("5.00")


def test_build_refuses_bad_orders(ex: PaperExchange) -> None:
    base = {
        "strategy": "t",
        "exchange": "NSE",
        "symbol": "SBIN",
        "action": "BUY",
        "quantity": Decimal(1),
        "pricetype": "SL",
        "product": "MIS",
        "price": Decimal("800.00"),
        "trigger_price": Decimal("801.00"),
    }
    with pytest.raises(OrderError, match="trigger price must not exceed"):
        ex.build(**base)
    with pytest.raises(OrderError, match="SL orders require trigger_price"):
        ex.build(**{**base, "trigger_price": Decimal(0)})
    with pytest.raises(OrderError, match="LIMIT orders require price"):
        ex.build(**{**base, "pricetype": "LIMIT", "price": Decimal(0)})
    order = ex.build(**{**base, "trigger_price": Decimal("799.00")})
    assert order.status == "trigger pending"
    assert order.steps == 1
