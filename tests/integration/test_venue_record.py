"""``cockpit record --feed VENUE`` through the real CLI against each venue's loopback server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit.domain.market import decode_line
from tests.integration.test_binance_record import CLI, ROOT, kind
from tests.servers.base import LoopbackServer
from tests.servers.bybit_server import BybitServer

SERVERS: dict[str, Callable[[], Any]] = {
    "bybit": lambda: BybitServer(symbols=("BTCUSDT", "ETHUSDT")),
    "bybit:linear": lambda: BybitServer(symbols=("BTCUSDT", "ETHUSDT")),
}
EXCHANGE = {"bybit": "BYBIT", "bybit:linear": "BYBIT"}
SYMBOLS = {"bybit": "BTCUSDT,ETHUSDT", "bybit:linear": "BTCUSDT,ETHUSDT"}


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[LoopbackServer]:
    srv = SERVERS[request.param]()
    srv.start()
    yield srv
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
    ("server", "mode", "kinds"),
    [
        ("bybit", "ltp", {"trade"}),
        ("bybit", "depth", {"trade", "depth", "quote"}),
        ("bybit:linear", "quote", {"trade", "quote"}),
    ],
    indirect=["server"],
)
def test_record_venue(
    server: Any, request: pytest.FixtureRequest, tmp_path: Path, mode: str, kinds: set[str]
) -> None:
    feed = request.node.callspec.id.split("-")[0]
    out = tmp_path / "rec.jsonl"
    proc = record(feed, server.url, SYMBOLS[feed], mode, out, count=80)
    assert proc.returncode == 0, proc.stderr
    events = [decode_line(line) for line in out.read_bytes().splitlines()]
    assert len(events) == 80
    assert {kind(e) for e in events} == kinds
    assert {e.symbol for e in events} == set(SYMBOLS[feed].split(","))
    assert all(e.exchange == EXCHANGE[feed] and e.ltp > 0 for e in events)
    for e in events:
        if kind(e) == "depth":
            assert e.bids[0][0] < e.asks[0][0]
    summary = json.loads(proc.stderr.strip().splitlines()[-1])
    assert summary["rejected"] == 0


@pytest.mark.parametrize("server", ["bybit"], indirect=True)
def test_record_refuses_an_unknown_symbol(server: Any, tmp_path: Path) -> None:
    proc = record("bybit", server.url, "NOPEUSDT", "ltp", tmp_path / "x.jsonl")
    assert proc.returncode == 2, proc.stderr
    assert "unknown symbol" in proc.stderr
