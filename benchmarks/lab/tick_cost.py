"""CPU per tick of the tick path, this tree against another (an A/B in one run).

Two stages, each timed with the calling thread's own CPU clock (``time.thread_time``), no
sockets: the *feed* stage decodes real OpenAlgo frames (depth; ``--mode`` 1 or 2: LTP or
quote), what `cockpit sim` sends from the paper exchange's market model over ``--symbols``
instruments, and puts each event on the engine's inbound queue, as a feed thread does; the
*decision* stage hands the same events to the real :class:`Engine` in batches of
``--batch`` (``handle_items``, as the decision loop takes them), with a stop-loss plan on
every symbol (every tick runs an exit plan), the screen flushed when the tree's decision loop
would flush it with the ticks coming at ``--rate`` a second (10,000; a virtual clock: every
``screen_fold_s``, or once per 30 Hz send of the viewer server where the tree has
``screen_grid_s``), or every ``--flush-every`` ticks if given, and the timer every 500 (50 ms
at 10,000 ticks/s), a real viewer server as publisher. Each tree runs in its own process
(``--code DIR``: the other tree, made with ``git archive COMMIT cockpit | tar -x -C DIR``),
rounds interleaved; prints JSON with each tree's median µs per tick and the ratio (this
tree / the other).

    PYTHONPATH=. python3 benchmarks/lab/tick_cost.py --code /tmp/before [--rounds 5]
        [--symbols 50] [--ticks 20000] [--batch 8]
    PYTHONPATH=. python3 benchmarks/lab/tick_cost.py --profile /tmp/decision.pstats
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def measure(
    symbols: int,
    ticks: int,
    batch: int,
    passes: int,
    profile: str | None = None,
    flush_every: int = 0,
    mode: int = 3,
    rate: float = 10_000.0,
) -> dict[str, float]:
    """The feed and decision stages' CPU per tick (µs), the best of ``passes``."""
    from cockpit.adapters.openalgo.feed import OpenAlgoProtocol
    from cockpit.config import Settings
    from cockpit.domain.feed import FeedState, FeedStatus
    from cockpit.domain.instruments import Exchange, Instrument
    from cockpit.domain.positions import Position
    from cockpit.engine.core import Engine, EngineOptions, EngineTimer
    from cockpit.link import protocol as p
    from cockpit.link.bus import Inbound
    from cockpit.link.server import ViewerServer
    from cockpit.sim.frames import encode_market
    from cockpit.sim.market import Market
    from cockpit.sim.universe import Listing

    class Router:
        def drop_queued_entries(self) -> int:
            return 0

        def submit(self, request: Any) -> None:
            pass

    listings = [
        Listing(Instrument(Exchange.NSE, f"B{i:04d}", Decimal("0.05")), Decimal(100 + 7 * i))
        for i in range(symbols)
    ]
    market = Market(listings, seed=3, rate=1.0)
    states = list(market.states.values())
    t0 = time.time_ns()
    payloads = []
    for n in range(ticks):
        s = states[n % symbols]
        s.step(t0 + n)
        payloads.append(encode_market(s, mode, 5, "zerodha"))
    instruments = [x.instrument for x in listings]
    tmp = Path(tempfile.mkdtemp(prefix="ckt", dir="/tmp"))
    inbound = Inbound()
    server = ViewerServer(tmp / "e.sock", inbound.put, market_hz=30, max_backlog=10_000)
    server.start()
    try:
        best_feed = best_decision = float("inf")
        exits = 0
        for _ in range(passes):
            engine = Engine(
                config=Settings(),
                instruments=instruments,
                router=Router(),
                publisher=server,
                inbound=Inbound(),
                options=EngineOptions(),
            )
            engine.reconciled = True
            engine.handle(FeedStatus("openalgo", FeedState.LIVE, ts_ns=time.time_ns()))
            for i, inst in enumerate(instruments):  # a long with a far stop on every symbol
                entry = int(Decimal(100 + 7 * i) / inst.tick_size)
                pos = Position(inst.key, inst.tick_size, qty=Decimal(1), cost_ticks=entry)
                engine.portfolio.add(pos)
                engine._new_plan(inst.key, pos, p.PlanSpec(stop_ticks=entry // 2), 0)  # noqa: SLF001
            queue = Inbound()
            proto = OpenAlgoProtocol("ws://127.0.0.1:1", "k")  # fresh: its frames' times again
            put, decode = queue.put, proto.decode
            c0 = time.thread_time()
            for payload in payloads:
                for ev in decode(payload, False, time.time_ns()):
                    put(ev)
            best_feed = min(best_feed, time.thread_time() - c0)
            events = queue.take_all(0)
            handle_items, flush, handle = engine.handle_items, engine.flush_screen, engine.handle
            prof = cProfile.Profile() if profile else None
            if prof is not None:
                prof.enable()
            flushes = 0
            opts = engine.options
            fold = opts.screen_fold_s
            grid = 1 / 30 if hasattr(opts, "screen_grid_s") else 0.0  # the server's market_hz
            lead = getattr(opts, "screen_lead_s", 0.0)
            next_screen = 0.0
            c0 = time.thread_time()
            for start in range(0, len(events), batch):
                handle_items(events[start : start + batch])
                if flush_every:
                    if start % flush_every < batch:
                        flush()
                        flushes += 1
                elif (now := (start + batch) / rate) >= next_screen:  # as Engine.run does
                    flush()
                    flushes += 1
                    if grid:
                        next_screen = (math.floor((now + lead) / grid) + 1) * grid - lead
                    else:
                        next_screen = now + fold
                if start % 500 < batch:
                    handle(EngineTimer(time.time_ns()))
            best_decision = min(best_decision, time.thread_time() - c0)
            if prof is not None:
                prof.disable()
                prof.dump_stats(str(profile))
            if engine.counters["ticks"] != len(events):
                raise SystemExit(f"ticks handled {engine.counters['ticks']} of {len(events)}")
            exits = engine.counters["exits"]
    finally:
        server.stop()
    return {
        "feed_us_per_tick": 1e6 * best_feed / ticks,
        "decision_us_per_tick": 1e6 * best_decision / ticks,
        "exits": exits,
        "flushes_per_s": flushes * rate / ticks,
    }


def child(code: Path, args: argparse.Namespace) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(code))
    cmd = [sys.executable, __file__, "--child", "--symbols", str(args.symbols)]
    cmd += ["--ticks", str(args.ticks), "--batch", str(args.batch), "--passes", str(args.passes)]
    cmd += ["--flush-every", str(args.flush_every), "--mode", str(args.mode)]
    cmd += ["--rate", str(args.rate)]
    out = subprocess.run(cmd, env=env, cwd=code, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"{code}: {out.stderr.strip()}")
    return dict(json.loads(out.stdout))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", type=Path, help="the other tree (A/B); none: this tree alone")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--symbols", type=int, default=50)
    ap.add_argument("--ticks", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=8, help="events per handle_items call")
    ap.add_argument(
        "--flush-every",
        type=int,
        default=0,
        help="ticks between screen flushes (0: when the tree's decision loop would flush)",
    )
    ap.add_argument("--rate", type=float, default=10_000.0, help="ticks a second (virtual)")
    ap.add_argument("--mode", type=int, default=3, help="OpenAlgo mode: 1 ltp, 2 quote, 3 depth")
    ap.add_argument("--passes", type=int, default=2, help="passes per process (best taken)")
    ap.add_argument("--profile", help="this tree alone: cProfile the decision stage to this file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child or args.profile:
        figures = measure(
            args.symbols,
            args.ticks,
            args.batch,
            args.passes,
            args.profile,
            args.flush_every,
            args.mode,
            args.rate,
        )
        print(json.dumps(figures))
        return 0
    trees = {"this": REPO}
    if args.code is not None:
        trees["other"] = args.code.resolve()
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, code in trees.items():
            runs[name].append(child(code, args))
    result: dict[str, Any] = {
        "benchmark": "lab/tick_cost",
        "symbols": args.symbols,
        "ticks": args.ticks,
        "batch": args.batch,
        "flush_every": args.flush_every,
        "mode": args.mode,
        "rate": args.rate,
        "rounds": args.rounds,
        "host_load_1m": round(os.getloadavg()[0], 2),
    }
    for name, code in trees.items():
        result[name] = {"code": str(code)} | {
            k: round(statistics.median(r[k] for r in runs[name]), 2) for k in runs[name][0]
        }
    if "other" in trees:
        for k in ("feed_us_per_tick", "decision_us_per_tick"):
            result[f"{k}_ratio_this_over_other"] = round(result["this"][k] / result["other"][k], 3)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
