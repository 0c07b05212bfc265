"""A quote whose cumulative volume is lower than the previous one, over real sockets.

Kite (the loopback ticker) sends quote packets with the venue's cumulative day volume; the
engine turns each increase into traded size at the last price (volume at price). A frame
behind (a duplicate or a delayed one) must neither wipe the map nor make the next frame
count its volume again; a real restart of the venue's count (a new day) still starts a new
session once it holds.
"""

from __future__ import annotations

from decimal import Decimal

from cockpit.adapters.kite.feed import KiteFeed
from cockpit.adapters.ws import Backoff
from cockpit.config import Settings
from cockpit.domain.instruments import Exchange, Instrument
from cockpit.domain.market import MarketEvent
from cockpit.engine.core import Engine, EngineOptions
from cockpit.engine.market import VOLUME_RESET_QUOTES
from tests.servers.base import Collector, wait_until
from tests.servers.kite_server import KiteServer, frame, quote_packet
from tests.unit.test_engine_core import Clock, FakeRouter, Recorder

FAST = Backoff(initial=0.05, factor=2.0, cap=0.3, jitter=0.1)
OPT = Instrument(Exchange.NFO, "NIFTYOPT", Decimal("0.05"), lot_size=Decimal(75), token="12345")


def kite_quotes(frames: list[tuple[int, int]]) -> list[MarketEvent]:
    """The events a Kite feed decodes from quote frames of (price in paise, volume)."""
    token = int(OPT.token)
    server = KiteServer(api_key="key", access_token="token", heartbeat_s=0.2)
    server.start()
    sink = Collector()
    feed = KiteFeed(
        "key",
        "token",
        sink,
        url=server.url,
        token_map={token: ("NFO", "NIFTYOPT")},
        backoff=FAST,
        stable_s=0.5,
    )
    try:
        server.streaming = False
        feed.subscribe([token], "quote")
        feed.start()
        assert wait_until(lambda: bool(server.conns), 10)
        for price, volume in frames:
            packet = quote_packet(token, price, 1, price, volume, 500, 700, 0, 0, 0, price)
            server.send(frame([packet]))
        assert wait_until(lambda: len(sink.of(MarketEvent)) == len(frames), 10), sink.snapshot()
    finally:
        assert feed.stop(3)
        server.stop()
    events: list[MarketEvent] = sink.of(MarketEvent)
    assert [ev.volume for ev in events] == [Decimal(v) for _p, v in frames]  # type: ignore[union-attr]
    return events


def volume_at_price(events: list[MarketEvent]) -> tuple[dict[int, Decimal], Engine]:
    engine = Engine(
        config=Settings(),
        instruments=[OPT],
        router=FakeRouter(),
        journal=None,
        publisher=Recorder(),
        options=EngineOptions(reconcile_interval_s=0, plan_event_interval_s=0),
        clock=Clock(),
    )
    engine.start()
    for ev in events:
        engine.handle(ev)
    assert engine.counters["bad_ticks"] == 0
    snap = engine.snapshot()
    return {t: q for v in snap.volume_at_price if v.key == OPT.key for t, q in v.levels}, engine


def test_a_frame_behind_neither_wipes_nor_counts_twice() -> None:
    events = kite_quotes(
        [
            (10000, 1000),  # 100.00: the baseline (earlier volume has no known price)
            (10005, 1100),  # 100 at 100.05
            (10010, 1050),  # a delayed frame: 50 behind
            (10010, 1100),  # a duplicate of the current count
            (10015, 1200),  # 100 at 100.15, not 150
        ]
    )
    vap, engine = volume_at_price(events)
    assert vap == {2001: Decimal(100), 2003: Decimal(100)}
    assert engine.counters["volume_behind"] == 1


def test_a_venue_restarting_its_count_starts_a_new_session_once_it_holds() -> None:
    frames = [(10000, 5000), (10005, 5100)]  # 100 at 100.05 (yesterday)
    # the count restarted: VOLUME_RESET_QUOTES quotes below the old one, rising from 10
    frames += [(10020, 10 + 5 * i) for i in range(VOLUME_RESET_QUOTES)]
    frames += [(10025, 10 + 5 * (VOLUME_RESET_QUOTES - 1) + 7)]  # 7 more at 100.25
    vap, engine = volume_at_price(kite_quotes(frames))
    since = 5 * (VOLUME_RESET_QUOTES - 1)  # traded since the restart, before it held
    assert vap == {2004: Decimal(since), 2005: Decimal(7)}
    assert engine.counters["volume_sessions"] == 1
