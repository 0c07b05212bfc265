"""A public venue's symbol directory: search order, look-ups, one fetch, a failing list."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cockpit.daemon.directory import ListedDirectory
from cockpit.daemon.external import FeedConfigError
from cockpit.domain.instruments import Exchange, Instrument


def inst(symbol: str, name: str = "") -> Instrument:
    return Instrument(Exchange.BYBIT, symbol, Decimal("0.01"), Decimal("0.001"), name=name)


LISTED = [inst("ETHBTC"), inst("BTCUSDT", "BTC/USDT spot"), inst("WBTCUSDT"), inst("BTC")]


def test_search_and_lookup_from_one_fetch() -> None:
    calls: list[int] = []

    def listing() -> list[Instrument]:
        calls.append(1)
        return LISTED

    d = ListedDirectory("BYBIT", listing)
    assert d.exchanges == {"BYBIT"}
    assert [i.symbol for i in d.search("btc")] == ["BTC", "BTCUSDT", "ETHBTC", "WBTCUSDT"]
    assert [i.symbol for i in d.search("usdt spot")] == ["BTCUSDT"]
    assert d.lookup("BYBIT", "WBTCUSDT") == (LISTED[2], "WBTCUSDT")
    with pytest.raises(FeedConfigError, match="not listed"):
        d.lookup("BYBIT", "NOPE")
    assert calls == [1]


def test_a_venue_that_cannot_list_says_why() -> None:
    def listing() -> list[Instrument]:
        raise ValueError("cannot reach the venue")

    with pytest.raises(FeedConfigError, match="cannot reach"):
        ListedDirectory("BYBIT", listing).search("btc")
