"""A fill or exit alert rings the bell and notifies, but the screen already shows the fill or
the exit as its own notice: the log and the toasts show it once, not twice in the same words
(a trader reading two identical "Fill:" lines asks whether he was filled twice)."""

from __future__ import annotations

from decimal import Decimal

from cockpit.link import protocol as p
from cockpit.ui.store import Store
from tests.ui import scenario as sc


def test_a_fill_alert_does_not_repeat_the_fill_notice_but_still_rings() -> None:
    store = Store()
    store.apply(sc.snapshot())
    fill = p.FillView("c1", "NSE:SBIN", "BUY", Decimal(1), Decimal("800.05"), sc.T0)
    store.apply(p.FillEvent(seq=2, fill=fill))
    store.apply(
        p.AlertFired(3, 2, "fill", "Fill: NSE:SBIN", "BUY 1 NSE:SBIN at 800.05", sc.T0, "NSE:SBIN")
    )
    notices = [(n.title, n.message) for n in store.drain_notices()]
    assert notices == [("Fill: NSE:SBIN", "BUY 1 NSE:SBIN at 800.05")]
    assert [f.alert_id for f in store.fired] == [2]  # the bell and the notification


def test_a_price_alert_is_shown_as_a_notice() -> None:
    store = Store()
    store.apply(sc.snapshot())
    store.apply(p.AlertFired(2, 1, "price", "Price alert", "NSE:SBIN at 802.50", sc.T0))
    assert [n.title for n in store.drain_notices()] == ["Price alert"]


def test_a_fill_alert_with_a_note_shows_it() -> None:
    """The note is the trader's own words ("size down"): only the alert's toast carries it."""
    store = Store()
    store.apply(sc.snapshot())
    alert = p.AlertView(2, "fill", sc.T0, note="size down", fired=1, active=True, repeat=True)
    store.apply(p.AlertEvent(seq=2, alert=alert))
    store.apply(
        p.AlertFired(3, 2, "fill", "Fill: NSE:SBIN", "BUY 1 NSE:SBIN at 800.05 (size down)", sc.T0)
    )
    assert [n.message for n in store.drain_notices()] == ["BUY 1 NSE:SBIN at 800.05 (size down)"]
