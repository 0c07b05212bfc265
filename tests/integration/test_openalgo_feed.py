"""OpenAlgoFeed against the paper exchange over real loopback sockets."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from cockpit.adapters.openalgo.feed import OpenAlgoFeed
from cockpit.adapters.openalgo.poller import OrderBookPoller
from cockpit.adapters.ws import Backoff
from cockpit.domain.feed import FeedState, FeedStatus, OrderUpdate, OrderUpdateSource
from cockpit.domain.market import DepthTick, LtpTick, MarketEvent, QuoteTick
from cockpit.sim import SimHandle
from tests.servers.base import QueueSink, place_order

FAST = Backoff(initial=0.05, factor=2.0, cap=0.5, jitter=0.1)


class Sink(QueueSink):
    poll = 0.02

    def events(self) -> list[MarketEvent]:
        return [i for i in self.drain() if isinstance(i, MarketEvent)]

    def statuses(self) -> list[FeedStatus]:
        return [i for i in self.drain() if isinstance(i, FeedStatus)]

    def orders(self) -> list[OrderUpdate]:
        return [i for i in self.drain() if isinstance(i, OrderUpdate)]


class SubscribeSpy:
    """Records, server side, every subscribe the sim's WS hub handles (then runs it)."""

    def __init__(self, sim: SimHandle) -> None:
        hub = sim.server.hub
        self.lock = threading.Lock()
        self.calls: list[tuple[int, str, tuple[str, ...]]] = []
        self.clients: list[Any] = []  # strong refs: ids are indexes, never reused
        real = hub._subscribe

        def spy(client: Any, data: dict[str, Any]) -> None:
            keys = tuple(f"{s['exchange']}:{s['symbol']}" for s in data.get("symbols") or [])
            with self.lock:
                idx = next((i for i, c in enumerate(self.clients) if c is client), None)
                if idx is None:
                    self.clients.append(client)
                    idx = len(self.clients) - 1
                self.calls.append((idx, str(data.get("mode")), keys))
            real(client, data)

        hub._subscribe = spy

    def per_connection(self) -> list[Counter[tuple[str, str]]]:
        with self.lock:
            conns: dict[int, Counter[tuple[str, str]]] = {}
            for cid, mode, keys in self.calls:
                for k in keys:
                    conns.setdefault(cid, Counter())[(mode, k)] += 1
            return list(conns.values())


@pytest.fixture
def feeds() -> Iterator[list[OpenAlgoFeed]]:
    made: list[OpenAlgoFeed] = []
    yield made
    for f in made:
        assert f.stop(timeout=3.0)


def make(sim: SimHandle, sink: Sink, feeds: list[OpenAlgoFeed], **kw: Any) -> OpenAlgoFeed:
    kw.setdefault("backoff", FAST)
    feed = OpenAlgoFeed(sim.ws_url, kw.pop("api_key", sim.api_key), sink, **kw)
    feeds.append(feed)
    return feed


def test_streams_ltp_quote_and_depth_with_exact_prices(sim: SimHandle, feeds) -> None:
    sink = Sink()
    feed = make(sim, sink, feeds)
    feed.subscribe(["NSE:SBIN"], "ltp")
    feed.subscribe(["NSE:INFY", "NSE:TCS"], "quote")
    feed.subscribe(["NSE:RELIANCE"], "depth")
    feed.start()
    assert feed.wait_state(FeedState.LIVE, timeout=5)

    def enough() -> bool:
        kinds = Counter((type(e).__name__, e.symbol) for e in sink.events())
        return all(
            kinds[k] >= 5
            for k in [
                ("LtpTick", "SBIN"),
                ("QuoteTick", "INFY"),
                ("QuoteTick", "TCS"),
                ("DepthTick", "RELIANCE"),
            ]
        )

    assert sink.wait(enough, timeout=10)
    events = sink.events()
    instruments = {k: st.inst for k, st in sim.server.market.states.items()}
    for e in events:
        assert e.ltp > 0
        assert isinstance(e.ltp, Decimal)
        assert e.recv_ns > 0
        if isinstance(e, DepthTick):
            assert e.bids
            assert e.asks
            assert e.bids[0][0] < e.asks[0][0]
            assert list(e.bids) == sorted(e.bids, key=lambda lv: lv[0], reverse=True)
        elif isinstance(e, QuoteTick):
            assert e.volume is not None
        else:
            assert isinstance(e, LtpTick)
        instruments[e.key].ticks(e.ltp)  # exactly on the tick grid, else OffGridPrice
        if isinstance(e, QuoteTick) and e.bids:
            instruments[e.key].ticks(e.bids[0][0])
    stats = feed.stats()
    assert stats["rejected"] == 0, stats["rejected_by_reason"]
    assert stats["events"] >= len(events)
    assert stats["reconnects"] == 0


