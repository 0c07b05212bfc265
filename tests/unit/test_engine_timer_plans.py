"""The decision thread's timer looks at the plans that need it, not at every plan each 50 ms
(issue 19: work per timer must not grow with the plans followed)."""

from __future__ import annotations

from typing import Any

import pytest

from cockpit.domain.exits import ExitPlan
from cockpit.engine.state import EngineTimer
from cockpit.link import protocol as p
from tests.unit.test_engine_core import INFY, NIFTY, SBIN, Rig


@pytest.fixture
def looked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each call of ``ExitPlan.on_time`` (the timer's first look at a plan)."""
    calls: list[int] = []
    on_time = ExitPlan.on_time

    def counting(self: ExitPlan, ts_ns: int) -> Any:
        calls.append(ts_ns)
        return on_time(self, ts_ns)

    monkeypatch.setattr(ExitPlan, "on_time", counting)
    return calls


def test_quiet_plans_are_not_looked_at_on_every_timer(looked: list[int]) -> None:
    rig = Rig()
    rig.start()
    for inst, price in ((SBIN, "800.00"), (INFY, "1500.00")):
        rig.tick(inst, price)
        rig.enter(inst, "BUY", 1, price, plan=p.PlanSpec(stop_ticks=50))
    rig.tick(NIFTY, "20000.00")
    rig.enter(NIFTY, "BUY", 50, "20000.00", plan=p.PlanSpec(stop_ticks=50, time_stop_s=5))
    engine = rig.engine
    engine.handle(EngineTimer(rig.clock.now))
    looked.clear()
    for _ in range(5):  # a quarter of a second of timers
        rig.clock.now += 50_000_000
        engine.handle(EngineTimer(rig.clock.now))
    assert len(looked) == 5  # only NIFTY's plan, for its time stop
    rig.clock.now += 5 * 10**9  # and the time stop still fires from the timer
    engine.handle(EngineTimer(rig.clock.now))
    assert [e.key for e in rig.pub.of(p.ExitFired)] == [NIFTY.key]
    looked.clear()
    rig.clock.now += 10**9  # once a second every plan is looked at all the same
    engine.handle(EngineTimer(rig.clock.now))
    assert len(looked) == 3


def test_a_trail_move_is_journaled_by_the_timer_when_its_time_comes(looked: list[int]) -> None:
    rig = Rig()
    rig.start()
    rig.tick(SBIN, "800.00")
    spec = p.PlanSpec(stop_ticks=10, trail=p.TrailView("ticks", __import__("decimal").Decimal(5)))
    rig.enter(SBIN, "BUY", 1, "800.00", plan=spec)
    engine = rig.engine
    engine.handle(EngineTimer(rig.clock.now))
    slot = engine.plans[SBIN.key]
    rig.tick(SBIN, "801.00")  # the trail ratchets; the tick journals it at most so often
    rig.tick(SBIN, "801.50")
    assert slot.journaled_version != slot.plan.version
    rig.clock.now += int(engine.options.journal_trail_every_s * 10**9) + 1
    engine.handle(EngineTimer(rig.clock.now))
    assert slot.journaled_version == slot.plan.version
