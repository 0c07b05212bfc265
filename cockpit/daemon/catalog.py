"""Symbol search and look-up on an external feed's own venue (``/`` on the trading screen).

With ``--feed VENUE`` the engine's orders go to the paper exchange, which only knows what it
was told to follow; the venue itself lists what it trades. :class:`VenueCatalog` answers the
engine's ``SearchSymbols`` and ``LookupSymbol`` requests from that list (fetched on first use
on its own thread, kept ``ttl_s``), as a :class:`RouterResult` on the engine's queue like the
router's own answers; every other request goes to the router. An instrument the engine then
adds is followed by the paper exchange (:meth:`UpstreamTee.follow`), so it is tradable at
the venue's prices like the ones given at start.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from cockpit.daemon.external import FeedPlan, UpstreamTee
from cockpit.domain.execution import (
    REJECTED,
    LookupSymbol,
    RouterRequest,
    RouterResult,
    SearchSymbols,
)
from cockpit.domain.instruments import Instrument

log = logging.getLogger(__name__)

MAX_HITS: Final = 50


class VenueCatalog:
    """A venue's instrument list, searched on a thread of its own."""

    def __init__(
        self,
        exchange: str,
        listing: Callable[[], list[Instrument]],
        sink: Callable[[object], None],
        *,
        ttl_s: float = 600.0,
    ) -> None:
        """Create a stopped catalog.

        Args:
            exchange: the venue's exchange code (``BYBIT``): look-ups of other exchanges are
                not ours.
            listing: fetches every instrument (may raise ValueError; retried on next use).
            sink: the engine's queue (where RouterResults go).
            ttl_s: how long a fetched list is kept.
        """
        self.exchange = exchange
        self._listing = listing
        self._sink = sink
        self._ttl_s = ttl_s
        self._cache: list[Instrument] | None = None
        self._fetched = 0.0
        self._queue: queue.SimpleQueue[RouterRequest | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.tee: UpstreamTee | None = None
        """Set by the runner when paper fills follow the venue: added instruments are followed."""
        self.fetches = 0
        self.errors = 0

    def handles(self, request: object) -> bool:
        """Whether ``request`` is answered here (searches, and look-ups on our exchange)."""
        if isinstance(request, SearchSymbols):
            return request.exchange in (None, self.exchange)
        return isinstance(request, LookupSymbol) and request.exchange == self.exchange

    def submit(self, request: RouterRequest) -> None:
        """Queue a search or look-up (answered on the catalog's thread)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="catalog", daemon=True)
                self._thread.start()
        self._queue.put(request)

    def stop(self, timeout: float = 2.0) -> None:
        """End the thread (bounded)."""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def router(self, inner: Any) -> CatalogRouter:
        """``inner`` with searches and look-ups on this venue answered here."""
        return CatalogRouter(inner, self)

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            request = self._queue.get()
            if request is None:
                return
            try:
                result = self._answer(request)
            except Exception as exc:  # never kill the thread: the engine waits for an answer
                log.exception("catalog: %s failed", type(request).__name__)
                result = RouterResult(request, False, REJECTED, f"{type(exc).__name__}: {exc}")
            self._sink(result)

    def instruments(self) -> list[Instrument]:
        """The venue's list (fetched if older than ``ttl_s``). Raises ValueError."""
        now = time.monotonic()
        if self._cache is None or now - self._fetched > self._ttl_s:
            self.fetches += 1
            try:
                self._cache = self._listing()
            except ValueError:
                self.errors += 1
                if self._cache is None:
                    raise
                log.warning(
                    "catalog: refreshing the %s list failed; using the old one", self.exchange
                )
            self._fetched = now
        return self._cache

    def _answer(self, request: RouterRequest) -> RouterResult:
        try:
            listed = self.instruments()
        except ValueError as exc:
            return RouterResult(request, False, REJECTED, f"{self.exchange} list: {exc}"[:300])
        if isinstance(request, SearchSymbols):
            return RouterResult(request, True, data=search(listed, request.query))
        assert isinstance(request, LookupSymbol)
        key = f"{request.exchange}:{request.symbol}"
        inst = next((i for i in listed if i.key == key), None)
        if inst is None:
            return RouterResult(request, False, REJECTED, f"{key} is not listed on the venue")
        if self.tee is not None:
            self.tee.follow(inst)
        return RouterResult(request, True, data=inst)


def search(listed: list[Instrument], query: str, limit: int = MAX_HITS) -> list[Instrument]:
    """Instruments whose symbol or name holds ``query`` (any case): an exact symbol first,
    then symbols starting with it, then the rest, each alphabetically."""
    q = query.strip().upper()
    if not q:
        return []
    hits = [i for i in listed if q in i.symbol.upper() or q in i.name.upper()]
    hits.sort(key=lambda i: (i.symbol.upper() != q, not i.symbol.upper().startswith(q), i.symbol))
    return hits[:limit]


class CatalogRouter:
    """The engine's router with searches and look-ups on the venue answered by a catalog."""

    def __init__(self, inner: Any, catalog: VenueCatalog) -> None:
        self.inner = inner
        self.catalog = catalog

    def submit(self, request: RouterRequest) -> None:
        """To the catalog if it answers ``request``, else to the router."""
        if self.catalog.handles(request):
            self.catalog.submit(request)
        else:
            self.inner.submit(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def venue_catalog(
    plan: FeedPlan, url: str | None, rest_url: str | None, sink: Callable[[object], None]
) -> VenueCatalog | None:
    """The catalog of an external feed's venue, or None where the venue lists nothing we
    read (Kite's instrument dump needs a login; a replay file is not a venue)."""
    if plan.kind == "binance":
        from cockpit.adapters.binance.feed import DEFAULT_REST_URL, _rest_from_ws
        from cockpit.adapters.binance.instruments import spot_listing

        rest = rest_url or (_rest_from_ws(url) if url else DEFAULT_REST_URL)
        return VenueCatalog("BINANCE", lambda: spot_listing(rest), sink)
    if plan.kind in ("kite", "replay") or not plan.instruments:
        return None
    from cockpit.adapters.venues import venue

    spec = venue(plan.kind)
    if spec is None or spec.listing is None:
        return None
    listing = spec.listing
    return VenueCatalog(str(plan.instruments[0].exchange), lambda: listing(url, rest_url), sink)
