"""``cockpit engine status`` and ``stop`` agree on which orders are still working."""

from __future__ import annotations

from decimal import Decimal

from cockpit.daemon.main import working_orders
from cockpit.link.views import OrderView


def _order(cid: str, status: str) -> OrderView:
    return OrderView(cid, "NSE:SBIN", "BUY", "LIMIT", Decimal(1), status, 0)


def test_an_order_pending_approval_is_working_and_final_ones_are_not() -> None:
    orders = [
        _order("a", "open"),
        _order("b", "pending approval"),
        _order("c", "trigger_pending"),
        _order("d", "complete"),
        _order("e", "cancelled"),
        _order("f", "rejected"),
    ]
    assert [o.cid for o in working_orders(orders)] == ["a", "b", "c"]
