"""An order withdrawn in the cockpit has an exact twin placed the same day by another strategy
at the same account (same symbol, side, quantity, type, product and limit price). The cockpit
takes back only its own: where OpenAlgo names the strategy that placed an order (its sandbox's
order-book rows), another strategy's order is never taken for ours."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from cockpit.link import protocol as p
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from tests.integration.test_engine_crash import (  # noqa: F401  (fixture)
    EngineProc,
    engine,
    sim_orders,
    wait,
)
from tests.integration.test_semi_auto_restart import approve, place_pending


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    """Semi-auto, and no pushed order updates: the engine reads the order book, whose sandbox
    rows name the strategy that placed each order."""
    handle = start_in_thread(
        SimConfig(seed=3, rate=20.0, paused=True, semi_auto=True, order_updates=False)
    )
    try:
        yield handle
    finally:
        handle.stop()


def test_another_strategys_exact_twin_of_a_withdrawn_order_is_left_alone(
    sim: SimHandle,
    engine: EngineProc,  # noqa: F811
) -> None:
    viewer, cid = place_pending(sim, engine)
    assert isinstance(viewer.command(p.CancelOrders(id=2, cid=cid)), p.Ack)
    reject = httpx.post(f"{sim.rest_url}/sim/reject", json={"apikey": sim.api_key}).json()
    assert reject["rejected"] == 1  # the trader rejected ours in the Action Center too
    twin = {
        "apikey": sim.api_key,
        "strategy": "momentum",  # another strategy at the same account, the same day
        "exchange": "NSE",
        "symbol": "SBIN",
        "action": "BUY",
        "quantity": "2",
        "pricetype": "LIMIT",
        "product": "MIS",
        "price": "795.00",
    }
    queued = httpx.post(f"{sim.rest_url}/api/v1/placeorder", json=twin).json()
    assert queued["mode"] == "semi_auto"
    approve(sim)
    # The engine reads the order book about once a second: let it read it several times.
    seen = sim.stats()["rest"]["requests"]
    wait(lambda: sim.stats()["rest"]["requests"] >= seen + 8, 30, "the engine's polls")
    viewer.pump()
    assert not [m for m in viewer.msgs if isinstance(m, p.Alarm) and "withdrawn" in m.code]
    assert sim_orders(sim, "SBIN") == [("BUY", 2, "open")]
