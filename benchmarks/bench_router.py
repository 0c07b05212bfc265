"""Order router latency: ``OpenAlgoRouter.submit(PlaceOrder)`` → request received by the venue.

The venue is a loopback aiohttp server in a spawned process that stamps
``time.monotonic_ns()`` when each ``placeorder`` arrives (CLOCK_MONOTONIC is system-wide).
The router sends with httpx (its one transport). The peer, in the same run: a bare
``http.client`` keep-alive POST of the same JSON body from one thread (no
queue, no worker hand-off). The ratios say how much of the exit path the router costs.

Usage::

    python3 benchmarks/bench_router.py [--n 1000] [--interval 0.002]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import queue
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

KEY = "bench-key"


def venue(conn: Any) -> None:
    import asyncio

    from aiohttp import web

    arrivals: dict[str, int] = {}

    async def handle(request: web.Request) -> web.Response:
        now = time.monotonic_ns()
        body = json.loads(await request.read())
        arrivals[body["strategy"] + ":" + str(body.get("quantity"))] = now
        return web.json_response({"status": "success", "orderid": str(len(arrivals))})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/api/v1/{path}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        conn.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        loop = asyncio.get_running_loop()
        while True:
            cmd = await loop.run_in_executor(None, conn.recv)
            if cmd == "stop":
                break
            conn.send(dict(arrivals))
            arrivals.clear()
        await runner.cleanup()

    asyncio.run(main())


def stats(values: list[int]) -> dict[str, Any]:
    v = sorted(values)
    n = len(v)
    if not n:
        return {"n": 0}

    def pct(q: float) -> float:
        return round(v[min(n - 1, int(q * n))] / 1000, 1)

    return {"n": n, "p50_us": pct(0.5), "p99_us": pct(0.99), "max_us": round(v[-1] / 1000, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=0.002, help="seconds between orders")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from cockpit.adapters.openalgo.broker import OpenAlgoRouter
    from cockpit.domain.execution import PlaceOrder

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=venue, args=(child,), daemon=True)
    proc.start()
    port = parent.recv()

    # 1. The router (worker threads, priority queue, httpx).
    router_stats: dict[str, Any] = {}
    for transport in ("httpx",):
        results: queue.SimpleQueue[object] = queue.SimpleQueue()
        router = OpenAlgoRouter(
            f"http://127.0.0.1:{port}",
            KEY,
            results.put,
            order_rate=1e6,
            strategy="router",
        )
        router.start()
        sent: dict[str, int] = {}
        for i in range(args.n):
            qty = Decimal(i + 1)
            sent[f"router:{qty}"] = time.monotonic_ns()
            router.submit(PlaceOrder(str(i), "NSE", "SBIN", "SELL", qty, urgent=True))
            results.get(timeout=10)
            time.sleep(args.interval)
        router.stop()
        parent.send("collect")
        arrivals = parent.recv()
        router_stats[transport] = stats([arrivals[k] - t for k, t in sent.items() if k in arrivals])

    # 2. The peer: http.client, same body, same thread.
    raw = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sent = {}
    for i in range(args.n):
        body = json.dumps(
            {"apikey": KEY, "strategy": "raw", "exchange": "NSE", "symbol": "SBIN",
             "action": "SELL", "quantity": str(i + 1), "pricetype": "MARKET", "product": "MIS"}
        )  # fmt: skip
        sent[f"raw:{i + 1}"] = time.monotonic_ns()
        raw.request("POST", "/api/v1/placeorder", body, {"Content-Type": "application/json"})
        raw.getresponse().read()
        time.sleep(args.interval)
    raw.close()
    parent.send("collect")
    arrivals = parent.recv()
    raw_lat = [arrivals[k] - t for k, t in sent.items() if k in arrivals]
    parent.send("stop")
    proc.join(5)

    raw_stats = stats(raw_lat)
    out: dict[str, Any] = {
        "benchmark": "router_submit_to_arrival",
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg()[0],
        "router_httpx": router_stats["httpx"],
        "peer_bare_http_client": raw_stats,
    }
    for name in ("httpx",):
        for q in ("p50", "p99"):
            out[f"ratio_{q}_{name}_vs_bare"] = round(
                router_stats[name][f"{q}_us"] / raw_stats[f"{q}_us"], 2
            )
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
