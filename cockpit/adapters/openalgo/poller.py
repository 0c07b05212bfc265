"""Order updates for brokers that push none: poll OpenAlgo's REST ``/orderbook`` and diff it.

Many OpenAlgo brokers publish no ``order_update`` on the WebSocket. :class:`OrderBookPoller`
polls ``POST {host}/api/v1/orderbook`` on its own thread and emits an
:class:`~cockpit.domain.feed.OrderUpdate` (``source=polled``) for every order that is new
or whose status, fills, prices or quantities changed since the previous poll. Rows without
fill fields (OpenAlgo's live Zerodha rows carry no ``filled_quantity`` or ``average_price``)
take them from ``/tradebook``, read in the same poll, so a partial fill is seen too. Numbers are
parsed leniently (live brokers send strings); a bad row is counted and skipped. A refused
key (HTTP 401/403) stops polling with FeedStatus DOWN; other failures back off. Requests go
out as the router's do (:mod:`cockpit.adapters.openalgo.transport`, answers read by
:func:`cockpit.adapters.openalgo.rest.interpret`).
"""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal
from typing import Any

import msgspec

from cockpit.adapters.openalgo import transport
from cockpit.adapters.openalgo.rest import HttpError, api_root, interpret
from cockpit.adapters.openalgo.rows import (
    BadRow,
    lacks_fills,
    row_to_update,
    trade_totals,
    with_trades,
)
from cockpit.adapters.ws import Backoff
from cockpit.domain.execution import AUTH, RATE_LIMITED, TRANSPORT
from cockpit.domain.feed import FeedState, FeedStatus, OrderUpdate, Sink

_ZERO = Decimal(0)


def _signature(u: OrderUpdate) -> tuple[object, ...]:
    return (
        u.status,
        u.filled_qty,
        u.pending_qty,
        u.average_price,
        u.quantity,
        u.price,
        u.trigger_price,
        u.rejection_reason,
    )


class OrderBookPoller:
    """Polls ``/orderbook`` and emits order updates for what changed."""

    name = "openalgo-orders"

    def __init__(
        self,
        host: str,
        api_key: str,
        sink: Sink,
        *,
        interval_s: float = 1.0,
        backoff: Backoff | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        """Create a stopped poller.

        Args:
            host: the OpenAlgo REST base URL (``http://127.0.0.1:5000``).
            api_key: the key (sent in the body, never logged).
            sink: receives OrderUpdate and FeedStatus.
            interval_s: time between polls.
            backoff: delays after failures.
            timeout_s: per-request timeout.
        """
        self._http = transport.HttpxTransport(api_root(host), timeout_s, 1)
        self._body = msgspec.json.encode({"apikey": api_key})
        self._sink = sink
        self._interval = interval_s
        self._backoff = backoff or Backoff(initial=1.0, cap=30.0)
        self._seen: dict[str, tuple[object, ...]] = {}
        self._done: set[str] = set()
        """Orders seen complete with their price: the trade book has nothing more for them."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = FeedState.DOWN
        self.polls = 0
        self.trade_polls = 0
        self.failures = 0
        self.updates = 0
        self.bad_rows = 0

    @property
    def state(self) -> FeedState:
        """LIVE while polls succeed."""
        return self._state

    def poll_once(self) -> list[OrderUpdate]:
        """One poll: fetch, diff, return (not emit) the changed orders.

        Raises:
            HttpError: no answer, or an error status.
        """
        body = self._post("orderbook")
        recv_ns = time.time_ns()
        self.polls += 1
        data = body.get("data") if isinstance(body, dict) else None
        rows = data.get("orders") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            rows = []
        totals = self._trades_if_needed(rows)
        changed: list[OrderUpdate] = []
        for row in rows:
            try:
                u = row_to_update(row, recv_ns)
            except BadRow:
                self.bad_rows += 1
                continue
            if totals is not None:
                u = with_trades(u, totals)
            sig = _signature(u)
            if u.status == "complete" and u.average_price > 0:
                self._done.add(u.orderid)
            if self._seen.get(u.orderid) != sig:
                self._seen[u.orderid] = sig
                changed.append(u)
        return changed

    def _trades_if_needed(self, rows: list[Any]) -> dict[str, tuple[Decimal, Decimal]] | None:
        """The trade book's fills per order when a row that may have filled carries no fill
        fields (OpenAlgo's live Zerodha rows: a partial fill shows only in the trade book);
        None when every row says its own fills.

        Raises:
            HttpError: the trade book could not be read (the poll fails and backs off).
        """
        needed = False
        for row in rows:
            if not lacks_fills(row):
                continue
            status = str(row.get("order_status", "")).lower()
            orderid = str(row.get("orderid", ""))
            if status == "open" or (status == "complete" and orderid not in self._done):
                needed = True
                break
        if not needed:
            return None
        body = self._post("tradebook")
        self.trade_polls += 1
        totals, bad = trade_totals(body.get("data") if isinstance(body, dict) else None)
        self.bad_rows += bad
        return totals

    def _post(self, path: str) -> Any:
        try:
            return interpret(*self._http.post(path, self._body))
        except transport.SendError as exc:
            raise HttpError(TRANSPORT, str(exc)) from None

    def start(self) -> None:
        """Start polling on a daemon thread."""
        if self._thread is None:
            self._status(FeedState.CONNECTING)
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop polling (bounded join) and close the connection."""
        self._stop.set()
        ok = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            ok = not self._thread.is_alive()
        if ok:
            self._http.close()
        return ok

    def _status(self, state: FeedState, reason: str = "", **kw: Any) -> None:
        if state == self._state and state == FeedState.LIVE:
            return
        self._state = state
        self._sink(
            FeedStatus(feed=self.name, state=state, ts_ns=time.time_ns(), reason=reason, **kw)
        )

    def _run(self) -> None:
        attempt = 0
        rng = random.Random()
        while not self._stop.is_set():
            try:
                for u in self.poll_once():
                    self._sink(u)
                    self.updates += 1
            except HttpError as exc:
                self.failures += 1
                if exc.code == AUTH:
                    self._status(FeedState.DOWN, f"order book refused: {exc}")
                    return
                attempt += 1
                delay = self._backoff.delay(attempt, rng)
                if exc.code == RATE_LIMITED:
                    delay = max(delay, min(60.0, _seconds(exc.retry_after)))
                self._status(
                    FeedState.RECONNECTING,
                    f"order book poll failed: {exc}",
                    attempt=attempt,
                    next_retry_s=delay,
                )
                self._stop.wait(delay)
                continue
            attempt = 0
            self._status(FeedState.LIVE)
            self._stop.wait(self._interval)
        self._status(FeedState.DOWN, "stopped")


def _seconds(retry_after: Any) -> float:
    try:
        return float(retry_after or 0)
    except (TypeError, ValueError):
        return 0.0
