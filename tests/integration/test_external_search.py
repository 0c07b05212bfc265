"""`/` on an external feed (issue 21.5): with ``--feed binance`` a search is answered from
Binance's own symbol list (``exchangeInfo``, the loopback server answering as Binance does) and
a symbol added is looked up there, streamed by the Binance feed and listed by the paper exchange
at Binance's prices, so it can be traded. Real EngineRunner, paper exchange child, sockets."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.link import protocol as p
from tests.integration.external_stack import RunnerStack, entry
from tests.servers.binance_server import BinanceServer
from tests.servers.kite_server import KiteServer

ETH = "BINANCE:ETHUSDT"


@pytest.fixture
def binance() -> Iterator[BinanceServer]:
    server = BinanceServer(symbols=("BTCUSDT", "ETHUSDT"))
    server.streaming = False
    server.start()
    yield server
    server.stop()


def test_search_and_add_a_binance_symbol_then_trade_it(xdg: Path, binance: BinanceServer) -> None:
    stack = RunnerStack(
        xdg,
        {
            "venue": {"feed": "binance"},
            "feed": {"url": binance.url, "symbols": ["BTCUSDT"]},
            "exits": {"stop_ticks": 50, "target_ticks": 5000},
        },
    ).start()
    try:
        v = stack.viewer()
        snap = v.wait(lambda: v.of(p.Snapshot), what="snapshot")[0]
        assert snap.watchlist == ["BINANCE:BTCUSDT"]
        answer, replies = v.client.request_with_replies(p.Search(id=7, query="eth"), timeout=15)
        assert isinstance(answer, p.Ack), answer
        [found] = [m for m in replies if isinstance(m, p.SearchResult)]
        assert [i.key for i in found.results] == [ETH]  # not the halted listing
        assert Decimal(found.results[0].tick_size) == Decimal("0.01")
        missing = v.client.request(p.Subscribe(id=8, keys=["BINANCE:NOPEUSDT"]), timeout=15)
        assert isinstance(missing, p.Refused)
        assert missing.rule == "unknown_symbol"
        assert "NOPEUSDT is not listed" in missing.message
        added = v.client.request(p.Subscribe(id=9, keys=[ETH]), timeout=15)
        assert isinstance(added, p.Ack), added
        v.wait(lambda: any(ETH in m.watchlist for m in v.of(p.WatchlistChanged)), what="listed")
        # Binance's ETH prices reach the engine and the paper exchange (which now lists it).
        deadline_moves = 0
        while True:
            binance.set_mid("ETHUSDT", 300_000 + deadline_moves)  # 3000.00
            try:
                v.wait(lambda: (q := v.quotes.get(ETH)) and q.ltp, 1.0, "an ETH tick")
                stack.wait_paper_ltp(ETH, str(Decimal(300_000 + deadline_moves) / 100), 1.0)
                break
            except AssertionError:
                deadline_moves += 1
                assert deadline_moves < 15, "ETH prices never reached the engine and the sim"
        answer = entry(v, ETH, "BUY", "0.01")
        assert isinstance(answer, p.Ack), answer
        fill = v.wait(
            lambda: [f.fill for f in v.of(p.FillEvent) if f.fill.key == ETH], what="ETH fill"
        )[0]
        assert fill.qty == Decimal("0.01")
        # At the paper exchange's book around Binance's price (its depth sync aside).
        assert abs(fill.price - Decimal(300_000 + deadline_moves) / 100) <= Decimal(1)
    finally:
        stack.stop()


def test_a_binance_symbol_added_with_slash_comes_back_after_a_restart(
    xdg: Path, binance: BinanceServer
) -> None:
    conf = {"venue": {"feed": "binance"}, "feed": {"url": binance.url, "symbols": ["BTCUSDT"]}}
    stack = RunnerStack(xdg, conf).start()
    try:
        v = stack.viewer()
        v.wait(lambda: v.of(p.Snapshot), what="snapshot")
        assert isinstance(v.client.request(p.Subscribe(id=1, keys=[ETH]), timeout=15), p.Ack)
    finally:
        stack.stop()
    again = RunnerStack(xdg, conf).start()
    try:
        v = again.viewer()
        # Looked up at Binance again at start, then streamed.
        v.wait(
            lambda: (
                any(m.watchlist == ["BINANCE:BTCUSDT", ETH] for m in v.of(p.Snapshot))
                or any(ETH in m.watchlist for m in v.of(p.WatchlistChanged))
            ),
            what="ETH back in the watchlist",
        )
        moves = 0
        while not v.quotes.get(ETH):
            binance.set_mid("ETHUSDT", 300_000 + moves)
            try:
                v.wait(lambda: v.quotes.get(ETH), 1.0, "an ETH tick")
            except AssertionError:
                moves += 1
                assert moves < 15, "ETH prices never reached the restarted engine"
    finally:
        again.stop()


def test_kite_search_and_add_come_from_kites_instrument_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        d = tmp_path / name.lower()
        d.mkdir(mode=0o700)
        monkeypatch.setenv(name, str(d))
    kite = KiteServer(api_key="kkey", access_token="ktoken")
    kite.start()
    stack: RunnerStack | None = None
    try:
        kite.set_price(408065, 150_000)
        stack = RunnerStack(
            tmp_path,
            {
                "venue": {"feed": "kite", "kite_api_key": "kkey", "kite_access_token": "ktoken"},
                "feed": {
                    "url": kite.url,
                    "rest_url": f"http://127.0.0.1:{kite.port}",
                    "symbols": ["NSE:INFY=408065"],
                },
            },
        ).start()
        v = stack.viewer()
        v.wait(lambda: v.of(p.Snapshot), what="snapshot")
        answer, replies = v.client.request_with_replies(p.Search(id=3, query="nifty"), timeout=15)
        assert isinstance(answer, p.Ack), answer
        [found] = [m for m in replies if isinstance(m, p.SearchResult)]
        # From Kite's list (a future the paper exchange does not list), and not the index.
        assert [i.key for i in found.results] == ["NFO:NIFTY25DECFUT"]
        assert Decimal(found.results[0].lot_size) == Decimal(75)
        added = v.client.request(p.Subscribe(id=4, keys=["NSE:TCS"]), timeout=15)
        assert isinstance(added, p.Ack), added
        kite.set_price(2953217, 350_000)  # TCS at 3500.00 on Kite
        v.wait(
            lambda: (q := v.quotes.get("NSE:TCS")) and q.ltp == 70_000,
            15,
            "Kite's TCS price at the viewer",
        )
        stack.wait_paper_ltp("NSE:TCS", "3500.00")
    finally:
        if stack is not None:
            stack.stop()
        kite.stop()
