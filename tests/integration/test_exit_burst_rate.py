"""A gap through many stops: how fast the engine's router lets the exits go to the venue.

A real OpenAlgo server takes 10 order requests a second unless told otherwise
(``ORDER_RATE_LIMIT``): the router keeps to ``[venue] order_rate`` so it is not answered with
429s. The paper exchange takes 1,000 a second: a gap through 50 stops sends its 50 exits at
once. The router is built as the engine process builds it (``make_router``), against a
loopback server.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from cockpit.config import Settings
from cockpit.daemon.venue import make_router, openalgo_venue, paper_venue
from cockpit.domain.execution import PlaceOrder
from tests.integration.test_broker_router import KEY, Script


@pytest.fixture
def server() -> Iterator[Script]:
    srv = Script().start()
    yield srv
    srv.stop()


def _exits(router: object, results: queue.SimpleQueue[object], n: int) -> None:
    for i in range(n):
        router.submit(  # type: ignore[attr-defined]
            PlaceOrder(f"x{i}", "NSE", f"SYM{i:02d}", "SELL", Decimal(1), urgent=True)
        )
    for _ in range(n):
        results.get(timeout=15)


def _span(server: Script) -> float:
    times = [t for path, _body, t in server.received if path == "placeorder"]
    return max(times) - min(times)


def test_the_paper_exchange_gets_a_gap_s_50_exits_at_once(server: Script) -> None:
    results: queue.SimpleQueue[object] = queue.SimpleQueue()
    router = make_router(paper_venue(server.port, 1, KEY), results.put)
    router.start()
    try:
        _exits(router, results, 50)
    finally:
        router.stop()
    assert server.count("placeorder") == 50
    # Paced at 10 a second, the last of them would leave 4 s after the first.
    assert _span(server) < 2.0


def test_an_openalgo_server_s_order_limit_is_kept(server: Script) -> None:
    settings = Settings(
        venue={
            "broker": "openalgo",
            "host": server.url,
            "ws_url": "ws://127.0.0.1:1",
            "api_key": KEY,
            "order_rate": 40,
        }
    )
    results: queue.SimpleQueue[object] = queue.SimpleQueue()
    router = make_router(openalgo_venue(settings), results.put)
    router.start()
    started = time.monotonic()
    try:
        _exits(router, results, 50)
    finally:
        router.stop()
    assert server.count("placeorder") == 50
    # 40 at once (the server's window), the other 10 at 40 a second: never a 429.
    assert _span(server) >= 0.2
    assert time.monotonic() - started < 10


def test_an_exit_takes_the_next_order_slot_before_entries_waiting_for_one(
    server: Script,
) -> None:
    """Entries already waiting for the order rate's next slot never hold an exit back."""
    results: queue.SimpleQueue[object] = queue.SimpleQueue()
    settings = Settings(
        venue={
            "broker": "openalgo",
            "host": server.url,
            "ws_url": "ws://127.0.0.1:1",
            "api_key": KEY,
            "order_rate": 2,
        }
    )
    router = make_router(openalgo_venue(settings), results.put)
    router.start()
    try:
        for i in range(6):
            router.submit(PlaceOrder(f"e{i}", "NSE", f"ENT{i}", "BUY", Decimal(1)))
        deadline = time.monotonic() + 5
        while server.count("placeorder") < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        # Two entries went at once (the rate's burst); the workers hold more, waiting.
        router.submit(PlaceOrder("x", "NSE", "EXIT", "SELL", Decimal(1), urgent=True))
        for _ in range(7):
            results.get(timeout=20)
    finally:
        router.stop()
    sent = [body["symbol"] for path, body, _t in server.received if path == "placeorder"]
    assert sent.index("EXIT") == 2, sent
