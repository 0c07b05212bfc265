"""The /sim control API over REST (what a test in another process uses)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import websocket

from cockpit.sim import SimHandle
from cockpit.sim.inputs import load_script


def _ctl(sim: SimHandle, name: str, **body: object) -> httpx.Response:
    return httpx.post(f"{sim.rest_url}/sim/{name}", json={"apikey": sim.api_key, **body})


def _quote(sim: SimHandle, symbol: str) -> dict[str, float]:
    reply = httpx.post(
        f"{sim.rest_url}/api/v1/quotes",
        json={"apikey": sim.api_key, "symbol": symbol, "exchange": "NSE"},
    )
    return reply.json()["data"]


def test_control_endpoints(sim: SimHandle) -> None:
    assert _ctl(sim, "pause").json()["paused"] is True
    reply = _ctl(sim, "price", exchange="NSE", symbol="SBIN", ltp="790.10", bid=790.05, ask=790.15)
    assert reply.status_code == 200, reply.text
    quote = _quote(sim, "SBIN")
    assert (quote["ltp"], quote["bid"], quote["ask"]) == (790.1, 790.05, 790.15)
    time.sleep(0.3)  # paused: nothing may move it
    assert _quote(sim, "SBIN")["ltp"] == 790.1
    assert _ctl(sim, "price", symbol="SBIN", ltp="790.12").status_code == 400  # off the grid
    assert _ctl(sim, "price", symbol="NOPE", ltp="1").status_code == 400
    assert _ctl(sim, "price", ltp="1").json()["message"] == "missing field 'symbol'"
    assert _ctl(sim, "resume", exchange="NSE", symbol="SBIN").json()["paused"] is False
    deadline = time.monotonic() + 5
    seen = {790.1}
    while len(seen) < 3 and time.monotonic() < deadline:
        seen.add(_quote(sim, "SBIN")["ltp"])
        time.sleep(0.02)
    assert len(seen) >= 3  # the walk moves SBIN again
    assert _ctl(sim, "rate", rate=50).json()["rate"] == 50
    assert _ctl(sim, "rate", rate=-1).status_code == 400
    assert _ctl(sim, "reject_next", symbol="INFY", count=2).json()["pending_rejections"] == 2
    assert _ctl(sim, "silence", seconds=0.1).status_code == 200
    ws = websocket.create_connection(sim.ws_url, timeout=5)
    ws.send(json.dumps({"action": "authenticate", "api_key": sim.api_key}))
    ws.recv()
    assert _ctl(sim, "drop_ws", code=1012).json()["dropped"] == 1
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(data[:2], "big") == 1012
    ws.close()
    stats = _ctl(sim, "stats").json()
    assert stats["ws"]["connections"] == 1
    assert stats["rate"] == 50
    denied = httpx.post(f"{sim.rest_url}/sim/stats", json={"apikey": "nope"})
    assert denied.status_code == 403
    assert httpx.post(f"{sim.rest_url}/sim/stats", content=b"{oops").status_code == 400


def test_script_parsing() -> None:
    events = load_script(
        '{"t": 1, "symbol": "SBIN", "ltp": 801}\n'
        '{"t": 0.5, "exchange": "NSE", "symbol": "INFY", "path": [1, 2], "interval": 0.25}\n'
    )
    assert [(e["t"], e["symbol"], e["ltp"]) for e in events] == [
        (0.5, "INFY", 1),
        (0.75, "INFY", 2),
        (1.0, "SBIN", 801),
    ]
    with pytest.raises(ValueError, match="line 2"):
        load_script('{"symbol": "SBIN", "ltp": 1}\n{"ltp": 5}\n')
    with pytest.raises(ValueError, match="line 1"):
        load_script("not json\n")
