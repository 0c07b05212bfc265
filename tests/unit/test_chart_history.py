"""The engine's charts driven synchronously: a failed or partly bad history answer is
counted and leaves the live bars alone (never an engine error)."""

from __future__ import annotations

from decimal import Decimal

from cockpit.domain.execution import TRANSPORT, HistoryBar, QueryHistory, RouterResult
from cockpit.engine.core import EngineTimer
from cockpit.link import protocol as p
from tests.unit.test_engine_core import SBIN, Rig

NS = 1_000_000_000


def _charted(rig: Rig) -> QueryHistory:
    rig.start()
    assert isinstance(rig.command(p.WatchChart, key=SBIN.key), p.Ack)
    (request,) = rig.router.of(QueryHistory)
    assert (request.symbol, request.interval) == ("SBIN", "1m")
    return request


def test_a_failed_history_is_counted_and_the_live_bars_stay() -> None:
    rig = Rig()
    request = _charted(rig)
    rig.tick(SBIN, "800.05")
    errors = rig.engine.counters["errors"]
    rig.engine.handle(RouterResult(request, False, TRANSPORT, "connection refused"))
    assert rig.engine.counters["history_failed"] == 1
    assert rig.engine.counters["errors"] == errors
    rig.engine.handle(EngineTimer(rig.clock.now))
    bars = [e for e in rig.pub.of(p.Bars) if e.size_s == 60]
    assert bars[-1].bars[-1].close == 16_001


def test_history_bars_with_an_unusable_price_are_counted_and_skipped() -> None:
    rig = Rig()
    request = _charted(rig)
    minute = rig.clock.now - rig.clock.now % (60 * NS) - 60 * NS
    good = HistoryBar(minute, *(Decimal(x) for x in ("800", "800.10", "799.95", "800.05", "7")))
    bad = HistoryBar(minute - 60 * NS, *(Decimal(x) for x in ("800", "800.1", "0.01", "800", "1")))
    rig.engine.handle(RouterResult(request, True, data=[bad, good]))
    assert rig.engine.counters["bad_history_bars"] == 1
    (replace,) = [e for e in rig.pub.of(p.Bars) if e.replace and e.size_s == 60]
    assert replace.bars == [p.BarView(minute, 16_000, 16_002, 15_999, 16_001, Decimal(7))]


def test_bars_and_prints_go_out_a_few_times_a_second_not_per_timer_tick() -> None:
    rig = Rig()
    _charted(rig)
    before = len(rig.pub.of(p.Bars))
    for i in range(20):  # one second: a trade and a timer run every 50 ms
        rig.clock.now += 50_000_000
        rig.tick(SBIN, f"800.{i % 2}5")
        rig.engine.handle(EngineTimer(rig.clock.now))
    updates = rig.pub.of(p.Bars)[before:]
    assert 3 * 3 <= len(updates) <= 3 * 5  # three sizes, every 250 ms
    assert updates[-1].bars[-1].close in (16_001, 16_003)
