"""The unmodified official ``openalgo`` SDK works against the paper exchange, feed and REST."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import websocket

openalgo = pytest.importorskip("openalgo")

from cockpit.sim import SimConfig, SimHandle, start_in_thread  # noqa: E402
from cockpit.sim.universe import IST  # noqa: E402


@pytest.fixture
def paused_sim() -> Iterator[SimHandle]:
    """A sim whose prices move only when the test says so."""
    handle = start_in_thread(SimConfig(seed=11, paused=True))
    try:
        yield handle
    finally:
        handle.stop()


def _wait(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


class Inbox:
    """Collects SDK callback messages from the SDK's thread."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, message: dict[str, Any]) -> None:
        with self.lock:
            self.items.append(message)

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.items)


def test_sdk_feed_ltp_quote_depth_and_unsubscribe(sim: SimHandle) -> None:
    client = openalgo.api(api_key=sim.api_key, host=sim.rest_url, ws_url=sim.ws_url)
    assert client.connect() is True
    try:
        ltp, quote, depth = Inbox(), Inbox(), Inbox()
        assert client.subscribe_ltp([{"exchange": "NSE", "symbol": "INFY"}], ltp)
        assert client.subscribe_quote([{"exchange": "NSE", "symbol": "SBIN"}], quote)
        assert client.subscribe_depth([{"exchange": "NSE", "symbol": "RELIANCE"}], depth)
        assert _wait(
            lambda: len(ltp.items) >= 3 and len(quote.items) >= 3 and len(depth.items) >= 3
        )

        for msg in ltp.snapshot():
            assert msg["symbol"] == "INFY"
            assert msg["mode"] == 1
            assert isinstance(msg["data"]["ltp"], float)
            assert msg["data"]["ltp"] > 0
            assert isinstance(msg["data"]["timestamp"], int)
        assert client.get_ltp()["ltp"]["NSE"]["INFY"]["ltp"] > 0

        q = quote.snapshot()[-1]["data"]
        assert q["low"] <= q["ltp"] <= q["high"]
        assert q["open"] > 0
        assert q["close"] > 0
        assert q["volume"] > 0
        assert q["last_trade_quantity"] > 0
        assert q["low"] <= q["avg_trade_price"] <= q["high"]
        assert q["change"] == pytest.approx(q["ltp"] - q["close"], abs=1e-6)

        d = depth.snapshot()[-1]["data"]
        buy, sell = d["depth"]["buy"], d["depth"]["sell"]
        assert len(buy) == 5
        assert len(sell) == 5
        assert all(level["quantity"] > 0 and level["orders"] > 0 for level in buy + sell)
        assert [lv["price"] for lv in buy] == sorted((lv["price"] for lv in buy), reverse=True)
        assert [lv["price"] for lv in sell] == sorted(lv["price"] for lv in sell)
        assert buy[0]["price"] < sell[0]["price"]
        assert buy[0]["price"] <= d["ltp"] <= sell[0]["price"]
        book = client.get_depth()["depth"]["NSE"]["RELIANCE"]
        assert book["buyBook"]["1"]["qty"] > 0
        assert book["sellBook"]["5"]["price"] > book["buyBook"]["1"]["price"]

        # Unsubscribe LTP; a tick forced on INFY and then one on SBIN: the SBIN quote arriving
        # proves the INFY tick was processed, and it must not have reached the LTP callback.
        assert client.unsubscribe_ltp([{"exchange": "NSE", "symbol": "INFY"}])
        sim.pause()
        # A marker tick on SBIN: once it is in, every earlier frame has been delivered.
        sim.set_price("NSE", "SBIN", "776.00")
        assert _wait(lambda: any(m["data"]["ltp"] == 776.0 for m in quote.snapshot()))
        count = len(ltp.items)
        sim.set_price("NSE", "INFY", "1400.00")
        sim.set_price("NSE", "SBIN", "777.00")
        assert _wait(lambda: any(m["data"]["ltp"] == 777.0 for m in quote.snapshot()))
        assert len(ltp.items) == count
        assert "INFY" not in client.get_ltp()["ltp"].get("NSE", {})
        assert client.unsubscribe_quote([{"exchange": "NSE", "symbol": "SBIN"}])
        assert client.unsubscribe_depth([{"exchange": "NSE", "symbol": "RELIANCE"}])
    finally:
        client.disconnect()
    assert client.connected is False


