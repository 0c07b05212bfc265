"""Toasts never cover a dialog's words or buttons, even a dialog as tall as the screen (the
order ticket at 160×48, found in a trader's trial). The real app on a real engine."""

from __future__ import annotations

from decimal import Decimal

import pytest
from textual.widgets._toast import Toast

from cockpit.link import protocol as p
from tests.ui.conftest import showing, wait_for
from tests.ui.test_engine_pilot import SBIN, EngineProc, attached, make_app


@pytest.mark.parametrize("size", [(160, 48), (80, 24)])
async def test_no_toast_covers_the_order_ticket(engine: EngineProc, size: tuple[int, int]) -> None:
    engine.flatten_all()
    engine.price("SBIN", "800.00")
    app = make_app(engine)
    async with app.run_test(size=size, notifications=True) as pilot:
        await attached(pilot, app)
        await pilot.press("n")
        await wait_for(pilot, lambda: showing(app, "OrderTicket"), 10)
        ticket = app.screen
        # An order sent from elsewhere (another viewer) fills while the ticket is open: its
        # toasts come up over the ticket.
        engine.price("SBIN", "800.00")
        answer = engine.command(p.PlaceEntry(id=0, key=SBIN, side="BUY", qty=Decimal(1)))
        assert isinstance(answer, p.Ack), answer
        await wait_for(pilot, lambda: bool(app.store.open_positions()), 10)
        await wait_for(pilot, lambda: bool(ticket.query(Toast)), 5)
        await pilot.pause(0.5)
        dialog = ticket.query_one("#dialog").region
        screen = ticket.region
        toasts = [t.region for t in ticket.query(Toast)]
        shown = [r.intersection(screen) for r in toasts if r.intersection(screen).area]
        assert [r for r in shown if r.overlaps(dialog)] == [], (dialog, shown)
        if size == (160, 48):  # room beside the ticket: the toasts show there, whole
            assert shown
            assert all(screen.contains_region(r) for r in toasts), toasts
        await pilot.press("escape")
    engine.flatten_all()
