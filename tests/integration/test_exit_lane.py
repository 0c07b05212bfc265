"""The router's exit lane over real loopback sockets: a burst written before any answer is read,
each exit exactly once, and the router's rules kept (rate, Retry-After, never sent twice)."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from cockpit.adapters.openalgo.broker import OpenAlgoRouter
from cockpit.adapters.openalgo.lane import _Answer
from cockpit.domain.execution import OK, STOPPED, UNCERTAIN, PlaceOrder, RouterResult
from tests.integration.test_broker_router import KEY, Script


@pytest.fixture
def server() -> Iterator[Script]:
    srv = Script().start()
    yield srv
    srv.stop()


@pytest.fixture
def results() -> queue.SimpleQueue[object]:
    return queue.SimpleQueue()


@pytest.fixture
def lane_router(server: Script, results: queue.SimpleQueue[object]) -> Iterator[Any]:
    made: list[OpenAlgoRouter] = []

    def factory(**kw: Any) -> OpenAlgoRouter:
        kw.setdefault("timeout_s", 3.0)
        kw.setdefault("order_rate", 1000.0)
        router = OpenAlgoRouter(server.url, KEY, results.put, **kw)
        router.start()
        made.append(router)
        return router

    yield factory
    for router in made:
        router.stop()


def exit_order(n: int) -> PlaceOrder:
    return PlaceOrder(f"x{n}", "NSE", f"SYM{n:02d}", "SELL", Decimal(1), urgent=True)


def collect(
    results: queue.SimpleQueue[object], n: int, timeout: float = 10.0
) -> list[RouterResult]:
    out = []
    for _ in range(n):
        item = results.get(timeout=timeout)
        assert isinstance(item, RouterResult)
        out.append(item)
    return out


def placed(server: Script) -> list[str]:
    return [body["symbol"] for path, body, _t in server.received if path == "placeorder"]


def test_a_burst_of_50_exits_is_all_written_before_any_answer(server, results, lane_router) -> None:
    """The venue answers each exit 0.5 s after it reads it: with the lane all 50 are at the
    venue long before the first answer (through the 8 httpx workers, ``exit_lane=False``,
    the 50th arrives after 2 s)."""
    server.scripts["placeorder"] = [(200, None, 0.5) for _ in range(50)]
    router = lane_router()
    t0 = time.monotonic()
    for n in range(50):
        router.submit(exit_order(n))
    got = collect(results, 50)
    assert all(r.ok and r.attempts == 1 for r in got), [r for r in got if not r.ok]
    assert sorted(placed(server)) == sorted(f"SYM{n:02d}" for n in range(50))  # each once
    last = max(t for path, _b, t in server.received if path == "placeorder")
    assert last - t0 < 0.4, f"the 50th exit reached the venue after {last - t0:.3f} s"


def test_idle_connections_the_venue_closed_are_not_a_lost_exit(
    server, results, lane_router
) -> None:
    router = lane_router()
    router.submit(exit_order(0))
    assert collect(results, 1)[0].ok
    server.drop_idle()  # the venue closes every idle keep-alive connection (idle timeout)
    time.sleep(0.2)
    for n in range(1, 11):
        router.submit(exit_order(n))
    got = collect(results, 10)
    assert all(r.ok and r.attempts == 1 for r in got), got
    assert router.counters["retries"] == 0
    assert sorted(placed(server)) == sorted(f"SYM{n:02d}" for n in range(11))


def test_a_venue_that_closes_after_each_answer(server, results, lane_router) -> None:
    """``Connection: close`` on every answer (an HTTP/1.0-style server): each exit goes on a
    connection of its own, once."""
    closing = [
        (200, web.json_response({"status": "success", "orderid": f"9{n}"},
                                headers={"Connection": "close"}), 0)
        for n in range(6)
    ]  # fmt: skip
    server.scripts["placeorder"] = closing
    router = lane_router()
    for n in range(3):
        router.submit(exit_order(n))
    got = collect(results, 3)
    for n in range(3, 6):
        router.submit(exit_order(n))
        got += collect(results, 1)
    assert [r.code for r in got] == [OK] * 6
    assert sorted(r.venue_id or "" for r in got) == [f"9{n}" for n in range(6)]
    assert len(placed(server)) == 6


def test_an_exit_the_venue_took_before_dropping_the_connection_is_found_not_resent(
    server, results, lane_router
) -> None:
    class Cut(web.Response):
        async def prepare(self, request: web.BaseRequest) -> Any:
            assert request.transport is not None
            request.transport.abort()

    original = server._accept

    def accept_then_cut(body: dict[str, Any]) -> Any:
        original(body)
        return Cut()

    server.scripts["placeorder"] = [(200, None, 0)]  # answered by ``_accept``: taken, then cut
    server._accept = accept_then_cut
    router = lane_router(uncertain_checks=2)
    router.submit(exit_order(7))
    result = collect(results, 1)[0]
    assert result.ok, result
    assert result.recovered
    assert result.venue_id == "1001"
    assert placed(server) == ["SYM07"]
    assert router.counters["recovered"] == 1


def test_the_order_rate_holds_for_a_burst(server, results, lane_router) -> None:
    """5 orders a second (a burst of 5 at once): 10 exits take about a second."""
    router = lane_router(order_rate=5.0)
    t0 = time.monotonic()
    for n in range(10):
        router.submit(exit_order(n))
    got = collect(results, 10)
    assert all(r.ok for r in got)
    times = sorted(t - t0 for path, _b, t in server.received if path == "placeorder")
    assert times[4] < 0.3, times
    assert times[9] >= 0.9, times
    assert len(times) == 10


def test_exits_still_on_the_wire_at_stop_are_uncertain_and_the_rest_stopped(
    server, results, lane_router
) -> None:
    server.scripts["placeorder"] = [(200, None, 2.0) for _ in range(3)]
    router = lane_router(order_rate=3.0)  # three go at once; the next waits for a token
    for n in range(5):
        router.submit(exit_order(n))
    deadline = time.monotonic() + 5
    while len(placed(server)) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    router.stop()
    got = collect(results, 5, timeout=5)
    assert sorted(r.code for r in got) == sorted([UNCERTAIN] * 3 + [STOPPED] * 2)
    assert len(placed(server)) == 3


def test_a_venue_that_is_down_gets_no_exit_twice_and_each_a_result(results) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    router = OpenAlgoRouter(
        f"http://127.0.0.1:{port}", KEY, results.put, connect_retries=1, backoff_s=0.01
    )
    router.start()
    try:
        for n in range(5):
            router.submit(exit_order(n))
        got = collect(results, 5)
    finally:
        router.stop()
    assert {r.code for r in got} == {"transport"}


# ------------------------------------------------------------------ the answer reader


def test_the_answer_reader_takes_bytes_as_they_come() -> None:
    raw = b'HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{"status":"a"}'
    answer = _Answer()
    assert not any(answer.feed(raw[i : i + 1]) for i in range(len(raw) - 1))
    assert answer.feed(raw[-1:])
    assert (answer.status, answer.reason, answer.body) == (200, "OK", b'{"status":"a"}')
    assert not answer.close


def test_the_answer_reader_reads_chunks_a_100_continue_and_a_close() -> None:
    chunked = (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 TOO MANY REQUESTS\r\nRetry-After: 2\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\n2;x=1\r\nef\r\n"
        b"0\r\n\r\n"
    )
    answer = _Answer()
    assert answer.feed(chunked)
    assert (answer.status, answer.body, answer.close) == (429, b"abcdef", True)
    assert answer.headers["retry-after"] == "2"
    to_close = _Answer()
    assert not to_close.feed(b"HTTP/1.0 200 OK\r\n\r\nbody")
    assert to_close.feed(b"")
    assert to_close.body == b"body"


def test_an_answer_cut_short_is_an_error() -> None:
    answer = _Answer()
    assert not answer.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    with pytest.raises(ConnectionError):
        answer.feed(b"")
    with pytest.raises(ValueError, match="status line"):
        _Answer().feed(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_a_burst_interleaved_with_another_thread_submitting(server, results, lane_router) -> None:
    """Exits handed over from two threads at once each go exactly once."""
    router = lane_router()

    def hand(start: int) -> None:
        for n in range(start, start + 25):
            router.submit(exit_order(n))

    threads = [threading.Thread(target=hand, args=(k,)) for k in (0, 25)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = collect(results, 50)
    assert all(r.ok for r in got)
    assert sorted(placed(server)) == sorted(f"SYM{n:02d}" for n in range(50))


def test_a_server_behind_a_proxy_gets_its_exits_through_httpx(monkeypatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "localhost")
    assert not OpenAlgoRouter("http://10.1.2.3:5000", KEY, print).exit_lane
    assert OpenAlgoRouter("http://localhost:5000", KEY, print).exit_lane
    assert not OpenAlgoRouter("https://algo.example", KEY, print).exit_lane
    monkeypatch.delenv("HTTP_PROXY")
    assert OpenAlgoRouter("http://10.1.2.3:5000", KEY, print).exit_lane


def test_exits_sent_while_the_venue_closes_its_idle_connections(
    server, results, lane_router
) -> None:
    """The venue's close and the exits cross: each exit still goes exactly once, ok."""
    router = lane_router()
    sent = 0
    for _round in range(5):
        router.submit(exit_order(sent))
        sent += 1
        assert collect(results, 1)[0].ok
        server.drop_idle()  # no pause: the lane learns of the close while it writes
        for _ in range(8):
            router.submit(exit_order(sent))
            sent += 1
        got = collect(results, 8)
        assert all(r.ok for r in got), got
    assert sorted(placed(server)) == sorted(f"SYM{n:02d}" for n in range(sent))
    assert router.counters["uncertain"] == 0


def test_an_exit_that_waits_for_before_order_does_not_hold_the_submitting_thread(
    server, results, lane_router
) -> None:
    """The paper exchange's tee (``before_order``) may block: the lane thread waits for it,
    not the thread that hands the exit over (the decision thread)."""
    router = lane_router()
    waited: list[str] = []

    def before_order() -> None:
        time.sleep(0.3)
        waited.append(threading.current_thread().name)

    router.before_order = before_order
    t0 = time.monotonic()
    router.submit(exit_order(0))
    assert time.monotonic() - t0 < 0.2
    assert collect(results, 1)[0].ok
    assert waited == ["router-exits"]


def test_an_exit_handed_over_as_the_lane_stops_gets_a_result(server, results, lane_router) -> None:
    """The router's stop check passed, then its lane stopped before the exit reached it (the
    router stopping on another thread): the exit is not left in a dead lane's queue with no
    result, it is reported stopped (reconciliation sees it never went)."""
    router = lane_router()
    router._lane.stop()  # the interleaving: the lane is stopped, the router not yet
    router.submit(exit_order(1))
    [got] = collect(results, 1, timeout=2)
    assert got.request.cid == "x1"
    assert got.code == STOPPED
    assert placed(server) == []
