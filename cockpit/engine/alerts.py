"""Alerts held by the engine: a price reached, the day's P&L reached, a fill, an exit, a feed
going stale or down, the daily-loss lock.

Alerts live here, not in a viewer: they are journaled when added, changed and fired, restored
after a restart, and fire whether or not a screen is attached. A price or P&L alert fires
once and is then done; an event alert (fill, exit, feed, lock) fires once per event until it
is removed (or once, with ``repeat`` off). A firing is journaled, then sent to every viewer
(:class:`~cockpit.link.protocol.AlertFired`: the screen rings and shows a desktop
notification) and handed to the :class:`~cockpit.engine.ports.AlertSender` (the daemon's
webhook worker), which only queues it: nothing here waits on the network. The sender reports
each delivery that failed as an :class:`AlertDelivery` on the inbound queue; the engine shows
it as an ``alert_webhook`` alarm.

Cost on the tick path: one dict membership test per tick (``key in _price_alerts``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

import msgspec

from cockpit.domain.feed import FeedState, FeedStatus
from cockpit.domain.positions import money_text
from cockpit.engine.base import EngineBase
from cockpit.engine.ports import AlertSender
from cockpit.link import protocol
from cockpit.link.lists import alert_words

log = logging.getLogger(__name__)

PRICE: Final = "price"
PNL: Final = "pnl"
EVENT_KINDS: Final = frozenset({"fill", "exit", "feed", "lock"})
KINDS: Final = frozenset({PRICE, PNL}) | EVENT_KINDS
MAX_ALERTS: Final = 1000
"""Active alerts at most (a typo loop in a script must not grow the engine without end)."""
MAX_NOTE: Final = 200
_DOWN: Final = frozenset({FeedState.STALE, FeedState.RECONNECTING, FeedState.DOWN})


@dataclass(frozen=True, slots=True)
class AlertDelivery:
    """The webhook worker's report of a delivery that failed (put on the inbound queue).

    ``error`` never holds the webhook's URL (it may carry a token).
    """

    alert_id: int
    attempt: int
    error: str
    retry_in_s: float | None
    """Seconds until the next try; None: given up."""


class AlertKeeping(EngineBase):
    """Alerts (a part of :class:`~cockpit.engine.core.Engine`)."""

    alerts: dict[int, protocol.AlertView]
    """Active alerts by id."""
    alert_sender: AlertSender | None
    _price_alerts: dict[str, list[int]]
    """Active price alerts per symbol (the tick path tests membership only)."""
    _alert_id: int

    def _init_alerts(self, sender: AlertSender | None) -> None:
        self.alerts = {}
        self.alert_sender = sender
        self._price_alerts = {}
        self._alert_id = 0

    def _restore_alerts(self) -> None:
        """(Start) the active alerts as last journaled."""
        if self.journal is None:
            return
        try:
            self._alert_id = self.journal.last_alert_id()
            states = self.journal.alerts()
        except Exception as exc:
            self._alarm("error", f"cannot restore alerts: {exc}", code="journal")
            return
        for state in states:
            try:
                alert = msgspec.convert(state, protocol.AlertView)
            except msgspec.ValidationError as exc:
                self._alarm("warning", f"cannot restore an alert: {exc}", code="alert")
                continue
            self._keep_alert(alert)

    # ------------------------------------------------------------------ commands

    def _cmd_AddAlert(self, conn_id: int, cmd: protocol.AddAlert) -> protocol.Msg:  # noqa: N802
        kind = cmd.kind.strip().lower()
        if kind not in KINDS:
            return protocol.Refused(
                cmd.id, "invalid", f"alert kind {cmd.kind!r}: one of {', '.join(sorted(KINDS))}"
            )
        if len(self.alerts) >= MAX_ALERTS:
            return protocol.Refused(cmd.id, "too_many", f"at most {MAX_ALERTS} active alerts")
        if cmd.key is not None and cmd.key not in self.instruments:
            return protocol.Refused(cmd.id, "unknown_symbol", f"{cmd.key} is not a known symbol")
        repeat = kind in EVENT_KINDS if cmd.repeat is None else cmd.repeat
        above = True
        if kind == PRICE:
            if cmd.key is None or cmd.price is None:
                return protocol.Refused(cmd.id, "invalid", "a price alert needs a symbol and price")
            if cmd.price <= 0:
                return protocol.Refused(cmd.id, "invalid", "the alert price must be positive")
            ltp = self._syms[cmd.key].ltp
            if ltp is None:
                return protocol.Refused(cmd.id, "stale", f"{cmd.key}: no price yet")
            if cmd.price == ltp:
                return protocol.Refused(cmd.id, "invalid", f"{cmd.key} is at that price now")
            above = cmd.price > ltp
        elif kind == PNL:
            amount = cmd.amount
            try:
                if amount is None or not amount.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                return protocol.Refused(cmd.id, "invalid", "a P&L alert needs a finite amount")
            pnls = self._day_pnls()
            if len(pnls) > 1:
                above = amount > 0  # in each currency apart: a gain above, a loss below
            else:
                now_pnl = sum(pnls.values(), Decimal(0))
                if amount == now_pnl:
                    return protocol.Refused(
                        cmd.id, "invalid", f"the day P&L is {money_text(now_pnl)} now"
                    )
                above = amount > now_pnl
        if repeat and kind not in EVENT_KINDS:
            return protocol.Refused(cmd.id, "invalid", f"a {kind} alert fires once")
        self._alert_id += 1
        alert = protocol.AlertView(
            id=self._alert_id,
            kind=kind,
            created_ns=self.clock(),
            key=cmd.key,
            price=cmd.price if kind == PRICE else None,
            amount=cmd.amount if kind == PNL else None,
            above=above,
            repeat=repeat,
            note=cmd.note[:MAX_NOTE],
        )
        self._journal_alert(alert)
        self._keep_alert(alert)
        self.publisher.event(protocol.AlertEvent(self._next_seq(), alert))
        words = alert_words(alert, lambda key, price: self.instruments[key].format_price(price))
        return protocol.Ack(cmd.id, f"alert {alert.id}: {words}")

    def _cmd_RemoveAlert(self, conn_id: int, cmd: protocol.RemoveAlert) -> protocol.Msg:  # noqa: N802
        if cmd.alert_id is None:
            ids = list(self.alerts)
        elif cmd.alert_id in self.alerts:
            ids = [cmd.alert_id]
        else:
            return protocol.Refused(cmd.id, "unknown_alert", f"no active alert {cmd.alert_id}")
        for alert_id in ids:
            alert = msgspec.structs.replace(self.alerts[alert_id], active=False)
            self._journal_alert(alert)
            self._drop_alert(alert_id)
            self.publisher.event(protocol.AlertEvent(self._next_seq(), alert, removed=True))
        return protocol.Ack(cmd.id, f"{len(ids)} alert(s) removed")

    # ------------------------------------------------------------------ triggers

    def _alert_price(self, key: str, price: int) -> None:
        """(Tick) the price alerts of ``key`` that ``price`` reaches."""
        for alert_id in list(self._price_alerts.get(key, ())):
            alert = self.alerts[alert_id]
            level = alert.price
            assert level is not None
            if (price >= level) if alert.above else (price <= level):
                fmt = self.instruments[key].format_price
                self._fire_alert(
                    alert,
                    f"Price alert: {key}",
                    f"{key} at {fmt(price)} reached {fmt(level)}" + _note(alert),
                )

    def _alerts_on_timer(self) -> None:
        """(Timer) P&L alerts."""
        pnl_alerts = [a for a in self.alerts.values() if a.kind == PNL]
        if not pnl_alerts:
            return
        pnls = self._day_pnls() or {"": Decimal(0)}
        several = len(pnls) > 1  # each currency apart, named; never their sum
        for alert in pnl_alerts:
            amount = alert.amount
            assert amount is not None
            for currency, day_pnl in pnls.items():
                if (day_pnl >= amount) if alert.above else (day_pnl <= amount):
                    unit = f"{currency or '?'} " if several else ""
                    text = f"day P&L {unit}{money_text(day_pnl)} reached {money_text(amount)}"
                    self._fire_alert(alert, "P&L alert", text + _note(alert))
                    break

    def _alert_event(self, kind: str, key: str | None, title: str, text: str) -> None:
        """An event happened (``fill``, ``exit``, ``feed``, ``lock``): its alerts fire."""
        for alert in list(self.alerts.values()):
            if alert.kind == kind and (alert.key is None or alert.key == key):
                self._fire_alert(alert, title, text + _note(alert))

    def _alert_feed(self, status: FeedStatus, previous: FeedStatus | None) -> None:
        """A feed went stale or down (once per outage, not once per reconnect attempt)."""
        if status.state not in _DOWN:
            return
        was = previous.state if previous is not None else None
        if was == FeedState.LIVE or (status.state is FeedState.DOWN and was != FeedState.DOWN):
            why = f": {status.reason}" if status.reason else ""
            self._alert_event(
                "feed", None, f"Feed {status.state}: {status.feed}", f"{status.feed}{why}"
            )

    def _fire_alert(self, alert: protocol.AlertView, title: str, text: str) -> None:
        now = self.clock()
        fired = msgspec.structs.replace(
            alert, fired_ns=now, fired=alert.fired + 1, active=alert.repeat
        )
        self._journal_alert(fired)
        if fired.active:
            self.alerts[fired.id] = fired
        else:
            self._drop_alert(fired.id)
        notice = protocol.AlertFired(
            self._next_seq(), fired.id, fired.kind, title, text, now, fired.key
        )
        log.info("alert %d fired: %s: %s", fired.id, title, text)
        self.publisher.event(protocol.AlertEvent(self._next_seq(), fired, removed=not fired.active))
        self.publisher.event(notice)
        if self.alert_sender is not None:
            try:
                self.alert_sender.send(notice)
            except Exception as exc:  # noqa: BLE001 - a sender never stops the engine
                self._alarm("warning", f"alert webhook: {exc}", code="alert_webhook")

    def _on_alert_delivery(self, report: AlertDelivery) -> None:
        then = (
            f"retrying in {report.retry_in_s:g} s" if report.retry_in_s is not None else "given up"
        )
        self._alarm(
            "warning" if report.retry_in_s is not None else "error",
            f"alert {report.alert_id}: webhook failed (attempt {report.attempt}: "
            f"{report.error}); {then}",
            code="alert_webhook",
        )

    # ------------------------------------------------------------------ helpers

    def _keep_alert(self, alert: protocol.AlertView) -> None:
        self.alerts[alert.id] = alert
        if alert.kind == PRICE and alert.key is not None:
            self._price_alerts.setdefault(alert.key, []).append(alert.id)

    def _drop_alert(self, alert_id: int) -> None:
        alert = self.alerts.pop(alert_id, None)
        if alert is None or alert.key is None:
            return
        ids = self._price_alerts.get(alert.key)
        if ids is not None and alert_id in ids:
            ids.remove(alert_id)
            if not ids:
                del self._price_alerts[alert.key]

    def _journal_alert(self, alert: protocol.AlertView) -> None:
        if self.journal is not None:
            self._journal_call(self.journal.alert, alert)


def _note(alert: protocol.AlertView) -> str:
    return f" ({alert.note})" if alert.note else ""
