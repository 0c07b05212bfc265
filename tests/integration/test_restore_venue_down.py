"""A restart while the broker does not answer its lookups: the journal's instruments (tick and
lot it recorded when the broker answered) restore the position and its exit plan, managed, with
a warning naming them, and the stop still exits when the price crosses it; a symbol the journal
knows nothing of is an error alarm in words.

Before: the restart looked the symbol up, the lookup failed (the venue down), and the restore
skipped the symbol without an alarm: its position and its stop were no longer managed."""

from __future__ import annotations

import socket
import time
from decimal import Decimal
from pathlib import Path

from aiohttp import web

from cockpit.link import protocol as p
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from tests.integration.external_stack import RunnerStack, Viewer, entry
from tests.servers.dropping_proxy import DroppingProxy

TEN = "NSE:TENPAISA"
"""A listing whose tick (0.10) is not the 0.05 a guess would give."""


def _dead_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    return port


def _stack(xdg: Path, host: str, ws_url: str, api_key: str) -> RunnerStack:
    return RunnerStack(
        xdg,
        {
            "venue": {"broker": "openalgo", "host": host, "ws_url": ws_url, "api_key": api_key},
            "trading": {"watchlist": [TEN]},
        },
    )


def test_a_restart_with_the_broker_down_keeps_the_plan_managed(xdg: Path) -> None:
    sim = start_in_thread(SimConfig(seed=3, rate=20.0, instruments=[f"{TEN}:1500:0.1"]))
    try:
        stack = _stack(xdg, sim.rest_url, sim.ws_url, sim.api_key).start()
        try:
            v = stack.viewer()
            v.wait(lambda: v.quotes.get(TEN), what="quotes")
            ack = entry(v, TEN, "BUY", "3", plan=p.PlanSpec(stop_ticks=40))
            assert isinstance(ack, p.Ack), ack
            v.wait(lambda: any(m.plan.key == TEN for m in v.of(p.PlanEvent)), what="the plan")
        finally:
            stack.stop()
    finally:
        sim.stop()

    dead = _dead_port()
    again = _stack(xdg, f"http://127.0.0.1:{dead}", f"ws://127.0.0.1:{dead}", "k").start()
    try:
        v = again.viewer()
        snap = v.wait(lambda: v.of(p.Snapshot), what="snapshot")[0]
        assert [(i.key, i.tick_size, i.lot_size) for i in snap.instruments] == [
            (TEN, Decimal("0.1"), Decimal(1))
        ]
        assert [(q.key, q.qty) for q in snap.positions] == [(TEN, Decimal(3))]
        plans = [plan for plan in snap.plans if plan.key == TEN]
        assert plans
        assert plans[0].stop is not None
        words = [m.text for m in snap.messages if m.level == "warning"]
        assert any(TEN in w and "journal" in w and "did not answer" in w for w in words), words
    finally:
        again.stop()


class NoLookups(DroppingProxy):
    """The broker in front of the paper exchange, answering everything but symbol lookups
    while ``refuse`` is set (their connection cut, as a broker whose lookups fail)."""

    refuse = False

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        tail = request.path.rstrip("/").rsplit("/", 1)[-1]
        if self.refuse and tail in ("symbol", "instruments"):
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=503)
        return await super()._forward(request)


def _at(v: Viewer, sim: SimHandle, price: str, ticks: int) -> None:
    """Put TEN at ``price`` (the market paused) until the engine shows it."""
    deadline = time.monotonic() + 20
    while not (q := v.quotes.get(TEN)) or q.ltp != ticks:
        assert time.monotonic() < deadline, f"{TEN} never at {price}"
        sim.set_price("NSE", "TENPAISA", price)
        time.sleep(0.2)


def test_a_plan_rebuilt_from_the_journal_still_exits_when_lookups_fail(xdg: Path) -> None:
    sim = start_in_thread(
        SimConfig(seed=3, rate=20.0, paused=True, instruments=[f"{TEN}:1500:0.1"])
    )
    proxy = NoLookups(sim.rest_url)
    proxy.start()
    try:
        stack = _stack(xdg, proxy.url, sim.ws_url, sim.api_key).start()
        try:
            v = stack.viewer()
            _at(v, sim, "1500.0", 15000)
            ack = entry(v, TEN, "BUY", "3", plan=p.PlanSpec(stop_ticks=40))
            assert isinstance(ack, p.Ack), ack
            v.wait(lambda: any(m.plan.key == TEN for m in v.of(p.PlanEvent)), what="the plan")
        finally:
            stack.stop()

        proxy.refuse = True  # the restart's lookups fail; prices and books still come
        again = _stack(xdg, proxy.url, sim.ws_url, sim.api_key).start()
        try:
            v = again.viewer()
            snap = v.wait(lambda: v.of(p.Snapshot), what="snapshot")[0]
            assert [p_.key for p_ in snap.plans] == [TEN]
            _at(v, sim, "1495.0", 14950)  # through the stop (1496.0)
            v.wait(
                lambda: any(
                    m.position.key == TEN and m.position.qty == 0 for m in v.of(p.PositionEvent)
                ),
                20,
                "the stop's exit",
            )
            v.wait(
                lambda: any(
                    TEN in m.message and "still does not describe" in m.message
                    for m in v.of(p.Alarm)
                ),
                what="the failed confirmation said",
            )
        finally:
            again.stop()
    finally:
        proxy.stop()
        sim.stop()
