"""Hostile requests get a 4xx at once, never a 500 or a stall, and the sim keeps serving.

Each case was seen to hurt the paper exchange: a 50-byte unauthenticated request with a huge
exponent stalled it for 41 s, deeply nested JSON and absurd prices answered 500, and an
upstream tick with an overflowing price dropped the upstream link.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from cockpit.domain.market import LtpTick, encode_line
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from tests.servers.base import poll_until

ENDPOINTS = [
    "placeorder", "placesmartorder", "modifyorder", "cancelorder", "cancelallorder",
    "closeposition", "orderstatus", "openposition", "orderbook", "tradebook", "positionbook",
    "holdings", "funds", "quotes", "multiquotes", "depth", "history", "intervals", "search",
    "symbol", "ping", "analyzer", "analyzer/toggle",
]  # fmt: skip


@pytest.fixture
def client(sim: SimHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.rest_url, timeout=30.0) as c:
        yield c


def _post(client: httpx.Client, path: str, body: Any = None, raw: bytes | None = None) -> Any:
    content = raw if raw is not None else json.dumps(body).encode()
    return client.post(path, content=content, headers={"Content-Type": "application/json"})


def _order(sim: SimHandle, **extra: Any) -> dict[str, Any]:
    body = {
        "apikey": sim.api_key, "strategy": "t", "exchange": "NSE", "symbol": "SBIN",
        "action": "BUY", "quantity": "1", "pricetype": "MARKET", "product": "MIS",
    }  # fmt: skip
    body.update(extra)
    return body


def test_huge_exponent_unauthenticated_is_refused_at_once(
    sim: SimHandle, client: httpx.Client
) -> None:
    body = {"apikey": "nope", "disclosed_quantity": "1e1000000"}
    start = time.monotonic()
    resp = _post(client, "/api/v1/placeorder", body)
    took = time.monotonic() - start
    assert resp.status_code == 403
    assert resp.json() == {"status": "error", "message": "Invalid openalgo apikey"}
    assert took < 0.5, f"took {took:.2f}s"


@pytest.mark.parametrize("field", ["disclosed_quantity", "quantity", "price", "trigger_price"])
def test_huge_exponent_authenticated_is_a_400_at_once(
    sim: SimHandle, client: httpx.Client, field: str
) -> None:
    start = time.monotonic()
    resp = _post(client, "/api/v1/placeorder", _order(sim, **{field: "1e1000000"}))
    took = time.monotonic() - start
    assert resp.status_code == 400, resp.text
    assert field in resp.json()["message"]
    assert took < 0.5, f"took {took:.2f}s"


@pytest.mark.parametrize("path", ENDPOINTS)
def test_deeply_nested_json_is_a_400_on_every_endpoint(client: httpx.Client, path: str) -> None:
    resp = _post(client, f"/api/v1/{path}", raw=b"[" * 100_000 + b"]" * 100_000)
    assert resp.status_code == 400, resp.text
    assert resp.json()["status"] == "error"
    nested = b'{"apikey": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert _post(client, f"/api/v1/{path}", raw=nested).status_code == 400


def test_nested_json_on_the_control_api_is_a_400(client: httpx.Client) -> None:
    resp = _post(client, "/sim/price", raw=b"[" * 100_000 + b"]" * 100_000)
    assert resp.status_code == 400


@pytest.mark.parametrize("qty", ["1e19", "10000000000000000000", "1e27", 10**19, 1e19, "1e300"])
@pytest.mark.parametrize("path", ["placeorder", "placesmartorder"])
def test_absurd_quantities_are_400(
    sim: SimHandle, client: httpx.Client, path: str, qty: Any
) -> None:
    body = _order(sim, quantity=qty)
    if path == "placesmartorder":
        body["position_size"] = qty
    resp = _post(client, f"/api/v1/{path}", body)
    assert resp.status_code == 400, resp.text


@pytest.mark.parametrize(("exchange", "symbol"), [("NSE", "SBIN"), ("CRYPTO", "BTCUSDT")])
@pytest.mark.parametrize("qty", ["1e19", "1e27"])
def test_absurd_quantities_on_modify_and_limit_orders_are_400(
    sim: SimHandle, client: httpx.Client, exchange: str, symbol: str, qty: str
) -> None:
    state = sim.server.market.get(exchange, symbol)
    if state is None:
        pytest.skip(f"{exchange}:{symbol} not listed")
    sim.pause()
    low = str(state.inst.snap(state.px(state.ltp) * Decimal("0.9")).price)
    limit = {"exchange": exchange, "symbol": symbol, "pricetype": "LIMIT", "price": low}
    placed = _post(client, "/api/v1/placeorder", _order(sim, **limit))
    assert placed.status_code == 200, placed.text
    resp = _post(client, "/api/v1/placeorder", _order(sim, **limit, quantity=qty))
    assert resp.status_code == 400, resp.text
    modify = {
        "apikey": sim.api_key, "strategy": "t", "exchange": exchange, "symbol": symbol,
        "orderid": placed.json()["orderid"], "action": "BUY", "product": "MIS",
        "pricetype": "LIMIT", "price": low, "quantity": qty, "disclosed_quantity": "0",
        "trigger_price": "0",
    }  # fmt: skip
    resp = _post(client, "/api/v1/modifyorder", modify)
    assert resp.status_code == 400, resp.text


@pytest.mark.parametrize("ltp", [1e308, "1e308", "1e-1000000", "1e1000000", "-5", 0])
def test_absurd_control_prices_are_400(sim: SimHandle, client: httpx.Client, ltp: Any) -> None:
    body = {"apikey": sim.api_key, "exchange": "NSE", "symbol": "SBIN", "ltp": ltp}
    resp = _post(client, "/sim/price", body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["status"] == "error"


def test_absurd_control_counts_are_400_at_once(sim: SimHandle, client: httpx.Client) -> None:
    start = time.monotonic()
    for body in (
        {"symbol": "SBIN", "exchange": "NSE", "count": 10**19},
        {"symbol": "SBIN", "exchange": "NSE", "count": "1e1000000"},
        {"symbol": "SBIN", "exchange": "NSE", "count": 1e308},
    ):
        resp = _post(client, "/sim/reject_next", {"apikey": sim.api_key, **body})
        assert resp.status_code == 400, resp.text
    for body in ({"seconds": 1e308}, {"seconds": "nan"}, {"seconds": -1}):
        resp = _post(client, "/sim/silence", {"apikey": sim.api_key, **body})
        assert resp.status_code == 400, resp.text
    assert time.monotonic() - start < 2.0


def test_the_sim_still_serves_after_the_hostile_requests(
    sim: SimHandle, client: httpx.Client
) -> None:
    _post(client, "/api/v1/placeorder", raw=b"[" * 100_000 + b"]" * 100_000)
    _post(client, "/api/v1/placeorder", {"apikey": "x", "disclosed_quantity": "1e1000000"})
    resp = _post(client, "/api/v1/placeorder", _order(sim))
    assert resp.status_code == 200, resp.text


def _send_lines(port: int, *lines: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"".join(line.rstrip(b"\n") + b"\n" for line in lines))
    return sock


def test_upstream_link_survives_an_overflowing_price() -> None:
    with start_in_thread(SimConfig(upstream_port=0, rate=20.0)) as sim:
        up = sim.server.upstream
        assert sim.upstream_port
        follow = b'{"follow": {"exchange": "NSE", "symbol": "INFY", "tick": "0.05", "lot": "1"}}'
        good = encode_line(LtpTick(recv_ns=1, exchange="NSE", symbol="INFY", ltp=Decimal("1500")))
        sock = _send_lines(sim.upstream_port, f'{{"auth": "{sim.api_key}"}}'.encode(), follow)
        try:
            poll_until(lambda: up.stats["followed"] == 1, 5.0, "followed")
            for huge in ("1e308", "1e1000000", "9" * 400):
                line = encode_line(
                    LtpTick(recv_ns=1, exchange="NSE", symbol="INFY", ltp=Decimal(huge))
                )
                sock.sendall(line.rstrip(b"\n") + b"\n")
            sock.sendall(good.rstrip(b"\n") + b"\n")
            poll_until(lambda: up.stats["applied"] == 1, 5.0, "the good tick after the bad ones")
            assert up.stats["bad_lines"] == 3
            state = sim.server.market.get("NSE", "INFY")
            assert state is not None
            assert state.ltp == 30000
        finally:
            sock.close()


def test_follow_with_absurd_tick_is_counted_not_fatal() -> None:
    with start_in_thread(SimConfig(upstream_port=0, rate=20.0)) as sim:
        up = sim.server.upstream
        assert sim.upstream_port
        sock = _send_lines(
            sim.upstream_port,
            f'{{"auth": "{sim.api_key}"}}'.encode(),
            b'{"follow": {"exchange": "NSE", "symbol": "ZZ", "tick": "1e-1000000", "lot": "1"}}',
            b'{"follow": {"exchange": "NSE", "symbol": "ZZ", "tick": "0", "lot": "1e1000000"}}',
            b'{"follow": {"exchange": "NSE", "symbol": "INFY", "tick": "0.05", "lot": "1"}}',
        )
        try:
            poll_until(lambda: up.stats["followed"] == 1, 5.0, "the good follow")
            assert up.stats["bad_lines"] == 2
        finally:
            sock.close()
