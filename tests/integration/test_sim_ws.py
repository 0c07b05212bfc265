"""WebSocket feed details: modes and their tagging, depth levels, unsubscribe, many clients,
broker info and protocol pings (openalgo.md §1)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import websocket

from cockpit.sim import SimConfig, SimHandle, start_in_thread


@pytest.fixture
def quiet() -> Iterator[SimHandle]:
    """Paused market, fast protocol pings."""
    handle = start_in_thread(SimConfig(seed=5, paused=True, ping_interval=0.3))
    try:
        yield handle
    finally:
        handle.stop()


def _client(sim: SimHandle) -> websocket.WebSocket:
    ws = websocket.create_connection(sim.ws_url, timeout=5)
    ws.send(json.dumps({"action": "auth", "apikey": sim.api_key}))
    assert json.loads(ws.recv())["type"] == "auth"
    return ws


def _until(ws: websocket.WebSocket, kind: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        frame = json.loads(ws.recv())
        if frame.get("type") == kind:
            return frame
    raise AssertionError(f"no {kind} frame")


def _ticks_after(ws: websocket.WebSocket, marker: str) -> list[dict[str, Any]]:
    """Market frames received until the pong carrying ``marker``."""
    ws.send(json.dumps({"action": "ping", "_pingId": marker}))
    frames = []
    while True:
        frame = json.loads(ws.recv())
        if frame.get("type") == "pong" and frame.get("_pingId") == marker:
            return frames
        if frame.get("type") == "market_data":
            frames.append(frame)


def test_several_modes_one_copy_tagged_with_the_highest(quiet: SimHandle) -> None:
    ws = _client(quiet)
    try:
        for mode in (1, "quote"):
            ws.send(
                json.dumps(
                    {"action": "subscribe", "symbol": "SBIN", "exchange": "NSE", "mode": mode}
                )
            )
            _until(ws, "subscribe")
        _ticks_after(ws, "a")  # snapshots
        quiet.set_price("NSE", "SBIN", "805.00")
        frames = _ticks_after(ws, "b")
        assert len(frames) == 1
        assert frames[0]["mode"] == 2
        assert frames[0]["data"]["ltp"] == 805.0
        assert "open" in frames[0]["data"]

        # Dropping Quote leaves LTP: now LTP frames with only the LTP payload.
        ws.send(
            json.dumps(
                {
                    "action": "unsubscribe",
                    "symbols": [{"symbol": "SBIN", "exchange": "NSE", "mode": 2}],
                }
            )
        )
        ack = _until(ws, "unsubscribe")
        assert ack["status"] == "success"
        assert ack["successful"][0]["symbol"] == "SBIN"
        quiet.set_price("NSE", "SBIN", "805.05")
        frames = _ticks_after(ws, "c")
        assert [f["mode"] for f in frames] == [1]
        assert set(frames[0]["data"]) == {"symbol", "exchange", "mode", "ltp", "ltt", "timestamp"}

        ws.send(json.dumps({"action": "unsubscribe_all"}))
        ack = _until(ws, "unsubscribe")
        assert ack["status"] == "success"
        quiet.set_price("NSE", "SBIN", "805.10")
        assert _ticks_after(ws, "d") == []
    finally:
        ws.close()


def test_depth_20_and_string_modes(quiet: SimHandle) -> None:
    ws = _client(quiet)
    try:
        ws.send(json.dumps({"action": "subscribe", "mode": "DEPTH", "depth": 20,
                            "symbols": [{"symbol": "TCS", "exchange": "NSE"}]}))  # fmt: skip
        ack = _until(ws, "subscribe")
        assert ack["subscriptions"][0]["mode"] == "Depth"
        assert ack["subscriptions"][0]["depth"] == 20
        quiet.set_price("NSE", "TCS", "3400.00")  # no snapshot on subscribe: the next tick
        frame = _until(ws, "market_data")
        book = frame["data"]["depth"]
        assert len(book["buy"]) == 20
        assert len(book["sell"]) == 20
        prices = [lv["price"] for lv in book["sell"]]
        assert prices == sorted(prices)
        assert frame["mode"] == 3
    finally:
        ws.close()


def test_clients_have_their_own_subscriptions(quiet: SimHandle) -> None:
    a, b = _client(quiet), _client(quiet)
    try:
        a.send(json.dumps({"action": "subscribe", "symbol": "INFY", "exchange": "NSE", "mode": 1}))
        b.send(json.dumps({"action": "subscribe", "symbol": "TCS", "exchange": "NSE", "mode": 1}))
        _until(a, "subscribe")
        _until(b, "subscribe")
        _ticks_after(a, "x")
        _ticks_after(b, "x")
        quiet.set_price("NSE", "INFY", "1500.00")
        quiet.set_price("NSE", "TCS", "3400.00")
        assert [f["symbol"] for f in _ticks_after(a, "y")] == ["INFY"]
        assert [f["symbol"] for f in _ticks_after(b, "y")] == ["TCS"]
        a.send(json.dumps({"action": "get_broker_info"}))
        info = _until(a, "broker_info")
        assert info["status"] == "success"
        assert info["adapter_status"] == "connected"
        a.send(json.dumps({"action": "get_supported_brokers"}))
        assert _until(a, "supported_brokers")["count"] == 1
    finally:
        a.close()
        b.close()


def test_protocol_pings_are_sent(quiet: SimHandle) -> None:
    ws = _client(quiet)
    try:
        deadline = time.monotonic() + 5
        opcodes = set()
        while websocket.ABNF.OPCODE_PING not in opcodes and time.monotonic() < deadline:
            opcode, _ = ws.recv_data(control_frame=True)
            opcodes.add(opcode)
        assert websocket.ABNF.OPCODE_PING in opcodes
    finally:
        ws.close()


def test_index_quotes_have_no_book(quiet: SimHandle) -> None:
    ws = _client(quiet)
    try:
        ws.send(
            json.dumps(
                {"action": "subscribe", "symbol": "NIFTY", "exchange": "NSE_INDEX", "mode": 3}
            )
        )
        _until(ws, "subscribe")
        nifty = quiet.server.market.get("NSE_INDEX", "NIFTY")
        assert nifty is not None
        quiet.set_price("NSE_INDEX", "NIFTY", str(nifty.px(nifty.ltp)))
        frame = _until(ws, "market_data")
        assert frame["data"]["ltp"] > 10000
        assert frame["data"]["depth"] == {"buy": [], "sell": []}
    finally:
        ws.close()
