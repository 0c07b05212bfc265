"""Paper matching over REST: every order type, partial fills through the book, modify, cancel,
smart orders, cancel-all / close-all, and positions and funds that agree with the fills."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import websocket

from cockpit.sim import SimConfig, SimHandle, start_in_thread


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    """A sim whose prices move only when a test moves them."""
    handle = start_in_thread(SimConfig(seed=3, paused=True))
    try:
        yield handle
    finally:
        handle.stop()


class Api:
    """Tiny REST helper: JSON in, (status, JSON) out; floats parsed as Decimal."""

    def __init__(self, sim: SimHandle) -> None:
        self.sim = sim
        self.http = httpx.Client(base_url=sim.rest_url, timeout=5)

    def call(self, path: str, **body: Any) -> tuple[int, dict[str, Any]]:
        reply = self.http.post(f"/api/v1/{path}", json={"apikey": self.sim.api_key, **body})
        return reply.status_code, json.loads(reply.text, parse_float=Decimal)

    def ok(self, path: str, **body: Any) -> dict[str, Any]:
        status, data = self.call(path, **body)
        assert status == 200, data
        assert data["status"] == "success", data
        return data

    def order(self, **body: Any) -> str:
        params = {"strategy": "t", "exchange": "NSE", "product": "MIS", "pricetype": "MARKET"}
        params.update({k: str(v) for k, v in body.items()})
        return str(self.ok("placeorder", **params)["orderid"])

    def modify(self, **body: Any) -> dict[str, Any]:
        params = {
            "strategy": "t",
            "exchange": "NSE",
            "product": "MIS",
            "disclosed_quantity": "0",
            "trigger_price": "0",
        }
        params.update({k: str(v) for k, v in body.items()})
        return self.ok("modifyorder", **params)

    def status(self, orderid: str) -> dict[str, Any]:
        return self.ok("orderstatus", strategy="t", orderid=orderid)["data"]

    def depth(self, symbol: str, exchange: str = "NSE") -> dict[str, Any]:
        return self.ok("depth", symbol=symbol, exchange=exchange)["data"]

    def position(self, symbol: str, product: str = "MIS") -> dict[str, Any]:
        rows = self.ok("positionbook")["data"]
        return next(r for r in rows if r["symbol"] == symbol and r["product"] == product)

    def trades(self, orderid: str) -> list[dict[str, Any]]:
        return [t for t in self.ok("tradebook")["data"] if t["orderid"] == orderid]


@pytest.fixture
def api(sim: SimHandle) -> Iterator[Api]:
    client = Api(sim)
    try:
        yield client
    finally:
        client.http.close()


def test_market_buy_walks_the_book_with_partial_fills(sim: SimHandle, api: Api) -> None:
    sim.set_price("NSE", "SBIN", "801.50", bid="801.45", ask="801.55")
    asks = api.depth("SBIN")["asks"]
    q0, q1 = asks[0]["quantity"], asks[1]["quantity"]
    qty = q0 + q1 + 3
    orderid = api.order(symbol="SBIN", action="BUY", quantity=qty)
    fills = sorted((t["price"], t["quantity"]) for t in api.trades(orderid))
    assert fills == [(Decimal("801.55"), q0), (Decimal("801.60"), q1), (Decimal("801.65"), 3)]
    value = Decimal("801.55") * q0 + Decimal("801.60") * q1 + Decimal("801.65") * 3
    avg = (value / qty).quantize(Decimal("0.01"))
    status = api.status(orderid)
    assert status["order_status"] == "complete"
    assert status["filled_quantity"] == qty
    assert status["average_price"] == avg
    pos = api.position("SBIN")
    assert pos["quantity"] == qty
    assert pos["average_price"] == avg
    funds = api.ok("funds")["data"]
    # MIS equity margin: one fifth of the notional.
    assert funds["utiliseddebits"] == (value / 5).quantize(Decimal("0.01"))


def test_limit_rests_then_fills_at_its_price(sim: SimHandle, api: Api) -> None:
    sim.set_price("NSE", "INFY", "1512.00", bid="1511.95", ask="1512.05")
    orderid = api.order(symbol="INFY", action="BUY", quantity=4, pricetype="LIMIT", price="1510.00")
    assert api.status(orderid)["order_status"] == "open"
    sim.set_price("NSE", "INFY", "1510.50", bid="1510.45", ask="1510.55")
    assert api.status(orderid)["order_status"] == "open"
    sim.set_price("NSE", "INFY", "1509.90", bid="1509.85", ask="1509.95")
    status = api.status(orderid)
    assert status["order_status"] == "complete"
    assert status["average_price"] == Decimal("1510.00")
    assert api.position("INFY")["quantity"] == 4


def test_marketable_limit_fills_through_levels_up_to_its_price(sim: SimHandle, api: Api) -> None:
    sim.set_price("NSE", "TCS", "3410.00", bid="3409.95", ask="3410.05")
    asks = api.depth("TCS")["asks"]
    q0, q1 = asks[0]["quantity"], asks[1]["quantity"]
    orderid = api.order(
        symbol="TCS", action="BUY", quantity=q0 + q1 + 10, pricetype="LIMIT", price="3410.10"
    )
    status = api.status(orderid)
    assert status["order_status"] == "open"
    assert status["filled_quantity"] == q0 + q1
    assert status["pending_quantity"] == 10
    # The rest fills at the limit once the offer comes down to it.
    sim.set_price("NSE", "TCS", "3410.05", bid="3410.00", ask="3410.10")
    status = api.status(orderid)
    assert status["order_status"] == "complete"
    fills = sorted((t["price"], t["quantity"]) for t in api.trades(orderid))
    assert fills == sorted(
        [(Decimal("3410.05"), q0), (Decimal("3410.10"), q1), (Decimal("3410.10"), 10)]
    )


def test_sell_limit_and_sell_market(sim: SimHandle, api: Api) -> None:
    sim.set_price("NSE", "RELIANCE", "1285.40", bid="1285.35", ask="1285.45")
    bids = api.depth("RELIANCE")["bids"]
    sold = api.order(symbol="RELIANCE", action="SELL", quantity=bids[0]["quantity"] + 1)
    fills = sorted(((t["price"], t["quantity"]) for t in api.trades(sold)), reverse=True)
    assert fills == [(Decimal("1285.35"), bids[0]["quantity"]), (Decimal("1285.30"), 1)]
    resting = api.order(
        symbol="RELIANCE", action="SELL", quantity=2, pricetype="LIMIT", price="1290.00"
    )
    assert api.status(resting)["order_status"] == "open"
    sim.set_price("NSE", "RELIANCE", "1290.05", bid="1290.00", ask="1290.10")
    assert api.status(resting)["order_status"] == "complete"
    assert api.status(resting)["average_price"] == Decimal("1290.00")


def test_stop_orders_trigger_then_fill(sim: SimHandle, api: Api) -> None:
    sim.set_price("NSE", "HDFCBANK", "1720.00", bid="1719.95", ask="1720.05")
    api.order(symbol="HDFCBANK", action="BUY", quantity=10)
    stop = api.order(
        symbol="HDFCBANK", action="SELL", quantity=10, pricetype="SL-M", trigger_price="1715.00"
    )
    assert api.status(stop)["order_status"] == "trigger pending"
    sim.set_price("NSE", "HDFCBANK", "1716.00", bid="1715.95", ask="1716.05")
    assert api.status(stop)["order_status"] == "trigger pending"
    sim.set_price("NSE", "HDFCBANK", "1715.00", bid="1714.95", ask="1715.05")
    status = api.status(stop)
    assert status["order_status"] == "complete"
    # As OpenAlgo's sandbox: a triggered SL-M fills at the last price, not the touch.
    assert status["average_price"] == Decimal("1715.00")
    assert api.position("HDFCBANK")["quantity"] == 0

    # SL (stop-limit) buy: triggers at 1718, buys up to 1718.50.
    entry = api.order(
        symbol="HDFCBANK",
        action="BUY",
        quantity=5,
        pricetype="SL",
        trigger_price="1718.00",
        price="1718.50",
    )
    assert api.status(entry)["order_status"] == "trigger pending"
    sim.set_price("NSE", "HDFCBANK", "1718.00", bid="1717.95", ask="1718.05")
    status = api.status(entry)
    assert status["order_status"] == "complete"
    assert status["average_price"] == Decimal("1718.00")  # the last price, within the limit
    # An SL that triggers with the market beyond its limit rests as a limit order.
    gap = api.order(
        symbol="HDFCBANK",
        action="BUY",
        quantity=1,
        pricetype="SL",
        trigger_price="1725.00",
        price="1725.00",
    )
    sim.set_price("NSE", "HDFCBANK", "1730.00", bid="1729.95", ask="1730.05")
    assert api.status(gap)["order_status"] == "open"
    # Back within its limit, it fills at the last price.
    sim.set_price("NSE", "HDFCBANK", "1724.50", bid="1724.45", ask="1724.55")
    status = api.status(gap)
    assert status["order_status"] == "complete"
    assert status["average_price"] == Decimal("1724.50")


def test_modify_and_cancel(sim: SimHandle, api: Api) -> None:
    sim.set_price("NSE", "SBIN", "800.00", bid="799.95", ask="800.05")
    orderid = api.order(symbol="SBIN", action="BUY", quantity=5, pricetype="LIMIT", price="795.00")
    api.modify(
        orderid=orderid,
        symbol="SBIN",
        action="BUY",
        pricetype="LIMIT",
        price="796.00",
        quantity="8",
    )
    status = api.status(orderid)
    assert status["price"] == Decimal("796.00")
    assert status["quantity"] == 8
    assert status["order_status"] == "open"
    api.ok("cancelorder", strategy="t", orderid=orderid)
    assert api.status(orderid)["order_status"] == "cancelled"
    code, body = api.call("cancelorder", strategy="t", orderid=orderid)
    assert code == 400
    assert body["message"] == "Cannot cancel order in cancelled status"
    code, body = api.call("cancelorder", strategy="t", orderid="26010100000000")
    assert code == 404
    assert body == {
        "status": "error",
        "message": "Order 26010100000000 not found",
        "mode": "analyze",
    }

    # Modifying a resting order to a marketable price fills it at once.
    other = api.order(symbol="SBIN", action="BUY", quantity=2, pricetype="LIMIT", price="799.00")
    api.modify(
        orderid=other, symbol="SBIN", action="BUY", pricetype="MARKET", price="0", quantity="2"
    )
    assert api.status(other)["order_status"] == "complete"
    assert api.status(other)["average_price"] == Decimal("800.05")


def test_smart_orders_reach_the_target_position(sim: SimHandle, api: Api) -> None:
    sim.set_price("NSE", "INFY", "1500.00", bid="1499.95", ask="1500.05")

    def smart(action: str, quantity: int, position_size: int) -> dict[str, Any]:
        return api.ok(
            "placesmartorder",
            strategy="t",
            exchange="NSE",
            symbol="INFY",
            action=action,
            product="MIS",
            pricetype="MARKET",
            quantity=str(quantity),
            position_size=str(position_size),
        )

    smart("BUY", 10, 10)
    assert api.position("INFY")["quantity"] == 10
    reply = smart("SELL", 15, -5)
    assert api.status(reply["orderid"])["quantity"] == 15
    assert api.status(reply["orderid"])["action"] == "SELL"
    assert api.position("INFY")["quantity"] == -5
    matched = smart("SELL", 5, -5)
    assert matched["message"] == "Positions Already Matched. No Action needed."
    assert "orderid" not in matched
    smart("BUY", 0, 0)
    assert api.position("INFY")["quantity"] == 0
    assert (
        api.ok("openposition", strategy="t", symbol="INFY", exchange="NSE", product="MIS")[
            "quantity"
        ]
        == 0
    )


def test_cancel_all_and_close_all(sim: SimHandle, api: Api) -> None:
    sim.set_price("NSE", "SBIN", "800.00", bid="799.95", ask="800.05")
    sim.set_price("NSE", "TCS", "3400.00", bid="3399.95", ask="3400.05")
    api.order(symbol="SBIN", action="BUY", quantity=10)
    api.order(symbol="TCS", action="SELL", quantity=3)
    resting = [
        api.order(symbol="SBIN", action="BUY", quantity=1, pricetype="LIMIT", price="790.00"),
        api.order(symbol="TCS", action="SELL", quantity=1, pricetype="LIMIT", price="3420.00"),
        api.order(
            symbol="SBIN", action="SELL", quantity=10, pricetype="SL-M", trigger_price="790.00"
        ),
    ]
    cancelled = api.ok("cancelallorder", strategy="t")
    # As OpenAlgo's analyze mode: the trigger-pending stop is skipped and keeps working.
    assert sorted(cancelled["canceled_orders"]) == sorted(resting[:2])
    assert cancelled["failed_cancellations"] == []
    assert all(api.status(o)["order_status"] == "cancelled" for o in resting[:2])
    assert api.status(resting[2])["order_status"] == "trigger pending"
    api.ok("cancelorder", strategy="t", orderid=resting[2])

    sim.set_price("NSE", "SBIN", "801.00", bid="800.95", ask="801.05")
    sim.set_price("NSE", "TCS", "3390.00", bid="3389.95", ask="3390.05")
    closed = api.ok("closeposition", strategy="t")
    assert closed["closed_positions"] == 2
    assert closed["mode"] == "analyze"
    book = api.ok("positionbook")
    rows = {r["symbol"]: r for r in book["data"]}
    assert rows["SBIN"]["quantity"] == 0
    assert rows["TCS"]["quantity"] == 0
    sbin_pnl = (Decimal("800.95") - Decimal("800.05")) * 10
    tcs_pnl = (Decimal("3399.95") - Decimal("3390.05")) * 3
    assert rows["SBIN"]["today_realized_pnl"] == sbin_pnl
    assert rows["TCS"]["today_realized_pnl"] == tcs_pnl
    assert book["total_pnl"] == sbin_pnl + tcs_pnl
    funds = api.ok("funds")["data"]
    assert funds["m2mrealized"] == sbin_pnl + tcs_pnl
    assert funds["m2munrealized"] == 0
    assert funds["utiliseddebits"] == 0
    assert funds["availablecash"] == Decimal(10_000_000) + sbin_pnl + tcs_pnl
    again = api.ok("closeposition", strategy="t")
    assert again["closed_positions"] == 0


def test_positions_and_funds_agree_with_the_tradebook(sim: SimHandle, api: Api) -> None:
    prices = ["801.00", "802.50", "799.75", "803.20", "800.05", "798.40"]
    sides = [("BUY", 7), ("BUY", 3), ("SELL", 12), ("SELL", 4), ("BUY", 10), ("SELL", 1)]
    for price, (action, qty) in zip(prices, sides, strict=True):
        p = Decimal(price)
        sim.set_price(
            "NSE", "SBIN", price, bid=str(p - Decimal("0.05")), ask=str(p + Decimal("0.05"))
        )
        api.order(symbol="SBIN", action=action, quantity=qty)
    trades = [t for t in api.ok("tradebook")["data"] if t["symbol"] == "SBIN"]
    net = sum(t["quantity"] if t["action"] == "BUY" else -t["quantity"] for t in trades)
    cash = sum((-1 if t["action"] == "BUY" else 1) * t["price"] * t["quantity"] for t in trades)
    ltp = Decimal("798.40")
    total_pnl = cash + net * ltp
    pos = api.position("SBIN")
    assert pos["quantity"] == net
    assert pos["ltp"] == ltp
    assert pos["pnl"] == total_pnl.quantize(Decimal("0.01"))
    funds = api.ok("funds")["data"]
    assert funds["m2mrealized"] + funds["m2munrealized"] == total_pnl.quantize(Decimal("0.01"))
    margin = abs(net) * pos["average_price"] / 5
    assert abs(funds["utiliseddebits"] - margin) <= Decimal("0.01") * (abs(net) + 1)


def test_lots_fractions_and_refusals(sim: SimHandle, api: Api) -> None:
    btc = api.order(exchange="CRYPTO", symbol="BTCUSDT", action="BUY", quantity="0.00123")
    status = api.status(btc)
    assert status["order_status"] == "complete"
    assert status["quantity"] == Decimal("0.00123")
    fut = next(s for s in sim.instruments() if s.startswith("NFO:"))
    fut_symbol = fut.split(":")[1]
    ok = api.order(exchange="NFO", symbol=fut_symbol, action="SELL", quantity=150, product="NRML")
    assert api.status(ok)["filled_quantity"] == 150
    for body, fragment in [
        ({"exchange": "NFO", "symbol": fut_symbol, "quantity": 10}, "multiples of lot size 75"),
        ({"exchange": "NSE_INDEX", "symbol": "NIFTY", "quantity": 1}, "cannot be traded"),
        ({"symbol": "NOSUCH", "quantity": 1}, "not found"),
        ({"symbol": "SBIN", "quantity": 1, "product": "NRML"}, "NRML"),
        ({"symbol": "SBIN", "quantity": 900_000}, "freeze"),
        ({"symbol": "TCS", "quantity": 90_000}, "Insufficient funds"),
    ]:
        params = {"strategy": "t", "exchange": "NSE", "action": "BUY", "product": "MIS", **body}
        code, reply = api.call("placeorder", **{k: str(v) for k, v in params.items()})
        assert code == 400, (body, reply)
        assert fragment in reply["message"], reply


def test_reject_next_and_order_updates(sim: SimHandle, api: Api) -> None:
    ws = websocket.create_connection(sim.ws_url, timeout=5)
    events: list[dict[str, Any]] = []
    lock = threading.Lock()
    try:
        ws.send(json.dumps({"action": "authenticate", "api_key": sim.api_key}))
        assert json.loads(ws.recv())["type"] == "auth"
        ws.send(json.dumps({"action": "subscribe_orders"}))
        assert json.loads(ws.recv())["type"] == "subscribe_orders"

        def pump() -> None:
            while True:
                try:
                    frame = json.loads(ws.recv(), parse_float=Decimal)
                except Exception:
                    return
                with lock:
                    events.append(frame)

        threading.Thread(target=pump, daemon=True).start()
        sim.reject_next("NSE", "SBIN", 1, "RMS: margin exceeds (test)")
        code, reply = api.call(
            "placeorder", strategy="t", exchange="NSE", symbol="SBIN", action="BUY",
            quantity="1", pricetype="MARKET", product="MIS",
        )  # fmt: skip
        assert code == 400
        assert reply["message"] == "RMS: margin exceeds (test)"
        rejected = reply["orderid"]
        assert api.status(rejected)["order_status"] == "rejected"
        assert api.status(rejected)["rejection_reason"] == "RMS: margin exceeds (test)"
        accepted = api.order(symbol="SBIN", action="BUY", quantity=1)
        resting = api.order(
            symbol="SBIN", action="BUY", quantity=1, pricetype="LIMIT", price="790.00"
        )
        api.ok("cancelorder", strategy="t", orderid=resting)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with lock:
                seen = [(e["orderid"], e["order_status"]) for e in events]
            if len(seen) >= 5:
                break
            time.sleep(0.01)
        assert seen == [
            (rejected, "rejected"),
            (accepted, "open"),
            (accepted, "complete"),
            (resting, "open"),
            (resting, "cancelled"),
        ]
        stats = api.ok("orderbook")["data"]["statistics"]
        assert stats["total_rejected_orders"] == 1
        assert stats["total_completed_orders"] == 1
    finally:
        ws.close()


def test_cnc_holdings_and_no_naked_cnc_sells(sim: SimHandle, api: Api) -> None:
    sim.set_price("NSE", "TCS", "3400.00", bid="3399.95", ask="3400.05")
    api.order(symbol="TCS", action="BUY", quantity=5, product="CNC")
    holdings = api.ok("holdings")["data"]
    assert [(h["symbol"], h["quantity"]) for h in holdings["holdings"]] == [("TCS", 5)]
    assert holdings["statistics"]["totalinvvalue"] == Decimal("3400.05") * 5
    code, reply = api.call(
        "placeorder", strategy="t", exchange="NSE", symbol="TCS", action="SELL",
        quantity="6", pricetype="MARKET", product="CNC",
    )  # fmt: skip
    assert code == 400
    assert "Only 5 shares available" in reply["message"]
    assert api.status(reply["orderid"])["order_status"] == "rejected"
    sold = api.order(symbol="TCS", action="SELL", quantity=5, product="CNC")
    assert api.status(sold)["order_status"] == "complete"
    assert api.ok("holdings")["data"]["holdings"] == []
