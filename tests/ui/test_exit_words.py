"""An exit says why in the trader's words (found in a tmux trial: "trailing_stop at
1288.60", "tp1 at 1288.85", "trailing_stop: SELL 2 NSE:RELIANCE at 1288.55")."""

from __future__ import annotations

from decimal import Decimal

from cockpit.link import protocol as p
from cockpit.ui.store import Store
from tests.ui import scenario as sc


def exit_notices(reason: str, *, price: int = 15_974) -> list[str]:
    store = Store()
    store.apply(sc.snapshot(with_position=True))
    store.drain_notices()
    store.apply(
        p.ExitFired(seq=6, key="NSE:SBIN", reason=reason, level=15_975, price=price, cid="x1")
    )
    fill = p.FillView("x1", "NSE:SBIN", "SELL", Decimal(10), Decimal("798.70"), sc.T0)
    store.apply(p.FillEvent(seq=7, fill=fill))
    return [f"{n.title}  {n.message}" for n in store.drain_notices()]


def test_each_exit_reason_is_said_in_words() -> None:
    assert exit_notices("trailing_stop") == [
        "Exit fired: NSE:SBIN  trail stop at 798.70 (level 798.75)",
        "Exit filled: NSE:SBIN  trail stop: SELL 10 NSE:SBIN at 798.70",
    ]
    assert exit_notices("tp1")[0] == "Exit fired: NSE:SBIN  TP1 at 798.70 (level 798.75)"
    assert exit_notices("time")[0].startswith("Exit fired: NSE:SBIN  time stop at")
    assert exit_notices("breakeven")[0].startswith("Exit fired: NSE:SBIN  breakeven stop at")
    assert exit_notices("stop")[0].startswith("Exit fired: NSE:SBIN  stop at")
    assert exit_notices("target")[0].startswith("Exit fired: NSE:SBIN  target at")


def test_an_exit_at_its_level_says_the_price_once() -> None:
    """Found in a trial: "stop at 1281.60 (level 1281.60)"."""
    assert exit_notices("stop", price=15_975)[0] == "Exit fired: NSE:SBIN  stop at 798.75"


async def test_the_positions_pane_says_why_the_exit_fired_in_words() -> None:
    """The positions pane's line under a fired plan said "exit fired: trailing_stop"."""
    from tests.ui.conftest import wait_for
    from tests.ui.test_engine_pilot import SBIN, attached, make_app, qty, running_engine

    with running_engine() as e:
        app = make_app(e)
        async with app.run_test(size=(160, 48)) as pilot:
            await attached(pilot, app)
            e.price("SBIN", "800.05")  # a fresh tick: the stale-data gate lets the entry in
            await wait_for(pilot, lambda: getattr(app.store.quotes.get(SBIN), "ltp", 0) == 16_001)
            await pilot.press("b")
            await wait_for(pilot, lambda: qty(app) == 1, 10)
            await pilot.press("t")  # trail 4 ticks
            await wait_for(pilot, lambda: app.store.plans[SBIN].trail_active, 10)
            e.price("SBIN", "800.50")
            await wait_for(pilot, lambda: app.store.plans[SBIN].stop == 16_006, 10)
            e.sim.reject_next("NSE", "SBIN", 50)  # the exit keeps failing: the line stays
            e.price("SBIN", "800.25")
            pane = app.screen.positions
            lines = lambda: [pane.text_of(y) for y in range(6)]  # noqa: E731
            await wait_for(pilot, lambda: any("exit fired" in t for t in lines()), 10)
            assert any("exit fired: trail stop at 800.25" in t for t in lines()), lines()
