"""Scale-out plans and stop/MIT entries through the real engine process and the paper exchange.

SIGKILL the engine after TP1 filled: the restarted engine restores the plan with TP1 fired
and filled, the same levels and the remaining quantity, then TP2 and the stop each sell their
part exactly once. A buy stop (SL-M at the venue) fills at the last price once triggered, as
OpenAlgo's sandbox fills it, and an MIT entry the engine holds goes out at market when
touched; both get their plan on the fill. The rig is the crash test's.
"""

from __future__ import annotations

import json
import sqlite3
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from cockpit.link import protocol as p
from cockpit.sim import SimHandle
from tests.integration.test_engine_crash import (  # noqa: F401  (fixtures)
    EngineProc,
    Viewer,
    engine,
    sim,
    sim_orders,
    wait,
)

D = Decimal


def journaled_plan(journal: Path) -> dict[str, Any] | None:
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=2)
    try:
        row = conn.execute("SELECT state FROM plans WHERE key='NSE:SBIN' AND open=1").fetchone()
    finally:
        conn.close()
    return None if row is None else json.loads(row[0])


def price_text(ticks: int) -> str:
    return f"{D(ticks) * D('0.05'):.2f}"


def test_sigkill_after_tp1_filled_restores_the_targets_and_sells_each_part_once(
    sim: SimHandle,  # noqa: F811
    engine: EngineProc,  # noqa: F811
) -> None:
    engine.start()
    viewer = Viewer(engine.connect())
    viewer.price(sim, "800.00", 16000)
    spec = p.PlanSpec(
        stop_ticks=10,
        targets=[p.TargetSpec(10, qty=D(4)), p.TargetSpec(20, qty=D(3)), p.TargetSpec(60)],
    )
    answer = viewer.command(p.PlaceEntry(id=1, key="NSE:SBIN", side="BUY", qty=D(10), plan=spec))
    assert isinstance(answer, p.Ack), answer
    attached = viewer.until(
        lambda m: isinstance(m, p.PlanEvent) and m.change == "attached", 10, "plan attached"
    ).plan
    entry, stop = attached.entry, attached.stop
    tp1, tp2 = (t.level for t in attached.targets)
    assert (tp1, tp2, attached.target) == (entry + 10, entry + 20, entry + 60)

    viewer.price(sim, price_text(tp1), tp1)
    fired = viewer.until(lambda m: isinstance(m, p.ExitFired), 10, "TP1")
    assert fired.reason == "tp1"
    wait(lambda: ("SELL", 4, "complete") in sim_orders(sim, "SBIN"), 10, "TP1 at the sim")
    wait(
        lambda: (journaled_plan(engine.journal) or {}).get("qty") == "6",
        10,
        "TP1's fill journaled",
    )
    viewer.client.close()

    engine.kill()
    engine.start()
    viewer = Viewer(engine.connect())
    (plan,) = [plan for plan in viewer.snapshot.plans if plan.key == "NSE:SBIN"]
    assert (plan.entry, plan.stop, plan.qty, plan.target) == (entry, stop, D(6), entry + 60)
    assert [(t.n, t.level, t.qty, t.fired, t.filled) for t in plan.targets] == [
        (1, tp1, D(4), True, D(4)),
        (2, tp2, D(3), False, D(0)),
    ]
    viewer.price(sim, price_text(tp1 + 1), tp1 + 1)  # TP1 again: nothing
    viewer.price(sim, price_text(tp2), tp2)
    wait(lambda: ("SELL", 3, "complete") in sim_orders(sim, "SBIN"), 10, "TP2 at the sim")
    viewer.price(sim, price_text(stop), stop)
    wait(lambda: len(sim_orders(sim, "SBIN")) >= 4, 10, "the stop at the sim")
    time.sleep(0.3)  # nothing more may arrive
    assert sim_orders(sim, "SBIN") == [
        ("BUY", 10, "complete"),
        ("SELL", 4, "complete"),
        ("SELL", 3, "complete"),
        ("SELL", 3, "complete"),
    ]


def test_a_buy_stop_fills_at_the_paper_exchange_at_the_last_price_and_gets_its_plan(
    sim: SimHandle,  # noqa: F811
    engine: EngineProc,  # noqa: F811
) -> None:
    engine.start()
    viewer = Viewer(engine.connect())
    viewer.price(sim, "800.00", 16000)
    stop_entry = p.PlaceEntry(
        id=1,
        key="NSE:SBIN",
        side="BUY",
        qty=D(5),
        order_type="SL-M",
        trigger=16020,
        plan=p.PlanSpec(stop_ticks=8, target_ticks=None),
    )
    answer = viewer.command(stop_entry)
    assert isinstance(answer, p.Ack), answer
    viewer.until(
        lambda m: isinstance(m, p.OrderEvent) and m.order.status == "trigger_pending",
        10,
        "the stop resting at the venue",
    )
    viewer.price(sim, "800.50", 16010)
    assert sim_orders(sim, "SBIN") == [("BUY", 5, "trigger pending")]
    viewer.price(sim, "801.10", 16022)  # through the trigger: fills at this last price
    attached = viewer.until(
        lambda m: isinstance(m, p.PlanEvent) and m.change == "attached", 10, "plan attached"
    ).plan
    assert (attached.entry, attached.stop, attached.qty) == (16022, 16014, D(5))
    assert sim_orders(sim, "SBIN") == [("BUY", 5, "complete")]


def test_an_mit_entry_waits_for_its_level_then_goes_at_market(
    sim: SimHandle,  # noqa: F811
    engine: EngineProc,  # noqa: F811
) -> None:
    engine.start()
    viewer = Viewer(engine.connect())
    viewer.price(sim, "800.00", 16000)
    answer = viewer.command(
        p.PlaceEntry(
            id=1,
            key="NSE:SBIN",
            side="BUY",
            qty=D(3),
            order_type="MIT",
            trigger=15990,
            plan=p.PlanSpec(stop_ticks=6, target_ticks=None),
        )
    )
    assert isinstance(answer, p.Ack), answer
    viewer.price(sim, "799.60", 15992)
    assert sim_orders(sim, "SBIN") == []  # held by the engine, nothing at the venue
    viewer.price(sim, "799.45", 15989)
    attached = viewer.until(
        lambda m: isinstance(m, p.PlanEvent) and m.change == "attached", 10, "plan attached"
    ).plan
    assert attached.qty == D(3)
    assert attached.stop == attached.entry - 6
    time.sleep(0.3)
    assert sim_orders(sim, "SBIN") == [("BUY", 3, "complete")]
