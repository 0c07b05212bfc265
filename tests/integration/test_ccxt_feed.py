"""``--feed ccxt:EXCHANGE`` against a loopback exchange: CCXT's own bybit implementation with
every URL pointed at the loopback Bybit (REST instruments + public WebSocket)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

pytest.importorskip("ccxt")

from cockpit.adapters.ccxt_feed import CcxtFeed, load_instruments, make_feed, retarget  # noqa: E402
from cockpit.adapters.ws import Backoff  # noqa: E402
from cockpit.domain.feed import FeedState, FeedStatus  # noqa: E402
from cockpit.domain.market import DepthTick, QuoteTick, TradeTick  # noqa: E402
from tests.servers.base import Collector, wait_until  # noqa: E402
from tests.servers.bybit_server import BybitServer  # noqa: E402

FAST = Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.1)
SYMBOL = "BTC/USDT"


@pytest.fixture
def server() -> Iterator[BybitServer]:
    srv = BybitServer(symbols=("BTCUSDT", "ETHUSDT"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def feeds() -> Iterator[list[CcxtFeed]]:
    made: list[CcxtFeed] = []
    yield made
    for f in made:
        assert f.stop(5)


def new_feed(
    server: BybitServer,
    feeds: list[CcxtFeed],
    sink: Collector,
    symbols: list[str],
    mode: str,
    **kw: object,
) -> CcxtFeed:
    options: dict[str, object] = {"backoff": FAST, "liveness_s": 5.0}
    options.update(kw)
    feed = make_feed("bybit", symbols, mode, server.url, sink, **options)
    feeds.append(feed)
    return feed


def subscribed(server: BybitServer) -> list[list[str]]:
    """Each connection's subscribed topics, in order."""
    per: dict[int, list[str]] = {}
    for cid, msg in server.received():
        if msg.get("op") == "subscribe":
            per.setdefault(cid, []).extend(msg["args"])
    return [per[c] for c in sorted(per)]


def assert_book_matches_server(sink: Collector, server: BybitServer) -> None:
    server.streaming = False
    try:
        _u, bids, asks = server.true_book("BTCUSDT")
        top_b = sorted(bids.items(), reverse=True)[:20]
        top_a = sorted(asks.items())[:20]

        def matches() -> bool:
            last = sink.of(DepthTick)[-1]
            return [(p, q) for p, q, _ in last.bids or ()] == top_b and [
                (p, q) for p, q, _ in last.asks or ()
            ] == top_a

        server.restart_u("BTCUSDT")  # one more message: the current book, pushed
        assert wait_until(matches, 10)
    finally:
        server.streaming = True


def test_retarget_moves_hosts_and_keeps_paths() -> None:
    urls = {"rest": "https://api.{hostname}", "ws": {"spot": "wss://stream.x/v5/public/spot"}}
    assert retarget(urls, "ws://127.0.0.1:9", "http://127.0.0.1:8") == {
        "rest": "http://127.0.0.1:8",
        "ws": {"spot": "ws://127.0.0.1:9/v5/public/spot"},
    }


def test_instruments_come_from_the_exchange_markets(server: BybitServer) -> None:
    (btc,) = load_instruments("bybit", server.url, symbols=[SYMBOL])
    assert btc.key == "CCXT:BTC/USDT"
    assert btc.tick_size == Decimal("0.01")
    assert btc.lot_size == Decimal("0.00001")
    assert "BTC/USDT:USDT" in {i.symbol for i in load_instruments("bybit", server.url)}
    with pytest.raises(ValueError, match="NOPE"):
        load_instruments("bybit", server.url, symbols=["NOPE/USDT"])


