"""The paper exchange answers as the running OpenAlgo server was seen to (openalgo.md, last
section), and each older behaviour comes back behind its own switch.

Seen on the server: a 429 is flask-limiter's ``{"message": "10 per 1 second"}``;
``cancelallorder`` in analyze mode skips ``trigger pending`` orders; no snapshot frame on
subscribe; no ``order_update`` on modify; ``pending_quantity`` 0 in the accept event;
``data.mode`` a string; the sandbox's own error texts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websocket

from cockpit.cli import build_parser
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from cockpit.sim.main import LEGACY_SWITCHES, config_from_args


@pytest.fixture
def make() -> Iterator[Any]:
    handles: list[SimHandle] = []

    def start(**kw: Any) -> SimHandle:
        kw.setdefault("seed", 3)
        kw.setdefault("paused", True)
        handle = start_in_thread(SimConfig(**kw))
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.stop()


def _post(sim: SimHandle, path: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{sim.rest_url}/api/v1/{path}", json={"apikey": sim.api_key, **body})


def _order(sim: SimHandle, **extra: Any) -> httpx.Response:
    body = {"strategy": "t", "exchange": "NSE", "symbol": "SBIN", "action": "BUY",
            "quantity": "1", "pricetype": "MARKET", "product": "MIS"}  # fmt: skip
    body.update(extra)
    return _post(sim, "placeorder", **body)


def _ltp(sim: SimHandle) -> float:
    return float(_post(sim, "quotes", symbol="SBIN", exchange="NSE").json()["data"]["ltp"])


def _ws(sim: SimHandle) -> websocket.WebSocket:
    ws = websocket.create_connection(sim.ws_url, timeout=5)
    ws.send(json.dumps({"action": "authenticate", "api_key": sim.api_key}))
    assert json.loads(ws.recv())["type"] == "auth"
    return ws


def _frames_until_pong(ws: websocket.WebSocket, marker: str) -> list[dict[str, Any]]:
    """Every frame received before the pong answering ``marker`` (a barrier)."""
    ws.send(json.dumps({"action": "ping", "_pingId": marker}))
    frames = []
    while True:
        frame = json.loads(ws.recv())
        if frame.get("type") == "pong" and frame.get("_pingId") == marker:
            return frames
        frames.append(frame)


# -- 429 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("legacy", [False, True])
def test_429_is_flask_limiters_answer(make: Any, legacy: bool) -> None:
    sim = make(order_rate_limit=3, retry_after_429=legacy)
    answers = [_post(sim, "cancelallorder", strategy="t") for _ in range(6)]
    limited = [r for r in answers if r.status_code == 429]
    assert limited, [r.status_code for r in answers]
    if legacy:
        assert limited[0].json()["retry_after"] == 1
        assert limited[0].headers["Retry-After"] == "1"
    else:
        assert limited[0].json() == {"message": "3 per 1 second"}
        assert "Retry-After" not in limited[0].headers


# -- cancelallorder ----------------------------------------------------------------------------


@pytest.mark.parametrize("legacy", [False, True])
def test_cancel_all_skips_trigger_pending_orders(make: Any, legacy: bool) -> None:
    sim = make(cancel_all_trigger_pending=legacy)
    ltp = _ltp(sim)
    stop = _order(sim, action="SELL", pricetype="SL-M", trigger_price=str(round(ltp * 0.95, 1)))
    assert stop.status_code == 200, stop.text
    stop_id = stop.json()["orderid"]
    first = _post(sim, "cancelallorder", strategy="t").json()
    status = _post(sim, "orderstatus", strategy="t", orderid=stop_id).json()["data"]
    if legacy:
        assert first["canceled_orders"] == [stop_id]
        assert status["order_status"] == "cancelled"
        return
    assert first["status"] == "success"
    assert first["message"] == "No open orders to cancel"
    assert first["canceled_orders"] == []
    assert status["order_status"] == "trigger pending"
    limit = _order(sim, pricetype="LIMIT", price=str(round(ltp * 0.95, 1)))
    limit_id = limit.json()["orderid"]
    second = _post(sim, "cancelallorder", strategy="t").json()
    assert second["canceled_orders"] == [limit_id]
    assert second["message"] == "Canceled 1 orders. Failed to cancel 0 orders."
    status = _post(sim, "orderstatus", strategy="t", orderid=stop_id).json()["data"]
    assert status["order_status"] == "trigger pending"


# -- the feed ----------------------------------------------------------------------------------


@pytest.mark.parametrize("legacy", [False, True])
def test_no_snapshot_on_subscribe(make: Any, legacy: bool) -> None:
    sim = make(subscribe_snapshot=legacy)
    ws = _ws(sim)
    try:
        ws.send(json.dumps({"action": "subscribe", "mode": 2,
                            "symbols": [{"symbol": "SBIN", "exchange": "NSE"}]}))  # fmt: skip
        frames = _frames_until_pong(ws, "a")
        market = [f for f in frames if f.get("type") == "market_data"]
        assert [f["type"] for f in frames if f.get("type") != "market_data"] == ["subscribe"]
        assert len(market) == (1 if legacy else 0)
        sim.set_price("NSE", "SBIN", "801.50")
        frames = _frames_until_pong(ws, "b")
        assert [f["data"]["ltp"] for f in frames if f.get("type") == "market_data"] == [801.5]
    finally:
        ws.close()


@pytest.mark.parametrize("legacy", [False, True])
def test_data_mode_is_the_adapters_text(make: Any, legacy: bool) -> None:
    sim = make(numeric_data_mode=legacy)
    ws = _ws(sim)
    try:
        for mode, symbol in ((1, "SBIN"), (2, "INFY"), (3, "TCS")):
            ws.send(json.dumps({"action": "subscribe", "mode": mode,
                                "symbols": [{"symbol": symbol, "exchange": "NSE"}]}))  # fmt: skip
        _frames_until_pong(ws, "subscribed")
        for symbol, price in (("SBIN", "801.50"), ("INFY", "1500.10"), ("TCS", "3400.20")):
            sim.set_price("NSE", symbol, price)
        frames = [f for f in _frames_until_pong(ws, "ticks") if f.get("type") == "market_data"]
        got = {f["symbol"]: (f["mode"], f["data"]["mode"]) for f in frames}
        if legacy:
            assert got == {"SBIN": (1, 1), "INFY": (2, 2), "TCS": (3, 3)}
        else:
            assert got == {"SBIN": (1, "ltp"), "INFY": (2, "quote"), "TCS": (3, "full")}
    finally:
        ws.close()


# -- order updates -----------------------------------------------------------------------------


@pytest.mark.parametrize("legacy", [False, True])
def test_order_updates_on_modify_and_pending_on_accept(make: Any, legacy: bool) -> None:
    sim = make(modify_updates=legacy, accept_pending_quantity=legacy)
    ws = _ws(sim)
    try:
        ws.send(json.dumps({"action": "subscribe_orders"}))
        _frames_until_pong(ws, "subscribed")
        ltp = _ltp(sim)
        placed = _order(sim, pricetype="LIMIT", price=str(round(ltp * 0.95, 1)), quantity="7")
        orderid = placed.json()["orderid"]
        accept = [f for f in _frames_until_pong(ws, "placed") if f.get("type") == "order_update"]
        assert [(f["order_status"], f["pending_quantity"]) for f in accept] == [
            ("open", 7 if legacy else 0)
        ]
        modified = _post(
            sim, "modifyorder", strategy="t", exchange="NSE", symbol="SBIN", orderid=orderid,
            action="BUY", product="MIS", pricetype="LIMIT", price=str(round(ltp * 0.94, 1)),
            quantity="7", disclosed_quantity="0", trigger_price="0",
        )  # fmt: skip
        assert modified.status_code == 200, modified.text
        after = [f for f in _frames_until_pong(ws, "modified") if f.get("type") == "order_update"]
        assert len(after) == (1 if legacy else 0)
        _post(sim, "cancelorder", strategy="t", orderid=orderid)
        cancel = [f for f in _frames_until_pong(ws, "cancelled") if f.get("type") == "order_update"]
        assert [
            (f["order_status"], f["pending_quantity"], f["filled_quantity"]) for f in cancel
        ] == [("cancelled", 0, 0)]
    finally:
        ws.close()


def test_fill_update_carries_the_fill(make: Any) -> None:
    sim = make()
    ws = _ws(sim)
    try:
        ws.send(json.dumps({"action": "subscribe_orders"}))
        _frames_until_pong(ws, "subscribed")
        _order(sim, quantity="3")
        updates = [f for f in _frames_until_pong(ws, "x") if f.get("type") == "order_update"]
        assert [(u["order_status"], u["filled_quantity"], u["pending_quantity"]) for u in updates][
            -1
        ] == ("complete", 3, 0)
        assert updates[-1]["average_price"] > 0
    finally:
        ws.close()


# -- error texts -------------------------------------------------------------------------------


def test_insufficient_funds_reads_as_the_sandbox_says(make: Any) -> None:
    sim = make()
    resp = _order(sim, symbol="TCS", quantity="90000")
    assert resp.status_code == 400
    message = resp.json()["message"]
    assert message.startswith("Insufficient funds. Required: ₹"), message
    assert ", Available: ₹" in message
    assert ", Shortage: ₹" in message


# -- the command line --------------------------------------------------------------------------


def test_each_switch_has_a_flag_and_legacy_sets_them_all() -> None:
    parser = build_parser()
    real = config_from_args(parser.parse_args(["sim"]))
    assert not any(getattr(real, name) for name in LEGACY_SWITCHES)
    for name in LEGACY_SWITCHES:
        flag = "--" + name.replace("_", "-")
        cfg = config_from_args(parser.parse_args(["sim", flag]))
        assert [n for n in LEGACY_SWITCHES if getattr(cfg, n)] == [name]
    legacy = config_from_args(parser.parse_args(["sim", "--legacy"]))
    assert all(getattr(legacy, name) for name in LEGACY_SWITCHES)
