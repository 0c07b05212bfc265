"""``/`` on an external feed: symbol search and lookup at the venue the prices come from.

With ``--feed binance``, ``--feed kite`` or a public venue (``bybit``, ``binance-futures``,
``hyperliquid``, ``ccxt:EXCHANGE``) the orders go to the paper exchange, but the symbols are
the venue's: a search (the screen's ``/``) is answered from the venue's own list, and adding a
symbol looks it up there:

- Kite: ``GET /instruments`` (Kite Connect's CSV of every instrument: token, trading symbol,
  name, tick size, lot size, type, exchange; it needs the API key and access token);
- the public venues: their registry's ``listing`` (Binance ``/api/v3/exchangeInfo`` and
  ``/fapi/v1/exchangeInfo``, Bybit ``/v5/market/instruments-info``, Hyperliquid ``meta`` +
  ``allMids``, CCXT's ``load_markets``).

Lists are read once and kept for an hour. A symbol found is then followed: the feed learns its
venue name (a Kite token) and the paper exchange is told to list it at the feed's prices
(:meth:`~cockpit.daemon.external.UpstreamTee.follow`), before the engine subscribes it.

:class:`DirectoryRouter` wraps the order router: the searches and lookups of the external
venue's exchange go to a worker thread of its own (HTTP, never on the decision thread); every
other request goes to the router as before. Each gets exactly one ``RouterResult`` on the
engine's queue.
"""

from __future__ import annotations

import csv
import io
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Final

from cockpit.daemon.external import FeedConfigError
from cockpit.domain.execution import LookupSymbol, RouterRequest, RouterResult, SearchSymbols
from cockpit.domain.instruments import Exchange, Instrument

log = logging.getLogger(__name__)

LIST_TTL_S: Final = 3600.0
MAX_RESULTS: Final = 50


_KITE_KINDS: Final = {"EQ": "equity", "FUT": "future", "CE": "option", "PE": "option"}
KITE_EXCHANGES: Final = frozenset({"NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX"})


def kite_listing(
    rest_url: str, api_key: str, access_token: str, timeout: float = 30.0
) -> list[Instrument]:
    """Kite's instruments, each with its token, from Kite Connect's ``GET /instruments`` CSV
    (a row it cannot read, or an index, is not offered)."""
    import httpx

    headers = {"X-Kite-Version": "3", "Authorization": f"token {api_key}:{access_token}"}
    with httpx.Client(timeout=timeout, headers=headers) as client:
        resp = client.get(f"{rest_url.rstrip('/')}/instruments")
    if resp.status_code != 200:
        raise FeedConfigError(f"Kite /instruments answered HTTP {resp.status_code}")
    out: list[Instrument] = []
    for row in csv.DictReader(io.StringIO(resp.text)):
        try:
            out.append(_kite_row(row))
        except (KeyError, ValueError, ArithmeticError):
            continue
    return out


def _kite_row(row: dict[str, str]) -> Instrument:
    """One ``/instruments`` CSV row as an instrument (with its token)."""
    token = str(int(row["instrument_token"]))
    if row.get("segment") == "INDICES":
        raise ValueError("an index (no orders): not offered")
    tick = Decimal(row["tick_size"] or "0.05")
    lot = Decimal(row["lot_size"] or "1")
    if tick <= 0 or lot <= 0:
        raise ValueError("tick or lot")
    return Instrument(
        Exchange(row["exchange"]),
        row["tradingsymbol"].upper(),
        tick,
        lot,
        name=row.get("name") or row["tradingsymbol"],
        kind=_KITE_KINDS.get(row.get("instrument_type", ""), "equity"),
        token=token,
    )


def _ranked(insts: Iterable[Instrument], query: str) -> list[Instrument]:
    """Those whose symbol or name contains ``query``: the exact symbol first, then those
    starting with it."""
    q = query.strip().upper()
    hits = [i for i in insts if q in i.symbol or q in i.name.upper()]
    hits.sort(key=lambda i: (i.symbol != q, not i.symbol.startswith(q), i.symbol))
    return hits[:MAX_RESULTS]


