"""What only the engine holds survives a SIGKILL: an MIT entry waiting for its level is held
again by the restarted engine and fires once when touched; one cancelled or dropped by a
disarm stays gone. The rig is the crash test's (real engine process, paper exchange)."""

from __future__ import annotations

import json
import sqlite3
import time
from decimal import Decimal
from pathlib import Path

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


def journaled(journal: Path, kind: str) -> list[dict[str, object]]:
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=2)
    try:
        rows = conn.execute("SELECT body FROM events WHERE kind=? ORDER BY id", (kind,)).fetchall()
    finally:
        conn.close()
    return [json.loads(r[0]) for r in rows]


def mit(viewer: Viewer, qty: int, trigger: int) -> str:
    answer = viewer.command(
        p.PlaceEntry(
            id=1,
            key="NSE:SBIN",
            side="BUY",
            qty=D(qty),
            order_type="MIT",
            trigger=trigger,
            plan=p.PlanSpec(stop_ticks=6, target_ticks=None),
        )
    )
    assert isinstance(answer, p.Ack), answer
    assert answer.cid
    return answer.cid


def held_mits(viewer: Viewer) -> list[tuple[str, int | None, Decimal]]:
    return [
        (o.cid, o.trigger, o.qty)
        for o in viewer.snapshot.orders
        if o.order_type == "MIT" and o.status == "trigger_pending"
    ]


def test_a_held_mit_survives_sigkill_and_fires_once_when_touched(
    sim: SimHandle,  # noqa: F811
    engine: EngineProc,  # noqa: F811
) -> None:
    engine.start()
    viewer = Viewer(engine.connect())
    viewer.price(sim, "800.00", 16000)
    cid = mit(viewer, 3, 15990)
    wait(lambda: journaled(engine.journal, "mit_held"), 10, "the MIT journaled")
    viewer.client.close()

    engine.kill()
    engine.start()
    viewer = Viewer(engine.connect())
    assert held_mits(viewer) == [(cid, 15990, D(3))]
    viewer.price(sim, "799.60", 15992)
    assert sim_orders(sim, "SBIN") == []  # still held by the engine
    viewer.price(sim, "799.45", 15989)
    # The send, the paper fill and the order update under a loaded host: a generous deadline
    # (the 799.60 above may have come before the restarted engine reconciled: still seen).
    attached = viewer.until(
        lambda m: isinstance(m, p.PlanEvent) and m.change == "attached", 30, "plan attached"
    ).plan
    assert (attached.qty, attached.stop) == (D(3), attached.entry - 6)
    viewer.price(sim, "799.60", 15992)
    viewer.price(sim, "799.40", 15988)  # touched again: nothing more
    time.sleep(0.3)
    assert sim_orders(sim, "SBIN") == [("BUY", 3, "complete")]
    viewer.client.close()

    # Sent: a second restart does not hold it again.
    engine.kill()
    engine.start()
    viewer = Viewer(engine.connect())
    assert held_mits(viewer) == []


def test_cancelled_and_disarmed_mits_stay_gone_after_sigkill(
    sim: SimHandle,  # noqa: F811
    engine: EngineProc,  # noqa: F811
) -> None:
    engine.start()
    viewer = Viewer(engine.connect())
    viewer.price(sim, "800.00", 16000)
    cancelled = mit(viewer, 2, 15990)
    answer = viewer.command(p.CancelOrders(id=1, cid=cancelled))
    assert isinstance(answer, p.Ack), answer
    mit(viewer, 4, 15980)
    answer = viewer.command(p.SetArmed(id=1, armed=False))
    assert isinstance(answer, p.Ack), answer
    wait(lambda: len(journaled(engine.journal, "mit_gone")) == 2, 10, "both MITs gone")
    viewer.client.close()

    engine.kill()
    engine.start()  # armed at start
    viewer = Viewer(engine.connect())
    assert held_mits(viewer) == []
    viewer.price(sim, "798.00", 15960)  # through both levels
    time.sleep(0.5)
    assert sim_orders(sim, "SBIN") == []
