"""One request on the wire, as a router worker sends it: classified, retried only where safe,
and a placement whose answer was lost looked for in the orderbook, never sent again (the rules
are in :mod:`cockpit.adapters.openalgo.broker`'s docstring; mixed into its router)."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cockpit.adapters.openalgo import transport
from cockpit.adapters.openalgo.pacing import Pacing
from cockpit.adapters.openalgo.rest import (
    HttpError,
    find_in_orderbook,
    interpret,
    path_of,
    request_call,
    result_of,
    typed,
)
from cockpit.adapters.openalgo.rows import lacks_fills, trade_totals, with_trades
from cockpit.domain.execution import (
    DROPPED,
    OK,
    PENDING_APPROVAL,
    RATE_LIMITED,
    REJECTED,
    SERVER_ERROR,
    STOPPED,
    TIMEOUT,
    TRANSPORT,
    UNCERTAIN,
    ModifyOrder,
    PlaceOrder,
    QueryBook,
    RouterRequest,
    RouterResult,
)

log = logging.getLogger(__name__)


class RouterCalls:
    """A worker's calls (part of :class:`~cockpit.adapters.openalgo.broker.OpenAlgoRouter`,
    whose ``__init__`` sets this state)."""

    _strategy: str
    _timeout: float
    _pacing: Pacing
    _stop: threading.Event
    _connect_retries: int
    _uncertain_checks: int
    _backoff: float
    _local: threading.local
    """Each worker's own connection (``client``)."""
    _known_ids: set[str]
    """Venue ids of the placements this router made (never taken for a lost one)."""
    _ids_lock: threading.Lock
    before_order: Callable[[], object] | None
    counters: dict[str, int]

    if TYPE_CHECKING:

        def _encode(self, body: dict[str, Any]) -> bytes: ...
        def _dropped_meanwhile(self, request: RouterRequest) -> bool: ...

    def _handle(self, request: RouterRequest, attempts: int = 0) -> RouterResult:
        call = request_call(request, self._strategy)
        if call is None:
            return RouterResult(request, False, REJECTED, f"no OpenAlgo endpoint for {request!r}")
        path, body, retry_uncertain = call
        if type(request) is ModifyOrder and self.before_order is not None:
            self.before_order()
        result = self._call(request, path, body, retry_uncertain=retry_uncertain, tried=attempts)
        if path == "orderbook" and result.ok:
            return self._orderbook(result)
        return self._typed(result)

    def _call(
        self,
        request: RouterRequest,
        path: str,
        body: dict[str, Any],
        *,
        retry_uncertain: bool,
        tried: int = 0,
    ) -> RouterResult:
        """Send ``request``; retry only where safe (see the module docstring). A placement
        whose answer is lost (timeout, 5xx) is looked for in the orderbook, never resent.
        ``tried``: attempts made already elsewhere (the exit lane)."""
        placing = type(request) is PlaceOrder
        attempts = tried
        backoff = self._backoff
        while True:
            attempts += 1
            if not self._pacing.wait_turn(path, self._stop, request.urgent):
                return RouterResult(request, False, STOPPED, "router stopped", attempts=attempts)
            if placing and not request.urgent and self._dropped_meanwhile(request):
                return RouterResult(request, False, DROPPED, "dropped before sending")
            sent_ns = time.monotonic_ns()
            sent_wall_ns = time.time_ns()
            try:
                if placing and self.before_order is not None:
                    self.before_order()
                return self._answer(request, path, self._post(path, body), sent_ns, attempts)
            except HttpError as exc:
                if exc.code == RATE_LIMITED:
                    # The server did not act on it: wait as it says, then send it again.
                    self.counters["rate_limited"] += 1
                    self._pacing.close_gate(exc.retry_after)
                    if attempts <= self._connect_retries + 3:
                        self.counters["retries"] += 1
                        continue
                retryable = exc.code == TRANSPORT or (
                    retry_uncertain and exc.code in (TIMEOUT, SERVER_ERROR)
                )
                if retryable and attempts <= self._connect_retries and not self._stop.is_set():
                    self.counters["retries"] += 1
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                if placing and exc.code in (TIMEOUT, SERVER_ERROR):
                    return self._recover(request, exc, sent_ns, attempts, sent_wall_ns)
                return RouterResult(
                    request,
                    False,
                    exc.code,
                    f"{path}: {exc}",
                    data=exc.payload,
                    http_status=exc.status,
                    sent_ns=sent_ns,
                    done_ns=time.monotonic_ns(),
                    attempts=attempts,
                )

    def _answer(
        self, request: RouterRequest, path: str, payload: Any, sent_ns: int, attempts: int
    ) -> RouterResult:
        result = result_of(request, path, payload, sent_ns, attempts)
        if type(request) is PlaceOrder and result.venue_id:
            with self._ids_lock:
                self._known_ids.add(result.venue_id)
        elif result.code == PENDING_APPROVAL:
            self.counters["pending_approval"] += 1
        return result

    def _recover(
        self, request: Any, exc: HttpError, sent_ns: int, attempts: int, sent_wall_ns: int
    ) -> RouterResult:
        """After a timeout/5xx on placeorder: look for the order instead of resending it.

        Only an order the broker took at or after ``sent_wall_ns`` (less 2 s: its timestamps
        are whole seconds) can be it; an older one of the same shape never is.
        """
        delay = 0.2
        for _ in range(self._uncertain_checks):
            if self._stop.wait(delay):
                break
            delay *= 2
            if not self._pacing.wait_turn("orderbook", self._stop):
                break
            try:
                payload = self._post("orderbook", {})
            except HttpError:
                continue
            with self._ids_lock:
                known = set(self._known_ids)
            venue_id = find_in_orderbook(request, payload, sent_wall_ns - 2_000_000_000, known)
            if venue_id is not None:
                self.counters["recovered"] += 1
                with self._ids_lock:
                    self._known_ids.add(venue_id)
                return RouterResult(
                    request,
                    True,
                    OK,
                    venue_id=venue_id,
                    sent_ns=sent_ns,
                    done_ns=time.monotonic_ns(),
                    attempts=attempts,
                    recovered=True,
                )
        self.counters["uncertain"] += 1
        return RouterResult(
            request,
            False,
            UNCERTAIN,
            f"placeorder: {exc}; the order was not found in the orderbook, it may or may not "
            "have been placed (reconciliation will tell)",
            http_status=exc.status,
            sent_ns=sent_ns,
            done_ns=time.monotonic_ns(),
            attempts=attempts,
        )

    def _orderbook(self, result: RouterResult) -> RouterResult:
        """The orderbook read into updates; rows without fill fields (OpenAlgo's live Zerodha
        rows) take their filled quantity and average price from the trade book."""
        updates = self._typed(result)
        if not any(lacks_fills(u.raw) for u in updates.data or ()):
            return updates
        trades = self._call(QueryBook("tradebook"), "tradebook", {}, retry_uncertain=True)
        if not trades.ok:
            return dataclasses.replace(
                updates, ok=False, code=trades.code, error=f"orderbook fills: {trades.error}"
            )
        totals, bad = trade_totals(trades.data)
        if bad:
            self.counters["bad_rows"] += bad
        data = [with_trades(u, totals) for u in updates.data or ()]
        return dataclasses.replace(updates, data=data)

    def _typed(self, result: RouterResult) -> RouterResult:
        out, bad = typed(result)
        if bad:
            self.counters["bad_rows"] += bad
            log.warning("router: %d unreadable row(s) in the %s answer", bad, path_of(result))
        return out

    def _lost(self, exc: transport.SendError) -> HttpError:
        if not exc.sent:
            return HttpError(TRANSPORT, str(exc))
        if exc.timed_out:
            return HttpError(TIMEOUT, f"no answer within {self._timeout}s ({exc})")
        # Reset / protocol errors after the request may have been sent.
        return HttpError(TIMEOUT, f"connection failed mid-request ({exc})")

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        """POST ``body`` (with the key) to ``path`` on this worker's own connection: the
        answer's JSON, or :class:`HttpError`."""
        client: transport.HttpxTransport | None = getattr(self._local, "client", None)
        if client is None:
            raise HttpError(TRANSPORT, "router not started")
        self.counters["requests"] += 1
        try:
            return interpret(*client.post(path, self._encode(body)))
        except transport.SendError as exc:
            raise self._lost(exc) from None
