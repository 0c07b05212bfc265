"""``--feed binance|replay:FILE`` end to end: market data from the external feed, orders on the
paper exchange, whose matching follows the same prices (teed to its upstream endpoint).

Real sockets throughout: the loopback Binance server, the paper exchange as a child process
of the real :class:`EngineRunner`, the viewer socket.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.domain.market import QuoteTick, encode_line
from cockpit.link import protocol as p
from tests.integration.external_stack import RunnerStack, entry
from tests.servers.binance_server import BinanceServer

pytest.importorskip("cockpit.engine.core")

KEY = "BINANCE:BTCUSDT"


@pytest.fixture
def binance() -> Iterator[BinanceServer]:
    server = BinanceServer(symbols=("BTCUSDT",))
    server.streaming = False  # prices move only when the test moves them
    server.start()
    yield server
    server.stop()


def move(stack: RunnerStack, binance: BinanceServer, mid: int) -> dict[str, object]:
    """Put the Binance book at ``mid`` and wait until the paper exchange quotes that book.

    The first diff after connecting only starts the client's book sync (snapshot), so the
    move is repeated (idempotent) until a synced depth update has reached the paper exchange.
    """
    bid, ask = (Decimal(mid + d) / 100 for d in (-1, 1))
    deadline = time.monotonic() + 15
    while True:
        binance.set_mid("BTCUSDT", mid)
        try:
            stack.wait_paper_ltp(KEY, str(Decimal(mid) / 100), timeout=1.0)
        except AssertionError:
            pass
        depth = stack.paper_quote(KEY, "depth") or {}
        top = [(Decimal(str(r["price"])), Decimal(str(r["quantity"]))) for r in depth["bids"][:5]]
        low = [(Decimal(str(r["price"])), Decimal(str(r["quantity"]))) for r in depth["asks"][:5]]
        if top == [(bid - Decimal(i) / 100, Decimal(10)) for i in range(5)] and low == [
            (ask + Decimal(i) / 100, Decimal(10)) for i in range(5)
        ]:
            return depth
        assert time.monotonic() < deadline, f"paper exchange never had the Binance book: {depth}"


@pytest.fixture
def binance_stack(xdg: Path, binance: BinanceServer) -> Iterator[RunnerStack]:
    stack = RunnerStack(
        xdg,
        {
            "venue": {"feed": "binance"},
            "feed": {"url": binance.url, "symbols": ["BTCUSDT"]},
            "exits": {"stop_ticks": 50, "target_ticks": 5000},
        },
    )
    stack.start()
    yield stack
    stack.stop()


def test_binance_prices_reach_the_viewer_and_drive_paper_fills_and_exits(
    binance_stack: RunnerStack, binance: BinanceServer
) -> None:
    stack = binance_stack
    v = stack.viewer()
    snap = v.wait(lambda: v.of(p.Snapshot), what="snapshot")[0]
    assert snap.watchlist == [KEY]
    inst = next(i for i in snap.instruments if i.key == KEY)
    assert Decimal(inst.tick_size) == Decimal("0.01")  # from exchangeInfo
    assert Decimal(inst.lot_size) == Decimal("0.00001")
    v.wait(lambda: v.feed_live("binance"), what="the binance feed live at the engine")

    # A Binance price the paper exchange's own walk could not produce.
    move(stack, binance, 2_050_000)  # 20500.00; book 20499.99 / 20500.01
    v.wait(lambda: (q := v.quotes.get(KEY)) and q.ltp == 2_050_000, what="tick at the viewer")

    answer = entry(v, KEY, "BUY", "0.01")
    assert isinstance(answer, p.Ack), answer
    fill = v.wait(lambda: v.of(p.FillEvent), what="the entry fill")[0].fill
    assert fill.side == "BUY"
    assert fill.price == Decimal("20500.01")  # the Binance ask, not a random walk
    assert fill.qty == Decimal("0.01")
    plan = v.wait(
        lambda: [e for e in v.of(p.PlanEvent) if e.plan.key == KEY and not e.removed],
        what="the exit plan",
    )[-1].plan
    stop_level = plan.stop
    assert stop_level == 2_050_001 - 50

    # Binance trades through the stop: exactly one exit, filled at the Binance bid.
    move(stack, binance, 2_049_900)  # 20499.00
    fired = v.wait(lambda: v.of(p.ExitFired), what="the stop firing")
    assert fired[0].reason.lower().startswith("stop")
    exit_fill = v.wait(
        lambda: [f.fill for f in v.of(p.FillEvent) if f.fill.side == "SELL"], what="exit fill"
    )[0]
    assert exit_fill.price == Decimal("20498.99")
    binance.set_mid("BTCUSDT", 2_049_800)  # more ticks below the stop: nothing more
    v.wait(lambda: (q := v.quotes.get(KEY)) and q.ltp == 2_049_800, what="later tick")
    time.sleep(0.3)  # a second exit would be sent on that tick; give it the chance to show
    assert len(v.of(p.ExitFired)) == 1
    sells = {e.order.cid for e in v.of(p.OrderEvent) if e.order.side == "SELL"}
    assert len(sells) == 1
    positions = [e.position for e in v.of(p.PositionEvent) if e.position.key == KEY]
    assert positions[-1].qty == 0

    stats = stack.upstream_stats()["upstream"]
    assert stats["applied"] >= 3
    assert stats["bad_lines"] == 0
    assert stack.runner.tee is not None
    assert stack.runner.tee.stats()["dropped"] == 0


def test_orders_before_the_first_external_price_are_refused_by_the_paper_exchange(
    binance_stack: RunnerStack, binance: BinanceServer
) -> None:
    stack = binance_stack
    venue = stack.runner.sim.venue
    deadline = time.monotonic() + 10
    while True:  # the engine's tee lists the instrument on the paper exchange as it connects
        resp = stack.http.post(
            f"{venue.host}/api/v1/placeorder",
            json={
                "apikey": venue.api_key,
                "strategy": "t",
                "exchange": "BINANCE",
                "symbol": "BTCUSDT",
                "action": "BUY",
                "quantity": "0.01",
                "pricetype": "MARKET",
                "product": "MIS",
            },
        )
        if "not found" not in resp.text or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert "no market price yet" in resp.text, resp.text


# ---------------------------------------------------------------------- replay


def _write_replay(path: Path, prices: list[str], gap_ms: int = 1) -> None:
    lines = []
    for i, px in enumerate(prices):
        d = Decimal(px)
        ev = QuoteTick(
            recv_ns=1_700_000_000_000_000_000 + i * gap_ms * 1_000_000,
            exchange="NSE",
            symbol="ZZTEST",
            ltp=d,
            bids=((d - Decimal("0.05"), Decimal(500), 3),),
            asks=((d + Decimal("0.05"), Decimal(500), 4),),
        )
        lines.append(encode_line(ev).decode())
    path.write_text("\n".join(lines) + "\n")


def test_replay_drives_paper_fills_at_the_files_prices(xdg: Path) -> None:
    rec = xdg / "rec.jsonl"
    # A short ramp on the 0.05 grid, then a minute at 4321.10 (20 ms apart).
    ramp = [str(Decimal("4320.50") + Decimal("0.05") * i) for i in range(12)]
    _write_replay(rec, ramp + ["4321.10"] * 3000, gap_ms=20)
    stack = RunnerStack(xdg, {"venue": {"feed": f"replay:{rec}"}})
    stack.start()
    try:
        v = stack.viewer()
        snap = v.wait(lambda: v.of(p.Snapshot), what="snapshot")[0]
        assert snap.watchlist == ["NSE:ZZTEST"]
        inst = snap.instruments[0]
        assert Decimal(inst.tick_size) == Decimal("0.05")  # the grid its prices lie on
        v.wait(lambda: v.feed_live("replay"), what="replay live")
        v.wait(lambda: v.quotes.get("NSE:ZZTEST"), what="replayed tick at the viewer")
        stack.wait_paper_ltp("NSE:ZZTEST", "4321.10")
        answer = entry(v, "NSE:ZZTEST", "SELL", "3")
        assert isinstance(answer, p.Ack), answer
        fill = v.wait(lambda: v.of(p.FillEvent), what="fill")[0].fill
        assert fill.price == Decimal("4321.05")  # the recorded bid
    finally:
        stack.stop()


def test_binance_outage_is_a_feed_status_and_prices_resume_after_reconnect(
    binance_stack: RunnerStack, binance: BinanceServer
) -> None:
    stack = binance_stack
    v = stack.viewer()
    v.wait(lambda: v.feed_live("binance"), what="binance live")
    move(stack, binance, 2_010_000)
    binance.kill()  # abrupt, like a crashed venue
    v.wait(lambda: not v.feed_live("binance"), what="the outage at the viewer")
    refused = v.client.request(p.PlaceEntry(id=0, key=KEY, side="BUY", qty=Decimal("0.01")))
    assert isinstance(refused, p.Refused)  # no entries while the feed is down
    assert refused.rule == "stale"
    binance.restart()
    v.wait(lambda: v.feed_live("binance"), timeout=30, what="binance live again")
    move(stack, binance, 2_020_000)  # 20200.00 reaches the paper exchange again
    v.wait(lambda: (q := v.quotes.get(KEY)) and q.ltp == 2_020_000, what="new price")
    answer = entry(v, KEY, "BUY", "0.01")
    assert isinstance(answer, p.Ack), answer
    fill = v.wait(lambda: v.of(p.FillEvent), what="fill")[0].fill
    assert fill.price == Decimal("20200.01")


def test_binance_prints_carry_the_feeds_aggressor_and_charts_are_not_backfilled(
    binance_stack: RunnerStack, binance: BinanceServer
) -> None:
    """The tape takes Binance's own side (``m``: the buyer was the maker), not the tick rule;
    the paper exchange's invented history is not put before Binance's prices."""
    stack = binance_stack
    v = stack.viewer()
    v.wait(lambda: v.feed_live("binance"), what="the binance feed live at the engine")
    move(stack, binance, 2_050_000)
    answer = v.client.request(p.WatchChart(id=0, key=KEY), timeout=10)
    assert isinstance(answer, p.Ack), answer
    for mid in (2_049_990, 2_049_980, 2_049_970):  # falling, every trade buyer-initiated
        binance.set_mid("BTCUSDT", mid)
        v.wait(lambda m=mid: (q := v.quotes.get(KEY)) and q.ltp == m, what=f"tick {mid}")

    def prints() -> list[p.PrintView]:
        return [x for e in v.of(p.Prints) for x in e.prints if x.price <= 2_049_990]

    v.wait(lambda: len(prints()) == 3, what="the three prints")
    assert [(x.price, x.qty, x.side, x.inferred) for x in prints()] == [
        (m, Decimal("0.001"), "buy", False) for m in (2_049_990, 2_049_980, 2_049_970)
    ]
    time.sleep(0.5)  # a backfill would have come by now (the paper exchange answers at once)
    assert not [e for e in v.of(p.Bars) if e.replace and len(e.bars) > 1]
