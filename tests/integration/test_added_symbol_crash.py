"""A position in a symbol added from the screen (`/`, not in `[trading] watchlist`) keeps its
exit plan across a SIGKILL of the engine.

Found in a tmux trial on an OpenAlgo broker with no configured watchlist: RELIANCE added with
`/`, long 5 with a stop, a target and a 60-tick trail; the engine was killed and restarted.
The restarted engine knew the symbol only after asking the broker about it (after the restore),
so the journal's position, exit plan and working order of that symbol were dropped: "positions
differ: NSE:RELIANCE: engine 0, broker 6", no stop managed, and a limit order still working at
the broker that the engine called unknown (the kill switch could not cancel it).
"""

from __future__ import annotations

import json
from decimal import Decimal

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


def test_a_plan_in_a_symbol_added_from_the_screen_survives_sigkill(
    sim: SimHandle,  # noqa: F811
    engine: EngineProc,  # noqa: F811
) -> None:
    engine.env["COCKPIT_TRADING__WATCHLIST"] = json.dumps(["NSE:INFY"])  # SBIN is not in it
    engine.start()
    viewer = Viewer(engine.connect())
    answer = viewer.command(p.Subscribe(id=1, keys=["NSE:SBIN"]))  # what `/` sends
    assert isinstance(answer, p.Ack), answer
    viewer.price(sim, "800.00", 16000)
    answer = viewer.command(
        p.PlaceEntry(
            id=2,
            key="NSE:SBIN",
            side="BUY",
            qty=Decimal(5),
            plan=p.PlanSpec(stop_ticks=10, target_ticks=40),
        )
    )
    assert isinstance(answer, p.Ack), answer
    attached = viewer.until(
        lambda m: isinstance(m, p.PlanEvent) and m.change == "attached", 10, "the plan"
    )
    limit = viewer.command(
        p.PlaceEntry(
            id=3,
            key="NSE:SBIN",
            side="BUY",
            qty=Decimal(1),
            order_type="LIMIT",
            price=15900,  # 795.00: rests
            plan=p.PlanSpec(none=True),
        )
    )
    assert isinstance(limit, p.Ack), limit
    wait(lambda: ("BUY", 1, "open") in sim_orders(sim, "SBIN"), 10, "the limit at the broker")
    viewer.client.close()

    engine.kill()
    engine.start()
    viewer = Viewer(engine.connect())
    plans = {plan.key: plan for plan in viewer.snapshot.plans}
    assert "NSE:SBIN" in plans, viewer.snapshot.plans
    assert plans["NSE:SBIN"].stop == attached.plan.stop == attached.plan.entry - 10
    assert [pos.qty for pos in viewer.snapshot.positions if pos.key == "NSE:SBIN"] == [5]
    working = [o for o in viewer.snapshot.orders if o.key == "NSE:SBIN" and o.status == "open"]
    assert [(o.cid, o.price) for o in working] == [(limit.cid, 15900)]  # type: ignore[union-attr]