def test_set_price_arrives_exactly(sim: SimHandle, feeds) -> None:
    sim.pause()
    sink = Sink()
    feed = make(sim, sink, feeds)
    feed.subscribe(["NSE:SBIN"], "quote")
    feed.start()
    assert feed.wait_state(FeedState.LIVE, timeout=5)
    sim.wait_subscribed(["NSE:SBIN"])  # no snapshot on subscribe: the price must come after
    sim.set_price("NSE", "SBIN", "801.55")
    assert sink.wait(lambda: any(e.ltp == Decimal("801.55") for e in sink.events()))
    last = [e for e in sink.events() if e.ltp == Decimal("801.55")][-1]
    assert str(last.ltp) in ("801.55", "801.550")


def test_server_drops_sockets_client_resubscribes_exactly_once_per_symbol(
    sim: SimHandle, feeds
) -> None:
    spy = SubscribeSpy(sim)
    sink = Sink()
    feed = make(sim, sink, feeds)
    feed.subscribe(["NSE:SBIN", "NSE:INFY"], "quote")
    feed.subscribe(["NSE:RELIANCE"], "depth")
    feed.subscribe_orders()
    feed.start()
    assert sink.wait(lambda: {e.symbol for e in sink.events()} >= {"SBIN", "INFY", "RELIANCE"})
    assert sim.drop_ws() == 1
    n_before = len(sink.events())
    assert sink.wait(lambda: feed.stats()["reconnects"] == 1, timeout=10)
    assert sink.wait(lambda: len(sink.events()) > n_before + 20, timeout=10)
    after = sink.events()[n_before:]
    assert {e.symbol for e in after} >= {"SBIN", "INFY", "RELIANCE"}
    conns = spy.per_connection()
    assert len(conns) == 2
    expected = Counter({("2", "NSE:SBIN"): 1, ("2", "NSE:INFY"): 1, ("3", "NSE:RELIANCE"): 1})
    assert conns[0] == expected
    assert conns[1] == expected
    states = [s.state for s in sink.statuses()]
    assert states[0] == FeedState.CONNECTING
    assert FeedState.RECONNECTING in states
    assert states[-1] == FeedState.LIVE
    # the order stream came back too: an order placed now is pushed to us
    resp = place_order(sim)
    assert resp.status_code == 200, resp.text
    orderid = resp.json()["orderid"]
    assert sink.wait(lambda: any(o.orderid == orderid for o in sink.orders()))
    assert all(o.source == OrderUpdateSource.PUSHED for o in sink.orders())


