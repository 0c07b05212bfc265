"""The engine's own order statuses (``pending_new``, ``trigger_pending``, ``partially_filled``
and ``pending approval``) are working orders on screen, not final ones — driving the real app
against a real engine process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cockpit.link import protocol as p
from cockpit.ui.store import is_working
from tests.ui.conftest import wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc, make_app, running_engine


@pytest.fixture
def engine() -> Iterator[EngineProc]:
    with running_engine() as e:
        yield e


async def test_a_resting_stop_entry_is_a_working_order_on_screen(engine: EngineProc) -> None:
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.store.connected, 15)
        engine.price("SBIN", "800.05")  # a fresh tick for the stale-data gate
        await wait_for(pilot, lambda: SBIN in app.store.quotes, 10)
        answer = engine.command(
            p.PlaceEntry(id=0, key=SBIN, side="BUY", qty=1, order_type="SL-M", trigger=16100)
        )  # buy stop at 805.00, above the market: it rests, trigger pending
        assert isinstance(answer, p.Ack), answer
        await wait_for(
            pilot, lambda: any(o.status == "trigger_pending" for o in app.store.orders.values()), 10
        )
        stop = next(o for o in app.store.orders.values() if o.status == "trigger_pending")
        assert is_working(stop)
        assert stop in app.store.working_orders(SBIN)


@pytest.mark.parametrize("status", ["pending_new", "partially_filled", "pending approval"])
def test_engine_statuses_that_still_work(status: str) -> None:
    view = p.OrderView(
        cid="c1", key=SBIN, side="BUY", order_type="LIMIT", qty=1, status=status, ts_ns=1
    )
    assert is_working(view)
