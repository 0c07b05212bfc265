"""Exits first: in a batch taken off the inbound queue, a tick that crosses a plan's line is
handled before the other market data of its run (a speed mechanism: ``EngineOptions.exits_first``
switches it; ``benchmarks/bench_exit_latency.py --exits-first-ab`` shows what it buys).

The decision loop takes every item waiting at once; at 10,000 ticks/s that is tens of
ticks. Handled in arrival order, a crossing tick waited for the ticks before it, and its exit
(held for the batch's one journal commit) for the ticks after it: 0.2-0.7 ms at the median on
the bench. Here each *run* (consecutive market events; other items -- order updates, router
results, commands, the timer -- keep their place and are never passed) is looked at first:

- a tick *crosses* when its price is through its symbol's plan's stop, target, a target leg
  or past its time stop, as the plan stands. The lines only tighten on ticks (trail,
  breakeven), so a tick that crosses them now still crosses them after the ticks before it;
  one that crosses only once an earlier tick ratcheted the stop is handled in its place;
- the crossing symbol's ticks up to and including its first crossing tick go first, in
  their order (a plan sees every price of its symbol, in order), as one segment: handled,
  journaled in one commit, the exits handed to the router;
- then the rest, in order. With the journal's writer thread, the decision thread first waits
  for that segment's commit (``journal.flush``): else the writer, which needs the GIL to run,
  would wait for the rest of the batch and the exit with it.

Order between symbols within a run carries no meaning (feeds on separate connections
interleave arbitrarily); per symbol it is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cockpit.domain.exits import ExitPlan
from cockpit.domain.market import DepthTick, LtpTick, QuoteTick, TradeTick
from cockpit.engine.state import PlanSlot, SymbolState, market_ticks

MARKET = frozenset({LtpTick, QuoteTick, DepthTick, TradeTick})


def crosses(plan: ExitPlan, ticks: int, ts_ns: int) -> bool:
    """True when a price of ``ticks`` at ``ts_ns`` exits (all or part of) ``plan`` as it
    stands; ``plan`` is not changed."""
    if not plan.active:
        return False
    sign = plan.sign
    stop = plan.stop
    if stop is not None and (ticks - stop) * sign <= 0:
        return True
    target = plan.target
    if target is not None and (ticks - target) * sign >= 0:
        return True
    for leg in plan.legs:
        if not leg.fired and (ticks - leg.level) * sign >= 0:
            return True
    return plan.time_stop_ns is not None and ts_ns >= plan.time_stop_ns


def segments(
    items: list[Any], plans: Mapping[str, PlanSlot], syms: Mapping[str, SymbolState]
) -> list[tuple[list[Any], bool]] | None:
    """``items`` cut into segments to handle one after the other, each with whether it is
    one of crossing ticks (with their symbols' ticks before them in the run), ahead of the
    rest of their run; None when no tick crosses (handle ``items`` as they are)."""
    out: list[tuple[list[Any], bool]] = []
    current: list[Any] = []
    n = len(items)
    i = 0
    found = False
    while i < n:
        if type(items[i]) not in MARKET:
            current.append(items[i])
            i += 1
            continue
        j = i
        first: dict[str, int] = {}  # symbol -> its first crossing tick in the run
        while j < n and type(ev := items[j]) in MARKET:
            key = f"{ev.exchange}:{ev.symbol}"
            slot = plans.get(key)
            if slot is not None and key not in first:
                sym = syms.get(key)
                ticks = market_ticks(sym, ev.ltp) if sym is not None else None
                if ticks is not None and crosses(slot.plan, ticks, ev.recv_ns):
                    first[key] = j
            j += 1
        if not first:
            current.extend(items[i:j])
            i = j
            continue
        found = True
        if current:
            out.append((current, False))
        ahead: list[Any] = []
        current = []
        for k in range(i, j):
            ev = items[k]
            end = first.get(f"{ev.exchange}:{ev.symbol}")
            (ahead if end is not None and k <= end else current).append(ev)
        out.append((ahead, True))
        i = j
    if not found:
        return None
    if current:
        out.append((current, False))
    return out