class ListedDirectory:
    """A venue's symbols from its own list, read once an hour: a public venue's
    (:mod:`cockpit.adapters.venues`: Binance spot and futures, Bybit, Hyperliquid, a CCXT
    exchange) or Kite's. The venue's name of an instrument is its token where it has one
    (Kite), else its symbol."""

    def __init__(
        self, exchanges: str | frozenset[str], listing: Callable[[], list[Instrument]]
    ) -> None:
        self.exchanges = frozenset({exchanges}) if isinstance(exchanges, str) else exchanges
        self._listing = listing
        self._by_key: dict[str, Instrument] = {}
        self._loaded = 0.0

    def _all(self) -> dict[str, Instrument]:
        if self._by_key and time.monotonic() - self._loaded < LIST_TTL_S:
            return self._by_key
        try:
            listed = self._listing()
        except ValueError as exc:
            raise FeedConfigError(str(exc)) from exc
        self._by_key, self._loaded = {i.key: i for i in listed}, time.monotonic()
        return self._by_key

    def search(self, query: str, exchange: str | None = None) -> list[Instrument]:
        """Symbols or names containing ``query`` (on ``exchange`` if given): the exact symbol
        first, then prefixes."""
        insts = list(self._all().values())
        if exchange:
            insts = [i for i in insts if str(i.exchange) == exchange.upper()]
        return _ranked(insts, query)

    def lookup(self, exchange: str, symbol: str) -> tuple[Instrument, str]:
        """One symbol's instrument and venue name (FeedConfigError if the venue lists none)."""
        inst = self._all().get(f"{exchange.upper()}:{symbol}")
        if inst is None:
            raise FeedConfigError(f"{exchange}:{symbol} is not listed on the venue")
        return inst, inst.token or inst.symbol


class DirectoryRouter:
    """The order router, with the external venue's searches and lookups answered by ``directory``.

    Args:
        inner: the order router (the paper exchange's).
        directory: the venue's symbols.
        sink: the engine's inbound queue.
        on_listed: called (on the worker thread) with each instrument a lookup found and its
            venue name, before its result is queued: the feed and the paper exchange follow it.
    """

    def __init__(
        self,
        inner: Any,
        directory: ListedDirectory,
        sink: Callable[[object], None],
        on_listed: Callable[[Instrument, str], None] | None = None,
    ) -> None:
        self.inner = inner
        self.directory = directory
        self._sink = sink
        self._on_listed = on_listed
        self._queue: queue.Queue[RouterRequest | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def submit(self, request: RouterRequest) -> None:
        """A search or lookup of the venue's exchange to the worker; anything else as before."""
        ours = self.directory.exchanges
        if (isinstance(request, LookupSymbol) and request.exchange.upper() in ours) or (
            isinstance(request, SearchSymbols)
            and (request.exchange is None or request.exchange.upper() in ours)
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
                hits = self.directory.search(request.query, request.exchange)
                return RouterResult(request, True, data=hits)
            assert isinstance(request, LookupSymbol)
            inst, venue_id = self.directory.lookup(request.exchange, request.symbol)
            if self._on_listed is not None:
                self._on_listed(inst, venue_id)
            return RouterResult(request, True, data=inst)
        except FeedConfigError as exc:
            return RouterResult(request, False, code="not_found", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - one answer per request, whatever happens
            log.warning("symbol directory: %s failed: %r", type(request).__name__, exc)
            return RouterResult(request, False, code="error", error=f"{type(exc).__name__}")


def directory_for(kind: str, settings: Any) -> ListedDirectory | None:
    """The symbol directory of an external feed (None: the venue has none here)."""
    if kind == "kite":
        v = settings.venue
        key = v.kite_api_key.get_secret_value() if v.kite_api_key else ""
        token = v.kite_access_token.get_secret_value() if v.kite_access_token else ""
        rest = settings.feed.rest_url or KITE_REST_URL
        if not key or not token:
            return None
        return ListedDirectory(KITE_EXCHANGES, lambda: kite_listing(rest, key, token))
    from cockpit.adapters.venues import venue

    spec = venue(kind) if kind != "replay" else None
    if spec is None or spec.listing is None:
        return None
    listing, url, rest_url = spec.listing, settings.feed.url, settings.feed.rest_url
    return ListedDirectory(spec.exchange, lambda: listing(url, rest_url))


KITE_REST_URL: Final = "https://api.kite.trade"
