"""Issue 17 item 7: live Zerodha order-book rows (through OpenAlgo) carry no filled_quantity or
average_price; in poll mode a partial fill must still be seen, from the trade book. The paper
exchange answers with such rows (``zerodha_order_rows``) and pushes no order updates."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from cockpit.adapters.openalgo.poller import OrderBookPoller
from cockpit.link import protocol as p
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from tests.integration.external_stack import RunnerStack, entry, tick_until_quoted
from tests.servers.base import place_order

KEY = "NSE:SBIN"


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    handle = start_in_thread(
        SimConfig(seed=3, rate=20.0, paused=True, order_updates=False, zerodha_order_rows=True)
    )
    handle.set_price("NSE", "SBIN", "800.00", bid="799.95", ask="800.05")
    yield handle
    handle.stop()


def _best_ask_qty(sim: SimHandle) -> Decimal:
    body = httpx.post(
        f"{sim.rest_url}/api/v1/depth",
        json={"apikey": sim.api_key, "exchange": "NSE", "symbol": "SBIN"},
        timeout=5,
    ).json()
    ask = body["data"]["asks"][0]
    assert Decimal(str(ask["price"])) == Decimal("800.05")
    return Decimal(str(ask["quantity"]))


def test_rows_really_lack_fill_fields(sim: SimHandle) -> None:
    place_order(sim).raise_for_status()
    body = httpx.post(f"{sim.rest_url}/api/v1/orderbook", json={"apikey": sim.api_key}).json()
    row = body["data"]["orders"][0]
    assert row["order_status"] == "complete"
    assert "filled_quantity" not in row
    assert "average_price" not in row


def test_poller_sees_a_partial_fill_from_the_trade_book(sim: SimHandle) -> None:
    q0 = _best_ask_qty(sim)
    resp = place_order(sim, pricetype="LIMIT", price="800.05", quantity=str(q0 + 5), action="BUY")
    resp.raise_for_status()
    orderid = resp.json()["orderid"]
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    poller = OrderBookPoller(sim.rest_url, sim.api_key, q.put)
    try:
        updates = {u.orderid: u for u in poller.poll_once()}
    finally:
        poller.stop()
    u = updates[orderid]
    assert u.status == "open"
    assert u.filled_qty == q0
    assert u.pending_qty == 5
    assert u.average_price == Decimal("800.05")
    assert poller.trade_polls == 1


def test_engine_in_poll_mode_sees_the_partial_fill(xdg: Path, sim: SimHandle) -> None:
    stack = RunnerStack(
        xdg,
        {
            "venue": {
                "broker": "openalgo",
                "host": sim.rest_url,
                "ws_url": sim.ws_url,
                "api_key": sim.api_key,
                "order_updates": "poll",
            },
            "trading": {"watchlist": [KEY]},
            "risk": {"max_order_value": 10_000_000, "max_position_value": 10_000_000},
        },
    ).start()
    try:
        v = stack.viewer()
        v.wait(lambda: v.feed_live("openalgo-orders"), what="the poller live")
        tick_until_quoted(v, sim, KEY, ("799.95", "800.00"))
        sim.set_price("NSE", "SBIN", "800.00", bid="799.95", ask="800.05")
        q0 = _best_ask_qty(sim)
        answer = entry(
            v, KEY, "BUY", str(q0 + 5), order_type="LIMIT", price=16001, confirmed=True
        )  # 800.05
        assert isinstance(answer, p.Ack), answer
        fill = v.wait(lambda: v.of(p.FillEvent), what="the partial fill, by polling")[0].fill
        assert fill.qty == q0
        assert fill.price == Decimal("800.05")
        partial = v.wait(
            lambda: [e.order for e in v.of(p.OrderEvent) if e.order.filled == q0],
            what="the order partially filled",
        )[-1]
        assert partial.status in ("partially_filled", "open")
        assert partial.qty == q0 + 5
    finally:
        stack.stop()


def test_reconcile_orderbook_read_takes_fills_from_the_trade_book(sim: SimHandle) -> None:
    """The router's orderbook (what reconciliation compares) with Zerodha rows: the partial
    fill and its price come from the trade book, not a guess (0 filled, or no price)."""
    from cockpit.adapters.openalgo.broker import OpenAlgoRouter
    from cockpit.domain.execution import QueryBook, RouterResult

    q0 = _best_ask_qty(sim)
    resp = place_order(sim, pricetype="LIMIT", price="800.05", quantity=str(q0 + 5))
    orderid = resp.json()["orderid"]
    place_order(sim).raise_for_status()  # and a market order, complete
    results: queue.SimpleQueue[object] = queue.SimpleQueue()
    router = OpenAlgoRouter(sim.rest_url, sim.api_key, results.put)
    router.start()
    try:
        router.submit(QueryBook("orderbook", token=1))
        result = results.get(timeout=10)
    finally:
        router.stop()
    assert isinstance(result, RouterResult)
    assert result.ok, result.error
    by_id = {u.orderid: u for u in result.data}
    partial = by_id[orderid]
    assert partial.status == "open"
    assert partial.filled_qty == q0
    assert partial.average_price == Decimal("800.05")
    done = next(u for u in result.data if u.orderid != orderid)
    assert done.status == "complete"
    assert done.filled_qty == 1
    assert done.average_price > 0
