"""Order-book rows -> polled OrderUpdates: live brokers' strings, sandbox extras, bad rows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cockpit.adapters.openalgo.rows import BadRow, row_to_update
from cockpit.domain.feed import OrderUpdateSource


def test_live_row_with_strings_and_no_fill_fields() -> None:
    u = row_to_update(
        {
            "action": "buy",
            "symbol": "SBIN",
            "exchange": "NSE",
            "orderid": 2504080009,
            "product": "MIS",
            "quantity": "10",
            "price": "801.50",
            "pricetype": "LIMIT",
            "order_status": "Complete",
            "trigger_price": "0",
            "timestamp": "08-Apr-2025 10:01:12",
        },
        5,
    )
    assert u.orderid == "2504080009"
    assert u.action == "BUY"
    assert u.status == "complete"
    assert u.price == Decimal("801.50")
    assert u.filled_qty == 10  # complete without filled_quantity: all of it
    assert u.source == OrderUpdateSource.POLLED
    assert u.recv_ns == 5


def test_sandbox_row_keeps_its_fill_fields() -> None:
    u = row_to_update(
        {
            "orderid": "26010512345678",
            "symbol": "SBIN",
            "exchange": "NSE",
            "action": "SELL",
            "quantity": 10,
            "price": 0.1,
            "price_type": "MARKET",
            "order_status": "open",
            "filled_quantity": 4,
            "pending_quantity": 6,
            "average_price": 801.35,
        },
        1,
    )
    assert (u.filled_qty, u.pending_qty) == (4, 6)
    assert u.price == Decimal("0.1")  # not 0.1000000000000000055511151231257827
    assert u.average_price == Decimal("801.35")
    assert u.pricetype == "MARKET"


def test_open_row_without_pending_derives_it() -> None:
    u = row_to_update({"orderid": "1", "order_status": "open", "quantity": "5"}, 1)
    assert u.pending_qty == 5


@pytest.mark.parametrize(
    "row",
    [
        {"order_status": "open"},
        {"orderid": "", "order_status": "open"},
        {"orderid": "1"},
        {"orderid": "1", "order_status": "open", "quantity": "ten"},
        {"orderid": "1", "order_status": "open", "price": "NaN"},
        {"orderid": "1", "order_status": "open", "price": -3},
        {"orderid": "1", "order_status": "open", "quantity": True},
        ["not", "a", "dict"],
    ],
)
def test_bad_rows_raise(row: object) -> None:
    with pytest.raises(BadRow):
        row_to_update(row, 1)  # type: ignore[arg-type]


def test_row_time_reads_the_brokers_shapes_and_india_time_without_a_zone() -> None:
    from cockpit.adapters.openalgo.rows import row_time_ns

    utc_ns = 1_764_302_950 * 10**9  # 2025-11-28 04:09:10 UTC = 09:39:10 in India
    for value in (
        "2025-11-28 09:39:10",
        "28-Nov-2025 09:39:10",
        "28-11-2025 09:39:10",
        "09:39:10 28-11-2025",
        "2025-11-28T04:09:10+00:00",
        1_764_302_950,
        "1764302950000",
    ):
        assert row_time_ns({"timestamp": value}) == utc_ns, value
    for bad in (None, "", "yesterday", True, "9" * 40, -5):
        assert row_time_ns({"timestamp": bad}) is None, bad
    assert row_time_ns({}) is None


# -- rows without fill fields (OpenAlgo's live Zerodha rows): the trade book says -------------


def _zerodha_row(status: str, qty: str = "10") -> dict[str, object]:
    return {
        "orderid": "7",
        "order_status": status,
        "symbol": "SBIN",
        "exchange": "NSE",
        "action": "BUY",
        "quantity": qty,
        "price": "800.05",
        "pricetype": "LIMIT",
        "product": "MIS",
    }


def test_trade_book_fills_a_zerodha_row() -> None:
    from cockpit.adapters.openalgo.rows import lacks_fills, trade_totals, with_trades

    row = _zerodha_row("open")
    assert lacks_fills(row)
    trades = [
        {"orderid": "7", "quantity": "3", "average_price": "800.05"},
        {"orderid": "7", "quantity": "1", "average_price": "800.00"},
        {"orderid": "8", "quantity": "5", "average_price": "1.00"},
        {"orderid": "", "quantity": "5", "average_price": "1.00"},
        {"orderid": "9", "quantity": "x", "average_price": "1.00"},
    ]
    totals, bad = trade_totals(trades)
    assert bad == 2
    u = with_trades(row_to_update(row, 1), totals)
    assert u.filled_qty == Decimal(4)
    assert u.pending_qty == Decimal(6)
    assert u.average_price * 4 == Decimal("3200.15")


def test_trade_book_behind_keeps_the_row_and_no_trade_means_no_fill() -> None:
    from cockpit.adapters.openalgo.rows import with_trades

    done = row_to_update(_zerodha_row("complete"), 1)
    assert with_trades(done, {"7": (Decimal(4), Decimal("3200.15"))}) == done  # wait for it
    still = with_trades(row_to_update(_zerodha_row("open"), 1), {})
    assert still.filled_qty == 0
    assert still.average_price == 0
