"""The venue catalog: search order, look-ups on its own exchange, a failing list."""

from __future__ import annotations

import queue
from decimal import Decimal

from cockpit.daemon.catalog import VenueCatalog, search
from cockpit.domain.execution import LookupSymbol, RouterResult, SearchSymbols
from cockpit.domain.instruments import Exchange, Instrument


def inst(symbol: str, name: str = "") -> Instrument:
    return Instrument(Exchange.BYBIT, symbol, Decimal("0.01"), Decimal("0.001"), name=name)


LISTED = [inst("ETHBTC"), inst("BTCUSDT", "BTC/USDT spot"), inst("WBTCUSDT"), inst("BTC")]


def test_search_puts_the_exact_symbol_first_then_prefixes() -> None:
    assert [i.symbol for i in search(LISTED, "btc")] == ["BTC", "BTCUSDT", "ETHBTC", "WBTCUSDT"]
    assert [i.symbol for i in search(LISTED, "usdt spot")] == ["BTCUSDT"]
    assert search(LISTED, "  ") == []


def answer(catalog: VenueCatalog, out: queue.SimpleQueue[object], request: object) -> RouterResult:
    catalog.submit(request)  # type: ignore[arg-type]
    result = out.get(timeout=5)
    assert isinstance(result, RouterResult)
    return result


def test_searches_and_own_lookups_are_answered_from_one_fetch() -> None:
    out: queue.SimpleQueue[object] = queue.SimpleQueue()
    calls: list[int] = []

    def listing() -> list[Instrument]:
        calls.append(1)
        return LISTED

    catalog = VenueCatalog("BYBIT", listing, out.put)
    try:
        assert catalog.handles(SearchSymbols("x"))
        assert not catalog.handles(SearchSymbols("x", "NSE"))
        assert not catalog.handles(LookupSymbol("SBIN", "NSE"))
        found = answer(catalog, out, SearchSymbols("wbtc"))
        assert found.ok
        assert found.data == [LISTED[2]]
        hit = answer(catalog, out, LookupSymbol("BTCUSDT", "BYBIT"))
        assert hit.ok
        assert hit.data == LISTED[1]
        miss = answer(catalog, out, LookupSymbol("NOPE", "BYBIT"))
        assert not miss.ok
        assert "not listed" in miss.error
        assert calls == [1]
    finally:
        catalog.stop()


def test_a_venue_that_cannot_list_gives_a_clear_refusal() -> None:
    out: queue.SimpleQueue[object] = queue.SimpleQueue()

    def listing() -> list[Instrument]:
        raise ValueError("cannot reach the venue")

    catalog = VenueCatalog("BYBIT", listing, out.put)
    try:
        result = answer(catalog, out, SearchSymbols("btc"))
        assert not result.ok
        assert "cannot reach" in result.error
        assert catalog.errors == 1
    finally:
        catalog.stop()
