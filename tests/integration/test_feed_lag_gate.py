"""A feed that keeps talking but arrives seconds behind the exchange: entries are refused in
words (``stale: feed N s behind the exchange``), an exit is still taken.

The lag comes from a real TCP proxy in front of the paper exchange's websocket (every frame
held a few seconds). Before: each tick was young by its arrival, so the stale gate let entries
through on prices seconds (in the trial 52 s) old."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from cockpit.link import protocol as p
from cockpit.sim import SimConfig, start_in_thread
from tests.integration.external_stack import RunnerStack, entry
from tests.servers.delaying_proxy import DelayingProxy

TEN = "NSE:TENPAISA"


def test_entries_are_refused_on_a_feed_behind_the_exchange_and_exits_still_go(
    xdg: Path,
) -> None:
    sim = start_in_thread(SimConfig(seed=3, rate=20.0, instruments=[f"{TEN}:1500:0.1"]))
    ws = urlsplit(sim.ws_url)
    assert ws.hostname is not None
    assert ws.port is not None
    proxy = DelayingProxy(ws.hostname, ws.port).start()
    stack = RunnerStack(
        xdg,
        {
            "venue": {
                "broker": "openalgo",
                "host": sim.rest_url,
                "ws_url": f"ws://127.0.0.1:{proxy.port}{ws.path}",
                "api_key": sim.api_key,
            },
            "trading": {"watchlist": [TEN]},
            "risk": {"max_tick_age_s": "1"},
        },
    )
    try:
        stack.start()
        v = stack.viewer()
        v.wait(lambda: v.quotes.get(TEN), what="quotes")
        ack = entry(v, TEN, "BUY", "2", plan=p.PlanSpec(none=True))
        assert isinstance(ack, p.Ack), ack  # a live feed: taken

        proxy.delay = 3.0  # from now every frame arrives 3 s after the exchange sent it
        deadline = time.monotonic() + 30
        refused: p.Msg | None = None
        while time.monotonic() < deadline:
            answer = v.client.request(
                p.PlaceEntry(id=0, key=TEN, side="BUY", qty=Decimal(1), plan=p.PlanSpec(none=True)),
                timeout=10,
            )
            if isinstance(answer, p.Refused) and "behind the exchange" in answer.message:
                refused = answer
                break
            time.sleep(0.3)
        assert refused is not None, "entries still taken on a feed 3 s behind"
        assert "stale: feed " in refused.message
        behind = Decimal(refused.message.split("stale: feed ")[1].split(" s ")[0])
        assert Decimal("2") <= behind <= Decimal("5"), refused.message
        assert v.quotes.get(TEN)  # the feed is talking: not the silence gate

        out = v.client.request(p.ClosePart(id=0, key=TEN, percent=50), timeout=10)
        assert isinstance(out, p.Ack), out  # an exit still goes
    finally:
        stack.stop()
        proxy.stop()
        sim.stop()
