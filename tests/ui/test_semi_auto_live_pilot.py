"""The trader presses `x` on an order while OpenAlgo is in live semi-auto mode, which refuses
an API client's cancel with a 403. The real app, engine and paper exchange (``semi_auto_live``):
the order stays in the orders list as working, and the message says to cancel it in OpenAlgo."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cockpit.sim import SimConfig
from tests.integration.test_semi_auto_restart import approve
from tests.ui.conftest import wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc, attached, make_app
from tests.ui.test_trader_safety import ltp_is


@pytest.fixture
def live_semi_auto() -> Iterator[EngineProc]:
    e = EngineProc(SimConfig(seed=7, rate=20.0, paused=True, semi_auto=True, semi_auto_live=True))
    try:
        e.price("SBIN", "800.00")
        e.wait_ready()
        yield e
    finally:
        e.stop()


async def test_x_in_live_semi_auto_leaves_the_order_working_and_says_cancel_it_in_openalgo(
    live_semi_auto: EngineProc,
) -> None:
    e = live_semi_auto
    app = make_app(e)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        e.price("SBIN", "800.00")
        await ltp_is(pilot, app, "800.00")
        await pilot.press("space", "j", "j", "j", "B")  # a buy limit at 799.85
        await wait_for(
            pilot,
            lambda: any(o.status == "pending approval" for o in app.store.orders.values()),
            10,
        )
        approve(e.sim)  # the trader approves it in OpenAlgo's Action Center
        await wait_for(pilot, lambda: app.store.working_orders(SBIN), 10)
        [order] = app.store.working_orders(SBIN)
        await pilot.press("x")
        await wait_for(
            pilot,
            lambda: any("refuses an API cancel" in m.message for m in app.store.messages),
            10,
        )
        [said] = [m for m in app.store.messages if "refuses an API cancel" in m.message]
        assert said.severity == "error"
        assert "cancel it in OpenAlgo's order book" in said.message
        assert order.cid in said.message
        await pilot.pause(0.5)  # nothing else comes: the order is not shown as cancelled
        assert [o.cid for o in app.store.working_orders(SBIN)] == [order.cid]
        assert app.store.orders[order.cid].status == "open"
