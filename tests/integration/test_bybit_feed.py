"""The Bybit v5 feed against a loopback Bybit (public stream + instruments) over real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from cockpit.adapters.bybit.feed import BybitFeed, make_feed
from cockpit.adapters.ws import Backoff
from cockpit.domain.feed import FeedState, FeedStatus
from cockpit.domain.market import DepthTick, QuoteTick, TradeTick
from tests.servers.base import Collector, wait_until
from tests.servers.bybit_server import BybitServer

FAST = Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.1)


@pytest.fixture
def server() -> Iterator[BybitServer]:
    srv = BybitServer(symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def feeds() -> Iterator[list[BybitFeed]]:
    made: list[BybitFeed] = []
    yield made
    for f in made:
        assert f.stop(3)


def new_feed(
    server: BybitServer,
    feeds: list[BybitFeed],
    sink: Collector,
    symbols: list[str],
    mode: str,
    **kw: object,
) -> BybitFeed:
    options: dict[str, object] = {"backoff": FAST, "stable_s": 0.5}
    options.update(kw)
    feed = make_feed(symbols, mode, server.url, sink, **options)  # type: ignore[arg-type]
    feeds.append(feed)
    return feed


def assert_book_matches_server(feed: BybitFeed, server: BybitServer, symbol: str) -> None:
    """Pause the server, let the client catch up, compare every level exactly."""
    server.streaming = False
    try:
        uid, bids, asks = server.true_book(symbol)
        book = feed.protocol.books[symbol]
        assert wait_until(lambda: book.synced and book.u == uid, 10), (book.u, uid)
        assert book.bids.levels == bids
        assert book.asks.levels == asks
    finally:
        server.streaming = True


def subscribes(server: BybitServer, cid: int | None = None) -> list[str]:
    return [
        a
        for c, m in server.received()
        if m["op"] == "subscribe" and cid in (None, c)
        for a in m["args"]
    ]


def test_depth_trades_and_tickers_decode_and_batch_ten_args_a_request(
    server: BybitServer, feeds: list[BybitFeed]
) -> None:
    sink = Collector()
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
    feed = new_feed(server, feeds, sink, symbols, "depth", depth_levels=5)
    feed.start()
    assert wait_until(
        lambda: (
            {d.symbol for d in sink.of(DepthTick)} == set(symbols)
            and len(sink.of(TradeTick)) >= 4
            and {q.symbol for q in sink.of(QuoteTick) if type(q) is QuoteTick} == set(symbols)
        )
    )
    requests = [m for _, m in server.received() if m["op"] == "subscribe"]
    assert [len(m["args"]) for m in requests] == [10, 2]  # 12 topics, 10 per request at most
    assert sorted(subscribes(server)) == sorted(
        f"{t}.{s}" for s in symbols for t in ("publicTrade", "orderbook.50", "tickers")
    )
    for d in sink.of(DepthTick):
        assert d.exchange == "BYBIT"
        assert 0 < len(d.bids or ()) <= 5
        assert (d.bids or ())[0][0] < (d.asks or ())[0][0]
    for t in sink.of(TradeTick):
        assert t.aggressor in ("buy", "sell")
        assert t.ltq
        assert t.ltq > 0
        assert t.trade_id
    ticker = next(q for q in sink.of(QuoteTick) if type(q) is QuoteTick)
    assert ticker.ltp == Decimal("20000.00")
    assert ticker.high == Decimal("20005.00")
    assert ticker.close == Decimal("19999.00")
    assert ticker.volume is None
    assert feed.stats()["rejected"] == 0
    for s in symbols:
        assert_book_matches_server(feed, server, s)


def test_quote_mode_takes_the_top_level_from_orderbook_1(
    server: BybitServer, feeds: list[BybitFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "quote")
    feed.start()
    assert wait_until(lambda: len([q for q in sink.of(QuoteTick) if q.bids]) >= 5)
    assert subscribes(server) == ["publicTrade.BTCUSDT", "orderbook.1.BTCUSDT", "tickers.BTCUSDT"]
    assert not sink.of(DepthTick)
    for q in (q for q in sink.of(QuoteTick) if q.bids):
        assert len(q.bids or ()) == len(q.asks or ()) == 1
        assert (q.bids or ())[0][0] < (q.asks or ())[0][0]


def test_a_gap_resubscribes_the_topic_and_resyncs_without_reconnecting(
    server: BybitServer, feeds: list[BybitFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "depth")
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 5)
    assert_book_matches_server(feed, server, "BTCUSDT")
    for i in range(3):
        server.drop_deltas = 2  # withheld from the client, applied to the true book
        assert wait_until(lambda i=i: feed.stats()["resyncs"] == i + 1)
        assert wait_until(lambda: feed.protocol.books["BTCUSDT"].synced)
        assert_book_matches_server(feed, server, "BTCUSDT")
    stats = feed.stats()
    assert stats["gaps"] == 3
    assert stats["snapshots"] == 4
    ops = [(m["op"], m["args"]) for _, m in server.received()]
    assert ops.count(("unsubscribe", ["orderbook.50.BTCUSDT"])) == 3
    assert server.handshakes == 1


def test_u_equal_one_is_a_fresh_snapshot(server: BybitServer, feeds: list[BybitFeed]) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "depth")
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 3)
    server.streaming = False
    server.books["BTCUSDT"].bids.clear()  # the restarted service's book differs
    server.restart_u("BTCUSDT")
    book = feed.protocol.books["BTCUSDT"]
    assert wait_until(lambda: book.u == 1)
    assert book.restarts == 1
    assert len(book.bids) == 0
    server.streaming = True
    assert_book_matches_server(feed, server, "BTCUSDT")
    assert feed.stats()["gaps"] == 0


def test_kill_and_restart_subscribes_each_topic_exactly_once(
    server: BybitServer, feeds: list[BybitFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "depth")
    feed.subscribe(["ETHUSDT"], "quote")
    feed.subscribe(["ETHUSDT"], "ltp")
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 3)
    server.kill()
    assert feed.wait_state(FeedState.RECONNECTING, timeout=5)
    server.restart()
    assert wait_until(lambda: len(server.all_conns) == 2)
    n = len(sink.of(DepthTick))
    assert wait_until(lambda: len(sink.of(DepthTick)) > n + 5)
    first, second = (subscribes(server, c.cid) for c in server.all_conns)
    assert sorted(first) == sorted(second)
    assert len(second) == len(set(second)) == 6
    assert feed.stats()["reconnects"] == 1
    assert_book_matches_server(feed, server, "BTCUSDT")


def test_silent_socket_trips_the_watchdog(server: BybitServer, feeds: list[BybitFeed]) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "depth", liveness_s=0.8, ping_interval_s=60)
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 3)
    server.silent = True
    assert wait_until(lambda: any(s.state == FeedState.STALE for s in sink.of(FeedStatus)), 5)
    assert wait_until(lambda: server.handshakes >= 2, 5)
    server.silent = False
    n = len(sink.of(DepthTick))
    assert wait_until(lambda: len(sink.of(DepthTick)) > n + 3)


def test_op_ping_keeps_a_quiet_connection_alive(feeds: list[BybitFeed]) -> None:
    srv = BybitServer(ping_timeout_s=1.0)
    srv.start()
    try:
        srv.streaming = False  # only pongs: they alone must keep the feed alive
        sink = Collector()
        feed = new_feed(srv, feeds, sink, ["BTCUSDT"], "ltp", liveness_s=1.0, ping_interval_s=0.3)
        feed.start()
        assert feed.wait_state(FeedState.LIVE, timeout=5)
        assert wait_until(lambda: feed.stats()["pongs"] >= 8, 6)
        conn = srv.all_conns[0]
        assert conn.pings >= 8  # type: ignore[attr-defined]
        assert srv.handshakes == 1
        assert feed.state == FeedState.LIVE
    finally:
        srv.stop()


HOSTILE = [
    "not json",
    '{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["NaN","1"]],"a":[],"u":5}}',
    '{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["-1","1"]],"a":[],"u":5}}',
    '{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"1","p":"0"}]}',
    '{"topic":"tickers.BTCUSDT","type":"snapshot","ts":1,"data":{"symbol":"BTCUSDT","lastPrice":"Infinity"}}',
    '{"topic":"publicTrade.BTCUSDT","type":"weird","ts":1,"data":[]}',
    '{"topic":"kline.1.BTCUSDT","type":"snapshot","ts":1,"data":[]}',
    "[1,2,3]",
]


def test_hostile_frames_are_counted_and_never_reach_the_sink(
    server: BybitServer, feeds: list[BybitFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "depth")
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 3)
    for frame in HOSTILE:
        server.send(frame)
    server.send(b"\x00\x01binary")
    assert wait_until(lambda: feed.stats()["rejected"] == len(HOSTILE) + 1)
    n = len(sink.of(DepthTick))
    assert wait_until(lambda: len(sink.of(DepthTick)) > n + 3)
    for ev in sink.of((TradeTick, QuoteTick)):
        assert ev.ltp.is_finite()
        assert ev.ltp > 0
    assert feed.state == FeedState.LIVE
    assert feed.stats()["reconnects"] == 0
    assert_book_matches_server(feed, server, "BTCUSDT")


def test_linear_ticker_deltas_merge_and_unknown_symbols_are_refused(
    server: BybitServer, feeds: list[BybitFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "quote", category="linear")
    feed.start()
    assert feed.wait_state(FeedState.LIVE, timeout=5)
    feed.subscribe(["NOPEUSDT"], "ltp")
    tickers = lambda: [q for q in sink.of(QuoteTick) if type(q) is QuoteTick and not q.bids]  # noqa: E731
    assert wait_until(lambda: len(tickers()) >= 3)
    assert server.all_conns[0].request.path == "/v5/public/linear"
    # deltas carry only what changed; the merged ticker keeps the rest
    assert all(q.high == Decimal("20005.00") and q.oi == Decimal("55.5") for q in tickers())
    assert any(m.get("data", {}).keys() == {"symbol"} for m in server.sent_deltas)
    assert wait_until(lambda: feed.protocol.subscribe_errors)
    assert "NOPEUSDT" in feed.protocol.subscribe_errors[0]
