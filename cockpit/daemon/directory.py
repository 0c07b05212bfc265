"""``/`` on an external feed: symbol search and lookup at the venue the prices come from.

With ``--feed binance`` the orders go to the paper exchange, but the symbols are Binance's: a
search (the screen's ``/``) is answered from Binance's own list (``GET /api/v3/exchangeInfo``,
every symbol TRADING, read once and kept for an hour), and adding one looks it up there
(``exchangeInfo?symbol=X``: tick from PRICE_FILTER, lot from LOT_SIZE). A symbol found is then
followed: the feed learns its venue name and the paper exchange is told to list it at the feed's
prices (:meth:`~cockpit.daemon.external.UpstreamTee.follow`), before the engine subscribes it.

:class:`DirectoryRouter` wraps the order router: the searches and lookups of the external
venue's exchange go to a worker thread of its own (HTTP, never on the decision thread); every
other request goes to the router as before. Each gets exactly one ``RouterResult`` on the
engine's queue.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from cockpit.daemon.external import FeedConfigError, binance_instrument, binance_instruments
from cockpit.domain.execution import LookupSymbol, RouterRequest, RouterResult, SearchSymbols
from cockpit.domain.instruments import Instrument

log = logging.getLogger(__name__)

LIST_TTL_S: Final = 3600.0
MAX_RESULTS: Final = 50


class BinanceDirectory:
    """Binance's symbols, from its REST ``exchangeInfo``."""

    exchange: Final = "BINANCE"

    def __init__(self, rest_url: str, timeout: float = 10.0) -> None:
        self.rest_url = rest_url.rstrip("/")
        self.timeout = timeout
        self._symbols: dict[str, Instrument] = {}
        self._loaded = 0.0

    def _all(self) -> dict[str, Instrument]:
        if self._symbols and time.monotonic() - self._loaded < LIST_TTL_S:
            return self._symbols
        import httpx

        with httpx.Client(timeout=self.timeout) as client:
            resp = client.get(f"{self.rest_url}/api/v3/exchangeInfo")
        if resp.status_code != 200:
            raise FeedConfigError(f"exchangeInfo answered HTTP {resp.status_code}")
        symbols: dict[str, Instrument] = {}
        for info in resp.json().get("symbols", []):
            if not isinstance(info, dict) or info.get("status") != "TRADING":
                continue
            try:
                inst = binance_instrument(info)
            except FeedConfigError:
                continue  # an odd listing: not offered
            symbols[inst.symbol] = inst
        self._symbols, self._loaded = symbols, time.monotonic()
        return symbols

    def search(self, query: str) -> list[Instrument]:
        """Symbols containing ``query``: the exact one first, then those starting with it."""
        q = query.strip().upper()
        hits = [i for s, i in self._all().items() if q in s]
        hits.sort(key=lambda i: (i.symbol != q, not i.symbol.startswith(q), i.symbol))
        return hits[:MAX_RESULTS]

    def lookup(self, symbol: str) -> Instrument:
        """One symbol's instrument (raises FeedConfigError, the venue's words, if unknown)."""
        return binance_instruments([symbol], self.rest_url, self.timeout)[0]


class DirectoryRouter:
    """The order router, with the external venue's searches and lookups answered by ``directory``.

    Args:
        inner: the order router (the paper exchange's).
        directory: the venue's symbols (:class:`BinanceDirectory`).
        sink: the engine's inbound queue.
        on_listed: called (on the worker thread) with each instrument a lookup found, before
            its result is queued: the feed and the paper exchange follow it.
    """

    def __init__(
        self,
        inner: Any,
        directory: BinanceDirectory,
        sink: Callable[[object], None],
        on_listed: Callable[[Instrument], None] | None = None,
    ) -> None:
        self.inner = inner
        self.directory = directory
        self._sink = sink
        self._on_listed = on_listed
        self._queue: queue.Queue[RouterRequest | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def submit(self, request: RouterRequest) -> None:
        """A search or lookup of the venue's exchange to the worker; anything else as before."""
        ours = self.directory.exchange
        if (isinstance(request, LookupSymbol) and request.exchange.upper() == ours) or (
            isinstance(request, SearchSymbols) and (request.exchange or ours).upper() == ours
        ):
            self._queue.put(request)
            return
        self.inner.submit(request)

    def drop_queued_entries(self) -> int:
        return int(self.inner.drop_queued_entries())

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="symbol-directory", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while (request := self._queue.get()) is not None:
            self._sink(self._answer(request))

    def _answer(self, request: RouterRequest) -> RouterResult:
        try:
            if isinstance(request, SearchSymbols):
                return RouterResult(request, True, data=self.directory.search(request.query))
            assert isinstance(request, LookupSymbol)
            inst = self.directory.lookup(request.symbol)
            if self._on_listed is not None:
                self._on_listed(inst)
            return RouterResult(request, True, data=inst)
        except FeedConfigError as exc:
            return RouterResult(request, False, code="not_found", error=_short(str(exc)))
        except Exception as exc:  # noqa: BLE001 - one answer per request, whatever happens
            log.warning("symbol directory: %s failed: %r", type(request).__name__, exc)
            return RouterResult(request, False, code="error", error=f"{type(exc).__name__}")


def _short(text: str) -> str:
    """The venue's words without the ``--feed binance:`` start-up prefix."""
    return text.removeprefix("--feed binance: ")