def test_sdk_connect_with_wrong_key_fails(sim: SimHandle) -> None:
    client = openalgo.api(api_key="wrong" * 8, host=sim.rest_url, ws_url=sim.ws_url)
    started = time.monotonic()
    try:
        assert client.connect() is False
        assert time.monotonic() - started < 8
    finally:
        client.disconnect()
    # The server keeps serving others.
    good = openalgo.api(api_key=sim.api_key, host=sim.rest_url, ws_url=sim.ws_url)
    try:
        assert good.connect() is True
    finally:
        good.disconnect()


def test_sdk_orders_positions_close(paused_sim: SimHandle) -> None:
    sim = paused_sim
    client = openalgo.api(api_key=sim.api_key, host=sim.rest_url, ws_url=sim.ws_url)
    sim.set_price("NSE", "SBIN", "801.50", bid="801.45", ask="801.55")

    placed = client.placeorder(
        strategy="sdk", symbol="SBIN", action="BUY", exchange="NSE",
        price_type="MARKET", product="MIS", quantity=5,
    )  # fmt: skip
    assert placed["status"] == "success", placed
    orderid = placed["orderid"]
    status = client.orderstatus(order_id=orderid, strategy="sdk")
    assert status["status"] == "success"
    assert status["data"]["order_status"] == "complete"
    assert status["data"]["average_price"] == 801.55
    assert status["data"]["quantity"] == 5

    limit = client.placeorder(
        strategy="sdk", symbol="INFY", action="BUY", exchange="NSE",
        price_type="LIMIT", product="MIS", quantity=3, price="1400.00",
    )  # fmt: skip
    assert limit["status"] == "success", limit
    assert client.orderstatus(order_id=limit["orderid"])["data"]["order_status"] == "open"
    modified = client.modifyorder(
        order_id=limit["orderid"], strategy="sdk", symbol="INFY", action="BUY", exchange="NSE",
        price_type="LIMIT", product="MIS", quantity=4, price="1401.00",
    )  # fmt: skip
    assert modified["status"] == "success", modified
    row = next(o for o in client.orderbook()["data"]["orders"] if o["orderid"] == limit["orderid"])
    assert row["quantity"] == 4
    assert row["price"] == 1401.0
    assert client.cancelorder(order_id=limit["orderid"], strategy="sdk")["status"] == "success"

    positions = client.positionbook()
    assert positions["status"] == "success"
    sbin = next(p for p in positions["data"] if p["symbol"] == "SBIN")
    assert sbin["quantity"] == 5
    assert sbin["average_price"] == 801.55
    assert (
        client.openposition(strategy="sdk", symbol="SBIN", exchange="NSE", product="MIS")[
            "quantity"
        ]
        == 5
    )

    closed = client.closeposition(strategy="sdk")
    assert closed["status"] == "success"
    assert closed["closed_positions"] == 1
    sbin = next(p for p in client.positionbook()["data"] if p["symbol"] == "SBIN")
    assert sbin["quantity"] == 0
    # Bought at the ask 801.55, sold at the bid 801.45: 5 x -0.10.
    assert sbin["pnl"] == pytest.approx(-0.50)
    funds = client.funds()["data"]
    assert funds["m2mrealized"] == pytest.approx(-0.50)
    assert funds["utiliseddebits"] == 0
    trades = client.tradebook()["data"]
    assert len(trades) == 2
    assert client.analyzerstatus()["data"]["mode"] == "analyze"


