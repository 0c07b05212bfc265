"""Bad input gets the protocol's error, and the server keeps serving everyone else."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websocket

from cockpit.sim import SimConfig, SimHandle, start_in_thread


class Watcher:
    """A well-behaved subscriber counting ticks on its own thread."""

    def __init__(self, sim: SimHandle, symbol: str = "INFY") -> None:
        self.ws = websocket.create_connection(sim.ws_url, timeout=5)
        self.ws.send(json.dumps({"action": "authenticate", "api_key": sim.api_key}))
        assert json.loads(self.ws.recv())["type"] == "auth"
        self.ws.send(
            json.dumps({"action": "subscribe", "symbol": symbol, "exchange": "NSE", "mode": 2})
        )
        self.ticks = 0
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        while True:
            try:
                frame = json.loads(self.ws.recv())
            except Exception:
                return
            if frame.get("type") == "market_data":
                self.ticks += 1

    def still_receiving(self, timeout: float = 5.0) -> bool:
        start = self.ticks
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ticks >= start + 3:
                return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        self.ws.close()
        self.thread.join(2)


@pytest.fixture
def watcher(sim: SimHandle) -> Iterator[Watcher]:
    w = Watcher(sim)
    try:
        yield w
    finally:
        w.close()


def _connect(sim: SimHandle, auth: bool = True) -> websocket.WebSocket:
    ws = websocket.create_connection(sim.ws_url, timeout=5)
    if auth:
        ws.send(json.dumps({"action": "authenticate", "api_key": sim.api_key}))
        assert json.loads(ws.recv())["type"] == "auth"
    return ws


def _next_non_tick(ws: websocket.WebSocket) -> dict[str, Any]:
    while True:
        frame = json.loads(ws.recv())
        if frame.get("type") != "market_data":
            return frame


def _drain(ws: websocket.WebSocket) -> None:
    for _ in range(10_000):
        ws.recv()


def test_ws_errors_are_flat_frames_and_the_connection_survives(
    sim: SimHandle, watcher: Watcher
) -> None:
    ws = _connect(sim, auth=False)
    try:
        cases: list[tuple[str | bytes, str]] = [
            ('{"action": "subscribe", "symbols": [{"symbol": "SBIN"', "INVALID_JSON"),
            ("[1, 2, 3]", "INVALID_JSON"),
            (b"\xff\xfe\x00garbage", "INVALID_JSON"),
            ('{"action": "subscribe", "symbol": "SBIN", "exchange": "NSE"}', "NOT_AUTHENTICATED"),
            ('{"action": "authenticate", "api_key": "not-the-key"}', "AUTHENTICATION_ERROR"),
            ('{"action": "authenticate"}', "AUTHENTICATION_ERROR"),
            ('{"action": "fly_to_the_moon"}', "INVALID_ACTION"),
        ]
        for raw, code in cases:
            if isinstance(raw, bytes):
                ws.send_binary(raw)
            else:
                ws.send(raw)
            frame = json.loads(ws.recv())
            assert "type" not in frame, frame
            assert frame["status"] == "error"
            assert frame["code"] == code, (raw, frame)
        ws.send(json.dumps({"action": "authenticate", "api_key": sim.api_key}))
        assert json.loads(ws.recv())["status"] == "success"
        sub = {"action": "subscribe", "symbol": "SBIN", "exchange": "NSE"}
        for raw, code in [
            ({**sub, "mode": True}, "INVALID_MODE"),
            ({**sub, "mode": 7}, "INVALID_MODE"),
            ({"action": "subscribe", "symbols": []}, "INVALID_PARAMETERS"),
            ({"action": "unsubscribe"}, "INVALID_PARAMETERS"),
        ]:  # fmt: skip
            ws.send(json.dumps(raw))
            frame = _next_non_tick(ws)
            assert frame["code"] == code, (raw, frame)
        # Wrong types inside entries are refused per entry, not fatal.
        ws.send(
            json.dumps(
                {
                    "action": "subscribe",
                    "mode": "quote",
                    "request_id": 9,
                    "symbols": [
                        {"symbol": 5, "exchange": "NSE"},
                        {"symbol": "SBIN", "exchange": "NSE"},
                    ],
                }
            )
        )
        ack = _next_non_tick(ws)
        assert ack["type"] == "subscribe"
        assert ack["status"] == "partial"
        assert ack["request_id"] == 9
        assert [s["status"] for s in ack["subscriptions"]] == ["error", "success"]
        assert ack["subscriptions"][1]["mode"] == "Quote"
        frame = json.loads(ws.recv())
        assert frame["type"] == "market_data"
        assert frame["mode"] == 2
        ws.send(json.dumps({"action": "ping", "timestamp": 123, "_pingId": "p1"}))
        pong = _next_non_tick(ws)
        assert pong["type"] == "pong"
        assert pong["client_timestamp"] == 123
        assert pong["_pingId"] == "p1"
    finally:
        ws.close()
    assert watcher.still_receiving()
    assert sim.stats()["ws"]["bad_messages"] >= 8


def test_rest_bad_input_gets_openalgo_errors(sim: SimHandle, watcher: Watcher) -> None:
    url = f"{sim.rest_url}/api/v1/placeorder"
    good = {
        "apikey": sim.api_key,
        "strategy": "t",
        "exchange": "NSE",
        "symbol": "SBIN",
        "action": "BUY",
        "quantity": "1",
        "pricetype": "LIMIT",
        "price": "700.00",
    }
    with httpx.Client(timeout=5) as http:
        reply = http.post(
            url, content=b'{"apikey": "x", ', headers={"Content-Type": "application/json"}
        )
        assert reply.status_code == 400
        assert reply.json()["status"] == "error"
        cases: list[tuple[dict[str, Any], int, str]] = [
            ({"target": "5"}, 400, "{'target': ['Unknown field.']}"),
            ({"quantity": "ten"}, 400, "{'quantity': ['Not a valid number.']}"),
            ({"quantity": "nan"}, 400, "Special numeric values"),
            ({"quantity": True}, 400, "{'quantity': ['Not a valid number.']}"),
            ({"quantity": "-5"}, 400, "Quantity must be a positive number."),
            ({"quantity": "1.5"}, 400, "Fractional quantity"),
            ({"action": "HOLD"}, 400, "Must be one of: BUY, SELL, buy, sell."),
            ({"exchange": "NYSE"}, 400, "'exchange': ['Must be one of:"),
            ({"pricetype": "STOP"}, 400, "'pricetype'"),
            ({"price": "801.53"}, 400, "not a multiple of the tick size"),
            ({"price": "99999999"}, 400, "outside the allowed band"),
            ({"price": "-1"}, 400, "Price must be a non-negative number."),
            ({"quantity": "1e12"}, 400, "freeze"),
            ({"disclosed_quantity": "1.5"}, 400, "Not a valid integer."),
            ({"apikey": "wrong"}, 403, "Invalid openalgo apikey"),
            ({"apikey": "ключ"}, 403, "Invalid openalgo apikey"),
        ]
        for change, code, fragment in cases:
            reply = http.post(url, json={**good, **change})
            assert reply.status_code == code, (change, reply.text)
            body = reply.json()
            assert body["status"] == "error"
            assert fragment in body["message"], (change, body)
        missing = {k: v for k, v in good.items() if k != "symbol"}
        reply = http.post(url, json=missing)
        assert reply.json()["message"] == "{'symbol': ['Missing data for required field.']}"
        reply = http.post(url, json=[1, 2])
        assert reply.status_code == 400
        # Data endpoints report the error dict itself.
        reply = http.post(f"{sim.rest_url}/api/v1/quotes", json={"apikey": sim.api_key, "x": 1})
        assert reply.status_code == 400
        assert reply.json()["message"]["x"] == ["Unknown field."]
        reply = http.post(
            f"{sim.rest_url}/api/v1/quotes",
            json={"apikey": sim.api_key, "symbol": "NOPE", "exchange": "NSE"},
        )
        assert reply.status_code == 404
        assert http.get(f"{sim.rest_url}/api/v1/funds").status_code == 405
        # Trailing slash works, and after all that the server still serves.
        reply = http.post(f"{sim.rest_url}/api/v1/placeorder/", json=good)
        assert reply.status_code == 200, reply.text
        assert reply.json()["status"] == "success"
    assert watcher.still_receiving()


def test_rate_limit_429() -> None:
    handle = start_in_thread(SimConfig(seed=1, paused=True, order_rate_limit=3))
    try:
        body = {"apikey": handle.api_key, "strategy": "t", "orderid": "1"}
        codes = [
            httpx.post(f"{handle.rest_url}/api/v1/cancelorder", json=body).status_code
            for _ in range(6)
        ]
        assert codes.count(429) >= 2
        reply = httpx.post(f"{handle.rest_url}/api/v1/cancelorder", json=body)
        if reply.status_code == 429:  # flask-limiter's own answer, as the server gives it
            assert reply.json() == {"message": "3 per 1 second"}
        # Other endpoints have their own budget.
        assert (
            httpx.post(
                f"{handle.rest_url}/api/v1/funds", json={"apikey": handle.api_key}
            ).status_code
            == 200
        )
    finally:
        handle.stop()


def test_auth_timeout_closes_4401() -> None:
    handle = start_in_thread(SimConfig(seed=1, auth_timeout=0.3))
    try:
        ws = websocket.create_connection(handle.ws_url, timeout=5)
        try:
            opcode, data = ws.recv_data(control_frame=True)
            assert opcode == websocket.ABNF.OPCODE_CLOSE
            assert int.from_bytes(data[:2], "big") == 4401
            assert data[2:] == b"auth timeout"
        finally:
            ws.close()
        # An authenticated client is not timed out.
        ws = websocket.create_connection(handle.ws_url, timeout=5)
        try:
            ws.send(json.dumps({"action": "authenticate", "api_key": handle.api_key}))
            assert json.loads(ws.recv())["type"] == "auth"
            time.sleep(0.5)  # past the deadline on purpose: nothing may arrive
            ws.send(json.dumps({"action": "ping"}))
            assert json.loads(ws.recv())["type"] == "pong"
        finally:
            ws.close()
    finally:
        handle.stop()


def test_slow_client_is_dropped_and_others_keep_going() -> None:
    handle = start_in_thread(SimConfig(seed=1, rate=500, max_client_buffer=64 * 1024))
    try:
        good = Watcher(handle)
        slow = websocket.create_connection(
            handle.ws_url, timeout=5, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),)
        )
        try:
            slow.send(json.dumps({"action": "authenticate", "api_key": handle.api_key}))
            assert json.loads(slow.recv())["type"] == "auth"
            symbols = [
                {"exchange": k.split(":")[0], "symbol": k.split(":")[1]}
                for k in handle.instruments()
            ]
            slow.send(
                json.dumps({"action": "subscribe", "mode": 3, "depth": 20, "symbols": symbols})
            )
            deadline = time.monotonic() + 20
            while handle.stats()["ws"]["slow_drops"] < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert handle.stats()["ws"]["slow_drops"] == 1
            assert good.still_receiving()
            # The slow client, reading at last, finds the explanation and then the close.
            slow.settimeout(5)
            last: dict[str, Any] = {}
            while True:
                try:
                    text = slow.recv()
                except websocket.WebSocketConnectionClosedException:
                    break
                if not text:
                    break
                last = json.loads(text)
            assert last.get("code") == "SLOW_CLIENT"
        finally:
            slow.close()
            good.close()
    finally:
        handle.stop()


def test_drop_and_silence(sim: SimHandle) -> None:
    ws = _connect(sim)
    ws.send(json.dumps({"action": "subscribe", "symbol": "SBIN", "exchange": "NSE", "mode": 1}))
    assert _next_non_tick(ws)["type"] == "subscribe"
    sim.silence(2.0)
    # Everything after this pong was sent while silent: no market data may follow for a while.
    ws.send(json.dumps({"action": "ping", "_pingId": "mark"}))
    while json.loads(ws.recv()).get("_pingId") != "mark":
        pass
    ws.send(json.dumps({"action": "ping"}))
    frames = []
    ws.settimeout(0.8)
    try:
        while True:
            frames.append(json.loads(ws.recv()))
    except websocket.WebSocketTimeoutException:
        pass
    assert [f["type"] for f in frames] == ["pong"]  # acks and pongs still flow
    ws.settimeout(5)
    assert json.loads(ws.recv())["type"] == "market_data"  # ticks resume after the silence
    assert sim.drop_ws() >= 1
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        _drain(ws)
    ws.close()
    fresh = _connect(sim)  # the server still accepts connections
    fresh.close()
