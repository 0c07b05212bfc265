"""One exit on an idle decision thread: where its time goes, with no other thread running.

The real engine and SQLite journal (the unit tests' rig, a recording router), 50 symbols
each with a long position and a 20-tick stop. Per round, one batch of ``--batch`` ordinary
ticks with one crash tick at ``--place``, handled as the decision loop does
(``handle_items``), with exits first (``cockpit/engine/exits_first.py``) on and off.
Stamps (wall, ``perf_counter_ns``): the crash tick begun, its exit fired (the plan
decided), the journal commit started, the exit handed to the router. The figures are the
floor of the bench's stages of the same names (``bench_exit_latency.py --deep-stages``):
what is left there is waiting (the GIL, a core), not work.

    PYTHONPATH=. python3 benchmarks/lab/one_exit.py [--rounds 200] [--batch 20] [--place 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from decision_burst import INSTRUMENTS, rig_with_positions  # noqa: E402

from cockpit.domain.market import LtpTick  # noqa: E402
from cockpit.engine import restore  # noqa: E402
from cockpit.link import protocol as p  # noqa: E402

SPEC = p.PlanSpec(stop_ticks=20, target_ticks=None)


def run(rounds: int, batch: int, place: int, first: bool) -> dict[str, Any]:
    spans: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        rig = rig_with_positions(Path(tmp))
        engine = rig.engine
        engine.options.exits_first = first
        stamps: dict[str, int] = {}
        handle, fire, submit = engine.handle, engine._fire, rig.router.submit
        batch_exit = restore.JournalBatch.__exit__

        def handle_stamped(item: Any) -> None:
            if getattr(item, "ltp", None) == Decimal("997.50"):
                stamps["begun"] = time.perf_counter_ns()
            handle(item)

        def fire_stamped(slot: Any, decision: Any) -> None:
            stamps["fired"] = time.perf_counter_ns()
            fire(slot, decision)

        def exit_stamped(jb: Any, *exc: Any) -> Any:
            if jb.engine._held:
                stamps["commit"] = time.perf_counter_ns()
            return batch_exit(jb, *exc)

        def submit_stamped(request: Any) -> None:
            if getattr(request, "action", "") == "SELL":
                stamps["decided"] = time.perf_counter_ns()
            submit(request)

        engine.handle = handle_stamped  # type: ignore[method-assign]
        engine._fire = fire_stamped  # type: ignore[method-assign]
        restore.JournalBatch.__exit__ = exit_stamped  # type: ignore[method-assign]
        rig.router.submit = submit_stamped  # type: ignore[method-assign]
        try:
            for n in range(rounds):
                crashed = INSTRUMENTS[n % len(INSTRUMENTS)]
                others = [i for i in INSTRUMENTS if i is not crashed]
                rig.clock.now += 1_000_000
                at = rig.clock.now
                items: list[Any] = [
                    LtpTick(at, "NSE", others[k % len(others)].symbol, Decimal("1000.05"))
                    for k in range(batch)
                ]
                items.insert(place, LtpTick(at, "NSE", crashed.symbol, Decimal("997.50")))
                stamps.clear()
                t0 = time.perf_counter_ns()
                engine.handle_items(items)
                stamps["taken"] = t0
                stamps["done"] = time.perf_counter_ns()
                order = ["taken", "begun", "fired", "commit", "decided", "done"]
                for a, b in zip(order, order[1:], strict=False):
                    spans.setdefault(f"{a}_to_{b}", []).append(stamps[b] - stamps[a])
                # the exit filled and the position bought again, for the next round
                exit_req = rig.places()[-1]
                rig.fill(exit_req, rig.accept(exit_req), "997.50")
                rig.tick(crashed, "1000.00")
                rig.enter(crashed, "BUY", 1, "1000.00", plan=SPEC)
        finally:
            restore.JournalBatch.__exit__ = batch_exit  # type: ignore[method-assign]
        engine.journal.close()  # type: ignore[union-attr]
    return {k: round(statistics.median(v) / 1000, 1) for k, v in spans.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--place", type=int, default=10)
    args = ap.parse_args()
    out: dict[str, Any] = {"benchmark": "one_exit", "batch": args.batch, "place": args.place}
    for first in (False, True):
        out[f"exits_first={first}"] = run(args.rounds, args.batch, args.place, first)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
