"""The OpenAlgo order router: REST requests on worker threads, results on the engine's queue.

The engine never waits on the network. It hands a request object to
:meth:`OpenAlgoRouter.submit` (which only enqueues) and later takes one :class:`RouterResult`
per request off its own inbound queue (the ``sink`` given here).

One HTTP client (httpcore, httpx's transport; keep-alive connections) serves every worker:
see :mod:`cockpit.adapters.openalgo.transport`.

Rules the router keeps:

- Urgent requests (exits, kill switch, flatten) jump the queue and have workers of their own
  (``urgent_workers``) that take nothing else, so an exit never waits behind a slow query or
  entry, and exits close together (a market-wide gap) go out side by side; otherwise first
  in, first out.
- A client-side token bucket per endpoint class (order endpoints vs the rest) keeps us under
  the server's limits (OpenAlgo: 10 order requests per second by default); a 429 closes the
  gate for ``retry_after`` seconds (capped by ``max_retry_after_s``), then the request is sent
  again (a 429 means the server did not act on it).
- Retries only where safe: a request that never reached the server (connect error) is retried
  with backoff; idempotent requests (queries, cancel, modify) are retried after a timeout or a
  5xx; a *placed* order is never retried blindly — after a timeout or a 5xx the router looks
  for it in the orderbook and reports what it found (``recovered``) or that the outcome is
  ``uncertain``. ``cancelallorder`` is not retried after a timeout.
- Every failure becomes a :class:`RouterResult` with a stable ``code`` and a clear ``error``
  text. The API key is never logged and never appears in a result.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import msgspec

from cockpit.adapters.openalgo import transport
from cockpit.adapters.openalgo.rows import (
    BadRow,
    history_bars,
    instrument_from_row,
    lacks_fills,
    order_updates,
    orderbook_rows,
    payload_order_rows,
    position_reports,
    row_time_ns,
    row_to_update,
    trade_totals,
    with_trades,
)
from cockpit.domain.execution import (
    AUTH as AUTH,
)
from cockpit.domain.execution import (
    BAD_RESPONSE as BAD_RESPONSE,
)
from cockpit.domain.execution import (
    DROPPED as DROPPED,
)
from cockpit.domain.execution import (
    OK as OK,
)
from cockpit.domain.execution import (
    PENDING_APPROVAL as PENDING_APPROVAL,
)
from cockpit.domain.execution import (
    RATE_LIMITED as RATE_LIMITED,
)
from cockpit.domain.execution import (
    REJECTED as REJECTED,
)
from cockpit.domain.execution import (
    SERVER_ERROR as SERVER_ERROR,
)
from cockpit.domain.execution import (
    STOPPED as STOPPED,
)
from cockpit.domain.execution import (
    TIMEOUT as TIMEOUT,
)
from cockpit.domain.execution import (
    TRANSPORT as TRANSPORT,
)
from cockpit.domain.execution import (
    UNCERTAIN as UNCERTAIN,
)
from cockpit.domain.execution import (
    CancelAll as CancelAll,
)
from cockpit.domain.execution import (
    CancelOrder as CancelOrder,
)
from cockpit.domain.execution import (
    LookupSymbol as LookupSymbol,
)
from cockpit.domain.execution import (
    ModifyOrder as ModifyOrder,
)
from cockpit.domain.execution import (
    PlaceOrder as PlaceOrder,
)
from cockpit.domain.execution import (
    QueryBook as QueryBook,
)
from cockpit.domain.execution import (
    QueryHistory as QueryHistory,
)
from cockpit.domain.execution import (
    QueryOrder as QueryOrder,
)
from cockpit.domain.execution import (
    RouterRequest as RouterRequest,
)
from cockpit.domain.execution import (
    RouterResult as RouterResult,
)
from cockpit.domain.execution import (
    SearchSymbols as SearchSymbols,
)

log = logging.getLogger(__name__)

_JSON_ENC: Final = msgspec.json.Encoder(decimal_format="string")
_JSON_DEC: Final = msgspec.json.Decoder()

_BOOKS: Final = frozenset({"orderbook", "positionbook", "tradebook", "funds"})

# --------------------------------------------------------------------------- rate limit


class TokenBucket:
    """A token bucket (``rate`` per second, ``burst`` at most); ``wait`` blocks the caller."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._tokens = self.burst
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take a token if one is there (return 0.0), else return the seconds to wait."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate

    def wait(self, stop: threading.Event) -> bool:
        """Block until a token is taken; False if ``stop`` was set meanwhile."""
        while True:
            delay = self.take()
            if delay <= 0.0:
                return True
            if stop.wait(delay):
                return False


