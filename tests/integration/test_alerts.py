"""Alerts held by the engine, against the paper exchange over real sockets: a price alert fires
exactly once; event alerts (a fill) fire per event; alerts survive a restart (journal); the
webhook worker POSTs each firing to a loopback HTTP server, retries a failing one and never
shows its token."""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal
from pathlib import Path

import pytest
from engine_stack import Stack

from cockpit.daemon.webhook import WebhookSender
from cockpit.link import protocol as p
from tests.servers.webhook_server import WebhookServer


def fired(stack: Stack) -> list[p.AlertFired]:
    return stack.rec.of(p.AlertFired)


def test_a_price_alert_fires_exactly_once(tmp_path: Path) -> None:
    stack = Stack(tmp_path, symbols=["SBIN"]).start()
    try:
        stack.price("SBIN", "800.00")
        key = stack.by_symbol["SBIN"].key
        answer = stack.command(p.AddAlert, kind="price", key=key, price=16040, note="breakout")
        assert isinstance(answer, p.Ack), answer
        assert "at or above 802.00" in answer.message
        stack.price("SBIN", "801.95")
        assert fired(stack) == []
        stack.price("SBIN", "802.05")  # crosses
        stack.rec.wait(lambda: len(fired(stack)) == 1, what="the alert fired")
        for price in ("801.00", "802.50", "803.00"):  # back and through again: no second one
            stack.price("SBIN", price)
        time.sleep(0.2)
        [alert] = fired(stack)
        assert alert.kind == "price"
        assert alert.key == key
        assert alert.text == "NSE:SBIN at 802.05 reached 802.00 (breakout)"
        assert stack.engine.alerts == {}
        removed = [e for e in stack.rec.of(p.AlertEvent) if e.removed]
        assert [e.alert.fired for e in removed] == [1]
        assert stack.journal.alerts() == []
        assert stack.journal.alerts(active_only=False)[0]["fired"] == 1
    finally:
        stack.stop()


def test_a_price_alert_below_fires_on_the_way_down_and_bad_ones_are_refused(
    tmp_path: Path,
) -> None:
    stack = Stack(tmp_path, symbols=["SBIN"]).start()
    try:
        stack.price("SBIN", "800.00")
        key = stack.by_symbol["SBIN"].key
        assert isinstance(stack.command(p.AddAlert, kind="price", key=key, price=15990), p.Ack)
        assert stack.command(p.AddAlert, kind="price", key=key, price=16000).rule == "invalid"
        assert stack.command(p.AddAlert, kind="price", key=key, price=-1).rule == "invalid"
        assert stack.command(p.AddAlert, kind="nope").rule == "invalid"
        assert stack.command(p.AddAlert, kind="price", key="NSE:NOPE", price=1).rule == (
            "unknown_symbol"
        )
        stack.price("SBIN", "799.55")
        assert fired(stack) == []
        stack.price("SBIN", "799.45")
        stack.rec.wait(lambda: len(fired(stack)) == 1, what="the alert fired")
        assert fired(stack)[0].text == "NSE:SBIN at 799.45 reached 799.50"
    finally:
        stack.stop()


def test_a_fill_alert_fires_on_every_fill_until_removed(tmp_path: Path) -> None:
    stack = Stack(tmp_path, symbols=["SBIN"]).start()
    try:
        stack.price("SBIN", "800.45")  # the ask, 800.50, is where a market buy fills
        key = stack.by_symbol["SBIN"].key
        answer = stack.command(p.AddAlert, kind="fill")
        assert isinstance(answer, p.Ack)
        alert_id = int(answer.message.split(":")[0].split()[1])
        none = p.PlanSpec(none=True)
        stack.command(p.PlaceEntry, key=key, side="BUY", qty=Decimal(1), plan=none)
        stack.wait_position("SBIN", 1)
        stack.rec.wait(lambda: len(fired(stack)) == 1, what="first fill alert")
        stack.command(p.PlaceEntry, key=key, side="BUY", qty=Decimal(1), plan=none)
        stack.wait_position("SBIN", 2)
        stack.rec.wait(lambda: len(fired(stack)) == 2, what="second fill alert")
        assert fired(stack)[0].title == "Fill: NSE:SBIN"
        # The price as the instrument writes it (it said "at 800.5").
        assert fired(stack)[0].text == "BUY 1 NSE:SBIN at 800.50"
        assert isinstance(stack.command(p.RemoveAlert, alert_id=alert_id), p.Ack)
        stack.command(p.PlaceEntry, key=key, side="BUY", qty=Decimal(1), plan=none)
        stack.wait_position("SBIN", 3)
        time.sleep(0.2)
        assert len(fired(stack)) == 2
    finally:
        stack.stop()


