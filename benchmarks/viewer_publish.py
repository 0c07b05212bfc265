"""Cost of the decision thread's publisher calls with viewers attached, one of them stalled.

Runs a real ViewerServer on a Unix socket with one reading viewer (push-mode client) and one
viewer that never reads, and publishes 10,000 market updates/s plus 1,000 events/s for a few
seconds. Prints JSON: per-call median/p99/max of ``market()`` and ``event()``, the same
calls on ``NullPublisher`` (the peer: doing nothing), the ratio, batches/s seen by the
reading viewer, and whether the stalled viewer was dropped.
"""

from __future__ import annotations

import json
import queue
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path

from cockpit.link.bus import NullPublisher
from cockpit.link.client import EngineClient
from cockpit.link.protocol import PROTOCOL_VERSION, Alarm, Hello, MarketBatch, QuoteView, encode
from cockpit.link.server import ViewerServer

SECONDS = 3.0
MARKET_RATE = 10_000
EVENT_EVERY = 10


def drive(pub, seconds: float) -> dict[str, float]:  # noqa: ANN001
    keys = [f"NSE:S{i}" for i in range(100)]
    market_ns: list[int] = []
    event_ns: list[int] = []
    n = 0
    t0 = time.monotonic()
    while (now := time.monotonic()) - t0 < seconds:
        due = int((now - t0) * MARKET_RATE)
        while n < due:
            q = QuoteView(key=keys[n % 100], ltp=1000 + n % 13, recv_ns=n)
            a = time.perf_counter_ns()
            pub.market(q)
            market_ns.append(time.perf_counter_ns() - a)
            if n % EVENT_EVERY == 0:
                ev = Alarm(seq=n, level="info", message="x" * 200)
                a = time.perf_counter_ns()
                pub.event(ev)
                event_ns.append(time.perf_counter_ns() - a)
            n += 1
        time.sleep(0.0005)

    def stats(xs: list[int]) -> dict[str, float]:
        xs = sorted(xs)
        return {
            "median_us": round(statistics.median(xs) / 1000, 3),
            "p99_us": round(xs[int(len(xs) * 0.99)] / 1000, 3),
            "max_us": round(xs[-1] / 1000, 1),
            "calls": len(xs),
        }

    return {"market": stats(market_ns), "event": stats(event_ns)}


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ckb", dir="/tmp"))
    inbound: queue.SimpleQueue[object] = queue.SimpleQueue()
    server = ViewerServer(tmp / "b.sock", inbound.put, market_hz=30, max_backlog=1000)
    server.start()
    batches: list[float] = []
    fast = EngineClient.connect(path=tmp / "b.sock", client="fast")
    fast.start(lambda m: batches.append(time.monotonic()) if isinstance(m, MarketBatch) else None)
    stalled = socket.socket(socket.AF_UNIX)
    stalled.connect(str(tmp / "b.sock"))
    stalled.sendall(encode(Hello(version=PROTOCOL_VERSION, client="stalled")))
    # play the core: answer the two snapshot requests so both viewers are live
    from cockpit.link.bus import SnapshotRequest
    from cockpit.link.protocol import Snapshot, StatusView

    for _ in range(2):
        req = inbound.get(timeout=5)
        assert isinstance(req, SnapshotRequest)
        server.reply(
            req.conn_id,
            Snapshot(
                seq=0,
                instruments=[],
                quotes=[],
                books=[],
                positions=[],
                plans=[],
                orders=[],
                fills=[],
                feeds=[],
                status=StatusView(venue="bench", armed=False),
                watchlist=[],
            ),
        )
    time.sleep(0.2)
    t_start = time.monotonic()
    ours = drive(server, SECONDS)
    peer = drive(NullPublisher(), SECONDS)
    span = [t for t in batches if t_start + 0.5 <= t <= t_start + SECONDS]
    result = {
        "benchmark": "viewer_publish",
        "load": {"market_per_s": MARKET_RATE, "events_per_s": MARKET_RATE // EVENT_EVERY},
        "ours_viewer_server": ours,
        "peer_null_publisher": peer,
        "ratio_market_median": round(
            ours["market"]["median_us"] / max(peer["market"]["median_us"], 0.001), 1
        ),
        "ratio_event_median": round(
            ours["event"]["median_us"] / max(peer["event"]["median_us"], 0.001), 1
        ),
        "reading_viewer_batches_per_s": round(len(span) / (SECONDS - 0.5), 1),
        "stalled_viewer_dropped": server.counters["viewers_dropped"],
    }
    fast.close()
    stalled.close()
    server.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
