"""The Binance feed against a loopback Binance (streams + REST depth) over real sockets."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from cockpit.adapters.binance.feed import BinanceFeed, make_feed
from cockpit.adapters.ws import Backoff
from cockpit.domain.feed import FeedState, FeedStatus
from cockpit.domain.market import DepthTick, MarketEvent, QuoteTick, TradeTick
from tests.servers.base import Collector, wait_until
from tests.servers.binance_server import BinanceServer

FAST = Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.1)


@pytest.fixture
def server() -> Iterator[BinanceServer]:
    srv = BinanceServer(symbols=("BTCUSDT", "ETHUSDT"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def feeds() -> Iterator[list[BinanceFeed]]:
    made: list[BinanceFeed] = []
    yield made
    for f in made:
        assert f.stop(3)


def new_feed(
    server: BinanceServer,
    feeds: list[BinanceFeed],
    sink: Collector,
    symbols: list[str],
    mode: str,
    **kw: object,
) -> BinanceFeed:
    options: dict[str, object] = {"backoff": FAST, "stable_s": 0.5, "refetch_s": 0.2}
    options.update(kw)
    feed = make_feed(symbols, mode, server.url, sink, **options)
    feeds.append(feed)
    return feed


def ticks(sink: Collector, symbol: str | None = None) -> list[MarketEvent]:
    return [t for t in sink.of(MarketEvent) if symbol is None or t.symbol == symbol]


def assert_book_matches_server(feed: BinanceFeed, server: BinanceServer, symbol: str) -> None:
    """Pause the server, let the client catch up, compare every level exactly."""
    server.streaming = False
    try:
        book = feed.protocol.books[symbol]
        uid, bids, asks = server.true_book(symbol)
        assert wait_until(lambda: book.synced and book.book_id == uid, 10), (book.book_id, uid)
        assert book.bids.levels == bids
        assert book.asks.levels == asks
    finally:
        server.streaming = True


def test_quote_and_trade_streams_from_the_url(
    server: BinanceServer, feeds: list[BinanceFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["btcusdt"], "quote")
    feed.start()
    assert wait_until(lambda: len(sink.of(QuoteTick)) >= 5 and len(sink.of(TradeTick)) >= 3)
    assert server.url_streams() == [["btcusdt@trade", "btcusdt@bookTicker"]]
    assert server.received() == []  # everything rode on the URL: no SUBSCRIBE needed
    for q in sink.of(QuoteTick):
        assert q.symbol == "BTCUSDT"
        ((bid, _, _),) = q.bids or ()
        ((ask, _, _),) = q.asks or ()
        assert Decimal(0) < bid < ask
    trades = sink.of(TradeTick)
    assert {t.aggressor for t in trades} <= {"buy", "sell"}
    assert [int(t.trade_id or 0) for t in trades] == sorted(int(t.trade_id or 0) for t in trades)
    assert feed.stats()["rejected"] == 0


def test_live_subscribe_unsubscribe_with_acks_and_synced_depth(
    server: BinanceServer, feeds: list[BinanceFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "ltp", depth_levels=5)
    feed.start()
    assert feed.wait_state(FeedState.LIVE, timeout=5)
    assert feed.subscribe(["ETHUSDT"], "depth") == ["ETHUSDT"]
    assert wait_until(lambda: len(ticks(sink, "ETHUSDT")) >= 5)
    assert wait_until(lambda: feed.stats()["acks"] == 1)
    ((cid, sub),) = server.received()
    assert sub["method"] == "SUBSCRIBE"
    assert sub["params"] == ["ethusdt@trade", "ethusdt@depth@100ms"]
    assert isinstance(sub["id"], int)
    assert feed.protocol.pending == {}
    depth = [t for t in sink.of(DepthTick) if t.symbol == "ETHUSDT"]
    assert depth
    for d in depth:
        assert 0 < len(d.bids or ()) <= 5
        assert d.bids == tuple(sorted(d.bids or (), key=lambda lv: lv[0], reverse=True))
        assert d.asks == tuple(sorted(d.asks or (), key=lambda lv: lv[0]))
        assert (d.bids or ())[0][0] < (d.asks or ())[0][0]
    assert_book_matches_server(feed, server, "ETHUSDT")
    assert server.snapshot_requests == ["ETHUSDT"]
    feed.unsubscribe(["ETHUSDT"], "depth")
    assert wait_until(lambda: feed.stats()["acks"] == 2)
    unsub = server.received()[-1][1]
    assert unsub["method"] == "UNSUBSCRIBE"
    assert unsub["params"] == ["ethusdt@trade", "ethusdt@depth@100ms"]
    assert server.live_streams() == [{"btcusdt@trade"}]
    # a reconnect carries exactly what is wanted now, on the URL, with no SUBSCRIBE on top
    feed.subscribe(["ETHUSDT"], "quote")
    assert wait_until(lambda: feed.stats()["acks"] == 3)
    server.kill()
    server.restart()
    assert wait_until(lambda: len(server.all_conns) == 2)
    assert wait_until(lambda: len(server.live_streams()) == 1)
    assert server.url_streams()[1] == ["btcusdt@trade", "ethusdt@trade", "ethusdt@bookTicker"]
    n = len(sink.of(QuoteTick))
    assert wait_until(lambda: len(sink.of(QuoteTick)) > n + 2)
    assert [c for c, _ in server.received()].count(server.all_conns[1].cid) == 0


def test_dropped_depth_updates_resync_to_the_true_book(
    server: BinanceServer, feeds: list[BinanceFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "depth")
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 5)
    assert_book_matches_server(feed, server, "BTCUSDT")
    for _ in range(3):
        before = feed.stats()["resyncs"]
        server.drop_depth = 2  # withheld from the client, applied to the true book
        assert wait_until(lambda b=before: feed.stats()["resyncs"] > b)
        assert wait_until(lambda: feed.protocol.books["BTCUSDT"].synced)
        assert_book_matches_server(feed, server, "BTCUSDT")
    stats = feed.stats()
    assert stats["gaps"] == stats["resyncs"] >= 3
    assert len(server.snapshot_requests) == stats["snapshots"] >= 4
    assert server.handshakes == 1  # resync needs no reconnect


def test_failing_snapshots_are_retried_with_backoff(
    server: BinanceServer, feeds: list[BinanceFeed]
) -> None:
    server.fail_snapshots = 3
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "depth", refetch_s=0.1)
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 3)
    assert len(server.snapshot_requests) == 4
    stats = feed.stats()
    assert stats["snapshot_errors"] == 3
    assert stats["snapshots"] == 1
    assert stats["rejected"] == 0
    assert_book_matches_server(feed, server, "BTCUSDT")


def test_kill_and_restart_resubscribes_once_and_resyncs(
    server: BinanceServer, feeds: list[BinanceFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "depth")
    feed.subscribe(["ETHUSDT"], "quote")
    feed.start()
    assert wait_until(lambda: len(ticks(sink, "BTCUSDT")) >= 5 and len(ticks(sink, "ETHUSDT")))
    server.kill()
    assert feed.wait_state(FeedState.RECONNECTING, timeout=5)
    server.restart()
    assert wait_until(lambda: len(server.all_conns) == 2)
    n = len(sink.of(DepthTick))
    assert wait_until(lambda: len(sink.of(DepthTick)) > n + 5)
    first, second = server.url_streams()
    assert sorted(second) == sorted(first)
    assert len(second) == len(set(second)) == 4  # each stream exactly once
    assert server.received() == []  # and no SUBSCRIBE on top
    assert feed.stats()["reconnects"] == 1
    assert feed.stats()["snapshots"] >= 2  # the book resynced from a fresh snapshot
    assert_book_matches_server(feed, server, "BTCUSDT")


def test_silent_server_trips_the_watchdog(server: BinanceServer, feeds: list[BinanceFeed]) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "ltp", liveness_s=0.8)
    feed.start()
    assert wait_until(lambda: len(sink.of(TradeTick)) >= 3)
    server.silent = True
    assert wait_until(lambda: any(s.state == FeedState.STALE for s in sink.of(FeedStatus)), 5)
    assert wait_until(lambda: server.handshakes >= 2, 5)
    server.silent = False
    n = len(sink.of(TradeTick))
    assert wait_until(lambda: len(sink.of(TradeTick)) > n + 3)


def test_server_pings_are_answered_with_the_payload(feeds: list[BinanceFeed]) -> None:
    srv = BinanceServer(ping_s=0.1, pong_timeout_s=1.0)
    srv.start()
    try:
        srv.streaming = False  # only pings: they alone must keep the feed alive
        sink = Collector()
        feed = new_feed(srv, feeds, sink, ["BTCUSDT"], "ltp", liveness_s=1.0)  # type: ignore[arg-type]
        feed.start()
        assert feed.wait_state(FeedState.LIVE, timeout=5)
        assert wait_until(lambda: len(srv.all_conns) == 1)
        conn = srv.all_conns[0]
        assert wait_until(lambda: len(conn.pongs) >= 10, 5)
        assert conn.pongs == conn.pings_sent[: len(conn.pongs)]
        assert srv.pong_timeouts == 0
        assert srv.handshakes == 1
        assert feed.state == FeedState.LIVE
    finally:
        srv.stop()


def test_server_shutdown_notice_is_a_routine_reconnect(
    server: BinanceServer, feeds: list[BinanceFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "quote")
    feed.start()
    assert wait_until(lambda: len(sink.of(QuoteTick)) >= 3)
    server.shutdown_notice()
    assert wait_until(lambda: server.handshakes == 2)
    n = len(sink.of(QuoteTick))
    assert wait_until(lambda: len(sink.of(QuoteTick)) > n + 3)
    stats = feed.stats()
    assert stats["shutdown_notices"] == 1
    assert stats["reconnects"] == 1
    assert stats["rejected"] == 0
    assert not any(s.state == FeedState.DOWN for s in sink.of(FeedStatus))


def test_refused_handshake_goes_down_without_retrying(
    server: BinanceServer, feeds: list[BinanceFeed]
) -> None:
    server.refuse_status = 403
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "quote")
    feed.start()
    assert feed.wait_state(FeedState.DOWN, timeout=5)
    time.sleep(0.5)
    assert server.handshakes == 1
    assert "403" in sink.of(FeedStatus)[-1].reason


def test_garbage_and_hostile_frames_are_skipped(
    server: BinanceServer, feeds: list[BinanceFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "depth")
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 3)
    trade = {"e": "trade", "E": 1, "s": "BTCUSDT", "t": 1, "p": "1", "q": "1", "T": 1, "m": True}
    depth = {"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": 10**12, "u": 10**12 + 1, "b": []}
    bad: list[str | bytes] = [
        "not json",
        "[]",
        "{}",
        b"\x00\x01binary",
        json.dumps({"stream": "btcusdt@trade", "data": {**trade, "p": "NaN"}}),
        json.dumps({"stream": "btcusdt@trade", "data": {**trade, "p": "-5"}}),
        json.dumps({"stream": "btcusdt@trade", "data": {**trade, "q": 1e999}}),
        json.dumps({"stream": "btcusdt@trade", "data": "string"}),
        json.dumps({"stream": "btcusdt@bookTicker", "data": {"u": 1, "s": "BTCUSDT"}}),
        json.dumps({"stream": "btcusdt@depth@100ms", "data": depth}),  # no "a"
        json.dumps({"stream": "btcusdt@kline_1m", "data": {}}),
        "[" * 5000 + "]" * 5000,
        "x" * 100_000,
    ]
    for payload in bad:
        server.send(payload)
    server.send(json.dumps({"code": 2, "msg": "Invalid request: too many", "id": 99}))
    assert wait_until(lambda: feed.stats()["rejected"] == len(bad))
    assert wait_until(lambda: feed.stats()["error_replies"] == 1)

    def error_statuses() -> list[FeedStatus]:
        return [s for s in sink.of(FeedStatus) if "binance error" in s.reason]

    # The counter moves before the status reaches the sink: wait for the status itself.
    assert wait_until(lambda: len(error_statuses()) >= 1)
    (err,) = error_statuses()
    assert err.reason == "binance error 2: Invalid request: too many"
    n = len(sink.of(DepthTick))
    assert wait_until(lambda: len(sink.of(DepthTick)) > n + 3)
    assert feed.state == FeedState.LIVE
    assert server.handshakes == 1
    for t in sink.of(MarketEvent):
        assert t.ltp.is_finite()
        assert t.ltp > 0
    assert_book_matches_server(feed, server, "BTCUSDT")


def test_repeated_restarts_keep_the_book_true(
    server: BinanceServer, feeds: list[BinanceFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, ["BTCUSDT"], "depth")
    feed.start()
    for cycle in range(1, 4):
        n = len(sink.of(DepthTick))
        assert wait_until(lambda n=n: len(sink.of(DepthTick)) >= n + 3)
        server.kill()
        assert feed.wait_state(FeedState.RECONNECTING, timeout=5)
        server.restart()
        assert wait_until(lambda c=cycle: len(server.all_conns) == c + 1)
    n = len(sink.of(DepthTick))
    assert wait_until(lambda: len(sink.of(DepthTick)) >= n + 3)
    assert all(s == ["btcusdt@trade", "btcusdt@depth@100ms"] for s in server.url_streams())
    assert server.received() == []
    assert feed.stats()["reconnects"] == 3
    assert_book_matches_server(feed, server, "BTCUSDT")
