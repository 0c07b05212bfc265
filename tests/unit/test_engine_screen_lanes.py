"""What viewers show goes out in full at the screen rate; every other symbol at most once a
second, quote only; orders, fills, plans and exits always, in order (issue 19.1)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cockpit.domain.instruments import Instrument
from cockpit.domain.market import DepthTick, TradeTick
from cockpit.engine import market
from cockpit.engine.screen import ScreenLanes
from cockpit.engine.state import EngineTimer
from cockpit.link import protocol as p
from cockpit.link.bus import SnapshotRequest, ViewerGone, ViewerShowing
from tests.unit.test_engine_core import INFY, SBIN, Recorder, Rig


class FakeTime:
    """The market room's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.t = 1000.0

    def monotonic(self) -> float:
        return self.t


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(market, "time", fake)
    return fake


class BookRecorder(Recorder):
    """Keeps each published (quote, book) pair."""

    def __init__(self) -> None:
        super().__init__()
        self.pairs: list[tuple[p.QuoteView, p.BookView | None]] = []

    def market(self, quote: p.QuoteView, book: p.BookView | None = None) -> None:
        super().market(quote, book)
        self.pairs.append((quote, book))

    def of_key(self, key: str) -> list[tuple[p.QuoteView, p.BookView | None]]:
        return [(q, b) for q, b in self.pairs if q.key == key]


def lanes_rig() -> tuple[Rig, BookRecorder]:
    rig = Rig()
    pub = BookRecorder()
    rig.pub = pub
    rig.engine.publisher = pub
    rig.start()
    return rig, pub


def depth(rig: Rig, inst: Instrument, price: str) -> DepthTick:
    rig.clock.now += 1_000_000
    d = Decimal(price)
    return DepthTick(
        rig.clock.now,
        str(inst.exchange),
        inst.symbol,
        d,
        bids=((d - inst.tick_size, Decimal(10), 1),),
        asks=((d + inst.tick_size, Decimal(12), 1),),
    )


def show(rig: Rig, conn_id: int, *keys: str) -> None:
    rig.engine.handle(ViewerShowing(conn_id, frozenset(keys)))


def test_a_symbol_no_viewer_shows_goes_out_once_a_second_without_its_book(
    clock: FakeTime,
) -> None:
    rig, pub = lanes_rig()
    engine = rig.engine
    engine.handle(SnapshotRequest(1))
    show(rig, 1, SBIN.key)
    pub.pairs.clear()
    for i in range(5):  # half a second of ticks on both
        engine.handle(depth(rig, SBIN, f"800.{i}0"))
        engine.handle(depth(rig, INFY, f"1500.{i}0"))
        engine.flush_screen()
        clock.t += 0.1
    sbin = pub.of_key(SBIN.key)
    assert [q.ltp for q, _ in sbin] == [16000, 16002, 16004, 16006, 16008]
    assert all(b is not None for _, b in sbin)  # shown: every flush, with its book
    assert pub.of_key(INFY.key) == []  # not shown: nothing yet
    clock.t += 0.55  # a second after INFY's first change
    engine.flush_screen()
    infy = pub.of_key(INFY.key)
    assert [(q.ltp, b) for q, b in infy] == [(30008, None)]  # its latest quote, no book
    assert infy[0][0].bid == 30007
    engine.flush_screen()
    assert len(pub.of_key(INFY.key)) == 1  # nothing changed since
    engine.handle(depth(rig, INFY, "1500.50"))
    engine.flush_screen()
    clock.t += 0.5
    engine.flush_screen()
    assert len(pub.of_key(INFY.key)) == 1  # the next one waits its second
    clock.t += 0.5
    engine.flush_screen()
    assert [q.ltp for q, _ in pub.of_key(INFY.key)] == [30008, 30010]


def test_a_symbol_coming_into_view_gets_its_whole_state_at_once(clock: FakeTime) -> None:
    rig, pub = lanes_rig()
    engine = rig.engine
    engine.handle(SnapshotRequest(1))
    show(rig, 1, SBIN.key)
    engine.handle(depth(rig, INFY, "1500.00"))
    engine.handle(depth(rig, INFY, "1500.25"))
    engine.flush_screen()
    pub.pairs.clear()
    show(rig, 1, SBIN.key, INFY.key)  # scrolled into view
    [(quote, book)] = pub.of_key(INFY.key)
    assert quote.ltp == 30005
    assert book is not None
    assert book.bids[0] == (30004, Decimal(10), 1)
    clock.t += 2
    engine.flush_screen()
    assert len(pub.of_key(INFY.key)) == 1  # not again from the slow lane
    engine.handle(depth(rig, INFY, "1500.30"))
    engine.flush_screen()
    assert [q.ltp for q, _ in pub.of_key(INFY.key)] == [30005, 30006]  # now at full rate


