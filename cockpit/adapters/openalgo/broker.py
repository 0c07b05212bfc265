"""The OpenAlgo order router: REST requests on worker threads, results on the engine's queue.

The engine never waits on the network. It hands a request object to
:meth:`OpenAlgoRouter.submit` (which only enqueues) and later takes one :class:`RouterResult`
per request off its own inbound queue (the ``sink`` given here).

Requests go out through httpx (:mod:`cockpit.adapters.openalgo.transport`), each worker with
its own keep-alive connection; exits (urgent placements) through the exit lane
(:mod:`cockpit.adapters.openalgo.lane`), which writes a burst of them before it reads any answer.
What a worker does with one request (send, classify, retry, look for a lost placement) is in
:mod:`cockpit.adapters.openalgo.calls`.

Rules the router keeps:

- Urgent requests (exits, kill switch, flatten) jump the queue and have workers of their own
  (``urgent_workers``) that take nothing else; exits go through the exit lane, so an exit never
  waits behind a slow query or entry, and exits close together (a market-wide gap) go out side
  by side; otherwise first in, first out.
- A client-side token bucket per endpoint class (:mod:`cockpit.adapters.openalgo.pacing`: order
  endpoints vs the rest) keeps us under
  the server's limits (OpenAlgo: 10 order requests per second by default); an urgent request
  takes the next token before others already waiting for one; a 429 closes the
  gate for ``retry_after`` seconds (at most ``MAX_RETRY_AFTER_S``), then the request is sent
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

import heapq
import itertools
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec

from cockpit.adapters.openalgo import transport
from cockpit.adapters.openalgo.calls import RouterCalls
from cockpit.adapters.openalgo.lane import ExitLane
from cockpit.adapters.openalgo.pacing import Pacing
from cockpit.adapters.openalgo.rest import (
    HttpError,
    api_root,
    interpret,
    request_call,
)
from cockpit.domain.execution import (
    BAD_RESPONSE,
    DROPPED,
    RATE_LIMITED,
    SERVER_ERROR,
    STOPPED,
    STRATEGY,
    TIMEOUT,
    UNCERTAIN,
    PlaceOrder,
    RouterRequest,
    RouterResult,
)

log = logging.getLogger(__name__)

_JSON_ENC: Final = msgspec.json.Encoder(decimal_format="string")
MAX_RETRY_AFTER_S: Final = 5.0
"""The longest a 429's ``retry_after`` closes the gate."""


# --------------------------------------------------------------------------- router


@dataclass(order=True, slots=True)
class _Item:
    priority: int
    seq: int
    request: Any = field(compare=False)
    attempts: int = field(default=0, compare=False)
    """Attempts made already (by the exit lane)."""
    lost: HttpError | None = field(default=None, compare=False)
    """A placement the exit lane sent whose answer was lost: look for it, never resend."""
    sent: tuple[int, int] = field(default=(0, 0), compare=False)


def _direct_http(root: str) -> bool:
    """``root`` is plain http and reached without a proxy (what the exit lane speaks)."""
    host = urlsplit(root).hostname or ""
    if not root.startswith("http://"):
        return False
    return not urllib.request.getproxies().get("http") or bool(urllib.request.proxy_bypass(host))


