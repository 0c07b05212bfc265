"""The Kite feed against a loopback Kite ticker over real sockets."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from cockpit.adapters.kite.feed import KiteFeed, make_feed
from cockpit.adapters.ws import Backoff
from cockpit.domain.feed import FeedState, FeedStatus, OrderUpdate
from cockpit.domain.market import DepthTick, LtpTick, MarketEvent, QuoteTick
from tests.servers.base import Collector, wait_until
from tests.servers.kite_server import KiteServer, frame, ltp_packet

INFY = 408065  # NSE equity
NIFTY = 256265  # index (segment 9)
USDINR = 412675  # CDS (segment 3): 7 decimals
FAST = Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.1)


class Sink(Collector):
    """A thread-safe collector of everything the feed emits."""

    def ticks(self) -> list[MarketEvent]:
        return [i for i in self.snapshot() if isinstance(i, MarketEvent)]

    def statuses(self) -> list[FeedStatus]:
        return [i for i in self.snapshot() if isinstance(i, FeedStatus)]


@pytest.fixture
def server() -> Iterator[KiteServer]:
    srv = KiteServer(api_key="key", access_token="token", heartbeat_s=0.2)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def feeds() -> Iterator[list[KiteFeed]]:
    made: list[KiteFeed] = []
    yield made
    for f in made:
        assert f.stop(3)


def new_feed(
    server: KiteServer, feeds: list[KiteFeed], sink: Sink, token: str = "token", **kw: object
) -> KiteFeed:
    feed = KiteFeed(
        "key",
        token,
        sink,
        url=server.url,
        token_map={INFY: ("NSE", "INFY")},
        backoff=FAST,
        stable_s=0.5,
        **kw,  # type: ignore[arg-type]
    )
    feeds.append(feed)
    return feed


def subs_of(server: KiteServer, cid: int) -> list[dict]:
    return [m for c, m in server.received() if c == cid]


def test_streams_every_mode_with_exact_prices(server: KiteServer, feeds: list[KiteFeed]) -> None:
    sink = Sink()
    feed = new_feed(server, feeds, sink)
    feed.subscribe([INFY], "depth")
    feed.subscribe([NIFTY, USDINR], "quote")
    feed.start()
    assert feed.wait_state(FeedState.LIVE, timeout=5)
    assert wait_until(
        lambda: {t.token for t in sink.ticks()} == {str(INFY), str(NIFTY), str(USDINR)}
    )
    # what the client sent: one subscribe + one explicit mode per mode group, nothing else
    (cid,) = {c for c, _ in server.received()}
    assert sorted(json.dumps(m) for m in subs_of(server, cid)) == sorted(
        json.dumps(m)
        for m in [
            {"a": "subscribe", "v": [INFY]},
            {"a": "mode", "v": ["full", [INFY]]},
            {"a": "subscribe", "v": [NIFTY, USDINR]},
            {"a": "mode", "v": ["quote", [NIFTY, USDINR]]},
        ]
    )
    assert server.headers[0].get("X-Kite-Version") == "3"
    assert wait_until(lambda: any(isinstance(t, DepthTick) for t in sink.ticks()))
    sent = set(server.call_soon(lambda: list(server.sent)))
    ticks = sink.ticks()
    for t in ticks:
        token = int(t.token or 0)
        decimals = 7 if token == USDINR else 2
        assert -t.ltp.as_tuple().exponent == decimals
        mode = "full" if isinstance(t, DepthTick) else "quote"
        assert (token, mode, int(t.ltp.scaleb(decimals))) in sent
    # quote packets may come until the server has the "mode" message; then only depth
    infy = [t for t in ticks if t.token == str(INFY)]
    first = next(i for i, t in enumerate(infy) if isinstance(t, DepthTick))
    assert all(isinstance(t, DepthTick) and t.key == "NSE:INFY" for t in infy[first:])
    assert all(len(t.bids or ()) == 5 and len(t.asks or ()) == 5 for t in infy[first:])
    nifty = [t for t in ticks if t.token == str(NIFTY)]
    assert all(type(t) is QuoteTick and t.key == f"INDICES:{NIFTY}" for t in nifty)
    assert feed.stats()["rejected"] == 0


def test_kill_and_restart_resubscribes_once_per_token(
    server: KiteServer, feeds: list[KiteFeed]
) -> None:
    sink = Sink()
    feed = new_feed(server, feeds, sink)
    feed.subscribe([INFY, USDINR], "ltp")
    feed.subscribe([NIFTY], "quote")
    feed.start()
    assert wait_until(lambda: len(sink.ticks()) >= 10)
    server.kill()
    assert feed.wait_state(FeedState.RECONNECTING, timeout=5)
    server.restart()
    assert wait_until(lambda: len(server.all_conns) == 2)
    before = len(sink.ticks())
    assert wait_until(lambda: len(sink.ticks()) >= before + 10)
    assert feed.state == FeedState.LIVE
    second = server.all_conns[1].cid
    msgs = subs_of(server, second)
    subscribed = [tok for m in msgs if m["a"] == "subscribe" for tok in m["v"]]
    assert sorted(subscribed) == sorted([INFY, USDINR, NIFTY])  # each exactly once
    modes = {tok: m["v"][0] for m in msgs if m["a"] == "mode" for tok in m["v"][1]}
    assert modes == {INFY: "ltp", USDINR: "ltp", NIFTY: "quote"}
    assert server.subscriptions() == [{INFY: "ltp", USDINR: "ltp", NIFTY: "quote"}]
    assert feed.stats()["reconnects"] == 1
    for token in (INFY, USDINR):  # quotes until the server has the "mode" message, then LTP
        assert wait_until(
            lambda tok=str(token): any(
                type(t) is LtpTick and t.token == tok for t in sink.ticks()[before:]
            )
        )
        kinds = [type(t) for t in sink.ticks()[before:] if t.token == str(token)]
        assert set(kinds[kinds.index(LtpTick) :]) == {LtpTick}


def test_silent_server_trips_the_watchdog(server: KiteServer, feeds: list[KiteFeed]) -> None:
    sink = Sink()
    feed = new_feed(server, feeds, sink, liveness_s=0.8)
    feed.subscribe([INFY], "quote")
    feed.start()
    assert wait_until(lambda: len(sink.ticks()) >= 3)
    server.silent = True  # socket open, nothing sent (no heartbeats either)
    assert wait_until(lambda: any(s.state == FeedState.STALE for s in sink.statuses()), 5)
    assert wait_until(lambda: server.handshakes >= 2, 5)
    server.silent = False
    n = len(sink.ticks())
    assert wait_until(lambda: len(sink.ticks()) > n + 3)
    assert feed.wait_state(FeedState.LIVE, timeout=5)


def test_heartbeats_keep_an_idle_feed_alive(server: KiteServer, feeds: list[KiteFeed]) -> None:
    sink = Sink()
    feed = new_feed(server, feeds, sink, liveness_s=1.2)  # heartbeats every 0.2 s
    feed.start()
    assert feed.wait_state(FeedState.LIVE, timeout=5)
    assert wait_until(lambda: feed.stats()["heartbeats"] >= 15, 8)  # ~3 s: over twice the limit
    assert server.handshakes == 1
    assert [s.state for s in sink.statuses()] == [FeedState.CONNECTING, FeedState.LIVE]
    assert sink.ticks() == []


def test_refused_key_goes_down_without_a_retry_storm(
    server: KiteServer, feeds: list[KiteFeed]
) -> None:
    sink = Sink()
    feed = new_feed(server, feeds, sink, token="wrong")
    feed.subscribe([INFY], "quote")
    feed.start()
    assert feed.wait_state(FeedState.DOWN, timeout=5)
    time.sleep(0.5)  # would be several retries with the test backoff
    assert server.handshakes == 1
    assert server.refused == 1
    down = sink.statuses()[-1]
    assert down.state == FeedState.DOWN
    assert "403" in down.reason
    assert "wrong" not in down.reason  # the secret is not in the status


def test_garbage_truncated_and_hostile_frames_are_skipped(
    server: KiteServer, feeds: list[KiteFeed]
) -> None:
    sink = Sink()
    feed = new_feed(server, feeds, sink)
    feed.subscribe([INFY], "ltp")
    feed.start()
    assert wait_until(lambda: len(sink.ticks()) >= 3)
    server.streaming = False
    time.sleep(0.1)
    start = len(sink.ticks())
    bad: list[bytes | str] = [
        frame([ltp_packet(INFY, 150025)])[:-2],  # truncated
        b"\xff\xff" + bytes(40),  # absurd packet count, zero lengths
        frame([b"\x07" * 13]),  # unknown packet length
        frame([ltp_packet(INFY, 0)]),  # zero price
        frame([ltp_packet(INFY, 0xFFFF_FFF0)]),  # negative as int32
        "not json at all",
        '{"type":"order","data":"x"}',
        '{"type":"order","data":{"status":"OPEN"}}',  # no order id
        "[1,2,3]",
        '{"type":"surprise"}',
        b"\x00\x01\x00\x08" + b"\x00\x06:\x01",  # count 1, packet cut
    ]
    for payload in bad:
        server.send(payload)
    server.send(frame([ltp_packet(INFY, 123456)]))  # one good one after the storm
    assert wait_until(lambda: len(sink.ticks()) > start)
    stats = feed.stats()
    assert stats["rejected"] == len(bad)
    late = sink.ticks()[start:]
    assert [t.ltp for t in late] == [Decimal("1234.56")]
    assert feed.state == FeedState.LIVE
    assert server.handshakes == 1  # the session survived too
    server.streaming = True
    assert wait_until(lambda: len(sink.ticks()) > start + 3)


def test_order_postbacks_errors_and_messages(server: KiteServer, feeds: list[KiteFeed]) -> None:
    sink = Sink()
    feed = new_feed(server, feeds, sink)
    feed.start()
    assert feed.wait_state(FeedState.LIVE, timeout=5)
    order = {
        "order_id": "220101000000001",
        "status": "TRIGGER PENDING",
        "tradingsymbol": "INFY",
        "exchange": "NSE",
        "transaction_type": "SELL",
        "quantity": 5,
        "filled_quantity": 0,
        "price": 0,
        "trigger_price": 1490.5,
        "average_price": 0,
        "order_type": "SL-M",
        "product": "MIS",
    }
    server.send(json.dumps({"type": "order", "data": order}))
    server.send(json.dumps({"type": "error", "data": "Invalid instrument token"}))
    server.send(json.dumps({"type": "message", "data": "Market closes in 5 minutes"}))
    assert wait_until(lambda: any(isinstance(i, OrderUpdate) for i in sink.snapshot()))
    assert wait_until(lambda: feed.stats()["notices"] == 2)
    (upd,) = [i for i in sink.snapshot() if isinstance(i, OrderUpdate)]
    assert (upd.orderid, upd.status, upd.action) == ("220101000000001", "trigger pending", "SELL")
    assert upd.trigger_price == Decimal("1490.5")
    errors = [s for s in sink.statuses() if "kite error" in s.reason]
    assert [e.reason for e in errors] == ["kite error: Invalid instrument token"]
    assert errors[0].state == FeedState.LIVE


def test_make_feed_reads_credentials_from_the_environment(
    server: KiteServer, feeds: list[KiteFeed], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITE_API_KEY", "key")
    monkeypatch.setenv("KITE_ACCESS_TOKEN", "token")
    sink = Sink()
    feed = make_feed([str(INFY)], "depth", server.url, sink)
    feeds.append(feed)
    feed.start()
    assert wait_until(lambda: len(sink.ticks()) >= 2)
    assert all(isinstance(t, DepthTick) for t in sink.ticks())
    monkeypatch.delenv("KITE_ACCESS_TOKEN")
    with pytest.raises(ValueError, match="access token"):
        make_feed(["1"], "quote", server.url, sink)
    with pytest.raises(ValueError, match="tokens"):
        make_feed(["NSE:INFY"], "quote", server.url, sink, api_key="k", access_token="t")


def test_repeated_restarts_resubscribe_once_per_session(
    server: KiteServer, feeds: list[KiteFeed]
) -> None:
    sink = Sink()
    feed = new_feed(server, feeds, sink)
    feed.subscribe([INFY], "quote")
    feed.subscribe([NIFTY], "ltp")
    feed.start()
    for cycle in range(1, 4):
        n = len(sink.ticks())
        assert wait_until(lambda n=n: len(sink.ticks()) >= n + 5)
        server.kill()
        assert feed.wait_state(FeedState.RECONNECTING, timeout=5)
        server.restart()
        assert wait_until(lambda c=cycle: len(server.all_conns) == c + 1)
    n = len(sink.ticks())
    assert wait_until(lambda: len(sink.ticks()) >= n + 5)
    for conn in server.all_conns:
        msgs = subs_of(server, conn.cid)
        assert sorted(tok for m in msgs if m["a"] == "subscribe" for tok in m["v"]) == sorted(
            [INFY, NIFTY]
        )
        assert len(msgs) == 4  # subscribe + mode, per mode group
    assert feed.stats()["reconnects"] == 3
    assert feed.state == FeedState.LIVE
