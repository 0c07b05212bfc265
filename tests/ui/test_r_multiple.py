"""Issue 15.5: the R-multiple uses the plan's own initial risk (from the engine).

The real app (Pilot) against the real engine and paper exchange. A new position at an old
entry price with a different stop, and a viewer attaching after the stop moved, both show
the R of the plan's initial stop, not of a cached (symbol, entry) or of the current stop.
"""

from __future__ import annotations

from decimal import Decimal

from cockpit.link import protocol as p
from cockpit.ui.app import CockpitApp
from tests.ui.conftest import wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc, attached, make_app


def enter(engine: EngineProc, stop_ticks: int) -> None:
    answer = engine.command(
        p.PlaceEntry(
            id=0, key=SBIN, side="BUY", qty=Decimal(1),
            plan=p.PlanSpec(stop_ticks=stop_ticks, target_ticks=None),
        )
    )  # fmt: skip
    assert isinstance(answer, p.Ack), answer


def second_line(app: CockpitApp) -> str:
    """The position's second line (gauge, distances, R)."""
    return " | ".join(app.screen.positions.text_of(y) for y in range(2, 4))


def at(engine: EngineProc, ticks: int) -> None:
    """SBIN's last price at ``ticks`` (tick 0.05)."""
    engine.price("SBIN", str(Decimal(ticks) * Decimal("0.05")))


async def test_r_is_the_plans_own_after_a_new_entry_at_the_same_price_and_a_reattach(
    engine: EngineProc,
) -> None:
    engine.flatten_all()
    engine.price("SBIN", "800.00")
    app = make_app(engine)
    async with app.run_test(size=(160, 48)) as pilot:
        await attached(pilot, app)
        enter(engine, 6)  # 1R = 6 ticks (0.30)
        await wait_for(pilot, lambda: SBIN in app.store.plans, 10)
        entry = app.store.plans[SBIN].entry
        at(engine, entry + 6)
        await wait_for(pilot, lambda: "+1.0R" in second_line(app), 10)

        engine.flatten_all()
        engine.price("SBIN", "800.00")
        await wait_for(pilot, lambda: SBIN not in app.store.plans, 10)
        enter(engine, 12)  # the same entry price, a stop twice as far: 1R = 12 ticks
        await wait_for(pilot, lambda: SBIN in app.store.plans, 10)
        assert app.store.plans[SBIN].entry == entry  # a new position at the old entry
        at(engine, entry + 6)
        await wait_for(pilot, lambda: "+0.5R" in second_line(app), 10)

        # The trader tightens the stop to 1 tick below the entry.
        answer = engine.command(p.MoveStop(id=0, key=SBIN, to=entry - 1))
        assert isinstance(answer, p.Ack), answer
        await wait_for(pilot, lambda: app.store.plans[SBIN].stop == entry - 1, 10)
        assert "+0.5R" in second_line(app)

    # A viewer that attaches now still measures from the initial stop (12 ticks).
    again = make_app(engine)
    async with again.run_test(size=(160, 48)) as pilot:
        await attached(pilot, again)
        await wait_for(pilot, lambda: "R" in second_line(again), 10)
        await wait_for(pilot, lambda: "+0.5R" in second_line(again), 10)
    engine.flatten_all()
