"""The decision thread's own CPU for a gap through 50 stops, without sockets or threads.

The real :class:`~cockpit.engine.core.Engine` with a real SQLite journal and a recording
router (the unit tests' rig): 50 symbols each hold a long position with a 20-tick stop; one
batch of 50 crash ticks, handled as the decision loop handles what arrived together
(``Engine._handle_together``: the exits committed and handed to the router in groups;
``exits_one_commit_ms``: the same in one commit, handed over after it), decides the 50
exits; then their 50 acknowledgements and their 50 fills, one item each, as they come back
from the venue (``acks_ms``, ``fills_ms``: a commit each) and, in other rounds, the 50
acknowledgements then the 50 fills each handled together, as the loop handles what queued
up while it was busy (``acks_together_ms``, ``fills_together_ms``). CPU is the thread's own
(``time.thread_time_ns``), median of ``--rounds`` fresh engines; ``--profile`` prints the
top of a cProfile of one round (timed by the thread's CPU clock). ``--protective``: each plan
also holds its broker-side stop (``exits.protective_stop``), acknowledged, so 50 more orders
work while the burst is decided (each exit also cancels its plan's stop). ``--writer-ab``:
every figure also with the journal's writer thread (``cockpit/journal/writer.py``), rounds
alternated; ``exits_wall_ms`` is from the first crash tick to the 50th exit handed to the
router (after its commit).

    PYTHONPATH=. python3 benchmarks/lab/decision_burst.py [--rounds 9] [--profile] [--protective]
        [--writer-ab]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cockpit.domain.execution import PlaceOrder  # noqa: E402
from cockpit.domain.instruments import Exchange, Instrument  # noqa: E402
from cockpit.domain.market import LtpTick  # noqa: E402
from cockpit.engine.core import Engine, EngineOptions  # noqa: E402
from cockpit.journal.store import Journal  # noqa: E402
from cockpit.link import protocol as p  # noqa: E402
from tests.unit.test_engine_core import Rig  # noqa: E402

N = 50
INSTRUMENTS = [Instrument(Exchange.NSE, f"SYM{i:02d}", Decimal("0.05")) for i in range(N)]


def rig_with_positions(tmp: Path, protective: bool = False, writer: bool = False) -> Rig:
    rig = Rig(exits={"protective_stop": True}) if protective else Rig()
    rig.engine = Engine(
        config=rig.config,
        instruments=INSTRUMENTS,
        router=rig.router,
        journal=Journal.open(tmp / "journal.sqlite3"),
        publisher=rig.pub,
        options=EngineOptions(reconcile_interval_s=0, plan_event_interval_s=0),
        clock=rig.clock,
    )
    rig.start()
    for inst in INSTRUMENTS:
        rig.tick(inst, "1000.00")
    for inst in INSTRUMENTS:
        rig.enter(inst, "BUY", 1, "1000.00", plan=p.PlanSpec(stop_ticks=20, target_ticks=None))
        if protective:
            stop = rig.router.requests[-1]
            assert isinstance(stop, PlaceOrder), stop
            assert stop.pricetype == "SL-M", stop
            rig.accept(stop)
    rig.engine.journal.use_writer(writer)  # type: ignore[union-attr]
    return rig


def one_round(
    prof: cProfile.Profile | None = None,
    one_commit: bool = False,
    protective: bool = False,
    together: bool = False,
    writer: bool = False,
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        rig = rig_with_positions(Path(tmp), protective, writer)
        engine = rig.engine
        journal = engine.journal
        assert journal is not None
        at = rig.clock.now + 1
        crash = [LtpTick(at, "NSE", i.symbol, Decimal("997.50")) for i in INSTRUMENTS]
        before = len(rig.router.requests)
        if prof is not None:
            prof.enable()
        w0 = time.perf_counter_ns()
        t0 = time.thread_time_ns()
        if one_commit:  # the 50 decided, then one commit, then all 50 handed over
            with engine._batch():
                for tick in crash:
                    engine.handle(tick)
        else:  # as the decision loop does
            engine._handle_together(list(crash))
        t1 = time.thread_time_ns()
        journal.flush()
        wall = time.perf_counter_ns() - w0
        exits = [
            r
            for r in rig.router.requests[before:]
            if isinstance(r, PlaceOrder) and r.action == "SELL" and r.pricetype != "SL-M"
        ]
        assert len(exits) == N, len(exits)
        if together:  # what the rig hands the engine, handed over as one batch
            handle = engine.handle
            acks: list[object] = []
            engine.handle = acks.append  # type: ignore[method-assign,assignment]
            ids = [rig.accept(r) for r in exits]
            fills: list[object] = []
            engine.handle = fills.append  # type: ignore[method-assign,assignment]
            for request, venue_id in zip(exits, ids, strict=True):
                rig.fill(request, venue_id, "997.45")
            engine.handle = handle  # type: ignore[method-assign]
            t1 = time.thread_time_ns()
            engine._handle_together(acks)
            t2 = time.thread_time_ns()
            engine._handle_together(fills)
        else:
            ids = [rig.accept(r) for r in exits]
            t2 = time.thread_time_ns()
            for request, venue_id in zip(exits, ids, strict=True):
                rig.fill(request, venue_id, "997.45")
        t3 = time.thread_time_ns()
        journal.flush()
        if prof is not None:
            prof.disable()
        assert not engine.plans
        engine.journal.close()  # type: ignore[union-attr]
    return {
        "exits_ms": (t1 - t0) / 1e6,
        "exits_wall_ms": wall / 1e6,
        "acks_ms": (t2 - t1) / 1e6,
        "fills_ms": (t3 - t2) / 1e6,
    }


def figures(rounds: int, protective: bool, writer: bool) -> dict[str, float]:
    alone = [one_round(protective=protective, writer=writer) for _ in range(rounds)]
    out: dict[str, float] = {}
    one = statistics.median(
        one_round(one_commit=True, protective=protective, writer=writer)["exits_ms"]
        for _ in range(rounds)
    )
    out["exits_one_commit_ms"] = round(one, 2)
    together = [
        one_round(protective=protective, together=True, writer=writer) for _ in range(rounds)
    ]
    for key in ("acks_ms", "fills_ms"):
        median = statistics.median(r[key] for r in together)
        out[key.replace("_ms", "_together_ms")] = round(median, 2)
    for key in ("exits_ms", "exits_wall_ms", "acks_ms", "fills_ms"):
        median = statistics.median(r[key] for r in alone)
        out[key] = round(median, 2)
        if key != "exits_wall_ms":
            out[key.replace("_ms", "_us_each")] = round(median * 1000 / N, 1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--protective", action="store_true")
    ap.add_argument("--writer-ab", action="store_true")
    args = ap.parse_args()
    pro = args.protective
    out: dict[str, Any] = {
        "benchmark": "decision_burst",
        "exits": N,
        "rounds": args.rounds,
        "protective": pro,
    }
    if not args.writer_ab:
        out.update(figures(args.rounds, pro, writer=False))
    else:  # alternated, a few rounds at a time, so a change in the host's load hits both
        runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
        for _ in range(3):
            for writer in (False, True):
                runs[writer].append(figures(max(1, args.rounds // 3), pro, writer))
        for writer, label in ((False, "decision_thread_commits"), (True, "writer_thread")):
            keys = runs[writer][0]
            out[label] = {k: round(statistics.median(r[k] for r in runs[writer]), 2) for k in keys}
    print(json.dumps(out, indent=2))
    if args.profile:
        prof = cProfile.Profile(time.thread_time)
        one_round(prof, protective=pro)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
