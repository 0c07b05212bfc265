"""Issue 16.3: the engine puts every print through its instrument's jump guard; a lone print far
outside the recent range is held (alarmed) and never fires an exit or moves the mark.
"""

from __future__ import annotations

from cockpit.link import protocol as p
from tests.unit.test_engine_core import SBIN, Rig


def long_with_stop() -> Rig:
    rig = Rig()
    rig.start()
    for price in ("800.00", "800.05", "799.95", "800.00"):
        rig.tick(SBIN, price)
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=None))
    return rig


def test_a_lone_far_print_is_held_alarmed_and_never_fires_the_stop() -> None:
    rig = long_with_stop()
    before = len(rig.places())
    rig.tick(SBIN, "0.05")  # a bad print far below the stop
    assert len(rig.places()) == before
    assert not rig.pub.of(p.ExitFired)
    alarms = [a for a in rig.pub.of(p.Alarm) if a.code == "price_jump"]
    assert alarms
    assert "0.05 is far outside the recent range 799.95-800.05" in alarms[-1].message
    assert rig.engine.portfolio.get(SBIN.key).qty == 10
    rig.tick(SBIN, "800.00")  # back in range: the held print is dropped
    assert len(rig.places()) == before
    assert "not confirmed" in [a for a in rig.pub.of(p.Alarm) if a.code == "price_jump"][-1].message


def test_a_confirmed_jump_fires_the_stop_on_the_second_print() -> None:
    rig = long_with_stop()
    before = len(rig.places())
    rig.tick(SBIN, "700.00")
    assert len(rig.places()) == before
    rig.tick(SBIN, "700.05")
    exits = rig.places()[before:]
    assert [(e.action, e.quantity) for e in exits] == [("SELL", 10)]
    assert rig.pub.of(p.ExitFired)[-1].reason == "stop"


def test_the_guard_can_be_switched_off_per_instrument() -> None:
    rig = Rig(exits={"jump_guard": {"instruments": {SBIN.key: {"enabled": False}}}})
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=None))
    before = len(rig.places())
    rig.tick(SBIN, "700.00")
    assert len(rig.places()) == before + 1
