"""The decision thread's CPU per tick: decode → inbound queue → engine → viewer publish.

No sockets to the venue: the paper exchange's own market model steps ``--symbols``
instruments and encodes real OpenAlgo depth frames (what `cockpit sim` sends); the OpenAlgo
protocol decodes them on a feed thread at ``--rate`` ticks/s in all and puts each event on the
engine's inbound queue, as the feed does; the real :class:`Engine` runs its decision loop on its
own thread with a real viewer server (one viewer attached and reading) as publisher, and a
stop-loss plan on every symbol (so every tick runs an exit plan). CPU is each thread's own
(``/proc/self/task/<tid>/stat``). Prints JSON: ticks offered and processed (and folded, of
those), decision-thread and feed-thread CPU per tick (µs) and as a share of a core, and the
viewer server thread's share.

    PYTHONPATH=. python3 benchmarks/bench_engine_ticks.py [--symbols 50] [--rate 20000]
        [--seconds 8] [--fold-s 0] [--profile out.pstats] [--showing 40]

``--profile`` runs the same ticks through ``Engine.handle`` synchronously under cProfile
instead (the top of the profile is printed to stderr).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cockpit.adapters.openalgo.feed import OpenAlgoProtocol  # noqa: E402
from cockpit.config import Settings  # noqa: E402
from cockpit.domain.feed import FeedState, FeedStatus  # noqa: E402
from cockpit.domain.instruments import Exchange, Instrument  # noqa: E402
from cockpit.domain.positions import Position  # noqa: E402
from cockpit.engine.core import Engine, EngineOptions  # noqa: E402
from cockpit.link import protocol as p  # noqa: E402
from cockpit.link.bus import Inbound  # noqa: E402
from cockpit.link.client import EngineClient  # noqa: E402
from cockpit.link.server import ViewerServer  # noqa: E402
from cockpit.sim.frames import encode_market  # noqa: E402
from cockpit.sim.market import Market  # noqa: E402
from cockpit.sim.universe import Listing  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def thread_cpu(tid: int) -> float:
    fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


class Router:
    """Takes every request and answers none (no order goes anywhere in this benchmark)."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    def drop_queued_entries(self) -> int:
        return 0

    def submit(self, request: Any) -> None:
        self.requests.append(request)


def frames(symbols: int, count: int) -> tuple[list[Instrument], list[bytes]]:
    """``count`` depth frames round-robin over ``symbols`` instruments, as the sim encodes them."""
    listings = [
        Listing(Instrument(Exchange.NSE, f"B{i:04d}", Decimal("0.05")), Decimal(100 + 7 * i))
        for i in range(symbols)
    ]
    market = Market(listings, seed=3, rate=1.0)
    states = list(market.states.values())
    out = []
    now = time.time_ns()
    for n in range(count):
        s = states[n % symbols]
        s.step(now + n)
        out.append(encode_market(s, 3, 5, "zerodha"))
    return [x.instrument for x in listings], out