def test_a_viewer_that_never_says_what_it_shows_gets_every_symbol_in_full(
    clock: FakeTime,
) -> None:
    rig, pub = lanes_rig()
    engine = rig.engine
    engine.handle(depth(rig, INFY, "1500.00"))
    engine.flush_screen()
    assert len(pub.of_key(INFY.key)) == 1  # no viewer said anything: as before
    engine.handle(SnapshotRequest(1))
    show(rig, 1, SBIN.key)
    engine.handle(SnapshotRequest(2))  # a script: says nothing
    engine.handle(depth(rig, INFY, "1500.05"))
    engine.flush_screen()
    assert [b is not None for _, b in pub.of_key(INFY.key)] == [True, True]
    engine.handle(ViewerGone(2))
    engine.handle(depth(rig, INFY, "1500.10"))
    engine.flush_screen()
    assert len(pub.of_key(INFY.key)) == 2  # back to the slow lane
    engine.handle(ViewerGone(1))
    engine.handle(depth(rig, INFY, "1500.15"))
    engine.flush_screen()
    assert [q.ltp for q, _ in pub.of_key(INFY.key)][-1] == 30003  # nobody left: all in full


def test_volume_at_price_of_a_symbol_off_screen_waits_until_it_is_shown(
    clock: FakeTime,
) -> None:
    rig, pub = lanes_rig()
    engine = rig.engine
    engine.handle(SnapshotRequest(1))
    show(rig, 1, SBIN.key)
    for qty in (3, 4):
        rig.clock.now += 1
        engine.handle(TradeTick(rig.clock.now, "NSE", "INFY", Decimal("1500"), ltq=Decimal(qty)))
    engine._publish_volume()
    assert pub.volumes == []
    show(rig, 1, INFY.key)
    engine._publish_volume()
    # no quote to tell the aggressor: none of the 7 counts as bought
    assert pub.volumes == [p.VolumeAtPrice(INFY.key, [(30000, Decimal(7))], [(30000, Decimal(0))])]


def trade_events(shown: tuple[str, ...]) -> list[tuple[str, Any]]:
    """A buy with a plan, a fall through its stop, the exit's fill: the events viewers get."""
    rig, pub = lanes_rig()
    engine = rig.engine
    engine.handle(SnapshotRequest(1))
    show(rig, 1, *shown)
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=4, target_ticks=20))
    for price in ("800.10", "799.95", "799.70"):  # through the stop (799.80)
        rig.tick(SBIN, price)
    exit_req = rig.places()[-1]
    rig.fill(exit_req, rig.accept(exit_req), "799.70")
    seqs = [e.seq for e in pub.events if hasattr(e, "seq")]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    return [(type(e).__name__, getattr(e, "seq", None)) for e in pub.events]


def test_orders_fills_plans_and_exits_reach_a_viewer_that_shows_nothing() -> None:
    shown = trade_events((SBIN.key,))
    hidden = trade_events(())
    assert hidden == shown  # the same events, in the same order
    kinds = {kind for kind, _ in hidden}
    assert {"OrderEvent", "FillEvent", "PositionEvent", "PlanEvent", "ExitFired"} <= kinds


def test_the_timer_looks_only_at_volume_that_changed_not_at_every_symbol_waiting(
    clock: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19: per-timer work grows with what changed, not with the symbols followed."""
    rig, pub = lanes_rig()
    engine = rig.engine
    engine.handle(SnapshotRequest(1))
    show(rig, 1, SBIN.key)
    rig.clock.now += 1
    engine.handle(TradeTick(rig.clock.now, "NSE", "INFY", Decimal("1500"), ltq=Decimal(3)))
    engine._publish_volume()  # INFY's levels wait off screen
    looked: list[str] = []
    full = ScreenLanes.full

    def counting(self: ScreenLanes, key: str) -> bool:
        looked.append(key)
        return full(self, key)

    monkeypatch.setattr(ScreenLanes, "full", counting)
    for _ in range(3):
        engine._publish_volume()
    assert looked == []  # nothing changed since: INFY is not looked at again
    rig.clock.now += 1
    engine.handle(TradeTick(rig.clock.now, "NSE", "SBIN", Decimal("800"), ltq=Decimal(2)))
    looked.clear()
    engine._publish_volume()
    assert looked == [SBIN.key]
    assert [v.key for v in pub.volumes] == [SBIN.key]
    show(rig, 1, SBIN.key, INFY.key)  # INFY scrolls into view: its waiting levels go out
    engine.handle(EngineTimer(rig.clock.now))  # nothing changed since: the timer sends them
    assert pub.volumes[-1] == p.VolumeAtPrice(
        INFY.key, [(30000, Decimal(3))], [(30000, Decimal(0))]
    )


def test_volume_off_screen_reaches_a_viewer_wanting_every_symbol_in_its_snapshot(
    clock: FakeTime,
) -> None:
    """Not sent again on the next timer to every viewer (at 3,000 symbols, every map)."""
    rig, pub = lanes_rig()
    engine = rig.engine
    engine.handle(SnapshotRequest(1))
    show(rig, 1, SBIN.key)
    rig.clock.now += 1
    engine.handle(TradeTick(rig.clock.now, "NSE", "INFY", Decimal("1500"), ltq=Decimal(3)))
    engine._publish_volume()
    assert pub.volumes == []
    engine.handle(SnapshotRequest(2))  # a viewer that says nothing: every symbol in full
    [snap] = [m for c, m in pub.replies if c == 2 and isinstance(m, p.Snapshot)]
    assert [v.key for v in snap.volume_at_price] == [INFY.key]
    engine._publish_volume()
    assert pub.volumes == []
