"""Risk: every rule refuses and allows at its edge, names the numbers, and never blocks exits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cockpit.domain.orders import OrderRequest, OrderType, Side
from cockpit.domain.risk import (
    RiskContext,
    RiskLimits,
    Rule,
    check_entry,
    refusals,
)

KEY = "NSE:SBIN"
TICK = Decimal("0.05")
NOW = 1_000 * 1_000_000_000
LAST = 16000  # 800.00


def ctx(**overrides: object) -> RiskContext:
    """A healthy context: fresh tick at 800.00, flat, nothing working, no P&L."""
    base: dict[str, object] = {
        "now_ns": NOW,
        "tick_size": TICK,
        "last_ticks": {KEY: LAST},
        "last_tick_ns": {KEY: NOW - 100_000_000},
    }
    base.update(overrides)
    return RiskContext(**base)  # type: ignore[arg-type]


def buy(qty: int = 10, **kw: object) -> OrderRequest:
    """An entry buy request."""
    return OrderRequest(KEY, Side.BUY, Decimal(qty), **kw)  # type: ignore[arg-type]


def refused(limits: RiskLimits, request: OrderRequest, context: RiskContext) -> str | None:
    """The refusal message (asserting it is the only rule that refused), or None."""
    found = refusals(request, limits, context)
    assert len(found) <= 1, found
    if not found:
        return None
    assert found[0].message.startswith(str(found[0].rule))
    return found[0].message


def test_no_limits_allows_everything() -> None:
    assert check_entry(buy(10**9), RiskLimits(), ctx(last_ticks={}, last_tick_ns={})) is None


def test_max_order_qty() -> None:
    limits = RiskLimits(max_order_qty=Decimal(100))
    assert refused(limits, buy(100), ctx()) is None
    assert refused(limits, buy(500), ctx()) == ("max_order_qty: quantity 500 exceeds the limit 100")


def test_max_position_qty_counts_the_current_position() -> None:
    limits = RiskLimits(max_position_qty=Decimal(50))
    assert refused(limits, buy(20), ctx(positions={KEY: Decimal(30)})) is None
    assert refused(limits, buy(21), ctx(positions={KEY: Decimal(30)})) == (
        "max_position_qty: position in NSE:SBIN would be 51 (now 30), over the limit 50"
    )
    short = OrderRequest(KEY, Side.SELL, Decimal(60))
    assert refused(limits, short, ctx()) == (
        "max_position_qty: position in NSE:SBIN would be -60 (now 0), over the limit 50"
    )
    # Working entry orders count: a burst cannot pass the limit before the fills arrive.
    assert refused(
        limits, buy(20), ctx(positions={KEY: Decimal(10)}, working_qty={KEY: Decimal(40)})
    ) == (
        "max_position_qty: position in NSE:SBIN would be 70 (now 10, working 40), over the limit 50"
    )
    assert refused(limits, buy(20), ctx(working_qty={KEY: Decimal(-40)})) is None
    # An order that shrinks an oversized position is not an increase.
    assert refused(limits, short, ctx(positions={KEY: Decimal(80)})) is None


def test_max_notional_uses_limit_then_trigger_then_last_price() -> None:
    limits = RiskLimits(max_notional=Decimal(80000))
    assert refused(limits, buy(100), ctx()) is None  # 100 x 800.00 = 80000
    assert refused(limits, buy(101), ctx()) == (
        "max_notional: order value 80,800.00 (101 x 800.00) exceeds the limit 80,000.00"
    )
    limit = buy(100, type=OrderType.LIMIT, price_ticks=16020)  # 801.00
    assert refused(limits, limit, ctx()) == (
        "max_notional: order value 80,100.00 (100 x 801.00) exceeds the limit 80,000.00"
    )
    stop = buy(100, type=OrderType.SL_M, trigger_ticks=15980)  # 799.00
    assert refused(limits, stop, ctx()) is None
    message = refused(limits, buy(1), ctx(last_ticks={}))
    assert (
        message
        == "max_notional: no price for NSE:SBIN to value the order against the limit 80,000.00"
    )


def test_max_position_notional() -> None:
    limits = RiskLimits(max_position_notional=Decimal(40000))
    held = ctx(positions={KEY: Decimal(30)})
    assert refused(limits, buy(20), held) is None  # 50 x 800 = 40000
    assert refused(limits, buy(21), held) == (
        "max_position_notional: position in NSE:SBIN would be worth 40,800.00 (51 x 800.00), "
        "over the limit 40,000.00"
    )
    short = OrderRequest(KEY, Side.SELL, Decimal(10), OrderType.LIMIT, price_ticks=16100)
    assert refused(limits, short, ctx(positions={KEY: Decimal(-45)})) == (
        "max_position_notional: position in NSE:SBIN would be worth 44,275.00 (-55 x 805.00), "
        "over the limit 40,000.00"
    )
    assert refused(limits, short, ctx(positions={KEY: Decimal(80)})) is None  # reducing
    assert refused(limits, buy(1), ctx(last_ticks={})) == (
        "max_position_notional: no price for NSE:SBIN to value the position against the limit "
        "40,000.00"
    )


def test_max_open_orders() -> None:
    limits = RiskLimits(max_open_orders=3)
    assert refused(limits, buy(), ctx(open_orders=2)) is None
    assert refused(limits, buy(), ctx(open_orders=3)) == (
        "max_open_orders: 3 orders are working; the limit is 3"
    )


def test_price_band() -> None:
    limits = RiskLimits(price_band_pct=Decimal(2))
    inside = buy(type=OrderType.LIMIT, price_ticks=16320)  # 816.00 = exactly +2%
    assert refused(limits, inside, ctx()) is None
    outside = buy(type=OrderType.LIMIT, price_ticks=16321)
    assert refused(limits, outside, ctx()) == (
        "price_band: limit price 816.05 is 2.01% from the last price 800.00, outside the band 2%"
    )
    low_trigger = buy(type=OrderType.SL_M, trigger_ticks=15600)  # 780.00 = -2.5%
    assert refused(limits, low_trigger, ctx()) == (
        "price_band: trigger price 780.00 is 2.5% from the last price 800.00, outside the band 2%"
    )
    assert refused(limits, buy(), ctx()) is None  # market orders have no price to check
    assert refused(limits, inside, ctx(last_ticks={})) == (
        "price_band: no last price for NSE:SBIN to check the limit price against"
    )


def test_order_rate_window() -> None:
    limits = RiskLimits(max_orders_per_window=3, order_window_ns=1_000_000_000)
    recent = [NOW - 900_000_000, NOW - 500_000_000, NOW - 1]
    assert refused(limits, buy(), ctx(recent_orders_ns=recent)) == (
        "order_rate: 3 orders in the last 1 s; the limit is 3"
    )
    # The oldest one leaves the window: exactly one second ago is outside it.
    aged = [NOW - 1_000_000_000, NOW - 500_000_000, NOW - 1]
    assert refused(limits, buy(), ctx(recent_orders_ns=aged)) is None


def test_daily_loss_limit() -> None:
    limits = RiskLimits(daily_loss_limit=Decimal(5000))
    assert refused(limits, buy(), ctx(day_pnl=Decimal("-4999.95"))) is None
    assert refused(limits, buy(), ctx(day_pnl=Decimal("-5000.00"))) == (
        "daily_loss_limit: day P&L -5,000.00 reached the loss limit 5,000.00"
    )
    assert refused(limits, buy(), ctx(day_pnl=Decimal("12000.50"))) is None


def test_stale_data_gate() -> None:
    limits = RiskLimits(max_tick_age_ns=2_000_000_000)
    assert refused(limits, buy(), ctx(last_tick_ns={KEY: NOW - 2_000_000_000})) is None
    assert refused(limits, buy(), ctx(last_tick_ns={KEY: NOW - 3_500_000_000})) == (
        "stale_data: last tick for NSE:SBIN is 3.5 s old, over the limit 2 s"
    )
    assert refused(limits, buy(), ctx(last_tick_ns={})) == "stale_data: no tick for NSE:SBIN yet"


def test_halted() -> None:
    assert refused(RiskLimits(), buy(), ctx(halted=True)) == (
        "halted: the kill switch is on; entries are blocked"
    )


def test_exits_are_never_refused_and_order_of_rules() -> None:
    limits = RiskLimits(
        max_order_qty=Decimal(1),
        max_position_qty=Decimal(1),
        max_notional=Decimal(1),
        max_position_notional=Decimal(1),
        max_open_orders=1,
        price_band_pct=Decimal("0.1"),
        max_orders_per_window=1,
        daily_loss_limit=Decimal(1),
        max_tick_age_ns=1,
    )
    bad = ctx(
        open_orders=5,
        recent_orders_ns=[NOW - 1],
        day_pnl=Decimal(-100),
        last_tick_ns={KEY: 0},
        halted=True,
        positions={KEY: Decimal(-50)},
    )
    request = buy(50, type=OrderType.LIMIT, price_ticks=20000)
    found = refusals(request, limits, bad)
    assert [r.rule for r in found] == [
        Rule.HALTED,
        Rule.STALE_DATA,
        Rule.DAILY_LOSS,
        Rule.MAX_ORDER_QTY,
        Rule.MAX_NOTIONAL,
        Rule.MAX_OPEN_ORDERS,
        Rule.PRICE_BAND,
        Rule.ORDER_RATE,
    ]  # covering a -50 short with 50 shrinks the position: max_position does not refuse
    first = check_entry(request, limits, bad)
    assert first is not None
    assert first.rule is Rule.HALTED
    assert str(first) == first.message


def test_limits_validation_and_from_mapping() -> None:
    with pytest.raises(ValueError, match="max_order_qty"):
        RiskLimits(max_order_qty=Decimal(0))
    with pytest.raises(ValueError, match="max_open_orders"):
        RiskLimits(max_open_orders=-1)
    limits = RiskLimits.from_mapping(
        {
            "max_order_qty": 100,
            "price_band_pct": "2.5",
            "order_window_s": 0.5,
            "max_tick_age_s": 3,
            "max_orders_per_window": "10",
            "daily_loss_limit": None,
        }
    )
    assert limits == RiskLimits(
        max_order_qty=Decimal(100),
        price_band_pct=Decimal("2.5"),
        order_window_ns=500_000_000,
        max_tick_age_ns=3_000_000_000,
        max_orders_per_window=10,
    )
    with pytest.raises(ValueError, match="unknown risk limit 'max_qty'"):
        RiskLimits.from_mapping({"max_qty": 5})
