"""The public crypto venues an external feed can name, in one place (``--feed KIND``).

Each :class:`Venue` says how to look its instruments up (tick, lot), how to list them all
(symbol search), and how to build its market-data feed in the venue's own symbols. The
engine's wiring (``cockpit.daemon``) and ``cockpit record`` both go through :func:`venue`.
Kite keeps its own wiring (instrument tokens, a login); replay is not a venue.

Kinds: ``binance`` (spot), ``bybit`` (spot), ``bybit:linear`` (USDT/USDC perpetuals),
``binance-futures`` (USD-M), ``hyperliquid`` (perpetuals), ``ccxt:EXCHANGE`` (any exchange
CCXT streams; the optional extra ``cockpit[ccxt]``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cockpit.domain.feed import Sink
from cockpit.domain.instruments import Instrument

Lookup = Callable[[list[str], str | None, str | None], list[Instrument]]
"""(symbols, ws url, rest url) -> instruments; ValueError for an unknown symbol."""
Listing = Callable[[str | None, str | None], list[Instrument]]
"""(ws url, rest url) -> every instrument the venue trades (for symbol search)."""
Make = Callable[[Sink, str | None, str | None], Any]
"""(sink, ws url, rest url) -> a stopped feed with subscribe(symbols, mode)/unsubscribe."""


@dataclass(frozen=True, slots=True)
class Venue:
    """One ``--feed`` kind."""

    kind: str
    exchange: str
    """The exchange code of its instruments (``BYBIT``)."""
    lookup: Lookup
    listing: Listing | None
    make: Make
    record: Callable[..., Any]
    """``make_feed(symbols, mode, url, sink, *, rest_url=None)`` for ``cockpit record``."""


def _bybit(category: str) -> Venue:
    def rest(url: str | None, rest_url: str | None) -> str:
        from cockpit.adapters.bybit.feed import DEFAULT_REST_URL, rest_from_ws

        return rest_url or (rest_from_ws(url) if url else DEFAULT_REST_URL)

    def lookup(symbols: list[str], url: str | None, rest_url: str | None) -> list[Instrument]:
        from cockpit.adapters.bybit.instruments import lookup as bybit_lookup

        return bybit_lookup(symbols, rest(url, rest_url), category)

    def listing(url: str | None, rest_url: str | None) -> list[Instrument]:
        from cockpit.adapters.bybit.instruments import listing as bybit_listing

        return bybit_listing(rest(url, rest_url), category)

    def make(sink: Sink, url: str | None, rest_url: str | None) -> Any:
        from cockpit.adapters.bybit.feed import BybitFeed

        return BybitFeed(sink, url=url, category=category)

    def record(symbols: list[str], mode: str, url: str | None, sink: Sink, **options: Any) -> Any:
        from cockpit.adapters.bybit.feed import make_feed

        return make_feed(symbols, mode, url, sink, category=category, **options)

    kind = "bybit" if category == "spot" else f"bybit:{category}"
    return Venue(kind, "BYBIT", lookup, listing, make, record)


def _binance_spot() -> Venue:
    def rest(url: str | None, rest_url: str | None) -> str:
        from cockpit.adapters.binance.feed import DEFAULT_REST_URL, _rest_from_ws

        return rest_url or (_rest_from_ws(url) if url else DEFAULT_REST_URL)

    def lookup(symbols: list[str], url: str | None, rest_url: str | None) -> list[Instrument]:
        from cockpit.adapters.binance.instruments import spot_lookup

        return spot_lookup(symbols, rest(url, rest_url))

    def listing(url: str | None, rest_url: str | None) -> list[Instrument]:
        from cockpit.adapters.binance.instruments import spot_listing

        return spot_listing(rest(url, rest_url))

    def make(sink: Sink, url: str | None, rest_url: str | None) -> Any:
        from cockpit.adapters.binance.feed import BinanceFeed

        return BinanceFeed(sink, url=url, rest_url=rest(url, rest_url))

    def record(symbols: list[str], mode: str, url: str | None, sink: Sink, **options: Any) -> Any:
        from cockpit.adapters.binance.feed import make_feed

        return make_feed(symbols, mode, url, sink, **options)

    return Venue("binance", "BINANCE", lookup, listing, make, record)


def _binance_futures() -> Venue:
    def lookup(symbols: list[str], url: str | None, rest_url: str | None) -> list[Instrument]:
        from cockpit.adapters.binance import futures

        return futures.lookup(symbols, futures.rest_for(url, rest_url))

    def listing(url: str | None, rest_url: str | None) -> list[Instrument]:
        from cockpit.adapters.binance import futures

        return futures.listing(futures.rest_for(url, rest_url))

    def make(sink: Sink, url: str | None, rest_url: str | None) -> Any:
        from cockpit.adapters.binance.futures import BinanceFuturesFeed

        return BinanceFuturesFeed(sink, url=url, rest_url=rest_url)

    def record(symbols: list[str], mode: str, url: str | None, sink: Sink, **options: Any) -> Any:
        from cockpit.adapters.binance.futures import make_feed

        return make_feed(symbols, mode, url, sink, **options)

    return Venue("binance-futures", "BINANCE_FUTURES", lookup, listing, make, record)


def _hyperliquid() -> Venue:
    def rest(url: str | None, rest_url: str | None) -> str:
        from cockpit.adapters.hyperliquid.feed import DEFAULT_REST_URL, rest_from_ws

        return rest_url or (rest_from_ws(url) if url else DEFAULT_REST_URL)

    def lookup(symbols: list[str], url: str | None, rest_url: str | None) -> list[Instrument]:
        from cockpit.adapters.hyperliquid import instruments

        return instruments.lookup(symbols, rest(url, rest_url))

    def listing(url: str | None, rest_url: str | None) -> list[Instrument]:
        from cockpit.adapters.hyperliquid import instruments

        return instruments.listing(rest(url, rest_url))

    def make(sink: Sink, url: str | None, rest_url: str | None) -> Any:
        from cockpit.adapters.hyperliquid.feed import HyperliquidFeed

        return HyperliquidFeed(sink, url=url)

    def record(symbols: list[str], mode: str, url: str | None, sink: Sink, **options: Any) -> Any:
        from cockpit.adapters.hyperliquid.feed import make_feed

        return make_feed(symbols, mode, url, sink, **options)

    return Venue("hyperliquid", "HYPERLIQUID", lookup, listing, make, record)


def _ccxt(exchange_id: str) -> Venue:
    def lookup(symbols: list[str], url: str | None, rest_url: str | None) -> list[Instrument]:
        from cockpit.adapters.ccxt_feed import load_instruments

        return load_instruments(exchange_id, url, rest_url, symbols=symbols)

    def listing(url: str | None, rest_url: str | None) -> list[Instrument]:
        from cockpit.adapters.ccxt_feed import load_instruments

        return load_instruments(exchange_id, url, rest_url)

    def make(sink: Sink, url: str | None, rest_url: str | None) -> Any:
        from cockpit.adapters.ccxt_feed import CcxtFeed

        return CcxtFeed(exchange_id, sink, url=url, rest_url=rest_url)

    def record(symbols: list[str], mode: str, url: str | None, sink: Sink, **options: Any) -> Any:
        from cockpit.adapters.ccxt_feed import make_feed

        return make_feed(exchange_id, symbols, mode, url, sink, **options)

    return Venue(f"ccxt:{exchange_id}", "CCXT", lookup, listing, make, record)


def venue(spec: str) -> Venue | None:
    """The venue a ``--feed`` value names, or None if it names none of these.

    Raises:
        ValueError: a known venue with a bad qualifier (``bybit:nope``).
    """
    spec = spec.strip()
    if spec == "bybit" or spec == "bybit:spot":
        return _bybit("spot")
    if spec.startswith("bybit:"):
        category = spec.partition(":")[2]
        if category != "linear":
            raise ValueError(f"--feed {spec}: expected bybit or bybit:linear")
        return _bybit(category)
    if spec == "binance":
        return _binance_spot()
    if spec == "binance-futures":
        return _binance_futures()
    if spec == "hyperliquid":
        return _hyperliquid()
    if spec.startswith("ccxt:"):
        exchange_id = spec.partition(":")[2].strip().lower()
        if not exchange_id.isidentifier():
            raise ValueError(f"--feed {spec}: expected ccxt:EXCHANGE (e.g. ccxt:kraken)")
        return _ccxt(exchange_id)
    return None


KINDS = ("binance", "bybit", "bybit:linear", "binance-futures", "hyperliquid", "ccxt:EXCHANGE")
"""The kinds, as the help text lists them."""
