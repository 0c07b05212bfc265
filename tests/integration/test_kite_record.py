"""`cockpit record --feed kite` through the real CLI against the loopback Kite ticker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.domain.market import decode_line
from tests.servers.kite_server import KiteServer

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from cockpit.cli import main; sys.exit(main(sys.argv[1:]))"


def kind(event: object) -> str:
    """The event's ``kind`` tag (the normalized line's field)."""
    return type(event).__struct_config__.tag  # type: ignore[attr-defined]


@pytest.fixture
def server() -> Iterator[KiteServer]:
    srv = KiteServer(api_key="kite-key", access_token="sekrit-token-123")
    srv.start()
    yield srv
    srv.stop()


def record(args: list[str], token: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KITE_API_KEY": "kite-key", "KITE_ACCESS_TOKEN": token}
    return subprocess.run(
        [sys.executable, "-c", CLI, "record", "--feed", "kite", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_record_kite_depth_lines(server: KiteServer, tmp_path: Path) -> None:
    out = tmp_path / "kite.jsonl"
    proc = record(
        ["--symbols", "408065,256265", "--mode", "depth", "--url", server.url]
        + ["--count", "20", "--out", str(out)],
        "sekrit-token-123",
    )
    assert proc.returncode == 0, proc.stderr
    lines = out.read_bytes().splitlines()
    assert len(lines) == 20
    events = [decode_line(line) for line in lines]
    # until the server has the "mode" message that follows "subscribe", it streams quotes
    infy = [kind(e) for e in events if e.token == "408065"]
    assert infy[-1] == "depth"
    assert set(infy[infy.index("depth") :]) == {"depth"}
    assert {kind(e) for e in events if e.token == "256265"} == {"quote"}  # an index: no depth
    sent = set(server.call_soon(lambda: list(server.sent)))
    for e in events:
        modes = {"full"} if kind(e) == "depth" else {"full", "quote"}
        assert any((int(e.token), m, int(e.ltp.scaleb(2))) in sent for m in modes)
        assert e.ltp.as_tuple().exponent == -2
    raw = json.loads(lines[0])
    assert isinstance(raw["ltp"], float)  # a JSON number, not a string
    assert Decimal(lines[0].split(b'"ltp":')[1].split(b",")[0].decode()) == events[0].ltp
    summary = json.loads(proc.stderr.strip().splitlines()[-1])
    assert summary["written"] == 20
    assert summary["rejected"] == 0
    assert "sekrit" not in proc.stderr


def test_record_kite_refused_token_fails_fast(server: KiteServer, tmp_path: Path) -> None:
    proc = record(
        ["--symbols", "408065", "--url", server.url, "--count", "5"]
        + ["--out", str(tmp_path / "x.jsonl")],
        "sekrit-but-wrong",
    )
    assert proc.returncode == 1
    assert "403" in proc.stderr
    assert "sekrit" not in proc.stderr
    assert server.handshakes == 1
