"""The Hyperliquid feed against a loopback Hyperliquid (WebSocket + info) over real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from cockpit.adapters.hyperliquid.feed import HyperliquidFeed, make_feed
from cockpit.adapters.hyperliquid.instruments import lookup, tick_for
from cockpit.adapters.ws import Backoff
from cockpit.domain.feed import FeedState, FeedStatus
from cockpit.domain.market import DepthTick, LtpTick, QuoteTick, TradeTick
from tests.servers.base import Collector, wait_until
from tests.servers.hyperliquid_server import HyperliquidServer

FAST = Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.1)


@pytest.fixture
def server() -> Iterator[HyperliquidServer]:
    srv = HyperliquidServer(coins=("BTC", "ETH"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def feeds() -> Iterator[list[HyperliquidFeed]]:
    made: list[HyperliquidFeed] = []
    yield made
    for f in made:
        assert f.stop(3)


def new_feed(
    server: HyperliquidServer,
    feeds: list[HyperliquidFeed],
    sink: Collector,
    coins: list[str],
    mode: str,
    **kw: object,
) -> HyperliquidFeed:
    options: dict[str, object] = {"backoff": FAST, "stable_s": 0.5}
    options.update(kw)
    feed = make_feed(coins, mode, server.url, sink, **options)
    feeds.append(feed)
    return feed


def assert_book_matches_server(sink: Collector, server: HyperliquidServer, coin: str) -> None:
    """Pause the server and compare the last DepthTick with its true top 20 levels."""
    server.streaming = False
    try:
        bids, asks = server.true_book(coin)

        def last_matches() -> bool:
            last = [d for d in sink.of(DepthTick) if d.symbol == coin][-1]
            got_b = [(p, q) for p, q, _n in last.bids or ()]
            got_a = [(p, q) for p, q, _n in last.asks or ()]
            return got_b == bids and got_a == asks

        server.streaming = True
        n = len(sink.of(DepthTick))
        assert wait_until(lambda: len(sink.of(DepthTick)) > n)
        server.streaming = False
        bids, asks = server.true_book(coin)
        assert wait_until(last_matches, 5)
    finally:
        server.streaming = True


def test_books_trades_and_one_subscription_each(
    server: HyperliquidServer, feeds: list[HyperliquidFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTC", "eth"], "depth", depth_levels=20)
    feed.start()
    assert wait_until(
        lambda: (
            {d.symbol for d in sink.of(DepthTick)} == {"BTC", "ETH"}
            and len(sink.of(TradeTick)) >= 4
        )
    )
    (subs,) = server.subscriptions()
    assert sorted(subs) == ["allMids", "l2Book:BTC", "l2Book:ETH", "trades:BTC", "trades:ETH"]
    assert feed.stats()["acks"] == 5
    for d in sink.of(DepthTick):
        assert d.exchange == "HYPERLIQUID"
        assert (d.bids or ())[0][0] < (d.asks or ())[0][0]
        assert all(n > 0 for _p, _q, n in d.bids or ())  # the order count rides along
    for t in sink.of(TradeTick):
        assert t.aggressor in ("buy", "sell")
        assert t.ltp in (Decimal(19999), Decimal(20001))
    assert feed.stats()["rejected"] == 0
    assert_book_matches_server(sink, server, "BTC")


def test_quote_mode_gives_the_touch_and_mids_price_a_coin_before_its_first_trade(
    server: HyperliquidServer, feeds: list[HyperliquidFeed]
) -> None:
    server.trading = False
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTC"], "quote")
    feed.start()
    assert wait_until(lambda: len(sink.of(QuoteTick)) >= 3 and sink.of(LtpTick))
    assert not sink.of(DepthTick)
    assert all(len(q.bids or ()) == 1 for q in sink.of(QuoteTick))
    assert {m.ltp for m in sink.of(LtpTick)} == {Decimal(20000)}
    server.trading = True
    assert wait_until(lambda: sink.of(TradeTick))
    n = len(sink.of(LtpTick))
    assert wait_until(lambda: len(sink.of(TradeTick)) >= 5)
    assert len(sink.of(LtpTick)) <= n + 1  # mids stop once the coin has traded


def test_lost_book_pushes_cost_nothing_but_themselves(
    server: HyperliquidServer, feeds: list[HyperliquidFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTC"], "depth")
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 3)
    server.drop_books = 5  # the book moves on without us seeing it
    assert wait_until(lambda: server.drop_books == 0)
    assert_book_matches_server(sink, server, "BTC")  # the next snapshot is the whole truth
    assert server.handshakes == 1
    assert feed.stats()["reconnects"] == 0


def test_kill_and_restart_subscribes_each_once(
    server: HyperliquidServer, feeds: list[HyperliquidFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTC"], "depth")
    feed.subscribe(["ETH"], "ltp")
    feed.subscribe(["ETH"], "quote")
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 3)
    server.kill()
    assert feed.wait_state(FeedState.RECONNECTING, timeout=5)
    server.restart()
    assert wait_until(lambda: len(server.all_conns) == 2)
    n = len(sink.of(DepthTick))
    assert wait_until(lambda: len(sink.of(DepthTick)) > n + 3)
    first, second = server.subscriptions()
    assert sorted(first) == sorted(second)
    assert len(second) == len(set(second)) == 5
    assert feed.stats()["reconnects"] == 1


def test_silent_socket_trips_the_watchdog(
    server: HyperliquidServer, feeds: list[HyperliquidFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTC"], "depth", liveness_s=0.8, ping_interval_s=60)
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 3)
    server.silent = True
    assert wait_until(lambda: any(s.state == FeedState.STALE for s in sink.of(FeedStatus)), 5)
    assert wait_until(lambda: server.handshakes >= 2, 5)
    server.silent = False
    n = len(sink.of(DepthTick))
    assert wait_until(lambda: len(sink.of(DepthTick)) > n + 3)


def test_method_ping_keeps_an_idle_connection_open() -> None:
    srv = HyperliquidServer(idle_close_s=1.0)
    srv.streaming = False  # only pongs come back: they alone keep the feed alive
    srv.start()
    made: list[HyperliquidFeed] = []
    try:
        sink = Collector()
        feed = new_feed(srv, made, sink, ["BTC"], "ltp", liveness_s=1.0, ping_interval_s=0.3)
        feed.start()
        assert feed.wait_state(FeedState.LIVE, timeout=5)
        assert wait_until(lambda: feed.stats()["pongs"] >= 8, 6)
        assert srv.handshakes == 1
        assert feed.state == FeedState.LIVE
    finally:
        for f in made:
            f.stop(3)
        srv.stop()


HOSTILE = [
    "nope",
    '{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":"NaN","sz":"1","n":1}],[]]}}',
    '{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":"5","sz":"1","n":1}],[{"px":"4","sz":"1","n":1}]]}}',
    '{"channel":"trades","data":[{"coin":"BTC","side":"X","px":"1","sz":"1","time":1}]}',
    '{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"-1","sz":"1","time":1}]}',
    '{"channel":"allMids","data":{"mids":"all"}}',
    '{"channel":"whatever","data":1}',
    '{"data":1}',
]


def test_hostile_frames_are_counted_and_never_reach_the_sink(
    server: HyperliquidServer, feeds: list[HyperliquidFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTC"], "depth")
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 3)
    for frame in HOSTILE:
        server.send(frame)
    assert wait_until(lambda: feed.stats()["rejected"] == len(HOSTILE))
    n = len(sink.of(DepthTick))
    assert wait_until(lambda: len(sink.of(DepthTick)) > n + 3)
    for ev in sink.of((TradeTick, QuoteTick)):
        assert ev.ltp.is_finite()
        assert ev.ltp > 0
    assert feed.stats()["reconnects"] == 0


def test_an_unknown_coin_is_refused_and_said(
    server: HyperliquidServer, feeds: list[HyperliquidFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTC", "NOPE"], "ltp")
    feed.start()
    assert wait_until(lambda: feed.protocol.subscribe_errors)
    assert "NOPE" in feed.protocol.subscribe_errors[0]
    assert wait_until(lambda: sink.of(TradeTick))


def test_instruments_from_meta_and_mids(server: HyperliquidServer) -> None:
    (btc,) = lookup(["BTC"], f"http://127.0.0.1:{server.port}")
    assert btc.key == "HYPERLIQUID:BTC"
    assert btc.tick_size == Decimal(1)  # 5 significant figures at 20000
    assert btc.lot_size == Decimal("0.00001")  # szDecimals 5
    with pytest.raises(ValueError, match="OLD"):
        lookup(["OLD"], f"http://127.0.0.1:{server.port}")  # delisted
    assert tick_for(Decimal("3456.7"), 4) == Decimal("0.1")
    assert tick_for(Decimal("0.012345"), 0) == Decimal("0.000001")
    assert tick_for(Decimal("123456"), 5) == Decimal(1)  # integers are always valid
