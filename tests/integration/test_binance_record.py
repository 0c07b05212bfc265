"""`cockpit record --feed binance` through the real CLI against the loopback Binance."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.domain.market import decode_line
from tests.servers.binance_server import BinanceServer

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from cockpit.cli import main; sys.exit(main(sys.argv[1:]))"


def kind(event: object) -> str:
    """The event's ``kind`` tag (the normalized line's field)."""
    return type(event).__struct_config__.tag  # type: ignore[attr-defined]


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    srv = BinanceServer(symbols=("BTCUSDT", "ETHUSDT"))
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.parametrize(
    ("mode", "kinds"),
    [("ltp", {"trade"}), ("quote", {"trade", "quote"}), ("depth", {"trade", "depth"})],
)
def test_record_binance(server: BinanceServer, tmp_path: Path, mode: str, kinds: set) -> None:
    out = tmp_path / "binance.jsonl"
    proc = subprocess.run(
        [sys.executable, "-c", CLI, "record", "--feed", "binance"]
        + ["--symbols", "BTCUSDT,ETHUSDT", "--mode", mode, "--url", server.url]
        + ["--count", "60", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    events = [decode_line(line) for line in out.read_bytes().splitlines()]
    assert len(events) == 60
    assert {kind(e) for e in events} == kinds
    assert {e.symbol for e in events} == {"BTCUSDT", "ETHUSDT"}
    assert all(e.exchange == "BINANCE" and e.ltp > 0 for e in events)
    for e in events:
        if kind(e) == "depth":
            assert e.bids[0][0] < e.asks[0][0]
    summary = json.loads(proc.stderr.strip().splitlines()[-1])
    assert summary["rejected"] == 0
    if mode == "depth":
        assert sorted(set(server.snapshot_requests)) == ["BTCUSDT", "ETHUSDT"]
