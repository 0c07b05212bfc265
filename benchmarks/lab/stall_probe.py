"""Scheduler stalls: how late a thread that only sleeps wakes up, idle and with the CPUs busy.

A process sleeps 100 µs in a loop and counts the wake-ups later than 0.5 ms. First with the
machine idle (the peer), then while ``--busy`` processes spin (the load a feed, a paper
exchange and a TUI put on a small VPS). Any thread of the engine waits like this when it is
woken: it bounds what a p99 exit latency can be on the machine. ``--fifo N`` runs the probe
under SCHED_FIFO N (needs root, CAP_SYS_NICE or ``ulimit -r``), as ``chrt -f N`` would run
the engine (README: Real-time scheduling).

Usage::

    python3 benchmarks/lab/stall_probe.py [--seconds 5] [--busy 2] [--fifo 10]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from typing import Any

LATE_NS = 500_000


def spin(stop: Any) -> None:
    """A busy process (pure CPU)."""
    x = 0
    while not stop.is_set():
        for _ in range(10_000):
            x += 1


def probe(seconds: float) -> dict[str, Any]:
    """Sleep 100 µs at a time for ``seconds``; report the wake-ups later than 0.5 ms."""
    end = time.monotonic() + seconds
    late: list[int] = []
    n = 0
    while time.monotonic() < end:
        t0 = time.monotonic_ns()
        time.sleep(0.0001)
        over = time.monotonic_ns() - t0
        n += 1
        if over > LATE_NS:
            late.append(over)
    late.sort()
    return {
        "sleeps": n,
        "late_over_0_5ms": len(late),
        "late_per_s": round(len(late) / seconds, 1),
        "worst_ms": [round(v / 1e6, 2) for v in late[-5:]],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--busy", type=int, default=os.cpu_count() or 2, help="spinning processes")
    ap.add_argument("--fifo", type=int, default=0, help="SCHED_FIFO priority for the probe")
    args = ap.parse_args()
    if args.fifo:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.fifo))
    idle = probe(args.seconds)
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    procs = [ctx.Process(target=spin, args=(stop,), daemon=True) for _ in range(args.busy)]
    if args.fifo:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))  # the load stays normal
    for proc in procs:
        proc.start()
    if args.fifo:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.fifo))
    time.sleep(0.5)
    busy = probe(args.seconds)
    stop.set()
    for proc in procs:
        proc.join(5)
    result = {
        "benchmark": "stall_probe",
        "cpus": os.cpu_count(),
        "busy_processes": args.busy,
        "probe_fifo_priority": args.fifo,
        "idle": idle,
        "busy": busy,
        "late_per_s_busy_vs_idle": (
            round(busy["late_per_s"] / idle["late_per_s"], 1) if idle["late_per_s"] else None
        ),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