def test_a_crypto_fill_alert_writes_the_quantity_without_trailing_zeros(tmp_path: Path) -> None:
    stack = Stack(tmp_path, symbols=["BTCUSDT"]).start()
    try:
        stack.price("BTCUSDT", "97250.00")
        key = stack.by_symbol["BTCUSDT"].key
        assert isinstance(stack.command(p.AddAlert, kind="fill"), p.Ack)
        none = p.PlanSpec(none=True)
        stack.command(p.PlaceEntry, key=key, side="BUY", qty=Decimal("1.00000"), plan=none)
        stack.rec.wait(lambda: len(fired(stack)) == 1, what="the fill alert")
        assert fired(stack)[0].text.startswith(f"BUY 1 {key} at ")
    finally:
        stack.stop()


def test_a_restart_keeps_the_alerts(tmp_path: Path) -> None:
    stack = Stack(tmp_path, symbols=["SBIN"]).start()
    try:
        stack.price("SBIN", "800.00")
        key = stack.by_symbol["SBIN"].key
        stack.command(p.AddAlert, kind="price", key=key, price=16100)
        stack.command(p.AddAlert, kind="exit", key=key)
        done = stack.command(p.AddAlert, kind="price", key=key, price=15000)
        stack.command(p.RemoveAlert, alert_id=int(done.message.split(":")[0].split()[1]))
    finally:
        stack.stop()
    again = Stack(tmp_path, symbols=["SBIN"]).start()
    try:
        alerts = sorted(again.engine.alerts.values(), key=lambda a: a.id)
        assert [(a.id, a.kind, a.price, a.above) for a in alerts] == [
            (1, "price", 16100, True),
            (2, "exit", None, True),
        ]
        assert [a.id for a in again.engine.snapshot().alerts] == [1, 2]
        again.price("SBIN", "800.00")
        again.price("SBIN", "805.00")
        again.rec.wait(lambda: len(fired(again)) == 1, what="the restored alert fired")
        new = again.command(p.AddAlert, kind="feed")
        assert new.message.startswith("alert 4:")  # ids go on from the journal's
    finally:
        again.stop()


def test_the_webhook_receives_one_post_per_alert(tmp_path: Path) -> None:
    hook = WebhookServer().start()
    stack: Stack | None = None
    sender: WebhookSender | None = None
    try:
        stack = Stack(tmp_path, symbols=["SBIN"])
        sender = WebhookSender(hook.url("/hook"), stack.inbound.put, fmt="json", backoff_s=0.05)
        stack.engine.alert_sender = sender
        sender.start()
        stack.start()
        stack.price("SBIN", "800.00")
        key = stack.by_symbol["SBIN"].key
        stack.command(p.AddAlert, kind="price", key=key, price=16020)
        stack.price("SBIN", "801.00")
        stack.price("SBIN", "802.00")
        [post] = hook.wait(1)
        time.sleep(0.3)
        assert len(hook.posts) == 1
        assert post["path"] == "/hook"
        body = json.loads(post["body"])
        assert body["title"] == "Price alert: NSE:SBIN"
        assert body["text"] == "NSE:SBIN at 801.00 reached 801.00"
        assert body["kind"] == "price"
        assert body["key"] == key
        assert body["alert_id"] == 1
    finally:
        if sender is not None:
            sender.stop()
        if stack is not None:
            stack.stop()
        hook.stop()


