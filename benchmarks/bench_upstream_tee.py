"""What teeing an external feed to the paper exchange costs the feed thread, and how fast the
paper exchange absorbs upstream ticks.

* hot path: ns per market event handed to the engine by the feed thread, with the tee
  (``UpstreamTee.sink``: engine queue put + bounded-buffer append) vs without it (the engine
  queue put alone, the peer); ratio = tee / plain.
* end to end: depth ticks pushed through a started tee over loopback TCP to an in-thread paper
  exchange until its upstream endpoint has applied them all; events/s (decode, set the
  quote and 5-level book, run matching).

Prints one JSON object. Usage::

    python3 benchmarks/bench_upstream_tee.py [--events 200000] [--e2e 50000]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.daemon.external import UpstreamTee  # noqa: E402
from cockpit.domain.instruments import Exchange, Instrument  # noqa: E402
from cockpit.domain.market import DepthTick  # noqa: E402
from cockpit.sim import SimConfig, start_in_thread  # noqa: E402


def _ticks(n: int) -> list[DepthTick]:
    out = []
    for i in range(n):
        mid = Decimal("1500.00") + Decimal("0.05") * (i % 40)
        out.append(
            DepthTick(
                recv_ns=time.time_ns(),
                exchange="NSE",
                symbol="INFY",
                ltp=mid,
                bids=tuple((mid - Decimal("0.05") * (k + 1), Decimal(100), 3) for k in range(5)),
                asks=tuple((mid + Decimal("0.05") * (k + 1), Decimal(100), 3) for k in range(5)),
            )
        )
    return out


def hot_path(events: list[DepthTick], rounds: int = 5) -> dict[str, float]:
    best_plain = best_tee = float("inf")
    for _ in range(rounds):
        q: queue.SimpleQueue[object] = queue.SimpleQueue()
        put = q.put
        t0 = time.perf_counter_ns()
        for ev in events:
            put(ev)
        best_plain = min(best_plain, (time.perf_counter_ns() - t0) / len(events))
        q2: queue.SimpleQueue[object] = queue.SimpleQueue()
        tee = UpstreamTee(1, "k", [], capacity=len(events) + 1)  # not started: measures the append
        sink = tee.sink(q2.put)
        t0 = time.perf_counter_ns()
        for ev in events:
            sink(ev)
        best_tee = min(best_tee, (time.perf_counter_ns() - t0) / len(events))
    return {
        "plain_put_ns_per_event": round(best_plain, 1),
        "tee_ns_per_event": round(best_tee, 1),
        "ratio_tee_vs_plain": round(best_tee / best_plain, 2),
    }


def end_to_end(events: list[DepthTick]) -> dict[str, float]:
    inst = Instrument(Exchange.NSE, "INFY", Decimal("0.05"), Decimal(1))
    with start_in_thread(SimConfig(upstream_port=0, rate=10.0)) as sim:
        assert sim.upstream_port
        tee = UpstreamTee(sim.upstream_port, sim.api_key, [inst], capacity=len(events) + 1)
        q: queue.SimpleQueue[object] = queue.SimpleQueue()
        sink = tee.sink(q.put)
        tee.start()
        tee.connected.wait(5)
        up = sim.server.upstream
        t0 = time.perf_counter()
        for ev in events:
            sink(ev)
        deadline = time.monotonic() + 120
        while up.stats["applied"] < len(events) and time.monotonic() < deadline:
            time.sleep(0.005)
        elapsed = time.perf_counter() - t0
        applied = up.stats["applied"]
        tee.stop()
    return {
        "e2e_events": len(events),
        "e2e_applied": applied,
        "e2e_events_per_s": round(applied / elapsed),
        "tee_dropped": tee.dropped,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--e2e", type=int, default=50_000)
    args = ap.parse_args()
    out = {"bench": "upstream_tee", "load1": round(os.getloadavg()[0], 2)}
    out.update(hot_path(_ticks(args.events)))
    out.update(end_to_end(_ticks(args.e2e)))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