class OpenAlgoRouter(RouterCalls):
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
        uncertain_checks: orderbook look-ups for a placed order after a timeout/5xx.
        backoff_s: first delay before resending a request that never reached the server.
        exit_lane: exits through :mod:`cockpit.adapters.openalgo.lane` (an ``http://`` server);
            False: through the urgent workers like the other urgent requests.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        sink: Callable[[object], None],
        *,
        strategy: str = STRATEGY,
        timeout_s: float = 5.0,
        order_rate: float = 10.0,
        api_rate: float = 10.0,
        workers: int = 2,
        connect_retries: int = 3,
        uncertain_checks: int = 2,
        backoff_s: float = 0.1,
        urgent_workers: int | None = None,
        exit_lane: bool = True,
    ) -> None:
        root = api_root(base_url)
        self._root = root
        self.__key = api_key
        self._sink = sink
        self._strategy = strategy
        self._timeout = timeout_s
        self._pacing = Pacing(order_rate, api_rate, MAX_RETRY_AFTER_S)
        self._workers = max(1, workers)
        if urgent_workers is None:  # without the lane, exits go out side by side on these
            urgent_workers = 2 if exit_lane else 8
        self._urgent_workers = max(1, urgent_workers)
        self._connect_retries = connect_retries
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
        self._threads: list[threading.Thread] = []
        self._clients: list[transport.HttpxTransport] = []
        self._local = threading.local()
        """Each worker's own connection (``client``): no pool shared between the workers."""
        self.exit_lane = exit_lane and _direct_http(root)
        """Exits go through the exit lane (fixed at ``start``)."""
        self._lane: ExitLane | None = None
        self._known_ids: set[str] = set()
        self._ids_lock = threading.Lock()
        self.before_order: Callable[[], object] | None = None
        """Called before an order is placed or modified (paper trading on an external feed:
        the upstream tee's ``flush``, so the paper exchange has the prices first)."""
        self.counters: dict[str, int] = dict.fromkeys(
            ("requests", "errors", "retries", "rate_limited", "recovered", "uncertain",
             "pending_approval", "bad_rows"), 0,
        )  # fmt: skip

    def __repr__(self) -> str:  # never show the key
        return f"OpenAlgoRouter({self._root!r}, workers={self._workers})"

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker threads (idempotent)."""
        if self._threads:
            return
        # Workers that only take urgent requests (exits, kill switch): an exit never waits
        # behind slow queries or entries that occupy the other workers. Each worker has its
        # own keep-alive connection: a request never waits for a pool lock held by another
        # worker, nor has it check every other idle connection (measured: a shared pool's
        # lock was the urgent workers' main wait in a burst of exits).
        names = [(f"router-{n}", False) for n in range(self._workers)]
        names += [(f"router-urgent-{n}", True) for n in range(self._urgent_workers)]
        if self.exit_lane:
            self._lane = ExitLane(
                self._root, self._timeout, self._lane_encode, self._lane_turn, self._lane_answered
            )
            self._lane.start()
        for name, urgent_only in names:
            client = transport.HttpxTransport(self._root, self._timeout, 1)
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
        unanswered: list[Any] = []
        if self._lane is not None:
            unsent, unanswered = self._lane.stop(max(0.1, deadline - time.monotonic()))
            self._lane = None
            with self._cv:
                for request in unsent:
                    heapq.heappush(self._heap, _Item(0, next(self._seq), request))
        with self._cv:
            items = [heapq.heappop(self._heap) for _ in range(len(self._heap))]
        for item in items:
            if item.lost is not None:
                unanswered.append(item.request)
            else:
                self._emit(
                    RouterResult(item.request, False, STOPPED, "router stopped before sending")
                )
        for request in unanswered:
            self.counters["uncertain"] += 1
            self._emit(RouterResult(request, False, UNCERTAIN, "router stopped before the "
                                    "answer came: reconciliation will tell"))  # fmt: skip
        for client in self._clients:
            client.close()
        self._clients.clear()

    def submit(self, request: RouterRequest) -> None:
        """Queue a request (never blocks). Its result will reach the sink."""
        if self._stop.is_set():
            self._emit(RouterResult(request, False, STOPPED, "router is stopped"))
            return
        lane = self._lane
        if lane is not None and request.urgent and type(request) is PlaceOrder:
            # Written on this thread unless it must first wait for ``before_order``.
            if not lane.submit(request, inline=self.before_order is None):
                # The lane stopped since the check above (the router stopping meanwhile).
                self._emit(RouterResult(request, False, STOPPED, "router is stopped"))
            return
        self._queue(_Item(0 if request.urgent else 1, next(self._seq), request))

    def _queue(self, item: _Item) -> None:
        request = item.request
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

    # -- worker ----------------------------------------------------------------------------

    def _run(self, urgent_only: bool, client: transport.HttpxTransport) -> None:
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
                item = heapq.heappop(self._heap)
                request = item.request
                if type(request) is PlaceOrder and not request.urgent:
                    self._in_hand.add(id(request))  # may wait for the rate limit: droppable
            try:
                if item.lost is not None:
                    result = self._recover(
                        request, item.lost, item.sent[0], item.attempts, item.sent[1]
                    )
                else:
                    result = self._handle(request, item.attempts)
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

    # -- the exit lane's side (called on its thread) ---------------------------------------

    def _lane_encode(self, request: PlaceOrder) -> tuple[str, bytes]:
        call = request_call(request, self._strategy)
        assert call is not None  # a placement always has its endpoint
        self.counters["requests"] += 1
        return call[0], self._encode(call[1])

    def _lane_turn(self) -> float:
        """Seconds until the next exit may go (0: it goes; its order token is taken)."""
        wait = self._pacing.exit_turn()
        if wait <= 0 and self.before_order is not None:
            self.before_order()
        return wait

    def _lane_answered(
        self, request: PlaceOrder, outcome: transport.Answer | transport.SendError,
        sent_ns: int, sent_wall_ns: int,
    ) -> None:  # fmt: skip
        """An exit's outcome from the lane: its result, or a hand-over to the workers (a
        request that never left or was refused for the rate: sent again there; a placement
        whose answer was lost: looked for in the orderbook there, never resent)."""
        if isinstance(outcome, transport.SendError):
            if not outcome.sent:
                self.counters["retries"] += 1
                self._queue(_Item(0, next(self._seq), request, attempts=1))
                return
            error = self._lost(outcome)
        else:
            try:
                payload = interpret(*outcome)
            except HttpError as exc:
                error = exc
            else:
                self._emit(self._answer(request, "placeorder", payload, sent_ns, 1))
                return
        if error.code == RATE_LIMITED:
            self.counters["rate_limited"] += 1
            self.counters["retries"] += 1
            self._pacing.close_gate(error.retry_after)
            self._queue(_Item(0, next(self._seq), request, attempts=1))
        elif error.code in (TIMEOUT, SERVER_ERROR):
            self._queue(_Item(0, next(self._seq), request, 1, error, (sent_ns, sent_wall_ns)))
        else:
            self._emit(RouterResult(
                request, False, error.code, f"placeorder: {error}", data=error.payload,
                http_status=error.status, sent_ns=sent_ns, done_ns=time.monotonic_ns(),
                attempts=1,
            ))  # fmt: skip

    def _dropped_meanwhile(self, request: RouterRequest) -> bool:
        """An entry taken by this worker was dropped while it waited for the rate limit."""
        with self._cv:
            self._in_hand.discard(id(request))
            dropped = id(request) in self._dropped
            self._dropped.discard(id(request))
        return dropped

    # -- plumbing --------------------------------------------------------------------------

    def _encode(self, body: dict[str, Any]) -> bytes:
        return _JSON_ENC.encode({"apikey": self.__key, **body})