def make_engine(
    instruments: list[Instrument], publisher: Any, inbound: Inbound, fold_s: float | None
) -> Engine:
    options = EngineOptions()
    if fold_s is not None:  # (an engine from before the fold has no such option)
        options.screen_fold_s = fold_s
    engine = Engine(
        config=Settings(),
        instruments=instruments,
        router=Router(),
        publisher=publisher,
        inbound=inbound,
        options=options,
    )
    engine.reconciled = True
    engine.handle(FeedStatus("openalgo", FeedState.LIVE, ts_ns=time.time_ns()))
    for i, inst in enumerate(instruments):  # a long with a far stop: every tick runs a plan
        entry = int(Decimal(100 + 7 * i) / inst.tick_size)
        pos = Position(inst.key, inst.tick_size, qty=Decimal(1), cost_ticks=entry)
        engine.portfolio.add(pos)
        engine._new_plan(inst.key, pos, p.PlanSpec(stop_ticks=entry // 2), 0)  # noqa: SLF001
    return engine


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=50)
    ap.add_argument("--rate", type=int, default=20_000, help="ticks/s in all")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument(
        "--fold-s",
        type=float,
        help="EngineOptions.screen_fold_s (0: publish every tick, the A of an A/B)",
    )
    ap.add_argument("--profile", help="cProfile Engine.handle over the ticks to this file")
    ap.add_argument(
        "--showing",
        type=int,
        default=None,
        help="the viewer says it draws the first N symbols in full (the rest: the slow lane)",
    )
    opts = ap.parse_args()
    total = int(opts.rate * opts.seconds)
    instruments, payloads = frames(opts.symbols, min(total, 200_000))
    proto = OpenAlgoProtocol("ws://127.0.0.1:1", "k")
    inbound = Inbound()
    tmp = Path(tempfile.mkdtemp(prefix="ckt", dir="/tmp"))
    server = ViewerServer(tmp / "e.sock", inbound.put, market_hz=30, max_backlog=10_000)
    server.start()
    engine = make_engine(instruments, server, inbound, opts.fold_s)
    result: dict[str, Any] = {
        "benchmark": "bench_engine_ticks",
        "symbols": opts.symbols,
        "ticks_per_s_offered": opts.rate,
        "screen_fold_s": engine.options.screen_fold_s if opts.fold_s is not None else "default",
    }
    if opts.profile:
        events = [ev for pl in payloads for ev in proto.decode(pl, False, time.time_ns())]
        prof = cProfile.Profile()
        t0 = time.thread_time()
        prof.enable()
        for ev in events:
            engine.handle(ev)
        prof.disable()
        cpu = time.thread_time() - t0
        prof.dump_stats(opts.profile)
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
        print(buf.getvalue(), file=sys.stderr)
        result["profiled_us_per_tick"] = round(1e6 * cpu / len(events), 2)
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        print(json.dumps(result, indent=1))
        return 0

    batches = 0

    def on_msg(msg: object) -> None:
        nonlocal batches
        if isinstance(msg, p.MarketBatch):
            batches += 1

    stop = threading.Event()
    tids: dict[str, int] = {}

    def decide() -> None:
        tids["decision"] = threading.get_native_id()
        engine.run(stop)

    offered = 0
    cpu: dict[str, float] = {}

    def feed() -> None:
        nonlocal offered
        tids["feed"] = threading.get_native_id()
        put, decode, n = inbound.put, proto.decode, len(payloads)
        t0 = time.monotonic()
        while not stop.is_set():
            due = min(total, int((time.monotonic() - t0) * opts.rate))
            while offered < due:
                for ev in decode(payloads[offered % n], False, time.time_ns()):
                    put(ev)
                offered += 1
            if offered >= total:
                cpu["feed"] = time.thread_time()
                return
            time.sleep(0.001)

    engine.start = lambda: None  # type: ignore[method-assign]  # no journal, no broker
    dt = threading.Thread(target=decide, daemon=True)
    dt.start()
    viewer = EngineClient.connect(path=tmp / "e.sock", client="bench")
    viewer.snapshot(timeout=10)
    viewer.start(on_msg)
    if opts.showing is not None:
        viewer.show([inst.key for inst in instruments[: opts.showing]])
        result["showing"] = opts.showing
        time.sleep(0.2)  # the engine hears it before the first tick
    while "decision" not in tids:
        time.sleep(0.01)
    ft = threading.Thread(target=feed, daemon=True)
    t0 = time.monotonic()
    c0 = engine.counters["ticks"]
    d0 = thread_cpu(tids["decision"])
    server_tid = server._thread.native_id if server._thread else None  # noqa: SLF001
    s0 = thread_cpu(server_tid) if server_tid else 0.0
    ft.start()
    ft.join()
    seen = -1  # drained: nothing queued and the count stopped moving (the last batch is done)
    while time.monotonic() - t0 < opts.seconds * 4:
        count = engine.counters["ticks"]
        if not len(inbound) and count == seen:
            break
        seen = count
        time.sleep(0.2)  # long enough for a descheduled decision thread on a busy host
    wall = time.monotonic() - t0
    d1 = thread_cpu(tids["decision"])
    s1 = thread_cpu(server_tid) if server_tid else 0.0
    f1 = cpu["feed"]
    done = engine.counters["ticks"] - c0
    stop.set()
    dt.join(5)
    viewer.close()
    server.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    result.update(
        ticks_offered=offered,
        ticks_processed=done,
        ticks_folded=engine.counters.get("folded", 0),
        wall_s=round(wall, 2),
        processed_per_s=round(done / wall, 1),
        decision_us_per_tick=round(1e6 * (d1 - d0) / max(1, done), 2),
        decision_cpu_pct_of_core=round(100 * (d1 - d0) / wall, 1),
        viewer_server_cpu_pct_of_core=round(100 * (s1 - s0) / wall, 1),
        feed_us_per_tick=round(1e6 * f1 / max(1, offered), 2),
        feed_cpu_pct_of_core=round(100 * f1 / wall, 1),
        viewer_batches_per_s=round(batches / wall, 1),
        host_load_1m=round(os.getloadavg()[0], 2),
    )
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
