"""The viewer store: snapshot, market batches and events applied in order; formatting."""

from __future__ import annotations

import time
from decimal import Decimal

from cockpit.link import protocol as p
from cockpit.ui.fmt import fmt_age, fmt_money, fmt_qty, fmt_volume
from cockpit.ui.link import MemoryLink, Pump, merge_market
from cockpit.ui.store import Store
from tests.ui import scenario as sc


def test_snapshot_then_batches_track_latest_and_direction() -> None:
    store = Store()
    ch = store.apply(sc.snapshot(with_position=True))
    assert ch.everything
    assert store.watchlist[0] == "NSE:SBIN"
    assert store.fmt_price("NSE:SBIN", 16_000) == "800.00"
    ch = store.apply(sc.market(2, "NSE:SBIN", 16_003, sc.T0))
    assert ch.quotes == {"NSE:SBIN"}
    assert ch.marks == {"NSE:SBIN"}  # its P&L moves with the price...
    assert not ch.positions  # ...the position itself did not change
    assert store.direction["NSE:SBIN"] == 1
    store.apply(sc.market(3, "NSE:SBIN", 16_001, sc.T0))
    assert store.direction["NSE:SBIN"] == -1
    assert list(store.history["NSE:SBIN"])[-3:] == [16_000, 16_003, 16_001]
    assert store.seq == 3


def test_events_orders_plans_exits_and_refusals() -> None:
    store = Store()
    store.apply(sc.snapshot(with_position=True))
    assert [o.cid for o in store.working_orders()] == ["c2"]
    assert store.has_exposure()
    plan = store.plans["NSE:SBIN"]
    moved = p.PlanView("NSE:SBIN", "long", Decimal(10), entry=plan.entry, stop=15_975)
    ch = store.apply(p.PlanEvent(seq=5, plan=moved, change="stop 798.50 → 798.75 (trail)"))
    assert ch.plans == {"NSE:SBIN"}
    assert store.plans["NSE:SBIN"].stop == 15_975
    assert store.plan_changes["NSE:SBIN"].startswith("stop")
    store.apply(
        p.ExitFired(
            seq=6, key="NSE:SBIN", reason="trailing_stop", level=15_975, price=15_974, cid="x1"
        )
    )
    notices = store.drain_notices()
    assert notices
    assert "trail stop at 798.70" in notices[0].message
    store.apply(p.Refused(id=9, rule="max_order_qty", message="qty 500 over 100"))
    (n,) = store.drain_notices()
    assert n.severity == "error"
    assert "max_order_qty" in n.title
    cancelled = p.OrderView(
        "c2", "NSE:SBIN", "SELL", "LIMIT", Decimal(10), "cancelled", sc.T0, price=16_010
    )
    store.apply(p.OrderEvent(seq=7, order=cancelled))
    assert store.working_orders() == []
    flat = p.PositionView("NSE:SBIN", Decimal(0), Decimal(0), Decimal("-7.50"), Decimal(0))
    store.apply(p.PositionEvent(seq=8, position=flat))
    assert not store.has_exposure()
    assert store.positions["NSE:SBIN"].realized == Decimal("-7.50")  # closed today: kept


def test_formatting_is_exact() -> None:
    assert fmt_qty(Decimal("1500")) == "1,500"
    assert fmt_qty(Decimal("0.0250")) == "0.025"
    assert fmt_volume(Decimal(1_234_567)) == "1235K"
    assert fmt_volume(Decimal(123_456_789)) == "123.5M"
    assert fmt_money(Decimal("-1234.565")) == "-1,234.57"
    assert fmt_age(1_500_000_000) == "1.5s"
    assert fmt_age(None) == "—"
    # The watchlist's ages: a row's age text changes once a second, not every 100 ms.
    assert fmt_age(400_000_000, coarse=True) == "<1s"
    assert fmt_age(1_500_000_000, coarse=True) == fmt_age(1_900_000_000, coarse=True) == "1s"
    assert fmt_age(125_000_000_000, coarse=True) == "2m"


def test_merge_market_keeps_latest_per_symbol() -> None:
    a = sc.market(2, "NSE:SBIN", 16_001, sc.T0)
    b = p.MarketBatch(
        seq=3, quotes=[sc.quote("NSE:INFY", 30_001, sc.T0), sc.quote("NSE:SBIN", 16_002, sc.T0)]
    )
    m = merge_market(a, b)
    assert m.seq == 3
    assert {q.key: q.ltp for q in m.quotes} == {"NSE:SBIN": 16_002, "NSE:INFY": 30_001}
    assert [x.key for x in m.books] == ["NSE:SBIN"]


