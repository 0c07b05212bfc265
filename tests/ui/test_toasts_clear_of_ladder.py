"""Toasts never hide where the trader's orders are on the ladder: its working orders (the Buy
and Sell columns) and its marks (last price, entry, stop, target). Found in a tmux trial at
80×24: a fill's toasts stood over the ladder's right side, its marks. The real app on a real
engine."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from textual.geometry import Region
from textual.widgets._toast import Toast

from cockpit.link import protocol as p
from tests.ui.conftest import wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc, attached, make_app
from tests.ui.test_live_dialogs import fresh_tick


def covered(app: object) -> list[tuple[str, object]]:
    """The toasts over the ladder's core (my Buy and Sell columns, the sizes, the price) or
    over its marks column (last price, entry, stop, target), with what they cover: a mark or
    an order can come up on any row, so no row of those columns may be under a toast."""
    screen = app.screen  # type: ignore[attr-defined]
    ladder = screen.ladder
    box = ladder.content_region
    ltp_row = next(
        ladder.text_of(y) for y in range(1, ladder.rows + 1) if "◀LTP" in ladder.text_of(y)
    )
    price = re.search(r"\d+\.\d\d", ltp_row)
    assert price is not None, ltp_row
    cols = ladder.columns
    core_end = price.end() + 1 + cols.qty + 1 + cols.mine  # … Price Ask Sell
    marks_x = ltp_row.index("◀LTP")
    protected = [
        ("core", Region(box.x, box.y, core_end, box.height)),
        ("marks", Region(box.x + marks_x, box.y, box.width - marks_x, box.height)),
    ]
    return [
        (name, t.region)
        for t in screen.query(Toast)
        for name, r in protected
        if t.region.overlaps(r)
    ]


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40), (160, 48), (200, 50)])
async def test_toasts_leave_the_ladders_orders_and_marks_in_sight(
    engine: EngineProc, size: tuple[int, int]
) -> None:
    engine.flatten_all()
    engine.price("SBIN", "800.00")
    app = make_app(engine)
    async with app.run_test(size=size, notifications=True) as pilot:
        await attached(pilot, app)
        await fresh_tick(pilot, app, engine, SBIN)  # entries on a stale feed are refused
        # A working buy two ticks under the market (sent by another viewer: no question).
        answer = engine.command(
            p.PlaceEntry(
                id=0, key=SBIN, side="BUY", qty=Decimal(1), order_type="LIMIT", price=15998
            )
        )
        assert isinstance(answer, p.Ack), answer
        await pilot.press("b")  # a fill: a position, its entry, stop and target marks
        await wait_for(pilot, lambda: bool(app.store.open_positions()), 10)
        await wait_for(pilot, lambda: len(app.screen.query(Toast)) >= 2, 5)
        await wait_for(pilot, lambda: any("799.90" in r for r in _rows(app)), 5)
        await pilot.pause(0.5)
        rows = _rows(app)
        assert any("STOP" in r or "TGT" in r or "ENT" in r for r in rows), rows
        assert covered(app) == []
        # The toasts are still shown, whole, on the screen.
        screen = app.screen.region
        toasts = [t.region for t in app.screen.query(Toast)]
        assert any(screen.contains_region(r) for r in toasts), toasts
    engine.flatten_all()


def _rows(app: object) -> list[str]:
    lad = app.screen.ladder  # type: ignore[attr-defined]
    return [lad.text_of(y) for y in range(lad.rows + 1)]