def test_depth_trades_and_ticker_as_exact_events(
    server: BybitServer, feeds: list[CcxtFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, [SYMBOL], "depth")
    feed.start()
    assert wait_until(
        lambda: (
            len(sink.of(DepthTick)) >= 5
            and len(sink.of(TradeTick)) >= 3
            and any(type(q) is QuoteTick for q in sink.of(QuoteTick))
        ),
        20,
    )
    assert feed.state == FeedState.LIVE
    for ev in sink.of((DepthTick, TradeTick, QuoteTick)):
        assert ev.exchange == "CCXT"
        assert ev.symbol == SYMBOL
        assert isinstance(ev.ltp, Decimal)
    for t in sink.of(TradeTick):
        assert t.ltp in (Decimal("19999.99"), Decimal("20000.01"))  # exact, not 20000.0100000001
        assert t.aggressor in ("buy", "sell")
    ticker = next(q for q in sink.of(QuoteTick) if type(q) is QuoteTick)
    assert ticker.high == Decimal("20005")
    assert ticker.bids is None  # the book owns the touch in depth mode
    assert_book_matches_server(sink, server)
    assert feed.stats()["rejected"] == 0


def test_kill_and_restart_resubscribes_each_topic_once_and_the_book_resyncs(
    server: BybitServer, feeds: list[CcxtFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, [SYMBOL], "depth")
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 5, 20)
    server.kill()  # the book moves on while we are away: a gap
    assert wait_until(lambda: feed.state == FeedState.RECONNECTING, 10)
    for _ in range(5):
        server.books["BTCUSDT"].step()
    server.restart()
    n = len(sink.of(DepthTick))
    assert wait_until(lambda: len(sink.of(DepthTick)) > n + 5, 20)
    first, second = subscribed(server)[:2]
    assert sorted(first) == sorted(second)
    assert len(second) == len(set(second))  # each topic exactly once on the new connection
    assert feed.stats()["reconnects"] == 1
    assert_book_matches_server(sink, server)


def test_a_silent_exchange_trips_the_watchdog(server: BybitServer, feeds: list[CcxtFeed]) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, [SYMBOL], "depth", liveness_s=1.0, first_update_s=5.0)
    feed.start()
    assert wait_until(lambda: len(sink.of(DepthTick)) >= 3, 20)
    server.silent = True
    assert wait_until(lambda: any(s.state == FeedState.STALE for s in sink.of(FeedStatus)), 10)
    assert wait_until(lambda: server.handshakes >= 2, 10)
    time.sleep(1.0)  # the new connection's subscriptions go unanswered too
    server.silent = False
    n = len(sink.of(DepthTick))
    # the session that never got its first update is given up after first_update_s
    assert wait_until(lambda: len(sink.of(DepthTick)) > n + 3, 20)
    assert feed.stats()["stale"] >= 2


def test_hostile_values_never_reach_the_sink(server: BybitServer, feeds: list[CcxtFeed]) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, [SYMBOL], "ltp")
    feed.start()
    assert wait_until(lambda: len(sink.of(TradeTick)) >= 2, 20)
    bad = [
        '{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT",'
        '"S":"Buy","v":"1","p":"-5","i":"x1"}]}',
        '{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT",'
        '"S":"Buy","v":"0","p":"20000","i":"x2"}]}',
        "garbage",
    ]
    for frame in bad:
        server.send(frame)
    n = len(sink.of(TradeTick))
    assert wait_until(lambda: len(sink.of(TradeTick)) > n + 3, 20)
    for t in sink.of(TradeTick):
        assert t.ltp > 0
        assert t.ltq is not None
        assert t.ltq > 0
    assert wait_until(lambda: feed.stats()["rejected"] >= 2, 5)


def test_an_unknown_symbol_is_refused_and_others_stream(
    server: BybitServer, feeds: list[CcxtFeed]
) -> None:
    sink = Collector()
    feed = new_feed(server, feeds, sink, [SYMBOL, "NOPE/USDT"], "ltp")
    feed.start()
    assert wait_until(lambda: feed.subscribe_errors, 20)
    assert "NOPE/USDT" in feed.subscribe_errors[0]
    assert wait_until(lambda: len(sink.of(TradeTick)) >= 2, 20)
