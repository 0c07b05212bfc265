"""``cockpit record --feed VENUE`` through the real CLI against each venue's loopback server."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit.domain.market import decode_line
from tests.integration.test_binance_record import CLI, ROOT, kind
from tests.servers.binance_futures_server import BinanceFuturesServer
from tests.servers.bybit_server import BybitServer
from tests.servers.hyperliquid_server import HyperliquidServer

NEEDS_CCXT = pytest.mark.skipif(
    importlib.util.find_spec("ccxt") is None, reason="ccxt is not installed (cockpit[ccxt])"
)
SERVERS: dict[str, Callable[[], Any]] = {
    "bybit": lambda: BybitServer(symbols=("BTCUSDT", "ETHUSDT")),
    "bybit:linear": lambda: BybitServer(symbols=("BTCUSDT", "ETHUSDT")),
    "binance-futures": lambda: BinanceFuturesServer(symbols=("BTCUSDT", "ETHUSDT")),
    "hyperliquid": lambda: HyperliquidServer(coins=("BTC", "ETH")),
    "ccxt:bybit": lambda: BybitServer(symbols=("BTCUSDT", "ETHUSDT")),
}
EXCHANGE = {
    "bybit": "BYBIT",
    "bybit:linear": "BYBIT",
    "binance-futures": "BINANCE_FUTURES",
    "hyperliquid": "HYPERLIQUID",
    "ccxt:bybit": "CCXT",
}
SYMBOLS = {
    "bybit": "BTCUSDT,ETHUSDT",
    "bybit:linear": "BTCUSDT,ETHUSDT",
    "binance-futures": "BTCUSDT,ETHUSDT",
    "hyperliquid": "BTC,ETH",
    "ccxt:bybit": "BTC/USDT,ETH/USDT",
}


@contextlib.contextmanager
def running(feed: str) -> Iterator[Any]:
    srv = SERVERS[feed]()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def record(feed: str, url: str, symbols: str, mode: str, out: Path, count: int = 40) -> Any:
    return subprocess.run(
        [sys.executable, "-c", CLI, "record", "--feed", feed, "--symbols", symbols]
        + ["--mode", mode, "--url", url, "--count", str(count), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("feed", "mode", "kinds"),
    [
        ("bybit", "ltp", {"trade"}),
        ("bybit", "depth", {"trade", "depth", "quote"}),
        ("bybit:linear", "quote", {"trade", "quote"}),
        ("binance-futures", "quote", {"trade", "quote"}),
        ("binance-futures", "depth", {"trade", "depth"}),
        ("hyperliquid", "depth", {"trade", "depth"}),
        pytest.param("ccxt:bybit", "depth", {"trade", "depth", "quote"}, marks=NEEDS_CCXT),
    ],
)
def test_record_venue(feed: str, tmp_path: Path, mode: str, kinds: set[str]) -> None:
    out = tmp_path / "rec.jsonl"
    with running(feed) as server:
        proc = record(feed, server.url, SYMBOLS[feed], mode, out, count=80)
    assert proc.returncode == 0, proc.stderr
    events = [decode_line(line) for line in out.read_bytes().splitlines()]
    assert len(events) == 80
    # Hyperliquid prices a coin by its mid until its first trade: an ltp line may come first
    optional = {"ltp"} if feed == "hyperliquid" else set()
    assert {kind(e) for e in events} - optional == kinds
    assert {e.symbol for e in events} == set(SYMBOLS[feed].split(","))
    assert all(e.exchange == EXCHANGE[feed] and e.ltp > 0 for e in events)
    for e in events:
        if kind(e) == "depth":
            assert e.bids[0][0] < e.asks[0][0]
    summary = json.loads(proc.stderr.strip().splitlines()[-1])
    assert summary["rejected"] == 0


def test_record_refuses_an_unknown_symbol(tmp_path: Path) -> None:
    with running("bybit") as server:
        proc = record("bybit", server.url, "NOPEUSDT", "ltp", tmp_path / "x.jsonl")
    assert proc.returncode == 2, proc.stderr
    assert "unknown symbol" in proc.stderr
