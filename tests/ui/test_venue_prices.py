"""The TUI on each public venue: the real engine (``EngineRunner``, paper exchange child) with
``--feed VENUE`` pointed at the venue's loopback server, and the real app attached to it over
the engine's socket, driven by Pilot. The watchlist shows the venue's price, and ``/`` searches
the venue's own instrument list and adds what is picked (priced and tradable on paper)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cockpit.link.client import EngineClient, EngineNotRunning
from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
from cockpit.ui.link import ClientLink
from tests.integration.external_stack import RunnerStack
from tests.servers.binance_futures_server import BinanceFuturesServer
from tests.servers.binance_server import BinanceServer
from tests.servers.bybit_server import BybitServer
from tests.servers.hyperliquid_server import HyperliquidServer
from tests.ui.conftest import showing, wait_for

pytest.importorskip("cockpit.engine.core")

CENTS = re.compile(r"\b(19999|2000\d)\.\d\d\b")  # the loopback books sit around 20000.00
WHOLE = re.compile(r"\b(19999|2000\d)\b")  # Hyperliquid: 5 significant figures, tick 1


@dataclass(frozen=True)
class Venue:
    server: Callable[[], Any]
    feed: str
    symbol: str
    """Given with --symbols."""
    key: str
    found: str
    """What the search adds (typed as ``query``)."""
    query: str
    price: re.Pattern[str]


VENUES = {
    "bybit": Venue(
        lambda: BybitServer(symbols=("BTCUSDT", "ETHUSDT")),
        "bybit", "BTCUSDT", "BYBIT:BTCUSDT", "BYBIT:ETHUSDT", "eth", CENTS,
    ),
    "binance-futures": Venue(
        lambda: BinanceFuturesServer(symbols=("BTCUSDT", "ETHUSDT")),
        "binance-futures", "BTCUSDT", "BINANCE_FUTURES:BTCUSDT", "BINANCE_FUTURES:ETHUSDT",
        "ETH", CENTS,
    ),
    "hyperliquid": Venue(
        lambda: HyperliquidServer(coins=("BTC", "ETH")),
        "hyperliquid", "BTC", "HYPERLIQUID:BTC", "HYPERLIQUID:ETH", "eth", WHOLE,
    ),
    "ccxt:bybit": Venue(
        lambda: BybitServer(symbols=("BTCUSDT", "ETHUSDT")),
        "ccxt:bybit", "BTC/USDT", "CCXT:BTC/USDT", "CCXT:ETH/USDT", "ETH/", CENTS,
    ),
    "binance": Venue(
        lambda: BinanceServer(symbols=("BTCUSDT", "ETHUSDT")),
        "binance", "BTCUSDT", "BINANCE:BTCUSDT", "BINANCE:ETHUSDT", "ETH", CENTS,
    ),
}  # fmt: skip


@pytest.fixture(params=sorted(VENUES))
def venue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[RunnerStack, Venue]]:
    v = VENUES[request.param]
    if v.feed.startswith("ccxt:"):
        pytest.importorskip("ccxt")
    server = v.server()
    server.start()
    stack = RunnerStack(
        tmp_path, {"venue": {"feed": v.feed}, "feed": {"url": server.url, "symbols": [v.symbol]}}
    )
    try:
        stack.start()
        yield stack, v
    finally:
        stack.stop()
        server.stop()


def connect(stack: RunnerStack) -> EngineClient:
    """The engine's socket file exists a moment before it listens: retry until it answers."""
    deadline = time.monotonic() + 20
    while True:
        try:
            return EngineClient.connect(path=stack.settings.socket_path, client="pilot")
        except EngineNotRunning:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def shown(app: CockpitApp, key: str, price: re.Pattern[str]) -> bool:
    symbol = key.split(":", 1)[1]
    rows = [app.screen.watchlist.text_of(y) for y in range(1, 6)]
    return any(symbol in r and price.search(r) for r in rows)


async def test_prices_show_and_slash_adds_from_the_venue(
    venue: tuple[RunnerStack, Venue],
) -> None:
    stack, v = venue
    link = ClientLink(connect(stack))
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))  # type: ignore[arg-type]
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.store.connected and v.key in app.store.watchlist, 20)
        await wait_for(pilot, lambda: shown(app, v.key, v.price), 20)

        await pilot.press("slash")
        await wait_for(pilot, lambda: showing(app, "SymbolSearchScreen"))
        await pilot.press(*v.query)
        from textual.widgets import OptionList

        results = app.screen.query_one(OptionList)

        def index() -> int | None:
            ids = [results.get_option_at_index(i).id for i in range(results.option_count)]
            return ids.index(v.found) if v.found in ids else None

        await wait_for(pilot, lambda: index() is not None, 20)
        results.highlighted = index()
        await pilot.press("enter")
        await wait_for(pilot, lambda: v.found in app.store.watchlist, 20)
        await wait_for(pilot, lambda: shown(app, v.found, v.price), 20)
    # the paper exchange follows what was added: it quotes it at the venue's price
    quote = stack.paper_quote(v.found)
    assert quote is not None, f"the paper exchange does not know {v.found}"
