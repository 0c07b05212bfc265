"""Alerts reach the trader: `A` sets a price alert at the ladder cursor in the real engine
process; when the paper market reaches it, the attached screen rings the bell, sends the
desktop notification escape sequences and shows it, and the engine POSTs it once to the
webhook configured in its settings (a loopback HTTP server)."""

from __future__ import annotations

import json

from cockpit.ui.alerts import notification, passthrough
from tests.servers.webhook_server import WebhookServer
from tests.ui.conftest import screen_text, wait_for
from tests.ui.test_engine_pilot import SBIN, attached, make_app, running_engine


async def test_an_alert_set_at_the_cursor_rings_shows_and_reaches_the_webhook() -> None:
    hook = WebhookServer().start()
    try:
        with running_engine(
            COCKPIT_ALERTS__WEBHOOK_URL=hook.url("/my-private-topic"),
            COCKPIT_ALERTS__WEBHOOK_FORMAT="json",
        ) as engine:
            app = make_app(engine)
            async with app.run_test(size=(160, 48)) as pilot:
                await attached(pilot, app)
                assert app.selected == SBIN
                engine.price("SBIN", "800.00")
                await wait_for(pilot, lambda: app.screen.ladder.cursor is not None, 10)
                await pilot.press("up", "up", "up", "up", "A")  # 4 ticks over 800.00
                await wait_for(pilot, lambda: len(app.store.alerts) == 1, 10)
                [alert] = app.store.alerts.values()
                assert (alert.kind, alert.key, alert.price, alert.above) == (
                    "price",
                    SBIN,
                    16004,
                    True,
                )
                await pilot.press("exclamation_mark")
                await screen_text(
                    pilot,
                    app,
                    "AlertsScreen",
                    lambda: "\n".join(app.screen.lines()),
                    "NSE:SBIN at or above 800.20",
                )
                assert app.screen.lines() == [f"#{alert.id:<4} NSE:SBIN at or above 800.20"]
                # Typed words add one; d removes the highlighted one.
                await pilot.press("n", *"pnl -5000 -- stop for the day", "enter")
                await wait_for(pilot, lambda: len(app.screen.lines()) == 2, 10)
                assert app.screen.lines()[1].endswith(
                    "day P&L at or below -5,000.00 — stop for the day"
                )
                await pilot.press("n", *"price NSE:SBIN 800.01", "enter")  # off the tick
                await pilot.pause(0.3)
                assert len(app.screen.lines()) == 2
                assert any("not on NSE:SBIN's tick" in n.message for n in app._notifications)
                await pilot.press(
                    "shift+tab", "down", "d"
                )  # the text stays to fix; back to the list
                await wait_for(pilot, lambda: len(app.screen.lines()) == 1, 10)
                await pilot.press("escape")

                engine.price("SBIN", "800.10")
                await pilot.pause(0.3)
                assert app._notifier.written == []
                engine.price("SBIN", "800.25")
                await wait_for(pilot, lambda: app._notifier.written, 10)
                [seq] = app._notifier.written
                assert seq.startswith("\x07")
                assert "\x1b]9;Price alert: NSE:SBIN: NSE:SBIN at 800.25 reached 800.20\x07" in seq
                assert "\x1b]777;notify;Price alert: NSE:SBIN;" in seq
                assert app.store.alerts == {}
                shown = [n.message for n in app._notifications]
                assert "NSE:SBIN at 800.25 reached 800.20" in shown
                engine.price("SBIN", "800.00")
                engine.price("SBIN", "800.30")
                await pilot.pause(0.5)
                assert len(app._notifier.written) == 1  # once
            [post] = hook.wait(1)
            assert json.loads(post["body"])["text"] == "NSE:SBIN at 800.25 reached 800.20"
            assert "my-private-topic" not in engine.log_text()
    finally:
        hook.stop()
    assert len(hook.posts) == 1


def test_inside_tmux_the_notification_goes_through_passthrough() -> None:
    plain = notification("Exit fired: NSE:SBIN", "stop at 799.70", tmux=False)
    assert plain == (
        "\x07\x1b]9;Exit fired: NSE:SBIN: stop at 799.70\x07"
        "\x1b]777;notify;Exit fired: NSE:SBIN;stop at 799.70\x07"
    )
    wrapped = notification("Exit fired: NSE:SBIN", "stop at 799.70", tmux=True)
    assert wrapped.startswith("\x07\x1bPtmux;\x1b\x1b]9;Exit fired")
    assert wrapped.endswith("\x1b\\")
    assert passthrough("\x1b]9;x\x07") == "\x1bPtmux;\x1b\x1b]9;x\x07\x1b\\"
    # Control characters in a title or text cannot end the sequence early.
    hostile = notification("a\x07b", "c\x1b]d;e", tmux=False)
    assert hostile.count("\x07") == 3
    assert hostile.count("\x1b") == 2
