"""An exit says why in the trader's words (found in a tmux trial: "trailing_stop at
1288.60", "tp1 at 1288.85", "trailing_stop: SELL 2 NSE:RELIANCE at 1288.55")."""

from __future__ import annotations

from decimal import Decimal

from cockpit.link import protocol as p
from cockpit.ui.store import Store
from tests.ui import scenario as sc


def exit_notices(reason: str) -> list[str]:
    store = Store()
    store.apply(sc.snapshot(with_position=True))
    store.drain_notices()
    store.apply(
        p.ExitFired(seq=6, key="NSE:SBIN", reason=reason, level=15_975, price=15_974, cid="x1")
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
