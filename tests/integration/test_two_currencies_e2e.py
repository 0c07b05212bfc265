"""Two currencies in one running engine over real sockets: ``--feed binance`` with a pair quoted
in tethers (BTCUSDT) and one quoted in bitcoin (ETHBTC), orders on the paper exchange (a child
process of the real :class:`EngineRunner`) filled at the loopback Binance prices, the viewer on
the engine's socket. The day's P&L is kept per currency and the loss limit in tethers locks
entries on a tether loss while the bitcoin gain is never set against it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.link import protocol as p
from tests.integration.external_stack import RunnerStack, Viewer, entry
from tests.servers.binance_server import BinanceServer

pytest.importorskip("cockpit.engine.core")

USDT = "BINANCE:BTCUSDT"
BTC = "BINANCE:ETHBTC"


@pytest.fixture
def binance() -> Iterator[BinanceServer]:
    server = BinanceServer(symbols=("BTCUSDT", "ETHBTC"))
    server.streaming = False  # prices move only when the test moves them
    server.start()
    yield server
    server.stop()


def move(stack: RunnerStack, v: Viewer, binance: BinanceServer, key: str, mid: int) -> None:
    """Put ``key``'s Binance book at ``mid`` until the paper exchange and the viewer have it."""
    symbol = key.partition(":")[2]
    deadline = time.monotonic() + 20
    while True:
        binance.set_mid(symbol, mid)
        try:
            stack.wait_paper_ltp(key, str(Decimal(mid) / 100), timeout=1.0)
            depth = stack.paper_quote(key, "depth") or {}
            bids = depth.get("bids") or []
            if bids and Decimal(str(bids[0]["price"])) == Decimal(mid - 1) / 100:
                break
        except AssertionError:
            pass
        assert time.monotonic() < deadline, f"the paper exchange never had {key} at {mid}"
    v.wait(lambda: (q := v.quotes.get(key)) and q.ltp == mid, what=f"{key} at the viewer")


def last_status(v: Viewer) -> p.StatusView | None:
    found = None
    for m in v.of(p.Snapshot) + v.of(p.MarketBatch):
        if m.status is not None:
            found = m.status
    return found


def test_two_currencies_in_one_engine_over_real_sockets(xdg: Path, binance: BinanceServer) -> None:
    stack = RunnerStack(
        xdg,
        {
            "venue": {"feed": "binance"},
            "feed": {"url": binance.url, "symbols": ["BTCUSDT", "ETHBTC"]},
            "risk": {"max_daily_loss": {"USDT": 5}},
        },
    )
    stack.start()
    try:
        v = stack.viewer()
        v.wait(lambda: v.feed_live("binance"), what="the binance feed live at the engine")
        move(stack, v, binance, USDT, 2_050_000)  # 20500.00
        move(stack, v, binance, BTC, 2_050_000)
        for key in (USDT, BTC):
            answer = entry(v, key, "BUY", "0.01", plan=p.PlanSpec(none=True))
            assert isinstance(answer, p.Ack), answer
        v.wait(lambda: len(v.of(p.FillEvent)) == 2, what="both entries filled")
        move(stack, v, binance, BTC, 2_060_000)  # ETHBTC +100.00: +1.00 BTC (less the spread)
        move(stack, v, binance, USDT, 2_040_000)  # BTCUSDT -100.00: -1.00 USDT (under 5)
        status = v.wait(
            lambda: (s := last_status(v)) and set(s.day_pnls) == {"BTC", "USDT"} and s,
            what="the day's P&L in both currencies",
        )
        assert status.lock == ""
        assert status.day_pnls["USDT"] < 0 < status.day_pnls["BTC"]
        move(stack, v, binance, USDT, 1_990_000)  # BTCUSDT -600.00: -6.00 USDT, over the 5
        status = v.wait(
            lambda: (s := last_status(v)) and s.lock == "daily_loss_limit" and s,
            what="the tether loss locking entries",
        )
        assert status.lock_detail.startswith("day P&L USDT -6.")
        assert status.lock_detail.endswith("reached the loss limit USDT 5.00")
        assert status.day_pnls["BTC"] > 0  # never set against the tethers
        refused = v.client.request(
            p.PlaceEntry(id=0, key=BTC, side="BUY", qty=Decimal("0.01")), timeout=10
        )
        assert isinstance(refused, p.Refused)
        assert "USDT" in refused.message
    finally:
        stack.stop()
