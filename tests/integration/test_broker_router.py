"""The OpenAlgo order router against a scripted loopback REST server (real sockets)."""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from cockpit.adapters.openalgo.broker import OpenAlgoRouter
from cockpit.domain.execution import (
    AUTH,
    OK,
    REJECTED,
    TRANSPORT,
    UNCERTAIN,
    CancelOrder,
    PlaceOrder,
    QueryBook,
    RouterResult,
)

KEY = "secret-key-123"


class Script:
    """A loopback REST server: each path answers from a script of (status, body, delay)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.scripts: dict[str, list[tuple[int, Any, float]]] = {}
        self.received: list[tuple[str, dict[str, Any], float]] = []
        self.orders: list[dict[str, Any]] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._next_id = 1000

    def start(self) -> Script:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(5)
        return self

    async def _listen(self) -> None:
        app = web.Application()
        app.router.add_post("/api/v1/{path}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def drop_idle(self) -> None:
        """Close every idle keep-alive connection from the server side."""

        async def close() -> None:
            assert self._runner is not None
            await self._runner.server.shutdown(0.1)  # type: ignore[union-attr]

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)

    def count(self, path: str) -> int:
        return sum(1 for p, _b, _t in self.received if p == path)

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body = json.loads(await request.read())
        self.received.append((path, body, time.monotonic()))
        if body.get("apikey") != KEY:
            return web.json_response(
                {"status": "error", "message": "Invalid openalgo apikey"}, status=403
            )
        script = self.scripts.get(path)
        if script:
            status, answer, delay = script.pop(0)
            if path == "placeorder" and status == 200 and answer is None:
                answer = self._accept(body)
            if delay:
                if path == "placeorder" and answer == "accept-late":
                    self._accept(body)
                await asyncio.sleep(delay)
            if answer == "accept-late":
                answer = {"status": "error", "message": "late"}
            if isinstance(answer, web.Response):
                return answer
            return web.json_response(answer, status=status)
        if path == "placeorder":
            return web.json_response(self._accept(body))
        if path == "orderbook":
            return web.json_response({"status": "success", "data": {"orders": self.orders}})
        return web.json_response({"status": "success", "orderid": body.get("orderid")})

    def _accept(self, body: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        oid = str(self._next_id)
        self.orders.append(
            {
                "orderid": oid,
                "symbol": body["symbol"],
                "exchange": body["exchange"],
                "action": body["action"],
                "quantity": int(body["quantity"]),
                "pricetype": body["pricetype"],
                "order_status": "open",
                "timestamp": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            }
        )
        return {"status": "success", "orderid": oid}


@pytest.fixture
def server() -> Iterator[Script]:
    srv = Script().start()
    yield srv
    srv.stop()


@pytest.fixture
def results() -> queue.SimpleQueue[object]:
    return queue.SimpleQueue()


def make_router(server: Script, sink: queue.SimpleQueue[object], **kw: Any) -> OpenAlgoRouter:
    kw.setdefault("timeout_s", 1.0)
    router = OpenAlgoRouter(server.url, KEY, sink.put, **kw)
    router.start()
    return router


@pytest.fixture
def router_factory(server: Script, results: queue.SimpleQueue[object]) -> Iterator[Any]:
    made: list[OpenAlgoRouter] = []

    def factory(**kw: Any) -> OpenAlgoRouter:
        router = make_router(server, results, **kw)
        made.append(router)
        return router

    yield factory
    for router in made:
        router.stop()


def get(results: queue.SimpleQueue[object], timeout: float = 5.0) -> RouterResult:
    item = results.get(timeout=timeout)
    assert isinstance(item, RouterResult)
    return item


def place(cid: str = "c1", qty: str = "10", urgent: bool = False) -> PlaceOrder:
    return PlaceOrder(
        cid, "NSE", "SBIN", "BUY", Decimal(qty), "LIMIT", "MIS", Decimal("801.50"), urgent=urgent
    )


def test_place_sends_exact_strings_and_returns_the_id(server, results, router_factory) -> None:
    router = router_factory()
    router.submit(place())
    result = get(results)
    assert result.ok
    assert result.code == OK
    assert result.venue_id == "1001"
    path, body, _t = server.received[0]
    assert path == "placeorder"
    assert body["price"] == "801.50"
    assert body["quantity"] == "10"
    assert body["pricetype"] == "LIMIT"
    assert body["action"] == "BUY"
    assert body["apikey"] == KEY
    assert result.done_ns >= result.sent_ns > 0


def test_validation_error_is_a_rejected_result(server, results, router_factory) -> None:
    server.scripts["placeorder"] = [
        (400, {"status": "error", "message": "{'quantity': ['bad']}"}, 0)
    ]
    router_factory().submit(place())
    result = get(results)
    assert not result.ok
    assert result.code == REJECTED
    assert result.http_status == 400
    assert "quantity" in result.error
    assert server.count("placeorder") == 1


def test_bad_key_is_auth_and_the_key_is_never_in_the_result_or_logs(
    server, results, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    router = OpenAlgoRouter(server.url, "wrong-key-xyz", results.put, timeout_s=1.0)
    router.start()
    try:
        router.submit(place())
        result = get(results)
    finally:
        router.stop()
    assert result.code == AUTH
    assert "wrong-key-xyz" not in repr(result)
    assert "wrong-key-xyz" not in caplog.text
    assert "wrong-key-xyz" not in repr(router)


def test_429_closes_the_gate_then_the_order_goes_through(server, results, router_factory) -> None:
    limited = {"status": "error", "message": "Rate limit exceeded.", "retry_after": 0.3}
    server.scripts["placeorder"] = [(429, limited, 0)]
    t0 = time.monotonic()
    made = router_factory()
    made.submit(place())
    result = get(results)
    assert result.ok
    assert result.attempts == 2
    times = [t for p, _b, t in server.received if p == "placeorder"]
    assert len(times) == 2
    assert times[1] - times[0] >= 0.25
    assert time.monotonic() - t0 < 3


def test_client_side_rate_limit_spaces_order_requests(server, results, router_factory) -> None:
    router = router_factory(order_rate=20.0, workers=3)
    for n in range(30):
        router.submit(place(f"c{n}"))
    got = [get(results) for _ in range(30)]
    assert all(r.ok for r in got)
    times = sorted(t for p, _b, t in server.received if p == "placeorder")
    # burst of 20, then 20/s: 30 orders take at least ~0.5 s
    assert times[-1] - times[0] >= 0.4


def test_timeout_on_place_is_not_retried_but_found_in_the_orderbook(
    server, results, router_factory
) -> None:
    # The server accepts the order but answers too late.
    server.scripts["placeorder"] = [(200, "accept-late", 1.5)]
    router = router_factory(timeout_s=0.5)
    router.submit(place("late"))
    result = get(results, timeout=10)
    assert result.ok
    assert result.recovered
    assert result.venue_id == "1001"
    assert server.count("placeorder") == 1
    assert server.count("orderbook") >= 1


def test_timeout_on_place_not_in_the_orderbook_is_uncertain(
    server, results, router_factory
) -> None:
    server.scripts["placeorder"] = [(500, {"status": "error", "message": "boom"}, 0)]
    router = router_factory()
    router.submit(place())
    result = get(results, timeout=10)
    assert not result.ok
    assert result.code == UNCERTAIN
    assert server.count("placeorder") == 1


def test_queries_are_retried_after_a_server_error(server, results, router_factory) -> None:
    server.scripts["orderbook"] = [(500, {"status": "error", "message": "boom"}, 0)]
    router = router_factory()
    router.submit(QueryBook("orderbook", token=7))
    result = get(results)
    assert result.ok
    assert result.attempts == 2
    assert result.request == QueryBook("orderbook", token=7)
    assert result.data == []  # the orderbook read into typed updates (none here)


def test_connection_refused_is_retried_then_reported(results) -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    router = OpenAlgoRouter(
        f"http://127.0.0.1:{port}",
        KEY,
        results.put,
        connect_retries=2,
        backoff_s=0.01,
    )
    router.start()
    try:
        router.submit(place())
        result = get(results)
    finally:
        router.stop()
    assert result.code == TRANSPORT
    assert result.attempts == 3


def test_urgent_requests_jump_the_queue(server, results, router_factory) -> None:
    router = router_factory(order_rate=2.0, workers=1)
    for n in range(4):
        router.submit(place(f"slow{n}"))
    router.submit(CancelOrder("x", "1001", urgent=True))
    got = [get(results) for _ in range(5)]
    order = [type(r.request).__name__ for r in got]
    # The first two placeorders may already be in flight; the urgent cancel beats the rest.
    assert order.index("CancelOrder") <= 2


def test_stop_reports_queued_requests(server, results) -> None:
    router = OpenAlgoRouter(server.url, KEY, results.put, order_rate=1.0, workers=1)
    router.start()
    for n in range(4):
        router.submit(place(f"c{n}"))
    time.sleep(0.1)
    router.stop(timeout=3)
    got = []
    while True:
        try:
            got.append(results.get_nowait())
        except queue.Empty:
            break
    assert len(got) == 4
    assert {r.code for r in got} <= {OK, "stopped"}


def test_an_exit_does_not_wait_behind_a_slow_query(server, results, router_factory) -> None:
    server.scripts["orderbook"] = [(200, {"status": "success", "data": {"orders": []}}, 1.5)]
    router = router_factory(workers=1, timeout_s=3.0)
    router.submit(QueryBook("orderbook"))
    deadline = time.monotonic() + 5
    while server.count("orderbook") == 0:  # the only normal worker is now in the slow query
        assert time.monotonic() < deadline
        time.sleep(0.01)
    router.submit(place("exit", urgent=True))
    first = get(results)
    assert isinstance(first.request, PlaceOrder)
    assert first.ok
    second = get(results)
    assert isinstance(second.request, QueryBook)


def test_a_keep_alive_connection_closed_by_the_server_is_not_an_uncertain_order(
    server, results, router_factory
) -> None:
    router = router_factory(workers=1)
    router.submit(place("a"))
    assert get(results).ok
    # The server drops its idle keep-alive connections (a restart, an idle timeout).
    server.drop_idle()
    router.submit(place("b"))
    result = get(results)
    assert result.ok, result
    assert result.attempts == 1
    assert server.count("placeorder") == 2


@pytest.mark.parametrize("lane", [True, False])
def test_exits_close_together_go_out_side_by_side(server, results, router_factory, lane) -> None:
    """A gap crossing many stops: each exit is on the wire without waiting for the answers
    to the others (the venue takes 0.3 s to answer each one here)."""
    server.scripts["placeorder"] = [(200, None, 0.3) for _ in range(6)]
    router = router_factory(
        workers=1, urgent_workers=4, order_rate=1000.0, timeout_s=3.0, exit_lane=lane
    )
    t0 = time.monotonic()
    for n in range(6):
        router.submit(place(f"exit{n}", urgent=True))
    got = [get(results) for _ in range(6)]
    assert all(r.ok for r in got)
    arrived = sorted(t for path, _b, t in server.received if path == "placeorder")
    assert len(arrived) == 6
    if lane:  # the lane writes all six before it reads an answer
        assert arrived[5] - t0 < 0.25, [round(t - t0, 3) for t in arrived]
        return
    # Five workers take an urgent order (four urgent-only, the normal one when idle): five
    # are at the venue at once; the sixth waits for one answer only.
    assert arrived[4] - t0 < 0.25, [round(t - t0, 3) for t in arrived]
    assert arrived[5] - t0 < 0.55


# ------------------------------------------- exits through the lane and through httpx (A/B)

LANE = (True, False)


@pytest.mark.parametrize("lane", LANE)
def test_each_transport_places_and_reads_the_answer(server, results, router_factory, lane) -> None:
    router = router_factory(exit_lane=lane)
    router.submit(place(urgent=True))
    result = get(results)
    assert result.ok, result
    assert result.venue_id == "1001"
    _path, body, _t = server.received[0]
    assert body["price"] == "801.50"
    assert body["apikey"] == KEY


@pytest.mark.parametrize("lane", LANE)
def test_each_transport_reads_retry_after_from_the_header(
    server, results, router_factory, lane
) -> None:
    limited = web.json_response(
        {"status": "error", "message": "Too many"}, status=429, headers={"Retry-After": "0.4"}
    )
    server.scripts["placeorder"] = [(429, limited, 0)]
    router = router_factory(exit_lane=lane, connect_retries=0)
    router.submit(place(urgent=True))
    result = get(results)
    assert result.ok, result
    assert router.counters["rate_limited"] == 1
    times = [t for p, _b, t in server.received if p == "placeorder"]
    assert 0.35 <= times[1] - times[0] < 0.9  # the header's 0.4 s, not the 1 s default


@pytest.mark.parametrize("lane", LANE)
def test_each_transport_says_never_sent_only_when_no_connection(results, lane) -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    router = OpenAlgoRouter(
        f"http://127.0.0.1:{port}", KEY, results.put, connect_retries=1, backoff_s=0.01,
        exit_lane=lane,
    )  # fmt: skip
    router.start()
    try:
        router.submit(place(urgent=True))
        result = get(results)
    finally:
        router.stop()
    assert result.code == TRANSPORT
    assert result.attempts == 2


@pytest.mark.parametrize("lane", LANE)
def test_each_transport_reports_a_placed_order_cut_mid_answer_as_uncertain(
    server, results, router_factory, lane
) -> None:
    """The venue drops the connection after reading the order: never sent again blindly."""

    class Cut(web.Response):
        async def prepare(self, request: web.BaseRequest) -> Any:
            assert request.transport is not None
            request.transport.abort()

    server.scripts["placeorder"] = [(200, Cut(), 0)]
    server.scripts["orderbook"] = [(200, {"status": "success", "data": {"orders": []}}, 0)] * 3
    router = router_factory(exit_lane=lane, uncertain_checks=1)
    router.submit(place(urgent=True))
    result = get(results)
    assert result.code == UNCERTAIN, result
    assert server.count("placeorder") == 1


def test_the_order_poller_waits_out_a_429_then_polls_again(server) -> None:
    """A 429 on /orderbook holds the poller back for the answer's retry_after (not its own
    short backoff); then it polls on and is live."""
    from cockpit.adapters.openalgo.poller import OrderBookPoller
    from cockpit.adapters.ws import Backoff
    from cockpit.domain.feed import FeedState, FeedStatus

    limited = {"status": "error", "message": "Too many", "retry_after": 1.2}
    server.scripts["orderbook"] = [(429, limited, 0)]
    seen: queue.SimpleQueue[object] = queue.SimpleQueue()
    poller = OrderBookPoller(
        server.url, KEY, seen.put, interval_s=0.05, backoff=Backoff(initial=0.01, cap=0.01)
    )
    poller.start()
    statuses: list[FeedStatus] = []
    try:
        while not statuses or statuses[-1].state != FeedState.LIVE:
            item = seen.get(timeout=5)
            if isinstance(item, FeedStatus):
                statuses.append(item)
    finally:
        poller.stop()
    waiting = [s for s in statuses if s.state == FeedState.RECONNECTING]
    assert len(waiting) == 1
    assert "429" in waiting[0].reason
    assert waiting[0].next_retry_s is not None
    assert waiting[0].next_retry_s >= 1.2
    polls = [t for path, _body, t in server.received if path == "orderbook"]
    assert polls[1] - polls[0] >= 1.1
