"""The status bar against the real app fed through an in-memory link."""

from __future__ import annotations

from decimal import Decimal

from tests.ui.conftest import wait_for
from tests.ui.test_app_keys import make_app, started


async def test_status_bar_shows_a_quantity_of_a_thousand_or_more() -> None:
    """The bar is handed the quantity already formatted ("1,000"), and shows it as it is."""
    app, _link = make_app(default_qty=Decimal(999))
    async with app.run_test(size=(160, 48)) as pilot:
        await started(pilot, app)
        await pilot.press("plus")
        assert app.qty == Decimal(1000)
        status = app.screen.status
        await wait_for(pilot, lambda: "qty 1,000" in status.text_of(0))