def test_pump_coalesces_market_but_never_events() -> None:
    link = MemoryLink()
    delivered: list[list[p.Msg]] = []
    pump = Pump(link, delivered.append, fps=1000)
    pump.consumed.clear()  # the app is busy: everything queues up in the pump
    order = p.OrderView("c9", "NSE:SBIN", "BUY", "MARKET", Decimal(1), "open", sc.T0)
    link.feed(
        sc.market(2, "NSE:SBIN", 16_001, sc.T0),
        sc.market(3, "NSE:SBIN", 16_002, sc.T0),
        p.OrderEvent(seq=4, order=order),
        sc.market(5, "NSE:SBIN", 16_003, sc.T0),
        sc.market(6, "NSE:INFY", 30_001, sc.T0),
    )
    link.drop()
    import threading

    t = threading.Thread(target=pump.run)
    t.start()
    t.join(0.3)
    pump.consumed.set()
    t.join(5)
    assert not t.is_alive()
    msgs = [m for batch in delivered for m in batch]
    kinds = [type(m).__name__ for m in msgs]
    assert kinds == ["MarketBatch", "OrderEvent", "MarketBatch"]
    assert msgs[0].quotes[0].ltp == 16_002
    assert {q.key: q.ltp for q in msgs[2].quotes} == {"NSE:SBIN": 16_003, "NSE:INFY": 30_001}


def test_pump_sends_the_next_delivery_when_the_app_never_says_it_painted() -> None:
    """A lost "painted" signal must not freeze the screen: after ``stall_s`` the next
    delivery goes anyway; before it, nothing does."""
    import threading

    link = MemoryLink()
    delivered: list[list[p.Msg]] = []
    pump = Pump(link, delivered.append, fps=1000)
    pump.stall_s = 0.5
    t = threading.Thread(target=pump.run)
    t.start()
    try:
        link.feed(sc.market(2, "NSE:SBIN", 16_001, sc.T0))
        deadline = time.monotonic() + 5
        while not delivered and time.monotonic() < deadline:
            time.sleep(0.01)
        sent = time.monotonic()
        link.feed(sc.market(3, "NSE:SBIN", 16_002, sc.T0))  # consumed is never set
        while len(delivered) < 2 and time.monotonic() < deadline + 5:
            time.sleep(0.01)
        assert len(delivered) == 2
        assert time.monotonic() - sent >= 0.45
    finally:
        pump.stop.set()
        t.join(5)


def test_pump_drops_market_batches_a_snapshot_supersedes_but_no_event() -> None:
    import threading

    link = MemoryLink()
    delivered: list[list[p.Msg]] = []
    pump = Pump(link, delivered.append, fps=1000)
    pump.consumed.clear()  # the app is busy: everything waits in the pump
    order = p.OrderView("c9", "NSE:SBIN", "BUY", "MARKET", Decimal(1), "open", sc.T0)
    link.feed(
        sc.market(2, "NSE:SBIN", 16_001, sc.T0),
        p.OrderEvent(seq=3, order=order),
        sc.market(4, "NSE:INFY", 30_001, sc.T0),
        sc.snapshot(sc.T0),
        sc.market(6, "NSE:SBIN", 16_003, sc.T0),
    )
    link.drop()
    t = threading.Thread(target=pump.run)
    t.start()
    t.join(0.3)
    pump.consumed.set()
    t.join(5)
    kinds = [type(m).__name__ for batch in delivered for m in batch]
    assert kinds == ["OrderEvent", "Snapshot", "MarketBatch"]


def test_the_freshest_tick_age_follows_batches_and_a_new_snapshot() -> None:
    store = Store()
    store.apply(sc.snapshot(sc.T0))
    assert store.last_tick_age_ns(sc.T0 + 5) == 5
    store.apply(p.MarketBatch(seq=2, quotes=[sc.quote("NSE:INFY", 30_001, sc.T0 + 100)]))
    store.apply(p.MarketBatch(seq=3, quotes=[sc.quote("NSE:SBIN", 16_001, sc.T0 + 50)]))
    assert store.last_tick_age_ns(sc.T0 + 300) == 200  # the freshest, not the last applied
    store.apply(sc.snapshot(sc.T0 - 1000))  # a resync from an engine whose ticks are older
    assert store.last_tick_age_ns(sc.T0) == 1000


def test_an_alarms_title_is_in_words_not_the_engines_code() -> None:
    """A trader reads "Reduce cancelled NSE:SBIN", not the identifier reduce_cancelled."""
    store = Store()
    store.apply(sc.snapshot(with_position=True))
    store.drain_notices()
    store.apply(
        p.Alarm(
            seq=2,
            level="warning",
            code="reduce_cancelled",
            key="NSE:SBIN",
            message="reducing order c1 (SELL 1) cancelled: the position is flat",
        )
    )
    store.apply(p.Alarm(seq=3, level="error", code="", message="something failed"))
    titles = [n.title for n in store.drain_notices()]
    assert titles == ["Reduce cancelled NSE:SBIN", "Alarm"]