# --------------------------------------------------------------------------- router


class _Http(Exception):
    """An HTTP-level outcome worth classifying (internal)."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        retry_after: Any = None,
        payload: Any = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.retry_after = retry_after
        self.payload = payload


@dataclass(order=True, slots=True)
class _Item:
    priority: int
    seq: int
    request: Any = field(compare=False)


_ORDER_PATHS: Final = frozenset({"placeorder", "modifyorder", "cancelorder", "cancelallorder"})


class OpenAlgoRouter:
    """Sends order requests to an OpenAlgo server; results go to ``sink``.

    Args:
        base_url: the server root, e.g. ``http://127.0.0.1:5000`` (``/api/v1`` is added).
        api_key: the OpenAlgo API key (kept private, never logged).
        sink: where results go (the engine's ``inbound.put``).
        strategy: the ``strategy`` field sent with every order request.
        timeout_s: per-request timeout (connect, read and write).
        order_rate: order requests per second allowed by the client-side limiter.
        api_rate: other requests per second.
        workers: worker threads for any request.
        urgent_workers: worker threads that take only urgent requests (exits, kill switch).
        connect_retries: retries of a request that never reached the server.
        max_retry_after_s: cap on how long a 429's ``retry_after`` closes the gate.
        uncertain_checks: orderbook look-ups for a placed order after a timeout/5xx.
        backoff_s: first delay before resending a request that never reached the server.
        transport_kind: ``httpcore`` (default) or ``httpx``: see
            :mod:`cockpit.adapters.openalgo.transport`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        sink: Callable[[object], None],
        *,
        strategy: str = "cockpit",
        timeout_s: float = 5.0,
        order_rate: float = 10.0,
        api_rate: float = 10.0,
        workers: int = 2,
        connect_retries: int = 3,
        max_retry_after_s: float = 5.0,
        uncertain_checks: int = 2,
        backoff_s: float = 0.1,
        urgent_workers: int = 8,
        transport_kind: str = "httpcore",
    ) -> None:
        root = base_url.rstrip("/")
        if not root.endswith("/api/v1"):
            root += "/api/v1"
        self._root = root
        self._started = False
        self.__key = api_key
        self._sink = sink
        self._strategy = strategy
        self._timeout = timeout_s
        self._order_bucket = TokenBucket(order_rate)
        self._api_bucket = TokenBucket(api_rate)
        self._workers = max(1, workers)
        self._urgent_workers = max(1, urgent_workers)
        self._connect_retries = connect_retries
        self._max_retry_after = max_retry_after_s
        self._uncertain_checks = uncertain_checks
        self._backoff = backoff_s
        self._heap: list[_Item] = []
        self._in_hand: set[int] = set()
        """Entries taken off the queue by a worker, not sent yet (by ``id``)."""
        self._dropped: set[int] = set()
        """Of those, the ones dropped meanwhile (their worker reports them)."""
        lock = threading.Lock()
        self._cv = threading.Condition(lock)
        """Where the workers for any request wait (and what guards the queue)."""
        self._urgent_cv = threading.Condition(lock)
        """Where the urgent-only workers wait."""
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._gate_until = 0.0
        self._gate_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._clients: list[transport.Transport] = []
        self._local = threading.local()
        """Each worker's own connection (``client``): no pool shared between the workers."""
        self.transport: str = transport_kind
        """How requests go out (``cockpit.adapters.openalgo.transport``), fixed at ``start``."""
        self._known_ids: set[str] = set()
        self._ids_lock = threading.Lock()
        self.before_order: Callable[[], object] | None = None
        """Called before an order is placed or modified (paper trading on an external feed:
        the upstream tee's ``flush``, so the paper exchange has the prices first)."""
        self.counters: dict[str, int] = {
            "requests": 0,
            "errors": 0,
            "retries": 0,
            "rate_limited": 0,
            "recovered": 0,
            "uncertain": 0,
            "pending_approval": 0,
            "bad_rows": 0,
        }

    def __repr__(self) -> str:  # never show the key
        return f"OpenAlgoRouter({self._root!r}, workers={self._workers})"

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker threads (idempotent)."""
        if self._threads:
            return
        self._started = True
        # Workers that only take urgent requests (exits, kill switch): an exit never waits
        # behind slow queries or entries that occupy the other workers. Each worker has its
        # own keep-alive connection: a request never waits for a pool lock held by another
        # worker, nor has it check every other idle connection (measured: a shared pool's
        # lock was the urgent workers' main wait in a burst of exits).
        names = [(f"router-{n}", False) for n in range(self._workers)]
        names += [(f"router-urgent-{n}", True) for n in range(self._urgent_workers)]
        for name, urgent_only in names:
            client = transport.make(self.transport, self._root, self._timeout, 1)
            self._clients.append(client)
            thread = threading.Thread(
                target=self._run, args=(urgent_only, client), name=name, daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the workers; requests still queued get a ``stopped`` result."""
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
            self._urgent_cv.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        with self._cv:
            pending = [heapq.heappop(self._heap).request for _ in range(len(self._heap))]
        for request in pending:
            self._emit(RouterResult(request, False, STOPPED, "router stopped before sending"))
        for client in self._clients:
            client.close()
        self._clients.clear()

    def submit(self, request: RouterRequest) -> None:
        """Queue a request (never blocks). Its result will reach the sink."""
        if self._stop.is_set():
            self._emit(RouterResult(request, False, STOPPED, "router is stopped"))
            return
        item = _Item(0 if request.urgent else 1, next(self._seq), request)
        with self._cv:
            heapq.heappush(self._heap, item)
            # Wake one worker that may take it (waking more makes them fight the submitting
            # thread, and each other, for the GIL): an urgent request an urgent-only worker,
            # and an idle worker for any request as well, whichever is there first.
            if request.urgent:
                self._urgent_cv.notify(1)
            self._cv.notify(1)

    def drop_queued_entries(self) -> int:
        """Drop every non-urgent placement still queued (entries, protective stops): the kill
        switch, disarming and the daily loss limit stop them all at once, while exits, cancels
        and queries stay queued (exits and cancels first). Each gets a ``dropped`` result."""
        with self._cv:
            # Taken by a worker but still waiting for the rate limit: dropped by that worker.
            self._dropped |= self._in_hand
            in_hand = len(self._in_hand)
            dropped = [
                item.request
                for item in self._heap
                if type(item.request) is PlaceOrder and not item.request.urgent
            ]
            if dropped:
                self._heap = [item for item in self._heap if item.request not in dropped]
                heapq.heapify(self._heap)
        for request in dropped:
            self._emit(RouterResult(request, False, DROPPED, "dropped before sending"))
        return len(dropped) + in_hand

    def pending(self) -> int:
        """How many requests wait to be sent."""
        with self._cv:
            return len(self._heap)

    # -- worker ----------------------------------------------------------------------------

    def _run(self, urgent_only: bool, client: transport.Transport) -> None:
        self._local.client = client

        def ready() -> bool:
            return bool(self._heap) and (not urgent_only or self._heap[0].priority == 0)

        while not self._stop.is_set():
            cv = self._urgent_cv if urgent_only else self._cv
            with cv:
                while not ready() and not self._stop.is_set():
                    cv.wait(0.5)
                if self._stop.is_set():
                    return
                if not ready():
                    continue
                request = heapq.heappop(self._heap).request
                if type(request) is PlaceOrder and not request.urgent:
                    self._in_hand.add(id(request))  # may wait for the rate limit: droppable
            try:
                result = self._handle(request)
            except Exception as exc:  # a bug must not kill the worker or lose the result
                log.exception("router: unexpected error on %s", type(request).__name__)
                result = RouterResult(request, False, BAD_RESPONSE, f"internal error: {exc!r}")
            self._emit(result)

    def _emit(self, result: RouterResult) -> None:
        if not result.ok:
            self.counters["errors"] += 1
        try:
            self._sink(result)
        except Exception:
            log.exception("router: sink refused a result")

    def _handle(self, request: RouterRequest) -> RouterResult:
        match request:
            case PlaceOrder():
                return self._place(request)
            case ModifyOrder():
                body = {
                    "strategy": self._strategy,
                    "exchange": request.exchange,
                    "symbol": request.symbol,
                    "orderid": request.venue_id,
                    "action": request.action,
                    "product": request.product,
                    "pricetype": request.pricetype,
                    "price": request.price,
                    "quantity": request.quantity,
                    "disclosed_quantity": 0,
                    "trigger_price": request.trigger_price,
                }
                if self.before_order is not None:
                    self.before_order()
                return self._call(request, "modifyorder", body, retry_uncertain=True)
            case CancelOrder():
                body = {"strategy": self._strategy, "orderid": request.venue_id}
                return self._call(request, "cancelorder", body, retry_uncertain=True)
            case CancelAll():
                body = {"strategy": self._strategy}
                return self._call(request, "cancelallorder", body, retry_uncertain=False)
            case QueryOrder():
                body = {"strategy": self._strategy, "orderid": request.venue_id}
                return self._typed(self._call(request, "orderstatus", body, retry_uncertain=True))
            case QueryBook():
                if request.book not in _BOOKS:
                    return RouterResult(request, False, REJECTED, f"unknown book {request.book!r}")
                result = self._call(request, request.book, {}, retry_uncertain=True)
                if request.book == "orderbook" and result.ok:
                    return self._orderbook(result)
                return self._typed(result)
            case LookupSymbol():
                body = {"symbol": request.symbol, "exchange": request.exchange}
                return self._typed(self._call(request, "symbol", body, retry_uncertain=True))
            case SearchSymbols():
                body = {"query": request.query}
                if request.exchange:
                    body["exchange"] = request.exchange
                return self._typed(self._call(request, "search", body, retry_uncertain=True))
            case QueryHistory():
                body = {
                    "symbol": request.symbol,
                    "exchange": request.exchange,
                    "interval": request.interval,
                    "start_date": request.start_date,
                    "end_date": request.end_date,
                    "source": "api",
                }
                return self._typed(self._call(request, "history", body, retry_uncertain=True))
        return RouterResult(request, False, REJECTED, f"unknown request {type(request).__name__}")

    # -- one call, classified and retried where safe ---------------------------------------

    def _call(
        self, request: RouterRequest, path: str, body: dict[str, Any], *, retry_uncertain: bool
    ) -> RouterResult:
        attempts = 0
        sent_ns = 0
        backoff = self._backoff
        while True:
            attempts += 1
            if not self._wait_turn(path):
                return RouterResult(request, False, STOPPED, "router stopped", attempts=attempts)
            sent_ns = time.monotonic_ns()
            try:
                status, payload = self._post(path, body)
                return self._success(request, path, status, payload, sent_ns, attempts)
            except _Http as exc:
                if exc.code == RATE_LIMITED:
                    self.counters["rate_limited"] += 1
                    self._close_gate(exc.retry_after)
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

    def _place_body(self, request: PlaceOrder) -> dict[str, Any]:
        return {
            "strategy": self._strategy,
            "exchange": request.exchange,
            "symbol": request.symbol,
            "action": request.action,
            "quantity": request.quantity,
            "pricetype": request.pricetype,
            "product": request.product,
            "price": request.price,
            "trigger_price": request.trigger_price,
            "disclosed_quantity": 0,
        }

    def _place(self, request: PlaceOrder) -> RouterResult:
        body = self._place_body(request)
        attempts = 0
        backoff = self._backoff
        while True:
            attempts += 1
            if not self._wait_turn("placeorder"):
                return RouterResult(request, False, STOPPED, "router stopped", attempts=attempts)
            if not request.urgent:
                with self._cv:
                    self._in_hand.discard(id(request))
                    dropped = id(request) in self._dropped
                    self._dropped.discard(id(request))
                if dropped:
                    return RouterResult(request, False, DROPPED, "dropped before sending")
            sent_ns = time.monotonic_ns()
            sent_wall_ns = time.time_ns()
            try:
                if self.before_order is not None:
                    self.before_order()
                status, payload = self._post("placeorder", body)
                result = self._success(request, "placeorder", status, payload, sent_ns, attempts)
                if result.venue_id:
                    with self._ids_lock:
                        self._known_ids.add(result.venue_id)
                return result
            except _Http as exc:
                if exc.code == RATE_LIMITED and attempts <= self._connect_retries + 3:
                    self.counters["rate_limited"] += 1
                    self.counters["retries"] += 1
                    self._close_gate(exc.retry_after)
                    continue
                if exc.code == TRANSPORT and attempts <= self._connect_retries:
                    # Never reached the server: safe to send again.
                    self.counters["retries"] += 1
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                if exc.code in (TIMEOUT, SERVER_ERROR):
                    return self._recover(request, exc, sent_ns, attempts, sent_wall_ns)
                return RouterResult(
                    request,
                    False,
                    exc.code,
                    f"placeorder: {exc}",
                    data=exc.payload,
                    http_status=exc.status,
                    sent_ns=sent_ns,
                    done_ns=time.monotonic_ns(),
                    attempts=attempts,
                )

    def _recover(
        self, request: PlaceOrder, exc: _Http, sent_ns: int, attempts: int, sent_wall_ns: int
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
            if not self._wait_turn("orderbook"):
                break
            try:
                _status, payload = self._post("orderbook", {})
            except _Http:
                continue
            venue_id = self._find_in_orderbook(request, payload, sent_wall_ns - 2_000_000_000)
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

    def _find_in_orderbook(
        self, request: PlaceOrder, payload: Any, not_before_ns: int
    ) -> str | None:
        rows = payload_order_rows(payload)
        with self._ids_lock:
            known = set(self._known_ids)
        for row in rows:
            try:
                placed_ns = row_time_ns(row)
                if (
                    placed_ns is not None
                    and placed_ns >= not_before_ns
                    and str(row.get("symbol")) == request.symbol
                    and str(row.get("exchange")) == request.exchange
                    and str(row.get("action", "")).upper() == request.action.upper()
                    and Decimal(str(row.get("quantity"))) == request.quantity
                    and str(row.get("pricetype", row.get("price_type", ""))).upper()
                    == request.pricetype
                ):
                    venue_id = str(row.get("orderid"))
                    if venue_id and venue_id not in known:
                        return venue_id
            except (ArithmeticError, ValueError, TypeError):
                continue
        return None

    def _success(
        self,
        request: RouterRequest,
        path: str,
        status: int,
        payload: Any,
        sent_ns: int,
        attempts: int,
    ) -> RouterResult:
        done = time.monotonic_ns()
        if not isinstance(payload, dict):
            return RouterResult(
                request,
                False,
                BAD_RESPONSE,
                f"{path}: response is not a JSON object",
                http_status=status,
                sent_ns=sent_ns,
                done_ns=done,
                attempts=attempts,
            )
        if payload.get("status") != "success":
            message = str(payload.get("message") or "error without a message")
            orderid = payload.get("orderid")
            return RouterResult(
                request,
                False,
                REJECTED,
                f"{path}: {message}",
                venue_id=str(orderid) if orderid else None,
                data=payload,
                http_status=status,
                sent_ns=sent_ns,
                done_ns=done,
                attempts=attempts,
            )
        venue_id = payload.get("orderid")
        data = payload.get("data", payload)
        if path == "placeorder" and not venue_id:
            # Semi-auto mode queues the order in OpenAlgo's Action Center: success, no orderid
            # (a ``pending_order_id`` of the queue instead). Any other success without an id
            # is uncertain: reconciliation finds the order, or not.
            message = str(payload.get("message") or "no order id in the response")
            queued = payload.get("mode") == "semi_auto" or "pending_order_id" in payload
            if queued:
                self.counters["pending_approval"] += 1
            return RouterResult(
                request,
                False,
                PENDING_APPROVAL if queued else UNCERTAIN,
                f"placeorder: {message}",
                data=payload,
                http_status=status,
                sent_ns=sent_ns,
                done_ns=done,
                attempts=attempts,
            )
        return RouterResult(
            request,
            True,
            OK,
            venue_id=str(venue_id) if venue_id is not None else None,
            data=data,
            http_status=status,
            sent_ns=sent_ns,
            done_ns=done,
            attempts=attempts,
        )

    def _orderbook(self, result: RouterResult) -> RouterResult:
        """The orderbook read into updates; rows without fill fields (OpenAlgo's live Zerodha
        rows) take their filled quantity and average price from the trade book."""
        typed = self._typed(result)
        rows = orderbook_rows(result.data)
        if not any(lacks_fills(row) for row in rows):
            return typed
        trades = self._call(QueryBook("tradebook"), "tradebook", {}, retry_uncertain=True)
        if not trades.ok:
            return dataclasses.replace(
                typed, ok=False, code=trades.code, error=f"orderbook fills: {trades.error}"
            )
        totals, bad = trade_totals(trades.data)
        if bad:
            self.counters["bad_rows"] += bad
        lacking = {str(row.get("orderid")) for row in rows if lacks_fills(row)}
        updates = [with_trades(u, totals) if u.orderid in lacking else u for u in typed.data or ()]
        return dataclasses.replace(typed, data=updates)

    def _typed(self, result: RouterResult) -> RouterResult:
        """The answer's JSON read once, into the seam's types (``cockpit.domain.execution``)."""
        if not result.ok:
            return result
        data = result.data
        now = time.time_ns()
        bad = 0
        typed: Any
        match result.request:
            case QueryBook(book="orderbook"):
                typed, bad = order_updates(data, now)
            case QueryBook(book="positionbook"):
                typed, bad = position_reports(data)
            case QueryOrder():
                try:
                    typed = row_to_update(data, now) if isinstance(data, dict) else None
                except BadRow:
                    typed, bad = None, 1
            case LookupSymbol():
                typed = instrument_from_row(data)
            case SearchSymbols():
                found = [instrument_from_row(row) for row in data or () if isinstance(data, list)]
                typed = [inst for inst in found if inst is not None]
                bad = len(found) - len(typed)
            case QueryHistory():
                typed, bad = history_bars(data)
            case _:
                return result
        if bad:
            self.counters["bad_rows"] += bad
            log.warning("router: %d unreadable row(s) in the %s answer", bad, _path(result))
        return dataclasses.replace(result, data=typed)

    # -- plumbing --------------------------------------------------------------------------

    def _wait_turn(self, path: str) -> bool:
        while True:
            with self._gate_lock:
                wait = self._gate_until - time.monotonic()
            if wait <= 0:
                break
            if self._stop.wait(wait):
                return False
        bucket = self._order_bucket if path in _ORDER_PATHS else self._api_bucket
        return bucket.wait(self._stop)

    def _close_gate(self, retry_after: Any) -> None:
        try:
            seconds = float(retry_after) if retry_after is not None else 1.0
        except (TypeError, ValueError):
            seconds = 1.0
        seconds = max(0.05, min(seconds, self._max_retry_after))
        with self._gate_lock:
            self._gate_until = max(self._gate_until, time.monotonic() + seconds)

    def _send(self, path: str, content: bytes) -> tuple[int, bytes, str, str | None]:
        client: transport.Transport | None = getattr(self._local, "client", None)
        if client is None:
            raise _Http(TRANSPORT, "router not started")
        try:
            return client.post(path, content)
        except transport.SendError as exc:
            if not exc.sent:
                raise _Http(TRANSPORT, str(exc)) from None
            if exc.timed_out:
                raise _Http(TIMEOUT, f"no answer within {self._timeout}s ({exc})") from None
            # Reset / protocol errors after the request may have been sent.
            raise _Http(TIMEOUT, f"connection failed mid-request ({exc})") from None

    def _encode(self, body: dict[str, Any]) -> bytes:
        return _JSON_ENC.encode({"apikey": self.__key, **body})

    def _post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if not self._started:
            raise _Http(TRANSPORT, "router not started")
        self.counters["requests"] += 1
        status, raw, reason, retry_header = self._send(path, self._encode(body))
        return self._interpret(status, raw, reason, retry_header)

    def _interpret(
        self, status: int, raw: bytes, reason: str, retry_header: str | None
    ) -> tuple[int, Any]:
        """Classify an HTTP answer: ``(200, payload)`` or raise :class:`_Http`."""
        try:
            payload = _JSON_DEC.decode(raw) if raw else None
        except msgspec.DecodeError:
            payload = None
        if status == 200:
            if payload is None:
                raise _Http(BAD_RESPONSE, "HTTP 200 with a body that is not JSON", status)
            return status, payload
        message = _message(payload) or reason or "error"
        if status == 429:
            retry_after = payload.get("retry_after") if isinstance(payload, dict) else None
            if retry_after is None:
                retry_after = retry_header
            raise _Http(RATE_LIMITED, f"HTTP 429: {message}", status, retry_after)
        if status in (401, 403):
            raise _Http(AUTH, f"HTTP {status}: {message}", status)
        if status >= 500:
            raise _Http(SERVER_ERROR, f"HTTP {status}: {message}", status, payload=payload)
        raise _Http(REJECTED, f"HTTP {status}: {message}", status, payload=payload)


def _message(payload: Any) -> str:
    if isinstance(payload, dict):
        message = payload.get("message")
        if message is not None:
            return str(message)
    return ""


def _path(result: RouterResult) -> str:
    request = result.request
    return request.book if isinstance(request, QueryBook) else type(request).__name__
