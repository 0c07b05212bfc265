"""Cost of the engine's session volume-at-price accounting per market event.

Drives ``Engine.handle`` synchronously (no threads, sockets or journal; a null router and
publisher) with depth-style quotes for one symbol, where one quote in ``--trade-every``
carries a trade (its cumulative ``volume`` rises). The peer, in the same run, is the same
engine with the accounting switched off (``_traded`` replaced by a no-op), so the ratio is
the accounting's share of the per-event cost of the decision thread.

Usage::

    python3 benchmarks/bench_volume_at_price.py [--events 200000] [--trade-every 1] [--runs 5]

Prints one JSON object (ns per event: best of ``--runs``).
"""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal
from typing import Any

from cockpit.config import Settings
from cockpit.domain.instruments import Exchange, Instrument
from cockpit.domain.market import QuoteTick
from cockpit.engine.core import Engine, EngineOptions

SBIN = Instrument(Exchange.NSE, "SBIN", Decimal("0.05"))


class _NullRouter:
    def submit(self, request: Any) -> None:
        """Drop it."""


def _events(n: int, trade_every: int) -> list[QuoteTick]:
    step = Decimal("0.05")
    bid = ((Decimal("799.95"), Decimal(100), 1),)
    ask = ((Decimal("800.05"), Decimal(100), 1),)
    return [
        QuoteTick(
            i,
            "NSE",
            "SBIN",
            Decimal(800) + (i % 20) * step,
            volume=Decimal(100_000 + i // trade_every),
            ltq=Decimal(1),
            bids=bid,
            asks=ask,
        )
        for i in range(n)
    ]


def _run(events: list[QuoteTick], *, accounting: bool) -> float:
    engine = Engine(
        config=Settings(),
        instruments=[SBIN],
        router=_NullRouter(),
        options=EngineOptions(reconcile_interval_s=0),
    )
    if not accounting:
        engine._traded = lambda *args: None  # type: ignore[method-assign]
    handle = engine.handle
    start = time.perf_counter_ns()
    for ev in events:
        handle(ev)
    return (time.perf_counter_ns() - start) / len(events)


def main() -> None:
    """Run the benchmark and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--trade-every", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    events = _events(args.events, args.trade_every)
    with_vap: list[float] = []
    without: list[float] = []
    for _ in range(args.runs):  # interleaved, so drift on a shared machine hits both
        without.append(_run(events, accounting=False))
        with_vap.append(_run(events, accounting=True))
    best_with, best_without = min(with_vap), min(without)
    print(
        json.dumps(
            {
                "bench": "volume_at_price",
                "events": args.events,
                "trade_every": args.trade_every,
                "ns_per_event_with_accounting": round(best_with),
                "ns_per_event_without (peer)": round(best_without),
                "ratio": round(best_with / best_without, 3),
                "added_ns_per_event": round(best_with - best_without),
            }
        )
    )


if __name__ == "__main__":
    main()
