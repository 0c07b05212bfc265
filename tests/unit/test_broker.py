"""Router pieces that need no server: the rate limiter, response shapes, request repr."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

from cockpit.adapters.openalgo.broker import OpenAlgoRouter
from cockpit.adapters.openalgo.pacing import TokenBucket
from cockpit.adapters.openalgo.rows import instrument_from_row, order_updates, orderbook_rows
from cockpit.domain.execution import PlaceOrder


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=100.0, burst=5)
    assert [bucket.take() for _ in range(5)] == [0.0] * 5
    wait = bucket.take()
    assert 0 < wait <= 0.011
    stop = threading.Event()
    t0 = time.monotonic()
    for _ in range(10):
        assert bucket.wait(stop)
    assert time.monotonic() - t0 >= 0.08  # 10 more tokens at 100/s


def test_token_bucket_wait_gives_up_when_stopped() -> None:
    bucket = TokenBucket(rate=0.5, burst=1)
    bucket.take()
    stop = threading.Event()
    stop.set()
    assert not bucket.wait(stop)


def test_an_exit_lane_told_to_wait_gets_the_next_token_before_an_entry() -> None:
    bucket = TokenBucket(rate=20.0, burst=1)
    assert bucket.claim() == 0.0  # the exit lane takes the only token
    assert bucket.claim() > 0  # told to wait: from now on the next token is the lane's
    time.sleep(0.06)  # a token is back
    assert bucket.take() > 0  # an entry does not get it
    assert bucket.claim() == 0.0  # the lane does
    time.sleep(0.06)
    assert bucket.take() == 0.0  # the lane no longer waits: the entry goes


def test_orderbook_rows_accepts_both_shapes() -> None:
    row = {"orderid": "1", "symbol": "SBIN"}
    assert orderbook_rows({"orders": [row, "junk"]}) == [row]
    assert orderbook_rows([row]) == [row]
    assert orderbook_rows(None) == []


def test_router_repr_and_requests_never_show_the_key() -> None:
    router = OpenAlgoRouter("http://127.0.0.1:1", "very-secret", lambda _r: None)
    assert "very-secret" not in repr(router)
    assert "very-secret" not in repr(PlaceOrder("c", "NSE", "SBIN", "BUY", Decimal(1)))


def test_orderbook_row_becomes_a_polled_update() -> None:
    row = {
        "orderid": "77",
        "symbol": "SBIN",
        "exchange": "NSE",
        "action": "buy",
        "quantity": 10,
        "order_status": "complete",
        "price": 801.5,
        "average_price": 801.35,
        "pricetype": "LIMIT",
    }
    updates, bad = order_updates({"orders": [row, {"symbol": "SBIN"}]}, 5)
    assert bad == 1  # a row without an id or status is counted, not guessed
    (update,) = updates
    assert update.filled_qty == Decimal(10)  # live orderbooks have no filled_quantity
    assert update.average_price == Decimal("801.35")
    assert update.action == "BUY"
    assert update.source == "polled"


def test_symbol_rows_become_instruments() -> None:
    inst = instrument_from_row(
        {"symbol": "NIFTY30DEC25FUT", "exchange": "NFO", "tick_size": 0.05, "lotsize": 75,
         "instrumenttype": "FUTIDX", "name": "NIFTY"}
    )  # fmt: skip
    assert inst is not None
    assert (inst.key, inst.tick_size, inst.lot_size, inst.kind) == (
        "NFO:NIFTY30DEC25FUT",
        Decimal("0.05"),
        Decimal(75),
        "future",
    )
    assert instrument_from_row({"symbol": "X", "exchange": "NSE", "tick_size": 0}) is None
    assert instrument_from_row({"symbol": "X", "exchange": "MOON", "tick_size": 1}) is None
