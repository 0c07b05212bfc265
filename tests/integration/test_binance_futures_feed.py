"""The Binance USD-M futures feed against a loopback futures server over real sockets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cockpit.adapters.binance.futures import BinanceFuturesFeed, make_feed
from cockpit.adapters.ws import Backoff
from cockpit.domain.feed import FeedState, FeedStatus
from cockpit.domain.market import DepthTick, QuoteTick, TradeTick
from tests.servers.base import Collector, wait_until
from tests.servers.binance_futures_server import BinanceFuturesServer

FAST = Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.1)


@pytest.fixture
def server() -> Iterator[BinanceFuturesServer]:
    srv = BinanceFuturesServer(symbols=("BTCUSDT", "ETHUSDT"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def feeds() -> Iterator[list[BinanceFuturesFeed]]:
    made: list[BinanceFuturesFeed] = []
    yield made
    for f in made:
        assert f.stop(3)


def new_feed(
    server: BinanceFuturesServer,
    feeds: list[BinanceFuturesFeed],
    sink: Collector,
    symbols: list[str],
    mode: str,
    **kw: object,
) -> BinanceFuturesFeed:
    options: dict[str, object] = {"backoff": FAST, "stable_s": 0.5, "refetch_s": 0.2}
    options.update(kw)
    feed = make_feed(symbols, mode, server.url, sink, **options)
    feeds.append(feed)
    return feed


def routes(server: BinanceFuturesServer) -> list[tuple[str, list[str]]]:
    return [
        (c.request.match_info["route"], [s for s in c.request.query["streams"].split("/") if s])
        for c in server.all_conns
    ]


def assert_book_matches_server(
    feed: BinanceFuturesFeed, server: BinanceFuturesServer, symbol: str
) -> None:
    server.streaming = False
    try:
        book = feed.protocol.books[symbol]
        uid, bids, asks = server.true_book(symbol)
        assert wait_until(lambda: book.synced and book.book_id == uid, 10), (book.book_id, uid)
        assert book.bids.levels == bids
        assert book.asks.levels == asks
    finally:
        server.streaming = True


def test_streams_go_to_their_routes_and_decode_as_futures(
    server: BinanceFuturesServer, feeds: list[BinanceFuturesFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "quote")
    feed.start()
    assert wait_until(lambda: len(sink.of(QuoteTick)) >= 5 and len(sink.of(TradeTick)) >= 3)
    assert sorted(routes(server)) == [
        ("market", ["btcusdt@aggTrade"]),
        ("public", ["btcusdt@bookTicker"]),
    ]
    assert server.wrong_route == []
    for ev in sink.of((QuoteTick, TradeTick)):
        assert ev.exchange == "BINANCE_FUTURES"
        assert ev.symbol == "BTCUSDT"
    assert all(t.trade_id for t in sink.of(TradeTick))  # the aggregate id
    assert feed.stats()["rejected"] == 0
    assert feed.state == FeedState.LIVE


def test_ltp_opens_only_the_market_route(
    server: BinanceFuturesServer, feeds: list[BinanceFuturesFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "ltp")
    feed.start()
    assert wait_until(lambda: len(sink.of(TradeTick)) >= 3)
    assert routes(server) == [("market", ["btcusdt@aggTrade"])]
    feed.subscribe(["ETHUSDT"], "depth")  # a route needed from now on opens
    assert wait_until(lambda: any(d.symbol == "ETHUSDT" for d in sink.of(DepthTick)))
    assert ("public", ["ethusdt@depth@100ms"]) in routes(server)


def test_the_pu_chain_syncs_and_dropped_updates_resync(
    server: BinanceFuturesServer, feeds: list[BinanceFuturesFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "depth", depth_levels=5)
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 10)
    assert feed.stats()["gaps"] == 0  # U jumps past pu + 1: not a gap on futures
    assert_book_matches_server(feed, server, "BTCUSDT")
    for i in range(3):
        server.drop_depth = 2
        assert wait_until(lambda i=i: feed.stats()["resyncs"] == i + 1)
        assert wait_until(lambda: feed.protocol.books["BTCUSDT"].synced)
        assert_book_matches_server(feed, server, "BTCUSDT")
    assert server.snapshot_requests == ["BTCUSDT"] * 4
    assert server.handshakes == 2  # one per route, no reconnect to resync


def test_kill_and_restart_resubscribes_each_route_once(
    server: BinanceFuturesServer, feeds: list[BinanceFuturesFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "depth")
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 5)
    server.kill()
    assert wait_until(lambda: feed.state == FeedState.RECONNECTING, 5)
    server.restart()
    assert wait_until(lambda: len(server.all_conns) == 4)
    n = len(sink.of(DepthTick))
    assert wait_until(lambda: len(sink.of(DepthTick)) > n + 5)
    first, second = sorted(routes(server)[:2]), sorted(routes(server)[2:])
    assert first == second
    assert server.received() == []  # everything rode on the URL
    assert feed.stats()["reconnects"] == 2  # each route once
    assert_book_matches_server(feed, server, "BTCUSDT")


def test_a_silent_route_trips_the_watchdog(
    server: BinanceFuturesServer, feeds: list[BinanceFuturesFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "ltp", liveness_s=0.8, ping_interval_s=60)
    feed.start()
    assert wait_until(lambda: len(sink.of(TradeTick)) >= 3)
    server.silent = True
    assert wait_until(lambda: any(s.state == FeedState.STALE for s in sink.of(FeedStatus)), 5)
    assert wait_until(lambda: server.handshakes >= 2, 5)
    server.silent = False
    n = len(sink.of(TradeTick))
    assert wait_until(lambda: len(sink.of(TradeTick)) > n + 3)


def test_client_pings_keep_a_quiet_route_alive(
    server: BinanceFuturesServer, feeds: list[BinanceFuturesFeed]
) -> None:
    server.streaming = False  # the venue pings every 3 minutes: our pings' pongs must do
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "ltp", liveness_s=0.8, ping_interval_s=0.2)
    feed.start()
    assert feed.wait_state(FeedState.LIVE, timeout=5)
    assert wait_until(lambda: feed.stats()["frames"] >= 8, 5)
    assert server.handshakes == 1
    assert feed.state == FeedState.LIVE


def test_hostile_frames_are_counted(
    server: BinanceFuturesServer, feeds: list[BinanceFuturesFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "depth")
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 3)
    hostile = [
        "{",
        '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","s":"BTCUSDT","p":"NaN","q":"1","T":1}}',
        '{"stream":"btcusdt@depth@100ms","data":{"s":"BTCUSDT","U":9,"u":3,"pu":1,"b":[],"a":[]}}',
        '{"stream":"btcusdt@nope","data":{}}',
    ]
    for frame in hostile:
        server.send(frame)
    assert wait_until(lambda: feed.stats()["rejected"] == 2 * len(hostile))  # both routes
    n = len(sink.of(DepthTick))
    assert wait_until(lambda: len(sink.of(DepthTick)) > n + 3)
    assert feed.stats()["reconnects"] == 0
    assert_book_matches_server(feed, server, "BTCUSDT")
