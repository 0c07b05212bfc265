"""Paper-exchange feed throughput: market_data frames/s pushed to 1 and to 10 WebSocket clients.

The sim runs as ``cockpit sim`` (its own process); each client is a separate process
(an aiohttp WebSocket client, so the client does not share the server's GIL) that
authenticates, subscribes to every instrument and counts market_data frames over a window.
The rate is stepped up and the best sustained figure is reported, with the server's own
counters (a client that could not keep up would show as a slow drop).

Peer, in the same run: a plain aiohttp server pushing one pre-encoded frame in a loop with
``await ws.send_str`` (no market simulation at all), to the same clients.

    python3 benchmarks/bench_sim.py [--quick]
    python3 benchmarks/bench_sim.py --many 3000:6000   # the sim's CPU, 3,000 depth symbols

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

GOAL = 50_000


# -- clients (separate processes) --------------------------------------------------------------


async def _client(
    url: str, key: str, keys: list[str], mode: int, warm: float, window: float, out: Any
) -> None:
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(url, max_msg_size=0)
    try:
        await ws.send_str(json.dumps({"action": "authenticate", "api_key": key}))
        symbols = [{"exchange": k.split(":")[0], "symbol": k.split(":")[1]} for k in keys]
        await ws.send_str(json.dumps({"action": "subscribe", "mode": mode, "symbols": symbols}))
        loop = asyncio.get_running_loop()
        start = loop.time()
        counting_from = start + warm
        end = counting_from + window
        # If the stream stalls, close the socket so the loop below ends.
        guard = loop.call_later(warm + window + 10, lambda: asyncio.ensure_future(ws.close()))
        count = 0
        checked = 0
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            now = loop.time()
            if now < counting_from:
                continue
            if now >= end:
                break
            if msg.data.startswith('{"type":"market_data"'):
                count += 1
                if count % 5000 == 1:  # spot-check that frames are whole JSON
                    json.loads(msg.data)
                    checked += 1
        guard.cancel()
        # Report before closing: the close handshake may have to drain a backlog.
        out.put({"frames": count, "seconds": window, "checked": checked})
    finally:
        try:
            await asyncio.wait_for(ws.close(), 2)
        except (TimeoutError, aiohttp.ClientError):
            pass
        try:
            await asyncio.wait_for(session.close(), 2)
        except TimeoutError:
            pass


def _client_proc(args: tuple[str, str, list[str], int, float, float], out: Any) -> None:
    try:
        asyncio.run(_client(*args, out))
    except Exception as exc:  # report, never hang the parent
        out.put({"frames": 0, "seconds": args[5], "error": repr(exc)})


def _run_clients(
    n: int, url: str, key: str, keys: list[str], mode: int, warm: float, window: float
) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_client_proc, args=((url, key, keys, mode, warm, window), out))
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=warm + window + 60) for _ in procs]
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.kill()
    return results


# -- servers -------------------------------------------------------------------------------------


def _start_sim(
    rate: float, extra: list[str] | None = None
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-sim-"))
    ports = tmp / "ports.json"
    more = [arg for spec in extra or [] for arg in ("--instrument", spec)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cockpit.cli", "sim", "--rest-port", "0", "--ws-port", "0",
         "--ports-file", str(ports), "--seed", "1", "--rate", str(rate), *more],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not ports.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("sim did not start")
        time.sleep(0.02)
    return proc, json.loads(ports.read_text())


def _sim_stats(info: dict[str, Any]) -> dict[str, Any]:
    import httpx

    reply = httpx.post(
        f"http://127.0.0.1:{info['rest_port']}/sim/stats", json={"apikey": info["api_key"]}
    )
    return reply.json()


_PEER_CODE = r"""
import asyncio, json, sys
from aiohttp import web
FRAME = json.dumps({"type": "market_data", "symbol": "SBIN", "exchange": "NSE", "mode": 1,
    "broker": "paper", "data": {"symbol": "SBIN", "exchange": "NSE", "mode": 1, "ltp": 801.5,
    "ltt": 1767080412000, "timestamp": 1767080412153}}, separators=(",", ":"))
async def handle(request):
    ws = web.WebSocketResponse(compress=False)
    await ws.prepare(request)
    await ws.receive()
    await ws.receive()
    try:
        while not ws.closed:
            for _ in range(100):
                await ws.send_str(FRAME)
            await asyncio.sleep(0)
    except Exception:
        pass
    return ws
