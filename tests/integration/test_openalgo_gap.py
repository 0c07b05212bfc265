"""Issue 17 item 3, second half: order updates pushed while the feed was disconnected are lost
at OpenAlgo (no replay), so after any reconnect the engine reads the order book once and applies
what it missed, as polled updates."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.link import protocol as p
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from tests.integration.external_stack import RunnerStack, entry, tick_until_quoted

pytest.importorskip("cockpit.engine.core")

KEY = "NSE:SBIN"


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    handle = start_in_thread(SimConfig(seed=3, rate=20.0, paused=True))
    handle.set_price("NSE", "SBIN", "800.00")
    yield handle
    handle.stop()


def test_a_fill_pushed_during_a_reconnect_is_applied_from_the_order_book(
    xdg: Path, sim: SimHandle
) -> None:
    stack = RunnerStack(
        xdg,
        {
            "venue": {
                "broker": "openalgo",
                "host": sim.rest_url,
                "ws_url": sim.ws_url,
                "api_key": sim.api_key,
                "order_updates": "push",
            },
            "trading": {"watchlist": [KEY]},
        },
    ).start()
    try:
        v = stack.viewer()
        v.wait(lambda: v.feed_live("openalgo"), what="the feed live")
        v.wait(lambda: sim.server.hub.order_clients, what="the engine on the order stream")
        tick_until_quoted(v, sim, KEY, ("800.00", "800.05"))
        answer = entry(v, KEY, "BUY", "1", order_type="LIMIT", price=15900)  # 795.00
        assert isinstance(answer, p.Ack), answer

        def working() -> list[p.OrderView]:
            return [e.order for e in v.of(p.OrderEvent) if e.order.status == "open"]

        order = v.wait(working, what="the limit order working")[0]
        # The engine's socket goes; the order fills before it is back (no pushed update).
        sim.drop_ws()
        sim.set_price("NSE", "SBIN", "794.95")
        gap_over = time.monotonic()
        fill = v.wait(lambda: v.of(p.FillEvent), what="the fill missed in the gap")[0].fill
        assert fill.cid == order.cid
        assert fill.qty == 1
        assert time.monotonic() - gap_over < 10  # from the reconnect, not a periodic check
        done = [e.order for e in v.of(p.OrderEvent) if e.order.status == "complete"]
        assert order.cid in {o.cid for o in done}
        reconnects = [
            e.status
            for e in v.of(p.FeedEvent)
            if e.status.feed == "openalgo" and e.status.state == "reconnecting"
        ]
        assert reconnects  # it did go through a reconnect
    finally:
        stack.stop()


def test_a_silent_symbol_is_stale_and_gated_while_the_feed_stays_up(
    xdg: Path, sim: SimHandle
) -> None:
    stack = RunnerStack(
        xdg,
        {
            "venue": {
                "broker": "openalgo",
                "host": sim.rest_url,
                "ws_url": sim.ws_url,
                "api_key": sim.api_key,
            },
            "trading": {"watchlist": [KEY]},
            "risk": {"max_tick_age_s": 1},
        },
    ).start()
    try:
        v = stack.viewer()
        v.wait(lambda: v.feed_live("openalgo"), what="the feed live")
        tick_until_quoted(v, sim, KEY, ("800.00", "800.05"))
        time.sleep(1.5)  # the market goes quiet (paused: no tick)
        answer = v.client.request(
            p.PlaceEntry(id=0, key=KEY, side="BUY", qty=Decimal(1)), timeout=10
        )
        assert isinstance(answer, p.Refused), answer
        assert answer.rule == "stale_data"
        assert stack.runner.order_feed.stats()["reconnects"] == 0
        assert v.feed_live("openalgo")
    finally:
        stack.stop()