def test_a_failing_webhook_is_retried_and_shown_without_its_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hook = WebhookServer(fail=2).start()
    stack: Stack | None = None
    sender: WebhookSender | None = None
    token = "bot123456:SECRET-token"
    try:
        stack = Stack(tmp_path, symbols=["SBIN"])
        url = hook.url(f"/{token}/sendMessage?chat_id=42")
        sender = WebhookSender(url, stack.inbound.put, fmt="telegram", backoff_s=0.05)
        stack.engine.alert_sender = sender
        sender.start()
        stack.start()
        stack.price("SBIN", "800.00")
        stack.command(p.AddAlert, kind="fill")
        stack.command(
            p.PlaceEntry,
            key=stack.by_symbol["SBIN"].key,
            side="BUY",
            qty=Decimal(1),
            plan=p.PlanSpec(none=True),
        )
        posts = hook.wait(3)
        assert [x["answered"] for x in posts] == [500, 500, 200]
        assert json.loads(posts[-1]["body"])["text"].startswith("Fill: NSE:SBIN\nBUY 1 NSE:SBIN")
        assert posts[-1]["path"] == f"/{token}/sendMessage?chat_id=42"
        stack.rec.wait(
            lambda: [a for a in stack.rec.of(p.Alarm) if a.code == "alert_webhook"][1:],
            what="two webhook alarms",
        )
        alarms = [a for a in stack.rec.of(p.Alarm) if a.code == "alert_webhook"]
        assert len(alarms) == 2
        assert "HTTP 500 from http://127.0.0.1" in alarms[0].message
        assert "retrying" in alarms[0].message
        shown = " ".join(a.message for a in alarms) + caplog.text
        assert "SECRET" not in shown
        assert "sendMessage" not in shown
        stack.poll(lambda: sender.delivered == 1, what="delivered once")
    finally:
        if sender is not None:
            sender.stop()
        if stack is not None:
            stack.stop()
        hook.stop()


def test_a_webhook_that_never_answers_gives_up_and_says_so(tmp_path: Path) -> None:
    reports: list[object] = []
    sender = WebhookSender(
        "http://127.0.0.1:9/hook-secret", reports.append, retries=1, backoff_s=0.01
    )
    sender.start()
    try:
        sender.send(p.AlertFired(1, 7, "lock", "Daily loss lock", "entries refused", 0))
        deadline = time.monotonic() + 10
        while len(reports) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sender.stop()
    assert [(r.alert_id, r.attempt, r.retry_in_s is None) for r in reports] == [  # type: ignore[attr-defined]
        (7, 1, False),
        (7, 2, True),
    ]
    assert all("secret" not in r.error for r in reports)  # type: ignore[attr-defined]


def test_exit_pnl_feed_and_lock_alerts_fire_on_their_events(tmp_path: Path) -> None:
    stack = Stack(tmp_path, symbols=["SBIN"], settings={"risk": {"max_daily_loss": "20"}}).start()
    try:
        stack.price("SBIN", "800.00")
        key = stack.by_symbol["SBIN"].key
        for kind in ("exit", "feed", "lock"):
            assert isinstance(stack.command(p.AddAlert, kind=kind), p.Ack)
        assert isinstance(stack.command(p.AddAlert, kind="pnl", amount=Decimal("-5")), p.Ack)
        assert stack.command(p.AddAlert, kind="pnl", amount=Decimal("-5"), repeat=True).rule == (
            "invalid"
        )
        stack.command(
            p.PlaceEntry, key=key, side="BUY", qty=Decimal(10), plan=p.PlanSpec(stop_ticks=4)
        )
        stack.wait_position("SBIN", 10)
        stack.price("SBIN", "799.00")  # through the stop: an exit; day P&L about -10
        stack.wait_position("SBIN", 0)
        stack.rec.wait(
            lambda: {a.kind for a in fired(stack)} >= {"exit", "pnl"}, what="exit and P&L alerts"
        )
        exit_alert = next(a for a in fired(stack) if a.kind == "exit")
        assert exit_alert.title == "Exit fired: NSE:SBIN"
        assert exit_alert.text.startswith("stop at ")
        pnl = next(a for a in fired(stack) if a.kind == "pnl")
        assert pnl.text.startswith("day P&L -")
        # Lose past the limit: the daily-loss lock.
        stack.price("SBIN", "800.00")
        stack.command(
            p.PlaceEntry, key=key, side="BUY", qty=Decimal(10), plan=p.PlanSpec(none=True)
        )
        stack.wait_position("SBIN", 10)
        stack.price("SBIN", "798.00")
        stack.rec.wait(lambda: any(a.kind == "lock" for a in fired(stack)), what="lock alert")
        assert [a.title for a in fired(stack) if a.kind == "lock"] == ["Daily loss lock"]
        # The feed drops: one alert for the outage (not one per reconnect attempt).
        assert stack.sim.drop_ws() >= 1
        stack.rec.wait(lambda: any(a.kind == "feed" for a in fired(stack)), what="feed alert")
        stack.rec.wait(
            lambda: stack.rec.of(p.FeedEvent)[-1].status.state.value == "live", 10, "live again"
        )
        assert len([a for a in fired(stack) if a.kind == "feed"]) == 1
        assert len([a for a in fired(stack) if a.kind == "exit"]) == 1
        assert {a.kind for a in stack.engine.alerts.values()} == {"exit", "feed", "lock"}
    finally:
        stack.stop()
