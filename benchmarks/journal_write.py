"""Cost of one journal write (WAL, synchronous=NORMAL, autocommit) vs. synchronous=FULL.

Prints JSON: median and p99 microseconds per write for our settings and for the same
writes with ``synchronous=FULL`` (an fsync per commit), and the ratio.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from cockpit.domain.orders import Order, OrderType, Side
from cockpit.journal import Journal
from cockpit.link.protocol import FillView

N = 2000


def run(sync: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        j = Journal.open(Path(tmp) / "bench.sqlite3")
        j._conn.execute(f"PRAGMA synchronous={sync}")
        plan = {"v": 1, "side": "BUY", "qty": "10", "stop": 100, "target": 140, "best": 120}
        times: list[int] = []
        for i in range(N):
            order = Order(
                cid=f"c{i}",
                key="NSE:INFY",
                side=Side.BUY,
                type=OrderType.LIMIT,
                qty=Decimal(10),
                price_ticks=30_000,
                created_ns=time.time_ns(),
            )
            fill = FillView(
                cid=f"c{i}",
                key="NSE:INFY",
                side="BUY",
                qty=Decimal(10),
                price=Decimal("1500.05"),
                ts_ns=time.time_ns(),
            )
            for op in (
                (j.order, (order,)),
                (j.fill, (fill,)),
                (j.plan, ("NSE:INFY", plan, "tick")),
            ):
                fn, fargs = op
                t0 = time.perf_counter_ns()
                fn(*fargs)
                times.append(time.perf_counter_ns() - t0)
        j.close()
    times.sort()
    return {
        "median_us": statistics.median(times) / 1000,
        "p99_us": times[int(len(times) * 0.99)] / 1000,
        "writes": len(times),
    }


def main() -> None:
    ours = run("NORMAL")
    peer = run("FULL")
    print(
        json.dumps(
            {
                "benchmark": "journal_write",
                "ours_wal_normal": ours,
                "peer_wal_full": peer,
                "ratio_median_full_over_normal": round(peer["median_us"] / ours["median_us"], 2),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
