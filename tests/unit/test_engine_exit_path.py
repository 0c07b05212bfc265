"""The exit path: plan state and exit order committed in one journal write before routing."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from cockpit.adapters.openalgo.broker import PlaceOrder
from cockpit.engine import protocol as p
from cockpit.journal.store import Journal
from tests.unit.test_engine_core import SBIN, Rig


class JournalPeekingRouter:
    """Records, for every request, what another connection sees in the journal right then."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[Any] = []
        self.seen: list[tuple[Any, list[tuple[str, str, int]], list[str]]] = []
        self.waited: list[tuple[Any, float]] = []

    def submit(self, request: Any) -> None:
        self.requests.append(request)
        conn = sqlite3.connect(self.path)
        try:
            orders = conn.execute("SELECT cid, tag, open FROM orders").fetchall()
            changes = [r[0] for r in conn.execute("SELECT change FROM plan_events ORDER BY id")]
        finally:
            conn.close()
        self.seen.append((request, orders, changes))

    def submit_and_wait_sent(self, request: Any, timeout_s: float) -> bool:
        self.waited.append((request, timeout_s))
        self.submit(request)
        return True

    def of(self, kind: type) -> list[Any]:
        return [r for r in self.requests if isinstance(r, kind)]


def test_exit_order_is_journaled_with_the_fired_plan_before_it_is_routed(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal.open(path)
    rig = Rig(journal=journal)
    router = JournalPeekingRouter(path)
    rig.router = router  # type: ignore[assignment]
    rig.engine.router = router
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=None))
    rig.tick(SBIN, "799.00")  # through the stop 799.50
    exits = [r for r in router.of(PlaceOrder) if r.action == "SELL"]
    assert len(exits) == 1
    exit_req = exits[0]
    # It went through the waiting hand-off (the decision thread yields until it is sent).
    assert [r for r, _t in router.waited] == [exit_req]
    request, orders, changes = next(s for s in router.seen if s[0] is exit_req)
    # Already committed (visible to another connection) when the router got it: the order
    # row (open) and the plan's fired state.
    assert (exit_req.cid, "exit", 1) in orders
    assert changes[-1].startswith("fired")
    journal.close()
