"""The alert webhook: fired alerts POSTed to a URL (ntfy, a Telegram bot...) from the engine.

One worker thread of its own: :meth:`WebhookSender.send` (called on the decision thread) only
queues, so a slow or dead webhook never holds an exit back. A failed delivery is retried with
a growing pause (1, 2, 4... s, at most 60 s) up to ``retries`` times; each failure is reported
on the engine's inbound queue as an :class:`~cockpit.engine.alerts.AlertDelivery`, which the
engine shows as an ``alert_webhook`` alarm.

The URL may carry a token (Telegram's ``bot<TOKEN>``, a private ntfy topic): it is never
logged or reported; errors name the host only.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from cockpit.engine.alerts import AlertDelivery
from cockpit.link.protocol import AlertFired

log = logging.getLogger(__name__)

QUEUE_MAX: Final = 1000
"""Alerts waiting for the webhook at most (past that the oldest are dropped, and said so)."""
MAX_BACKOFF_S: Final = 60.0


def redact(url: str) -> str:
    """The URL without its path, query and credentials (``https://api.telegram.org/…``)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<webhook>"
    return f"{parts.scheme}://{host}{port}/…"


class WebhookSender:
    """An :class:`~cockpit.engine.ports.AlertSender` that POSTs each alert to ``url``."""

    def __init__(
        self,
        url: str,
        report: Callable[[object], None],
        *,
        fmt: str = "text",
        retries: int = 5,
        timeout_s: float = 5.0,
        backoff_s: float = 1.0,
    ) -> None:
        self._url = url
        self.where = redact(url)
        """The webhook as it may be shown (no path, no token)."""
        self._report = report
        self._fmt = fmt
        self._retries = retries
        self._timeout_s = timeout_s
        self._backoff_s = backoff_s
        self._queue: queue.Queue[AlertFired] = queue.Queue(QUEUE_MAX)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.failed = 0
        # httpx logs every request's URL at INFO: never the webhook's.
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.root.level))

    # -- AlertSender -----------------------------------------------------------------------

    def send(self, notice: Any) -> None:
        """Queue an alert for the webhook; never blocks."""
        try:
            self._queue.put_nowait(notice)
        except queue.Full:
            try:
                dropped = self._queue.get_nowait()
                self._queue.put_nowait(notice)
            except (queue.Empty, queue.Full):
                return
            self._report(
                AlertDelivery(dropped.alert_id, 0, "too many alerts waiting: dropped", None)
            )

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)
        self._thread.start()
        log.info("alerts: webhook %s (%s)", self.where, self._fmt)

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout_s, trust_env=False) as client:
            while not self._stop.is_set():
                try:
                    notice = self._queue.get(timeout=0.2)
                except queue.Empty:
                    continue
                self._deliver(client, notice)

    def _deliver(self, client: httpx.Client, notice: AlertFired) -> None:
        pause = self._backoff_s
        for attempt in range(1, self._retries + 2):
            error = self._post(client, notice)
            if error is None:
                self.delivered += 1
                return
            last = attempt > self._retries
            log.warning(
                "alert %d: webhook %s failed (attempt %d): %s",
                notice.alert_id,
                self.where,
                attempt,
                error,
            )
            self._report(AlertDelivery(notice.alert_id, attempt, error, None if last else pause))
            if last or self._stop.wait(pause):
                self.failed += 1
                return
            pause = min(pause * 2, MAX_BACKOFF_S)

    def _post(self, client: httpx.Client, notice: AlertFired) -> str | None:
        """One POST; None when the webhook took it, else what went wrong (no URL in it)."""
        try:
            reply = client.post(self._url, **self._body(notice))
        except Exception as exc:  # noqa: BLE001 - transport, a bad URL...: reported, not raised
            return f"{type(exc).__name__} at {self.where}"
        if reply.is_success:
            return None
        return f"HTTP {reply.status_code} from {self.where}"

    def _body(self, notice: AlertFired) -> dict[str, Any]:
        if self._fmt == "json":
            return {
                "json": {
                    "title": notice.title,
                    "text": notice.text,
                    "kind": notice.kind,
                    "key": notice.key,
                    "alert_id": notice.alert_id,
                    "ts_ns": notice.ts_ns,
                }
            }
        if self._fmt == "telegram":
            return {"json": {"text": f"{notice.title}\n{notice.text}"}}
        title = notice.title.encode("ascii", "replace").decode()
        return {
            "content": notice.text.encode(),
            "headers": {"Title": title, "Content-Type": "text/plain; charset=utf-8"},
        }
