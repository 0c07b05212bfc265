"""OpenAlgo brokers without pushed order updates: ``venue.order_updates = auto|poll`` runs the
``/orderbook`` poller into the engine (a paper exchange with its order stream switched off)."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.adapters.openalgo.poller import OrderBookPoller
from cockpit.domain.feed import OrderUpdateSource
from cockpit.link import protocol as p
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from tests.integration.external_stack import RunnerStack, entry
from tests.servers.base import place_order

pytest.importorskip("cockpit.engine.core")

KEY = "NSE:INFY"


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    handle = start_in_thread(SimConfig(seed=3, rate=20.0, order_updates=False))
    yield handle
    handle.stop()


def _stack(xdg: Path, sim: SimHandle, mode: str) -> RunnerStack:
    return RunnerStack(
        xdg,
        {
            "venue": {
                "broker": "openalgo",
                "host": sim.rest_url,
                "ws_url": sim.ws_url,
                "api_key": sim.api_key,
                "order_updates": mode,
            },
            "trading": {"watchlist": [KEY]},
        },
    )


@pytest.mark.parametrize("mode", ["auto", "poll"])
def test_fills_arrive_through_the_order_book_poller(xdg: Path, sim: SimHandle, mode: str) -> None:
    stack = _stack(xdg, sim, mode)
    stack.start()
    try:
        v = stack.viewer()
        v.wait(lambda: v.of(p.Snapshot), what="snapshot")
        v.wait(lambda: v.quotes.get(KEY), what="a quote from the broker's feed")
        # auto: the paper exchange refuses subscribe_orders, so the engine starts polling
        v.wait(lambda: v.feed_live("openalgo-orders"), what="the poller live at the engine")
        answer = entry(v, KEY, "BUY", "2")
        assert isinstance(answer, p.Ack), answer
        fill = v.wait(lambda: v.of(p.FillEvent), what="a fill learnt by polling")[0].fill
        assert fill.qty == 2
        v.wait(lambda: [e for e in v.of(p.PositionEvent) if e.position.qty == 2], what="position")
        poller = stack.runner.poller
        assert poller is not None
        assert poller.updates >= 1
        assert sim.server.hub.order_clients == set()  # nothing was pushed
    finally:
        stack.stop()


def test_poller_updates_are_marked_polled(sim: SimHandle) -> None:
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    sim.set_price("NSE", "SBIN", "801.50")
    poller = OrderBookPoller(sim.rest_url, sim.api_key, q.put, interval_s=0.05)
    place_order(sim).raise_for_status()
    try:
        updates = poller.poll_once()
    finally:
        poller.stop()
    assert updates
    assert all(u.source is OrderUpdateSource.POLLED for u in updates)