def test_server_restarted_mid_stream(feeds) -> None:
    from cockpit.sim import SimConfig, start_in_thread

    first = start_in_thread(SimConfig(seed=3, rate=20.0, api_key="k" * 32))
    port = int(first.ws_url.rsplit(":", 1)[1])
    second = None
    try:
        sink = Sink()
        feed = OpenAlgoFeed(first.ws_url, "k" * 32, sink, backoff=FAST)
        feeds.append(feed)
        feed.subscribe(["NSE:SBIN", "NSE:TCS"], "ltp")
        feed.start()
        assert sink.wait(lambda: len(sink.events()) >= 10)
        first.stop()
        assert sink.wait(
            lambda: any(s.state == FeedState.RECONNECTING for s in sink.statuses()), timeout=5
        )
        n = len(sink.events())
        second = start_in_thread(SimConfig(seed=4, rate=20.0, api_key="k" * 32, ws_port=port))
        spy = SubscribeSpy(second)
        assert sink.wait(lambda: len(sink.events()) >= n + 10, timeout=10)
        assert feed.state == FeedState.LIVE
        assert spy.per_connection() == [Counter({("1", "NSE:SBIN"): 1, ("1", "NSE:TCS"): 1})]
        assert feed.stats()["reconnects"] == 1
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_quiet_market_keeps_the_connection_while_pings_are_answered(sim: SimHandle, feeds) -> None:
    """Issue 17 item 3: no market data (after hours, an illiquid symbol) while the server
    answers our WebSocket pings is a quiet market, not a dead feed: no reconnect (it would make
    OpenAlgo rebuild its broker socket and lose the order updates pushed meanwhile); the feed
    says "quiet" and the silent symbols age into STALE by their own tick times."""
    sink = Sink()
    feed = make(sim, sink, feeds, data_liveness_s=0.3, liveness_s=1.0, poll_s=0.05)
    feed.protocol.ping_interval_s = 0.2
    feed.subscribe(["NSE:SBIN"], "ltp")
    feed.start()
    assert sink.wait(lambda: len(sink.events()) >= 3)
    sim.silence(3.0)
    assert sink.wait(lambda: any("quiet" in s.reason for s in sink.statuses()), 5)
    time.sleep(2.0)  # silent for ~6x the data limit and 2x the frame limit: pongs keep it up
    assert feed.stats()["reconnects"] == 0
    assert sim.stats()["ws"]["connections"] == 1
    states = [s.state for s in sink.statuses()]
    assert FeedState.STALE not in states
    assert FeedState.RECONNECTING not in states
    quiet = next(s for s in sink.statuses() if "quiet" in s.reason)
    assert quiet.state == FeedState.LIVE
    assert "no market data" in quiet.reason
    n = len(sink.events())
    assert sink.wait(lambda: len(sink.events()) >= n + 5, timeout=10)  # the market speaks again
    assert feed.state == FeedState.LIVE
    assert sink.statuses()[-1].reason == ""  # no longer quiet
    assert feed.stats()["reconnects"] == 0


def test_refused_key_goes_down_once_with_the_reason(sim: SimHandle, feeds) -> None:
    sink = Sink()
    feed = make(sim, sink, feeds, api_key="wrong-key")
    feed.subscribe(["NSE:SBIN"], "ltp")
    feed.start()
    assert feed.wait_state(FeedState.DOWN, timeout=10)
    time.sleep(0.5)  # FAST backoff would have retried several times by now
    states = [(s.state, s.reason) for s in sink.statuses()]
    assert states[0][0] == FeedState.CONNECTING
    assert states[-1][0] == FeedState.DOWN
    assert "Invalid API key" in states[-1][1] or "authentication" in states[-1][1]
    assert sim.stats()["ws"]["connections"] == 1
    assert sim.stats()["ws"]["auth_failures"] == 1
    assert sink.events() == []
    assert "wrong-key" not in repr(sink.statuses())


def test_order_book_poller_synthesizes_updates(sim: SimHandle) -> None:
    sink = Sink()
    poller = OrderBookPoller(sim.rest_url, sim.api_key, sink, interval_s=0.1)
    poller.start()
    try:
        assert sink.wait(lambda: poller.state == FeedState.LIVE, timeout=5)
        sim.pause()
        sim.set_price("NSE", "SBIN", "800.00", bid="799.95", ask="800.05")
        resp = place_order(sim, quantity="2", pricetype="LIMIT", price="790.00")
        orderid = resp.json()["orderid"]
        assert sink.wait(lambda: any(o.orderid == orderid for o in sink.orders()))
        first = [o for o in sink.orders() if o.orderid == orderid][0]
        assert first.status == "open"
        assert first.price == Decimal("790.00")
        assert first.source == OrderUpdateSource.POLLED
        sim.set_price("NSE", "SBIN", "789.00", bid="788.95", ask="789.05")
        assert sink.wait(
            lambda: any(o.orderid == orderid and o.status == "complete" for o in sink.orders())
        )
        done = [o for o in sink.orders() if o.status == "complete"][-1]
        assert done.filled_qty == 2
        n = len(sink.orders())
        time.sleep(0.4)  # several polls, nothing changed: nothing emitted
        assert len(sink.orders()) == n
    finally:
        assert poller.stop()


def test_poller_refused_key_goes_down(sim: SimHandle) -> None:
    sink = Sink()
    poller = OrderBookPoller(sim.rest_url, "nope", sink, interval_s=0.05)
    poller.start()
    try:
        assert sink.wait(lambda: any(s.state == FeedState.DOWN for s in sink.statuses()), timeout=5)
        assert "403" in sink.statuses()[-1].reason
        assert [s.state for s in sink.statuses()] == [FeedState.CONNECTING, FeedState.DOWN]
        assert poller.polls == 0
    finally:
        assert poller.stop()
