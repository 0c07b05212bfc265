"""A risk refusal that names money says it as the trader reads money everywhere else
(``1,600.10``, two places, thousands separated), not as a raw Decimal (``1600.1``): the real
app against the real engine and paper exchange."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cockpit.ui.app import CockpitApp
from tests.ui.conftest import wait_for
from tests.ui.test_engine_pilot import EngineProc, attached, make_app
from tests.ui.test_trader_safety import ltp_is


@pytest.fixture
def capped() -> Iterator[EngineProc]:
    """An engine whose largest order is worth 1,000.00 and largest position 1,500.00."""
    e = EngineProc(
        COCKPIT_RISK__MAX_ORDER_VALUE="1000",
        COCKPIT_RISK__MAX_POSITION_VALUE="1500",
    )
    try:
        e.price("SBIN", "800.05")
        e.wait_ready()
        yield e
    finally:
        e.stop()


def refused(app: CockpitApp, rule: str) -> str:
    return next((text for r, text in reversed(app.refusals) if r == rule), "")


async def test_an_order_over_the_value_limit_is_refused_in_money_words(capped: EngineProc) -> None:
    app = make_app(capped)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        capped.price("SBIN", "800.05")  # a fresh tick: the stale-data gate is on
        await ltp_is(pilot, app, "800.05")
        await pilot.press("2", "b")  # 2 × 800.05 = 1,600.10 > 1,000.00
        await wait_for(pilot, lambda: refused(app, "max_notional"), 10)
        assert refused(app, "max_notional") == (
            "max_notional: order value 1,600.10 (2 x 800.05) exceeds the limit 1,000.00"
        )
        await pilot.press("b")  # 800.05: under the order limit
        await wait_for(pilot, lambda: app.store.positions.get("NSE:SBIN") is not None, 10)
        await pilot.press("b")  # a second: 2 × 800.05 held would be 1,600.10 > 1,500.00
        await wait_for(pilot, lambda: refused(app, "max_position_notional"), 10)
        assert refused(app, "max_position_notional") == (
            "max_position_notional: position in NSE:SBIN would be worth 1,600.10 "
            "(2 x 800.05), over the limit 1,500.00"
        )
