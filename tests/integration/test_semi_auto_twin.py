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
def sim(request: pytest.FixtureRequest) -> Iterator[SimHandle]:
    """Semi-auto, and no pushed order updates: the engine reads the order book, whose sandbox
    rows name the strategy that placed each order (``live_rows``: rows as a live broker's,
    which never do)."""
    live_rows = getattr(request, "param", False)
    handle = start_in_thread(
        SimConfig(
            seed=3,
            rate=20.0,
            paused=True,
            semi_auto=True,
            order_updates=False,
            zerodha_order_rows=live_rows,
        )
    )
    try:
        yield handle
    finally:
        handle.stop()


TWIN = {
    "strategy": "momentum",  # another strategy at the same account, the same day
    "exchange": "NSE",
    "symbol": "SBIN",
    "action": "BUY",
    "quantity": "2",
    "pricetype": "LIMIT",
    "product": "MIS",
    "price": "795.00",
}
"""The shape of ``place_pending``'s order: a limit BUY of 2 SBIN at 795.00, MIS."""


def polled(sim: SimHandle, times: int = 8) -> None:
    """The engine reads the order book about once a second: let it read it several times."""
    seen = sim.stats()["rest"]["requests"]
    wait(lambda: sim.stats()["rest"]["requests"] >= seen + times, 30, "the engine's polls")


def test_another_strategys_exact_twin_of_a_withdrawn_order_is_left_alone(
    sim: SimHandle,
    engine: EngineProc,  # noqa: F811
) -> None:
    viewer, cid = place_pending(sim, engine)
    assert isinstance(viewer.command(p.CancelOrders(id=2, cid=cid)), p.Ack)
    reject = httpx.post(f"{sim.rest_url}/sim/reject", json={"apikey": sim.api_key}).json()
    assert reject["rejected"] == 1  # the trader rejected ours in the Action Center too
    queued = httpx.post(
        f"{sim.rest_url}/api/v1/placeorder", json={"apikey": sim.api_key, **TWIN}
    ).json()
    assert queued["mode"] == "semi_auto"
    approve(sim)
    polled(sim)
    viewer.pump()
    assert not [m for m in viewer.msgs if isinstance(m, p.Alarm) and "withdrawn" in m.code]
    assert sim_orders(sim, "SBIN") == [("BUY", 2, "open")]


@pytest.mark.parametrize("sim", [True], indirect=True, ids=["live-rows"])
def test_where_no_row_names_the_strategy_one_withdrawal_takes_back_one_order(
    sim: SimHandle,
    engine: EngineProc,  # noqa: F811
) -> None:
    """Live rows name no strategy: ours and an exact twin cannot be told apart. Both are
    approved; the one withdrawal takes back one of them, never both."""
    viewer, cid = place_pending(sim, engine)
    assert isinstance(viewer.command(p.CancelOrders(id=2, cid=cid)), p.Ack)
    httpx.post(f"{sim.rest_url}/api/v1/placeorder", json={"apikey": sim.api_key, **TWIN})
    body = httpx.post(f"{sim.rest_url}/sim/approve", json={"apikey": sim.api_key}).json()
    assert len(body["orderids"]) == 2  # ours (approved all the same) and the twin
    viewer.until(
        lambda m: isinstance(m, p.Alarm) and m.code == "withdrawn_order_at_broker", 30, "alarm"
    )
    wait(lambda: "cancelled" in {s for *_, s in sim_orders(sim, "SBIN")}, 30, "the take-back")
    polled(sim)
    assert sorted(sim_orders(sim, "SBIN")) == [("BUY", 2, "cancelled"), ("BUY", 2, "open")]
