"""The paper exchange answers on real loopback sockets: REST orders and the WS feed."""

from __future__ import annotations

import json
import time

import httpx
import websocket

from cockpit.sim import SimHandle


def _post(sim: SimHandle, path: str, **body: object) -> httpx.Response:
    return httpx.post(f"{sim.rest_url}/api/v1/{path}", json={"apikey": sim.api_key, **body})


def test_market_order_fills_and_shows_in_books(sim: SimHandle) -> None:
    reply = _post(
        sim,
        "placeorder",
        strategy="t",
        symbol="SBIN",
        exchange="NSE",
        action="BUY",
        quantity="10",
        pricetype="MARKET",
        product="MIS",
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["status"] == "success"
    assert body["mode"] == "analyze"
    orderid = body["orderid"]
    assert len(orderid) == 14
    assert orderid.isdigit()
    orders = _post(sim, "orderbook").json()["data"]["orders"]
    assert [o["orderid"] for o in orders] == [orderid]
    assert orders[0]["order_status"] == "complete"
    positions = _post(sim, "positionbook").json()["data"]
    assert positions[0]["symbol"] == "SBIN"
    assert positions[0]["quantity"] == 10


def test_ws_auth_subscribe_and_ticks(sim: SimHandle) -> None:
    ws = websocket.create_connection(sim.ws_url, timeout=5)
    try:
        ws.send(json.dumps({"action": "authenticate", "api_key": sim.api_key}))
        auth = json.loads(ws.recv())
        assert auth["type"] == "auth"
        assert auth["status"] == "success"
        ws.send(json.dumps({"action": "subscribe", "symbol": "INFY", "exchange": "NSE", "mode": 1}))
        ack = json.loads(ws.recv())
        assert ack["type"] == "subscribe"
        assert ack["subscriptions"][0]["mode"] == "LTP"
        deadline = time.monotonic() + 5
        ticks = []
        while len(ticks) < 3 and time.monotonic() < deadline:
            frame = json.loads(ws.recv())
            if frame.get("type") == "market_data":
                ticks.append(frame)
        assert len(ticks) == 3
        assert all(t["mode"] == 1 and "ltp" in t["data"] for t in ticks)
    finally:
        ws.close()
