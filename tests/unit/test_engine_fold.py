"""A decision thread that lags folds ticks per symbol, never for what trades on every price
(issue 19.3): exit plans, working orders, held MIT entries, alerts and positions see every
price; volume at price and bars stay exact; folded ticks are counted."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from cockpit.domain.instruments import Instrument
from cockpit.domain.market import DepthTick, LtpTick, QuoteTick
from cockpit.engine.core import EngineOptions
from cockpit.link import protocol as p
from tests.unit.test_engine_core import INFY, NIFTY, SBIN, Rig


def rig(fold_over: int = 50) -> Rig:
    r = Rig()
    r.engine.options = EngineOptions(
        reconcile_interval_s=0, plan_event_interval_s=0, fold_over=fold_over
    )
    r.start()
    return r


def quote(r: Rig, inst: Instrument, price: str, volume: int, depth: bool = False) -> QuoteTick:
    """A quote with the feed's cumulative day volume and a one-level book around ``price``."""
    r.clock.now += 1_000
    d = Decimal(price)
    kind = DepthTick if depth else QuoteTick
    return kind(
        r.clock.now,
        str(inst.exchange),
        inst.symbol,
        d,
        volume=Decimal(volume),
        ltq=Decimal(1),
        high=d + 1,
        low=d - 1,
        bids=((d - inst.tick_size, Decimal(10 + volume % 7), 1),),
        asks=((d + inst.tick_size, Decimal(12 + volume % 5), 1),),
    )


def busy_market(r: Rig, n: int, seed: int = 5) -> list[Any]:
    """``n`` quotes on INFY and NIFTY (nothing trades on them) with prices wandering."""
    rng = random.Random(seed)
    price = {INFY.key: 150000, NIFTY.key: 440000}
    volume = {INFY.key: 1000, NIFTY.key: 5000}
    out = []
    for i in range(n):
        inst = INFY if i % 3 else NIFTY
        price[inst.key] += rng.choice((-2, -1, 0, 1, 2))
        volume[inst.key] += rng.choice((0, 1, 3, 10))
        text = str(Decimal(price[inst.key]) * inst.tick_size)
        out.append(quote(r, inst, text, volume[inst.key], depth=i % 5 == 0))
    return out


def test_a_plans_stop_fires_on_the_tick_that_crossed_it_inside_a_folded_burst() -> None:
    r = rig()
    r.tick(SBIN, "800.00")
    r.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=4, target_ticks=40))
    burst = busy_market(r, 400)
    # SBIN dips through its stop (799.80) for one tick in the middle of the burst, then
    # recovers: only a decision thread that sees every SBIN price exits.
    path = ["800.10", "800.05", "799.75", "800.20", "800.30"]
    for i, price in enumerate(path):
        r.clock.now += 1
        burst.insert(100 + 60 * i, LtpTick(r.clock.now, "NSE", "SBIN", Decimal(price)))
    before = len(r.places())
    r.engine.handle_items(burst)
    assert r.engine.counters["folded"] > 300  # the burst was folded...
    [fired] = r.pub.of(p.ExitFired)  # ...and still the exit fired, once, on the dip
    assert fired.price == 15995
    assert fired.level == 15996
    assert len(r.places()) == before + 1


def test_folding_keeps_volume_at_price_bars_and_the_last_state_exact() -> None:
    folded, plain = rig(), rig()
    for r in (folded, plain):
        answer = r.command(p.WatchChart, key=INFY.key)
        assert not isinstance(answer, p.Refused), answer
    a, b = busy_market(folded, 3000), busy_market(plain, 3000)
    folded.engine.handle_items(a)
    for ev in b:
        plain.engine.handle(ev)
    assert folded.engine.counters["folded"] > 2500
    assert plain.engine.counters["folded"] == 0
    assert folded.engine.counters["ticks"] == plain.engine.counters["ticks"] == 3000
    for key in (INFY.key, NIFTY.key):
        x, y = folded.engine._syms[key], plain.engine._syms[key]
        assert x.vap  # volume at price: every trade, at its price
        assert x.vap == y.vap
        assert x.bought == y.bought  # and who initiated it
        assert x.count == y.count
        assert folded.engine._quote_view(x) == plain.engine._quote_view(y)
        assert folded.engine._book_view(x) == plain.engine._book_view(y)
    cx, cy = folded.engine._charts[INFY.key], plain.engine._charts[INFY.key]
    for size in cx.aggregators:
        assert cx.series(size) == cy.series(size)  # bars: open, high, low, close, volume
    assert list(cx.prints) == list(cy.prints)


def test_a_short_batch_is_never_folded() -> None:
    r = rig(fold_over=1000)
    r.engine.handle_items(busy_market(r, 999))
    assert r.engine.counters["folded"] == 0


def test_working_orders_alerts_and_positions_see_every_price() -> None:
    r = rig()
    r.tick(SBIN, "800.00")
    r.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=400, target_ticks=400))
    r.tick(INFY, "1500.00")
    ack = r.command(
        p.PlaceEntry, key=INFY.key, side="BUY", qty=Decimal(1), order_type="LIMIT",
        price=28000,
    )  # fmt: skip
    assert isinstance(ack, p.Ack), ack
    burst = busy_market(r, 300)
    for i in range(40):
        r.clock.now += 1
        burst.insert(5 * i, LtpTick(r.clock.now, "NSE", "SBIN", Decimal("800.00") + i))
    r.engine.handle_items(burst)
    folded = r.engine.counters["folded"]
    nifty_ticks = sum(1 for ev in burst if ev.symbol == NIFTY.symbol)
    assert folded == nifty_ticks - 1  # only NIFTY folds: INFY has a working order,
    # SBIN a position and a plan


def test_the_status_tells_how_many_ticks_were_folded() -> None:
    r = rig()
    r.engine.handle_items(busy_market(r, 400))
    status = r.engine._status_view()
    assert status.ticks == r.engine.counters["ticks"] == 400
    assert status.ticks_folded == r.engine.counters["folded"] > 0