async def main():
    app = web.Application()
    app.router.add_get("/", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def _start_peer() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-c", _PEER_CODE], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port


def _stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# -- scenarios -------------------------------------------------------------------------------


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _many_run(symbols: int, total_rate: float, mode: int, warm: float, window: float) -> dict:
    """The sim's own CPU with ``symbols`` instruments ticking ``total_rate`` times a second in
    all, one client subscribed to all of them (issue 19: 3,000 symbols at 6,000 depth ticks/s)."""
    extra = [f"NSE:BENCH{i:04d}:{100 + 7 * (i % 500)}.00:0.05" for i in range(symbols)]
    started = time.monotonic()
    proc, info = _start_sim(total_rate / symbols, extra)
    start_s = time.monotonic() - started
    try:
        keys = [spec.rsplit(":", 2)[0] for spec in extra]
        url = f"ws://127.0.0.1:{info['ws_port']}"
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        client = ctx.Process(
            target=_client_proc, args=((url, info["api_key"], keys, mode, warm, window), out)
        )
        client.start()
        time.sleep(warm + 0.5)
        cpu0, t0 = _cpu_s(proc.pid), time.monotonic()
        time.sleep(window - 1.0)
        cpu1, t1 = _cpu_s(proc.pid), time.monotonic()
        result = out.get(timeout=window + 60)
        client.join(10)
        stats = _sim_stats(info)
    finally:
        _stop(proc)
    return {
        "symbols": symbols,
        "ticks_per_s_requested": total_rate,
        "mode": mode,
        "start_s": round(start_s, 2),
        "client_frames_per_s": round(result["frames"] / result["seconds"]),
        "sim_cpu_pct_of_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
        "slow_drops": stats["ws"]["slow_drops"],
    }


def _sim_run(rate: float, clients: int, mode: int, warm: float, window: float) -> dict[str, Any]:
    proc, info = _start_sim(rate)
    try:
        import httpx

        found = httpx.post(
            f"http://127.0.0.1:{info['rest_port']}/api/v1/search",
            json={"apikey": info["api_key"], "query": ""},
        ).json()["data"]
        keys = [f"{r['exchange']}:{r['symbol']}" for r in found]
        url = f"ws://127.0.0.1:{info['ws_port']}"
        results = _run_clients(clients, url, info["api_key"], keys, mode, warm, window)
        stats = _sim_stats(info)
    finally:
        _stop(proc)
    per_client = [r["frames"] / r["seconds"] for r in results]
    return {
        "rate_per_symbol": rate,
        "symbols": len(keys),
        "offered_per_client": rate * len(keys),
        "clients": clients,
        "mode": mode,
        "total_frames_per_s": round(sum(per_client)),
        "min_client_frames_per_s": round(min(per_client)),
        "slow_drops": stats["ws"]["slow_drops"],
        "errors": [r["error"] for r in results if "error" in r],
    }


def _peer_run(clients: int, warm: float, window: float) -> dict[str, Any]:
    proc, port = _start_peer()
    try:
        results = _run_clients(
            clients, f"ws://127.0.0.1:{port}/", "k", ["NSE:SBIN"], 1, warm, window
        )
    finally:
        _stop(proc)
    per_client = [r["frames"] / r["seconds"] for r in results]
    return {
        "clients": clients,
        "total_frames_per_s": round(sum(per_client)),
        "min_client_frames_per_s": round(min(per_client)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer steps, shorter windows")
    parser.add_argument(
        "--many",
        metavar="SYMBOLS:TICKS_PER_S",
        help="only the sim's CPU with this many symbols at this total depth tick rate "
        "(e.g. 3000:6000), one client subscribed to all",
    )
    args = parser.parse_args()
    if args.many:
        symbols, total = (int(x) for x in args.many.split(":"))
        print(json.dumps(_many_run(symbols, total, 3, 2.0, 8.0)))
        return
    warm, window = (0.5, 2.0) if args.quick else (1.0, 4.0)
    rates = [2000, 10000, 40000] if args.quick else [1000, 5000, 10000, 20000, 40000]
    one = [_sim_run(r, 1, 1, warm, window) for r in rates]
    ten = [_sim_run(r, 10, 1, warm, window) for r in ([1000, 5000] if args.quick else rates[:3])]
    quote = _sim_run(10000, 1, 2, warm, window)
    depth = _sim_run(2000, 1, 3, warm, window)
    peer_one = _peer_run(1, warm, window)
    peer_ten = _peer_run(10, warm, window)
    best_one = max(r["total_frames_per_s"] for r in one if not r["slow_drops"])
    best_ten = max(r["total_frames_per_s"] for r in ten if not r["slow_drops"])
    print(
        json.dumps(
            {
                "benchmark": "sim market_data frames/s (aiohttp clients in separate processes)",
                "cpus": os.cpu_count(),
                "sim_1_client_ltp": one,
                "sim_10_clients_ltp": ten,
                "sim_1_client_quote": quote,
                "sim_1_client_depth5": depth,
                "peer_aiohttp_send_str_1_client": peer_one,
                "peer_aiohttp_send_str_10_clients": peer_ten,
                "best_1_client_frames_per_s": best_one,
                "best_10_clients_total_frames_per_s": best_ten,
                "ratio_1_client_vs_peer": round(
                    best_one / max(peer_one["total_frames_per_s"], 1), 2
                ),
                "ratio_10_clients_vs_peer": round(
                    best_ten / max(peer_ten["total_frames_per_s"], 1), 2
                ),
                "goal_1_client": GOAL,
                "meets_goal": best_one >= GOAL,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