def test_sdk_market_data_rest(sim: SimHandle) -> None:
    client = openalgo.api(api_key=sim.api_key, host=sim.rest_url, ws_url=sim.ws_url)
    quotes = client.quotes(symbol="TCS", exchange="NSE")
    assert quotes["status"] == "success"
    assert quotes["data"]["bid"] < quotes["data"]["ask"]
    multi = client.multiquotes(
        symbols=[{"symbol": "TCS", "exchange": "NSE"}, {"symbol": "NOPE", "exchange": "NSE"}]
    )
    assert multi["results"][0]["data"]["ltp"] > 0
    assert "error" in multi["results"][1]
    depth = client.depth(symbol="TCS", exchange="NSE")
    assert len(depth["data"]["bids"]) == 5
    found = client.search(query="nifty")
    assert {r["exchange"] for r in found["data"]} >= {"NSE_INDEX", "NFO"}
    fut = next(r for r in found["data"] if r["exchange"] == "NFO")
    assert fut["lotsize"] == 75
    info = client.symbol(symbol="BTCUSDT", exchange="CRYPTO")
    assert info["data"]["tick_size"] == 0.01
    assert client.symbol(symbol="NOPE", exchange="NSE")["code"] == 404
    assert "minutes" in client.intervals()["data"]
    today = dt.datetime.now(IST).date()
    frame = client.history(
        symbol="SBIN", exchange="NSE", interval="D",
        start_date=(today - dt.timedelta(days=30)).isoformat(), end_date=today.isoformat(),
    )  # fmt: skip
    assert not isinstance(frame, dict), frame
    assert len(frame) >= 15
    assert (frame["high"] >= frame["low"]).all()
    minutes = client.history(
        symbol="SBIN", exchange="NSE", interval="5m",
        start_date=(today - dt.timedelta(days=10)).isoformat(), end_date=today.isoformat(),
    )  # fmt: skip
    assert not isinstance(minutes, dict), minutes
    assert len(minutes) > 100


def test_order_updates_stream(paused_sim: SimHandle) -> None:
    """subscribe_orders via the SDK where it has it, else with a plain websocket-client."""
    sim = paused_sim
    client = openalgo.api(api_key=sim.api_key, host=sim.rest_url, ws_url=sim.ws_url)
    events: list[dict[str, Any]] = []
    lock = threading.Lock()

    def on_update(message: dict[str, Any]) -> None:
        with lock:
            events.append(message)

    ws: websocket.WebSocketApp | None = None
    if hasattr(client, "subscribe_orders"):
        assert client.connect()
        client.subscribe_orders(on_order_update=on_update)
    else:
        ws = websocket.create_connection(sim.ws_url, timeout=5)
        ws.send(json.dumps({"action": "authenticate", "api_key": sim.api_key}))
        assert json.loads(ws.recv())["type"] == "auth"
        ws.send(json.dumps({"action": "subscribe_orders", "request_id": "r1"}))
        ack = json.loads(ws.recv())
        assert ack == {
            "type": "subscribe_orders",
            "status": "success",
            "message": "Subscribed to order updates",
            "request_id": "r1",
        }

        def pump() -> None:
            while True:
                try:
                    frame = json.loads(ws.recv())
                except Exception:
                    return
                on_update(frame)

        threading.Thread(target=pump, daemon=True).start()
    try:
        sim.set_price("NSE", "HDFCBANK", "1720.00", bid="1719.95", ask="1720.05")
        placed = client.placeorder(
            strategy="s", symbol="HDFCBANK", action="BUY", exchange="NSE",
            price_type="LIMIT", product="MIS", quantity=2, price="1719.00",
        )  # fmt: skip
        orderid = placed["orderid"]
        assert _wait(lambda: any(e.get("order_status") == "open" for e in events))
        sim.set_price("NSE", "HDFCBANK", "1718.50", bid="1718.45", ask="1718.55")
        assert _wait(lambda: any(e.get("order_status") == "complete" for e in events))
        with lock:
            mine = [e for e in events if e.get("orderid") == orderid]
        assert [e["order_status"] for e in mine] == ["open", "complete"]
        done = mine[-1]
        assert done["type"] == "order_update"
        assert done["mode"] == "analyze"
        assert done["filled_quantity"] == 2
        assert done["pending_quantity"] == 0
        assert done["average_price"] == 1719.0
    finally:
        if ws is not None:
            ws.close()
        client.disconnect()


def test_sdk_instruments_master(sim: SimHandle) -> None:
    client = openalgo.api(api_key=sim.api_key, host=sim.rest_url, ws_url=sim.ws_url)
    nse = client.instruments(exchange="NSE")
    assert not isinstance(nse, dict), nse
    assert set(nse["symbol"]) >= {"SBIN", "INFY", "TCS", "RELIANCE", "HDFCBANK"}
    everything = client.instruments()
    assert not isinstance(everything, dict), everything
    assert {"NSE", "NSE_INDEX", "NFO", "MCX"} <= set(everything["exchange"])
    bad = openalgo.api(api_key="nope", host=sim.rest_url, ws_url=sim.ws_url)
    assert bad.instruments(exchange="NSE")["code"] == 403
