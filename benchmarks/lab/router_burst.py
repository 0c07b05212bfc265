"""The order router alone, in a burst: 50 urgent orders submitted at once, per exit path.

For each ``--paths`` (``lane``: the exit lane; ``httpx``: the urgent httpx workers) and
``--workers`` count (urgent httpx workers), ``--rounds`` bursts of 50 urgent
``PlaceOrder`` go to a loopback aiohttp venue (its own process, from ``bench_router.py``).
Per round: ``wall`` from the first submit to the 50th order received by the venue, and the
router process's CPU time until the 50 answers are back (``client_cpu_ms``: every thread,
kernel time of the loopback sends included; a noisy host barely moves it).

Usage::

    PYTHONPATH=. python3 benchmarks/lab/router_burst.py [--paths lane,httpx]
        [--workers 8] [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import queue
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_router import KEY, venue  # noqa: E402


def run(port: int, conn: Any, kind: str, workers: int, rounds: int) -> dict[str, Any]:
    from cockpit.adapters.openalgo.broker import OpenAlgoRouter
    from cockpit.domain.execution import PlaceOrder

    results: queue.SimpleQueue[object] = queue.SimpleQueue()
    router = OpenAlgoRouter(
        f"http://127.0.0.1:{port}", KEY, results.put, order_rate=1e6, api_rate=1e6,
        strategy="b", urgent_workers=workers, exit_lane=kind == "lane",
    )  # fmt: skip
    router.start()
    walls: list[float] = []
    cpus: list[float] = []
    qty = 0
    for k in range(rounds + 2):  # two rounds to warm up (connections, caches)
        t0, c0 = time.monotonic_ns(), time.process_time_ns()
        mine = []
        for i in range(50):
            qty += 1
            mine.append(qty)
            router.submit(PlaceOrder(str(qty), "NSE", f"S{i}", "SELL", Decimal(qty), urgent=True))
        for _ in range(50):
            results.get(timeout=10)
        c1 = time.process_time_ns()
        conn.send("collect")
        arrivals = conn.recv()
        if k >= 2:
            walls.append((max(arrivals[f"b:{q}"] for q in mine) - t0) / 1e6)
            cpus.append((c1 - c0) / 1e6)
        time.sleep(0.05)
    router.stop()
    return {
        "path": kind,
        "urgent_workers": workers,
        "wall_p50_ms": round(statistics.median(walls), 2),
        "wall_max_ms": round(max(walls), 2),
        "client_cpu_p50_ms": round(statistics.median(cpus), 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", default="lane,httpx")
    ap.add_argument("--workers", default="8")
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    conn, child = ctx.Pipe()
    proc = ctx.Process(target=venue, args=(child,), daemon=True)
    proc.start()
    port = conn.recv()
    sys.setswitchinterval(0.0005)  # as the engine runs
    out = []
    for workers in (int(w) for w in args.workers.split(",")):
        for kind in args.paths.split(","):
            out.append(run(port, conn, kind, workers, args.rounds))
            print(json.dumps(out[-1]), file=sys.stderr)
    conn.send("stop")
    proc.join(5)
    print(json.dumps({"benchmark": "router_burst", "runs": out}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
