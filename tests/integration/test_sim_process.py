"""``cockpit sim`` as a child process: ports file, scripted prices, clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websocket


def _start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    ports = tmp_path / "ports.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cockpit.cli", "sim", "--rest-port", "0", "--ws-port", "0",
         "--ports-file", str(ports), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not ports.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"sim did not start: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.02)
    return proc, json.loads(ports.read_text())


@pytest.fixture
def stop_later() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_ports_file_and_sigterm(tmp_path: Path, stop_later: list[subprocess.Popen[bytes]]) -> None:
    proc, info = _start(tmp_path, "--seed", "5")
    stop_later.append(proc)
    assert set(info) == {"rest_port", "ws_port", "api_key", "pid"}
    assert info["pid"] == proc.pid
    assert oct((tmp_path / "ports.json").stat().st_mode & 0o777) == "0o600"
    reply = httpx.post(
        f"http://127.0.0.1:{info['rest_port']}/api/v1/ping", json={"apikey": info["api_key"]}
    )
    assert reply.json()["data"]["message"] == "pong"
    ws = websocket.create_connection(f"ws://127.0.0.1:{info['ws_port']}", timeout=5)
    ws.send(json.dumps({"action": "authenticate", "api_key": info["api_key"]}))
    assert json.loads(ws.recv())["status"] == "success"
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert time.monotonic() - started < 5
    ws.close()


def test_script_plays_prices_in_order(
    tmp_path: Path, stop_later: list[subprocess.Popen[bytes]]
) -> None:
    script = tmp_path / "path.jsonl"
    script.write_text(
        '{"t": 0.3, "exchange": "NSE", "symbol": "SBIN", "ltp": 801.5}\n'
        '{"t": 0.4, "symbol": "SBIN", "path": [801.55, 801.6, 801.45], "interval": 0.05}\n'
        "# comments and blank lines are fine\n\n"
        '{"t": 0.7, "exchange": "NSE", "symbol": "SBIN", "ltp": "800.00"}\n'
    )
    key = "k" * 32
    proc, info = _start(tmp_path, "--script", str(script), "--api-key", key)
    stop_later.append(proc)
    assert "api_key" not in info  # given by the caller: never written to disk
    ws = websocket.create_connection(f"ws://127.0.0.1:{info['ws_port']}", timeout=5)
    try:
        ws.send(json.dumps({"action": "authenticate", "apikey": key}))
        assert json.loads(ws.recv())["type"] == "auth"
        ws.send(json.dumps({"action": "subscribe", "mode": "LTP",
                            "symbols": [{"symbol": "SBIN", "exchange": "NSE"}]}))  # fmt: skip
        assert json.loads(ws.recv())["type"] == "subscribe"
        seen: list[float] = []
        deadline = time.monotonic() + 10
        while (not seen or seen[-1] != 800.0) and time.monotonic() < deadline:
            frame = json.loads(ws.recv())
            if frame.get("type") == "market_data":
                seen.append(frame["data"]["ltp"])
        scripted = [801.5, 801.55, 801.6, 801.45, 800.0]
        assert seen[-5:] == scripted
    finally:
        ws.close()
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(10) == 0


def test_bad_instrument_flag_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cockpit.cli", "sim", "--rest-port", "0", "--ws-port", "0",
         "--instrument", "NASDAQ:AAPL:190"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "unknown exchange" in result.stderr


def _start_with_env_key(ports: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, COCKPIT_SIM_API_KEY="s" * 64)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cockpit.cli", "sim", "--rest-port", "0", "--ws-port", "0",
         "--ports-file", str(ports)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not ports.exists():
        assert proc.poll() is None, "sim exited"
        assert time.monotonic() < deadline, "sim did not start"
        time.sleep(0.02)
    return proc


def test_ports_file_keeps_no_given_key_and_goes_at_exit(
    tmp_path: Path, stop_later: list[subprocess.Popen[bytes]]
) -> None:
    """The key the engine hands over never lands on disk; the file and its directory go at a
    clean exit (SIGTERM: also what the sim gets when its engine is killed); after a SIGKILL
    of the sim itself the file left behind holds ports only."""
    home = tmp_path / "cockpit-sim-test"
    home.mkdir(mode=0o700)
    ports = home / "ports.json"
    proc = _start_with_env_key(ports)
    stop_later.append(proc)
    text = ports.read_text()
    assert "s" * 64 not in text
    assert set(json.loads(text)) == {"rest_port", "ws_port", "pid"}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert not ports.exists()
    assert not home.exists()

    home.mkdir(mode=0o700)
    proc = _start_with_env_key(ports)
    stop_later.append(proc)
    proc.kill()
    proc.wait(10)
    assert "s" * 64 not in ports.read_text()
