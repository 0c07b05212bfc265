"""`cockpit record` through the real CLI against the paper exchange, then replay of the file."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.adapters.record import make_feed
from cockpit.adapters.replay import ReplayFeed, parse_spec
from cockpit.domain.feed import FeedState, FeedStatus
from cockpit.domain.market import DepthTick, MarketEvent, QuoteTick, decode_line, encode_line
from cockpit.sim import SimHandle


def record_argv(sim: SimHandle, *args: str) -> list[str]:
    """``cockpit record --feed openalgo --url <sim>`` then ``args``."""
    return [
        sys.executable,
        "-m",
        "cockpit.cli",
        "record",
        "--feed",
        "openalgo",
        "--url",
        sim.ws_url,
        *args,
    ]


def record(sim: SimHandle, *args: str, key: str | None = None, timeout: float = 30):
    env = dict(os.environ)
    env.pop("OPENALGO_API_KEY", None)
    if key is not None:
        env["OPENALGO_API_KEY"] = key
    return subprocess.run(
        record_argv(sim, *args),
        capture_output=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def summary(stderr: bytes) -> dict:
    lines = [ln for ln in stderr.decode().splitlines() if ln.startswith("{")]
    assert lines, stderr.decode()
    return json.loads(lines[-1])


def test_record_count_then_replay_flat_out(sim: SimHandle, tmp_path: Path) -> None:
    out = tmp_path / "ticks.jsonl"
    proc = record(
        sim,
        "--symbols",
        "NSE:SBIN,NSE:INFY",
        "--mode",
        "depth",
        "--count",
        "60",
        "--out",
        str(out),
        key=sim.api_key,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    lines = out.read_bytes().splitlines()
    assert len(lines) == 60
    events = [decode_line(ln) for ln in lines]
    assert {e.symbol for e in events} == {"SBIN", "INFY"}
    assert all(isinstance(e, DepthTick) and e.bids and e.asks for e in events)
    for ln, e in zip(lines, events, strict=True):
        assert encode_line(e) == ln  # the normalized line round-trips exactly
        obj = json.loads(ln)
        assert {"recv_ns", "exchange", "symbol", "kind", "ltp"} <= obj.keys()
        assert "token" not in obj  # absent fields are omitted, not null
    stats = summary(proc.stderr)
    assert stats["written"] == 60
    assert stats["events"] >= 60
    assert stats["frames"] >= 60
    assert stats["rejected"] == 0
    assert stats["reconnects"] == 0
    assert sim.api_key.encode() not in proc.stderr
    assert sim.api_key.encode() not in proc.stdout

    # replay as fast as possible, into a queue: the same events, in order
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    feed = ReplayFeed.from_spec(f"replay:{out}", q.put, speed=None, restamp=False)
    feed.start()
    assert feed.wait_state(FeedState.DOWN, timeout=10)
    assert feed.stop()
    items = []
    while not q.empty():
        items.append(q.get())
    played = [i for i in items if isinstance(i, MarketEvent)]
    assert played == events
    states = [i.state for i in items if isinstance(i, FeedStatus)]
    assert states == [FeedState.CONNECTING, FeedState.LIVE, FeedState.DOWN]
    assert feed.reason == "end of replay"
    assert feed.stats()["events"] == 60


def test_record_duration_to_stdout_and_replay_at_recorded_pace(
    sim: SimHandle, tmp_path: Path
) -> None:
    t0 = time.monotonic()
    proc = record(
        sim,
        "--symbols",
        "NSE:TCS",
        "--mode",
        "quote",
        "--duration",
        "1.0",
        "--out",
        "-",
        key=sim.api_key,
    )
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr.decode()
    assert elapsed < 15
    lines = proc.stdout.splitlines()
    assert len(lines) >= 5  # 20 ticks/s for about a second
    events = [decode_line(ln) for ln in lines]
    assert all(type(e) is QuoteTick and e.symbol == "TCS" for e in events)
    assert all(isinstance(e.ltp, Decimal) for e in events)
    path = tmp_path / "tcs.jsonl"
    path.write_bytes(proc.stdout)

    span = (events[-1].recv_ns - events[0].recv_ns) / 1e9
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    feed = ReplayFeed(path, q.put, speed=2.0)
    start = time.monotonic()
    feed.start()
    assert feed.wait_state(FeedState.DOWN, timeout=span + 10)
    took = time.monotonic() - start
    assert took >= span / 2 * 0.8
    played = []
    while not q.empty():
        item = q.get()
        if isinstance(item, MarketEvent):
            played.append(item)
    assert [e.ltp for e in played] == [e.ltp for e in events]
    # restamped with the hand-off time, so the engine sees a live feed
    assert played[0].recv_ns > events[-1].recv_ns


def test_record_refused_key_exits_nonzero_quickly(sim: SimHandle, tmp_path: Path) -> None:
    proc = record(
        sim,
        "--symbols",
        "NSE:SBIN",
        "--count",
        "5",
        "--out",
        str(tmp_path / "x"),
        key="not-the-key",
    )
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert "Invalid API key" in err or "authentication" in err
    assert "not-the-key" not in err
    assert sim.stats()["ws"]["connections"] == 1


def test_record_without_key_is_a_usage_error(sim: SimHandle, tmp_path: Path) -> None:
    proc = record(sim, "--symbols", "NSE:SBIN", "--count", "5", "--out", str(tmp_path / "x"))
    assert proc.returncode == 2
    assert b"OPENALGO_API_KEY" in proc.stderr
    assert sim.stats()["ws"]["connections"] == 0


def test_record_bad_symbol_is_a_usage_error(sim: SimHandle, tmp_path: Path) -> None:
    proc = record(
        sim, "--symbols", "SBIN", "--count", "5", "--out", str(tmp_path / "x"), key=sim.api_key
    )
    assert proc.returncode == 2
    assert b"EXCH:SYMBOL" in proc.stderr


def test_replay_skips_bad_lines_and_filters_symbols(tmp_path: Path) -> None:
    good = [
        b'{"kind":"ltp","recv_ns":1,"exchange":"NSE","symbol":"A","ltp":1.05}',
        b'{"kind":"ltp","recv_ns":2,"exchange":"NSE","symbol":"B","ltp":2.10}',
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([good[0], b"{broken", b"", good[1], b'{"kind":"ltp"}']) + b"\n")
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    feed = ReplayFeed(path, q.put, speed=None, restamp=False)
    feed.subscribe(["NSE:B"])
    feed.start()
    assert feed.wait_state(FeedState.DOWN, timeout=5)
    played = []
    while not q.empty():
        item = q.get()
        if isinstance(item, MarketEvent):
            played.append(item)
    assert [(e.symbol, e.ltp) for e in played] == [("B", Decimal("2.10"))]
    assert feed.stats()["rejected"] == 2


def test_replay_missing_file_is_down_with_reason(tmp_path: Path) -> None:
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    feed = ReplayFeed(tmp_path / "nope.jsonl", q.put)
    feed.start()
    assert feed.wait_state(FeedState.DOWN, timeout=5)
    assert "cannot open" in feed.reason
    with pytest.raises(ValueError, match="replay:FILE"):
        parse_spec("kite")


def test_record_until_sigterm_flushes_and_reports(sim: SimHandle, tmp_path: Path) -> None:
    out = tmp_path / "open-ended.jsonl"
    env = dict(os.environ, OPENALGO_API_KEY=sim.api_key)
    proc = subprocess.Popen(
        record_argv(sim, "--symbols", "NSE:SBIN", "--mode", "ltp", "--out", str(out)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and sim.stats()["ws"]["clients"] == 0:
            time.sleep(0.05)
        time.sleep(0.5)  # ~10 ticks at 20/s
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, err.decode()
    lines = out.read_bytes().splitlines()
    assert lines
    assert all(decode_line(ln).symbol == "SBIN" for ln in lines)
    assert summary(err)["written"] == len(lines)


def test_make_feed_builds_a_replay(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_bytes(b'{"kind":"ltp","recv_ns":1,"exchange":"NSE","symbol":"A","ltp":1.05}\n')
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    feed = make_feed(f"replay:{path}", [], "ltp", q.put)
    feed.start()
    assert feed.wait_state(FeedState.DOWN, timeout=5)
    assert feed.stats()["events"] == 1


def test_record_unknown_symbol_exits_nonzero_with_the_venues_answer(
    sim: SimHandle, tmp_path: Path
) -> None:
    """Issue 15.11: an unknown symbol recorded nothing and exited 0."""
    proc = record(
        sim,
        "--symbols",
        "NSE:NOPE",
        "--duration",
        "20",
        "--out",
        str(tmp_path / "x"),
        key=sim.api_key,
    )
    assert proc.returncode == 2, proc.stderr
    assert b"NSE:NOPE: Symbol not found" in proc.stderr
    assert b"unknown symbol" in proc.stderr
    assert summary(proc.stderr)["written"] == 0


def test_record_help_cites_no_file_that_does_not_exist() -> None:
    """Issue 15.11: the help pointed at DESIGN.md, which no installed cockpit has."""
    for argv in (["record", "--help"], ["--help"]):
        out = subprocess.run(
            [sys.executable, "-m", "cockpit.cli", *argv],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert ".md" not in out.stdout, out.stdout
    assert "normalized tick line" in out.stdout or "record" in out.stdout
