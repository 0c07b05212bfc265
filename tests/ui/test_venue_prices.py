"""The TUI shows prices from each public venue: the real engine (``EngineRunner``, paper
exchange child) with ``--feed VENUE`` pointed at the venue's loopback server, and the real app
attached to it over the engine's socket, driven by Pilot."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cockpit.link.client import EngineClient
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import ClientLink
from tests.integration.external_stack import RunnerStack
from tests.servers.binance_futures_server import BinanceFuturesServer
from tests.servers.bybit_server import BybitServer
from tests.servers.hyperliquid_server import HyperliquidServer
from tests.ui.conftest import wait_for

pytest.importorskip("cockpit.engine.core")

CENTS = re.compile(r"\b(19999|2000\d)\.\d\d\b")  # the loopback books sit around 20000.00
# name -> (server factory, --feed, symbol, watchlist key, the price as shown)
VENUES: dict[str, tuple[Callable[[], Any], str, str, str, re.Pattern[str]]] = {
    "bybit": (
        lambda: BybitServer(symbols=("BTCUSDT",)),
        "bybit",
        "BTCUSDT",
        "BYBIT:BTCUSDT",
        CENTS,
    ),
    "binance-futures": (
        lambda: BinanceFuturesServer(symbols=("BTCUSDT",)),
        "binance-futures",
        "BTCUSDT",
        "BINANCE_FUTURES:BTCUSDT",
        CENTS,
    ),
    "hyperliquid": (
        lambda: HyperliquidServer(coins=("BTC",)),
        "hyperliquid",
        "BTC",
        "HYPERLIQUID:BTC",
        re.compile(r"\b(19999|2000\d)\b"),  # tick 1: five significant figures
    ),
    "ccxt:bybit": (
        lambda: BybitServer(symbols=("BTCUSDT",)),
        "ccxt:bybit",
        "BTC/USDT",
        "CCXT:BTC/USDT",
        CENTS,
    ),
}


@pytest.fixture(params=sorted(VENUES))
def venue(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[RunnerStack, str, re.Pattern[str]]]:
    make_server, feed, symbol, key, price = VENUES[request.param]
    if feed.startswith("ccxt:"):
        pytest.importorskip("ccxt")
    server = make_server()
    server.start()
    stack = RunnerStack(
        tmp_path, {"venue": {"feed": feed}, "feed": {"url": server.url, "symbols": [symbol]}}
    )
    try:
        stack.start()
        yield stack, key, price
    finally:
        stack.stop()
        server.stop()


async def test_the_watchlist_shows_the_venue_price(
    venue: tuple[RunnerStack, str, re.Pattern[str]],
) -> None:
    stack, key, price = venue
    link = ClientLink(EngineClient.connect(path=stack.settings.socket_path, client="pilot"))
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))  # type: ignore[arg-type]
    symbol = key.split(":", 1)[1]
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.store.connected and key in app.store.watchlist, 20)

        def shown() -> bool:
            rows = [app.screen.watchlist.text_of(y) for y in range(1, 4)]
            return any(symbol in r and price.search(r) for r in rows)

        await wait_for(pilot, shown, 20)
