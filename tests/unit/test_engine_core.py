"""The engine's decision thread, driven synchronously with a recording router and publisher."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cockpit.adapters.openalgo.rows import instrument_from_row, order_updates, position_reports
from cockpit.config import Settings
from cockpit.domain.execution import (
    UNCERTAIN,
    CancelAll,
    CancelOrder,
    PlaceOrder,
    QueryBook,
    RouterResult,
)
from cockpit.domain.feed import FeedState, FeedStatus, OrderUpdate
from cockpit.domain.instruments import Exchange, Instrument
from cockpit.domain.market import LtpTick, QuoteTick
from cockpit.domain.orders import Side
from cockpit.engine.core import Engine, EngineOptions, EngineTimer
from cockpit.journal.store import Journal
from cockpit.link import protocol as p
from cockpit.link.bus import SnapshotRequest, ViewerCommand
from cockpit.link.snapshots import SnapshotDraft

SBIN = Instrument(Exchange.NSE, "SBIN", Decimal("0.05"))
INFY = Instrument(Exchange.NSE, "INFY", Decimal("0.05"))
NIFTY = Instrument(Exchange.NFO, "NIFTYFUT", Decimal("0.05"), lot_size=Decimal(50))


class FakeRouter:
    """Records requests; the test answers them."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.ids = itertools.count(1)

    def drop_queued_entries(self) -> int:
        return 0  # nothing waits here: every request is "sent" as it is submitted

    def submit(self, request: Any) -> None:
        self.requests.append(request)

    def of(self, kind: type) -> list[Any]:
        return [r for r in self.requests if isinstance(r, kind)]


class Recorder:
    """A Publisher that keeps everything."""

    def __init__(self) -> None:
        self.events: list[p.Msg] = []
        self.replies: list[tuple[int, p.Msg]] = []
        self.quotes: list[p.QuoteView] = []
        self.statuses: list[p.StatusView] = []
        self.volumes: list[p.VolumeAtPrice] = []

    def volume(self, vap: p.VolumeAtPrice) -> None:
        self.volumes.append(vap)

    def market(self, quote: p.QuoteView, book: p.BookView | None = None) -> None:
        self.quotes.append(quote)

    def status(self, status: p.StatusView) -> None:
        self.statuses.append(status)

    def event(self, msg: p.Msg) -> None:
        self.events.append(msg)

    def reply(self, conn_id: int, msg: p.Msg | SnapshotDraft) -> None:
        self.replies.append((conn_id, msg.finish() if isinstance(msg, SnapshotDraft) else msg))

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def answer(self, cmd_id: int) -> p.Msg:
        found = [m for _c, m in self.replies if isinstance(m, p.Ack | p.Refused) and m.id == cmd_id]
        assert len(found) == 1, found
        return found[0]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000 * 10**9

    def __call__(self) -> int:
        return self.now


class Rig:
    """An engine with a fake router, a recorder and a fake clock."""

    def __init__(self, journal: Journal | None = None, **settings: Any) -> None:
        settings.setdefault("trading", {"armed_at_start": True})
        self.config = Settings(**settings)
        self.router = FakeRouter()
        self.pub = Recorder()
        self.clock = Clock()
        self.engine = Engine(
            config=self.config,
            instruments=[SBIN, INFY, NIFTY],
            router=self.router,
            journal=journal,
            publisher=self.pub,
            options=EngineOptions(reconcile_interval_s=0, plan_event_interval_s=0),
            clock=self.clock,
        )
        self.cmd_ids = itertools.count(1)
        self.venue_ids = itertools.count(1001)

    # -- driving ---------------------------------------------------------------------------

    def start(
        self, positions: list[dict[str, Any]] | None = None, orders: list[Any] | None = None
    ) -> None:
        self.engine.start()
        self.answer_books(positions or [], orders or [])
        self.engine.handle(FeedStatus("openalgo", FeedState.LIVE, self.clock.now))

    def answer_books(self, positions: list[dict[str, Any]], orders: list[dict[str, Any]]) -> None:
        for req in self.router.of(QueryBook):
            # As the OpenAlgo adapter reads the venue's answer (rows into the seam's types).
            data: Any = (
                order_updates({"orders": orders}, self.clock.now)[0]
                if req.book == "orderbook"
                else position_reports(positions)[0]
            )
            self.engine.handle(RouterResult(req, True, data=data))
        self.router.requests = [r for r in self.router.requests if not isinstance(r, QueryBook)]

    def tick(self, inst: Instrument, price: str, quote: bool = False) -> None:
        self.clock.now += 1_000_000
        if quote:
            d = Decimal(price)
            ev: Any = QuoteTick(
                self.clock.now,
                str(inst.exchange),
                inst.symbol,
                d,
                bids=((d - inst.tick_size, Decimal(100), 1),),
                asks=((d + inst.tick_size, Decimal(100), 1),),
            )
        else:
            ev = LtpTick(self.clock.now, str(inst.exchange), inst.symbol, Decimal(price))
        self.engine.handle(ev)

    def command(self, cmd_cls: type, **kw: Any) -> p.Msg:
        cmd = cmd_cls(id=next(self.cmd_ids), **kw)
        self.engine.handle(ViewerCommand(7, cmd))
        return self.pub.answer(cmd.id)

    def accept(self, req: PlaceOrder) -> str:
        venue_id = str(next(self.venue_ids))
        self.engine.handle(RouterResult(req, True, venue_id=venue_id, sent_ns=1, done_ns=2))
        return venue_id

    def fill(
        self,
        req: PlaceOrder,
        venue_id: str,
        price: str,
        qty: Decimal | None = None,
        status: str = "complete",
    ) -> None:
        q = qty if qty is not None else req.quantity
        self.engine.handle(
            OrderUpdate(
                venue_id,
                req.exchange,
                req.symbol,
                req.action,
                status,
                self.clock.now,
                quantity=req.quantity,
                filled_qty=q,
                pending_qty=req.quantity - q,
                average_price=Decimal(price),
                pricetype=req.pricetype,
            )
        )

    def places(self) -> list[PlaceOrder]:
        return self.router.of(PlaceOrder)

    def enter(self, inst: Instrument, side: str, qty: int, price: str, **kw: Any) -> PlaceOrder:
        answer = self.command(p.PlaceEntry, key=inst.key, side=side, qty=Decimal(qty), **kw)
        assert isinstance(answer, p.Ack), answer
        req = self.places()[-1]
        venue_id = self.accept(req)
        self.fill(req, venue_id, price)
        return req


@pytest.fixture
def rig() -> Rig:
    r = Rig()
    r.start()
    r.tick(SBIN, "800.00")
    r.tick(INFY, "1500.00")
    return r


def plan_of(rig: Rig, key: str) -> Any:
    return rig.engine.plans[key].plan


# ---------------------------------------------------------------------------- entries


def test_long_entry_attaches_the_default_plan_on_fill(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00")
    plan = plan_of(rig, SBIN.key)
    assert plan.entry_ticks == 16000
    assert plan.stop == 16000 - 20
    assert plan.target == 16000 + 40
    assert plan.qty == Decimal(10)
    assert rig.engine.portfolio.get(SBIN.key).qty == 10
    assert rig.pub.of(p.FillEvent)[-1].fill.price == Decimal("800.00")
    assert rig.pub.of(p.PlanEvent)[-1].change == "attached"


def test_trailing_stop_ratchets_and_exits_once_on_the_pullback(rig: Rig) -> None:
    spec = p.PlanSpec(stop_ticks=10, target_ticks=None, trail=p.TrailView("ticks", Decimal(5)))
    rig.enter(SBIN, "BUY", 10, "800.00", plan=spec)
    plan = plan_of(rig, SBIN.key)
    assert plan.stop == 16000 - 5  # the trail is tighter than the 10-tick stop
    for price in ("800.50", "801.00", "801.50"):
        rig.tick(SBIN, price)
    assert plan.stop == 16030 - 5
    changes = [e.change for e in rig.pub.of(p.PlanEvent) if e.change.startswith("stop")]
    assert changes[-1] == "stop 800.75 → 801.25 (trail)"
    before = len(rig.places())
    rig.tick(SBIN, "801.30")  # still above the stop
    assert len(rig.places()) == before
    rig.tick(SBIN, "801.25")  # touches the stop
    rig.tick(SBIN, "801.00")
    rig.tick(SBIN, "800.00")
    exits = rig.places()[before:]
    assert len(exits) == 1
    exit_req = exits[0]
    assert exit_req.action == "SELL"
    assert exit_req.quantity == 10
    assert exit_req.pricetype == "MARKET"
    assert exit_req.urgent
    fired = rig.pub.of(p.ExitFired)
    assert len(fired) == 1
    assert fired[0].reason == "trailing_stop"
    assert fired[0].level == 16025
    venue_id = rig.accept(exit_req)
    rig.fill(exit_req, venue_id, "801.20")
    assert rig.engine.portfolio.get(SBIN.key).qty == 0
    assert SBIN.key not in rig.engine.plans
    assert rig.pub.of(p.PlanEvent)[-1].removed


def test_short_entry_exits_at_target(rig: Rig) -> None:
    rig.enter(SBIN, "SELL", 5, "800.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=8))
    plan = plan_of(rig, SBIN.key)
    assert plan.stop == 16010
    assert plan.target == 15992
    before = len(rig.places())
    rig.tick(SBIN, "799.70")
    rig.tick(SBIN, "799.60")
    exits = rig.places()[before:]
    assert [(e.action, e.quantity) for e in exits] == [("BUY", 5)]
    assert rig.pub.of(p.ExitFired)[0].reason == "target"


def test_partial_fills_resize_the_plan(rig: Rig) -> None:
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(10))
    assert isinstance(answer, p.Ack)
    req = rig.places()[-1]
    venue_id = rig.accept(req)
    rig.fill(req, venue_id, "800.00", qty=Decimal(4), status="open")
    assert plan_of(rig, SBIN.key).qty == 4
    rig.fill(req, venue_id, "800.00", qty=Decimal(10), status="complete")
    assert plan_of(rig, SBIN.key).qty == 10


def test_lots_and_limit_join_bid(rig: Rig) -> None:
    rig.tick(NIFTY, "22000.00", quote=True)
    answer = rig.command(
        p.PlaceEntry, key=NIFTY.key, side="BUY", lots=2, order_type="LIMIT", join="bid"
    )
    assert isinstance(answer, p.Ack)
    req = rig.places()[-1]
    assert req.quantity == 100
    assert req.pricetype == "LIMIT"
    assert req.price == Decimal("21999.95")


def test_stop_market_entry_sends_the_trigger(rig: Rig) -> None:
    answer = rig.command(
        p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1), order_type="SL-M", trigger=16010
    )
    assert isinstance(answer, p.Ack)
    req = rig.places()[-1]
    assert req.pricetype == "SL-M"
    assert req.trigger_price == Decimal("800.50")


@pytest.mark.parametrize(
    ("setup", "rule"),
    [
        ("disarm", "disarmed"),
        ("stale", "stale"),
        ("kill", "kill_switch"),
    ],
)
def test_entries_refused(rig: Rig, setup: str, rule: str) -> None:
    if setup == "disarm":
        rig.command(p.SetArmed, armed=False)
    elif setup == "stale":
        rig.engine.handle(FeedStatus("openalgo", FeedState.STALE, rig.clock.now))
    elif setup == "kill":
        rig.command(p.KillSwitch)
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1))
    assert isinstance(answer, p.Refused)
    assert answer.rule == rule
    assert not [r for r in rig.places() if r.symbol == "SBIN"]


def test_entries_refused_until_reconciled() -> None:
    rig = Rig()
    rig.engine.start()
    rig.engine.handle(FeedStatus("openalgo", FeedState.LIVE, rig.clock.now))
    rig.tick(SBIN, "800.00")
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1))
    assert isinstance(answer, p.Refused)
    assert answer.rule == "reconciling"


def test_risk_refusal_names_the_rule_and_numbers() -> None:
    rig = Rig(risk={"max_order_qty": 100})
    rig.start()
    rig.tick(SBIN, "800.00")
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(500))
    assert isinstance(answer, p.Refused)
    assert answer.rule == "max_order_qty"
    assert "500" in answer.message
    assert "100" in answer.message


# ---------------------------------------------------------------------------- exits


def test_rejected_exit_is_retried_with_an_alarm_and_never_doubled(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=4, target_ticks=None))
    before = len(rig.places())
    rig.tick(SBIN, "799.80")
    exit1 = rig.places()[before]
    rig.engine.handle(RouterResult(exit1, False, "rejected", "placeorder: HTTP 400: rejected"))
    alarms = [a for a in rig.pub.of(p.Alarm) if a.code == "exit_retry"]
    assert len(alarms) == 1
    rig.tick(SBIN, "799.50")
    assert len(rig.places()) == before + 1  # no retry before the backoff, none from ticks
    rig.clock.now += 60_000_000
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert len(rig.places()) == before + 2
    exit2 = rig.places()[-1]
    assert exit2.action == "SELL"
    assert exit2.quantity == 10
    rig.engine.handle(EngineTimer(rig.clock.now + 10**9))
    assert len(rig.places()) == before + 2
    venue_id = rig.accept(exit2)
    rig.fill(exit2, venue_id, "799.50")
    assert rig.engine.portfolio.get(SBIN.key).qty == 0
    assert not rig.engine._closers


def test_failed_exit_stops_retrying_once_the_position_is_flat(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=4))
    before = len(rig.places())
    rig.tick(SBIN, "799.80")
    exit1 = rig.places()[before]
    rig.engine.handle(RouterResult(exit1, False, "transport", "cannot connect"))
    # Meanwhile the position got closed elsewhere (a broker-side stop):
    rig.engine.portfolio.apply_fill(SBIN.key, SBIN.tick_size, Side.SELL, Decimal(10), 15996)
    rig.clock.now += 10**10
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert len(rig.places()) == before + 1
    assert not rig.engine._closers


def test_update_before_the_place_answer_is_parked(rig: Rig) -> None:
    rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(3))
    req = rig.places()[-1]
    rig.fill(req, "9001", "800.00")
    assert rig.engine.portfolio.get(SBIN.key) is None
    rig.engine.handle(RouterResult(req, True, venue_id="9001"))
    assert rig.engine.portfolio.get(SBIN.key).qty == 3
    assert SBIN.key in rig.engine.plans


def test_uncertain_place_is_adopted_from_its_update(rig: Rig) -> None:
    rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(3))
    req = rig.places()[-1]
    rig.engine.handle(RouterResult(req, False, UNCERTAIN, "timeout"))
    assert [a.code for a in rig.pub.of(p.Alarm)][-1] == "order_uncertain"
    update = OrderUpdate(
        "7777", req.exchange, req.symbol, req.action, "complete", rig.clock.now,
        quantity=req.quantity, filled_qty=req.quantity, average_price=Decimal("800.00"),
        pricetype=req.pricetype, placed_ns=rig.clock.now,
    )  # fmt: skip
    rig.engine.handle(update)
    assert rig.engine.portfolio.get(SBIN.key).qty == 3


def test_uncertain_place_is_never_adopted_from_an_older_order_or_one_without_a_time(
    rig: Rig,
) -> None:
    """Issue 16.2: the same exchange, symbol, side and qty is not enough: an order the broker
    took before ours (or whose row has no time) is not ours."""
    rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(3))
    req = rig.places()[-1]
    rig.engine.handle(RouterResult(req, False, UNCERTAIN, "timeout"))
    for venue_id, placed in (("old", rig.clock.now - 60 * 10**9), ("untimed", None)):
        rig.engine.handle(
            OrderUpdate(
                venue_id, req.exchange, req.symbol, req.action, "complete", rig.clock.now,
                quantity=req.quantity, filled_qty=req.quantity,
                average_price=Decimal("800.00"), pricetype=req.pricetype, placed_ns=placed,
            )
        )  # fmt: skip
    assert rig.engine.portfolio.get(SBIN.key) is None
    assert "order_found" not in [a.code for a in rig.pub.of(p.Alarm)]


def test_flatten_cancels_working_orders_then_closes(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00")
    rig.command(
        p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1), order_type="LIMIT", price=15900
    )
    limit = rig.places()[-1]
    rig.accept(limit)
    answer = rig.command(p.Flatten, key=SBIN.key)
    assert isinstance(answer, p.Ack)
    cancels = rig.router.of(CancelOrder)
    assert [c.cid for c in cancels] == [limit.cid]
    close = rig.places()[-1]
    assert (close.action, close.quantity, close.pricetype) == ("SELL", 10, "MARKET")
    assert SBIN.key not in rig.engine.plans
    # A second Flatten while the first is in flight sends nothing more.
    rig.command(p.Flatten, key=SBIN.key)
    assert rig.places()[-1] is close


def test_kill_switch_cancels_its_own_orders_one_by_one_then_flattens_everything_once(
    rig: Rig,
) -> None:
    """Issue 17.2: the venue's cancel-all is account-wide (other strategies' orders too): the
    kill switch cancels this cockpit's own orders, each by its id, then flattens."""
    rig.enter(SBIN, "BUY", 10, "800.00")
    rig.enter(INFY, "SELL", 4, "1500.00")
    resting = rig.command(
        p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1), order_type="LIMIT", price=15000
    )
    assert isinstance(resting, p.Ack)
    venue_id = rig.accept(rig.places()[-1])
    rig.engine.handle(FeedStatus("openalgo", FeedState.STALE, rig.clock.now))  # never blocks exits
    before = len(rig.places())
    answer = rig.command(p.KillSwitch)
    assert isinstance(answer, p.Ack)
    assert not rig.router.of(CancelAll)
    assert [c.venue_id for c in rig.router.of(CancelOrder)] == [venue_id]
    assert len(rig.places()) == before  # the flatten waits for the cancel...
    rig.engine.handle(
        OrderUpdate(venue_id, "NSE", "SBIN", "BUY", "cancelled", rig.clock.now, quantity=Decimal(1))
    )
    rig.engine.handle(EngineTimer(rig.clock.now))  # ...then goes
    closes = rig.places()[before:]
    assert sorted((c.symbol, c.action, c.quantity) for c in closes) == [
        ("INFY", "BUY", 4),
        ("SBIN", "SELL", 10),
    ]
    assert all(c.urgent for c in closes)
    rig.command(p.KillSwitch)  # idempotent: nothing is sent twice
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert len(rig.places()) == before + 2
    assert rig.engine.kill_switch
    assert not rig.engine.armed


def test_after_an_account_wide_cancel_all_what_is_still_ours_is_cancelled_one_by_one(
    rig: Rig,
) -> None:
    """Issue 17.1: OpenAlgo's cancel-all skips trigger-pending stops and answers success."""
    stop_entry = rig.command(
        p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1), order_type="SL-M", trigger=16100
    )
    assert isinstance(stop_entry, p.Ack)
    venue_id = rig.accept(rig.places()[-1])
    assert isinstance(rig.command(p.KillSwitch, account_wide=True), p.Ack)
    cancel_all = rig.router.of(CancelAll)
    assert len(cancel_all) == 1
    cancels = len(rig.router.of(CancelOrder))
    ok = {"status": "success", "message": "No open orders to cancel"}
    rig.engine.handle(RouterResult(cancel_all[0], True, data=ok))
    # The stop is still working here: it is cancelled by its own id.
    assert [c.venue_id for c in rig.router.of(CancelOrder)[cancels:]] == [venue_id]


def test_move_stop_breakeven_and_detach(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00")
    answer = rig.command(p.MoveStop, key=SBIN.key, delta=5)
    assert isinstance(answer, p.Ack)
    assert plan_of(rig, SBIN.key).stop == 15985
    assert "stop 799.00 → 799.25" in answer.message
    assert isinstance(rig.command(p.MoveTarget, key=SBIN.key, to=16100), p.Ack)
    assert plan_of(rig, SBIN.key).target == 16100
    bad = rig.command(p.MoveStop, key=SBIN.key, to=16005)  # above the last price 800.00
    assert isinstance(bad, p.Refused)
    assert bad.rule == "plan"
    rig.tick(SBIN, "800.50")
    assert isinstance(rig.command(p.ToBreakeven, key=SBIN.key), p.Ack)
    assert plan_of(rig, SBIN.key).stop == 16000
    assert isinstance(rig.command(p.ToggleTrail, key=SBIN.key), p.Ack)
    assert plan_of(rig, SBIN.key).trail_active
    assert isinstance(rig.command(p.DetachPlan, key=SBIN.key), p.Ack)
    assert SBIN.key not in rig.engine.plans
    before = len(rig.places())
    rig.tick(SBIN, "790.00")
    assert len(rig.places()) == before  # unmanaged now
    assert isinstance(
        rig.command(p.AttachPlan, key=SBIN.key, plan=p.PlanSpec(stop_ticks=10)), p.Ack
    )
    assert plan_of(rig, SBIN.key).entry_ticks == 16000


def test_time_stop_fires_from_the_timer(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 2, "800.00", plan=p.PlanSpec(time_stop_s=5))
    before = len(rig.places())
    rig.clock.now += 6 * 10**9
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert len(rig.places()) == before + 1
    assert rig.pub.of(p.ExitFired)[-1].reason == "time"


def test_reverse(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00")
    answer = rig.command(p.Reverse, key=SBIN.key)
    assert isinstance(answer, p.Ack)
    req = rig.places()[-1]
    assert (req.action, req.quantity) == ("SELL", 20)
    venue_id = rig.accept(req)
    rig.fill(req, venue_id, "800.00")
    assert rig.engine.portfolio.get(SBIN.key).qty == -10
    assert plan_of(rig, SBIN.key).side.value == "SELL"


# ---------------------------------------------------------------------------- reconciliation


def test_reconcile_mismatch_is_an_alarm_not_an_overwrite(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00")
    rig.clock.now += 5 * 10**9
    rig.engine.handle(FeedStatus("openalgo", FeedState.RECONNECTING, rig.clock.now))
    rig.engine.handle(FeedStatus("openalgo", FeedState.LIVE, rig.clock.now))
    rig.answer_books(
        [
            {
                "symbol": "SBIN",
                "exchange": "NSE",
                "product": "MIS",
                "quantity": 7,
                "average_price": 800.0,
            }
        ],
        [
            {
                "orderid": "555",
                "symbol": "INFY",
                "exchange": "NSE",
                "action": "BUY",
                "quantity": 1,
                "order_status": "open",
                "pricetype": "LIMIT",
                "price": 1400.0,
            }
        ],
    )
    codes = [a.code for a in rig.pub.of(p.Alarm)]
    assert codes.count("reconcile_mismatch") == 2
    assert rig.engine.portfolio.get(SBIN.key).qty == 10


def test_reconcile_catches_a_fill_missed_while_the_feed_was_down(rig: Rig) -> None:
    rig.command(
        p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(2), order_type="LIMIT", price=15990
    )
    req = rig.places()[-1]
    venue_id = rig.accept(req)
    rig.engine.handle(FeedStatus("openalgo", FeedState.RECONNECTING, rig.clock.now))
    rig.engine.handle(FeedStatus("openalgo", FeedState.LIVE, rig.clock.now))
    rig.answer_books(
        [
            {
                "symbol": "SBIN",
                "exchange": "NSE",
                "product": "MIS",
                "quantity": 2,
                "average_price": 799.5,
            }
        ],
        [
            {
                "orderid": venue_id,
                "symbol": "SBIN",
                "exchange": "NSE",
                "action": "BUY",
                "quantity": 2,
                "filled_quantity": 2,
                "order_status": "complete",
                "pricetype": "LIMIT",
                "price": 799.5,
                "average_price": 799.5,
            }
        ],
    )
    assert rig.engine.portfolio.get(SBIN.key).qty == 2
    assert SBIN.key in rig.engine.plans
    assert not [a for a in rig.pub.of(p.Alarm) if a.code == "reconcile_mismatch"]


def test_fresh_engine_adopts_broker_positions_unmanaged() -> None:
    rig = Rig()
    rig.start(
        positions=[
            {
                "symbol": "SBIN",
                "exchange": "NSE",
                "product": "MIS",
                "quantity": -3,
                "average_price": 801.05,
            }
        ]
    )
    assert rig.engine.portfolio.get(SBIN.key).qty == -3
    assert SBIN.key not in rig.engine.plans
    assert "position_adopted" in [a.code for a in rig.pub.of(p.Alarm)]


# ---------------------------------------------------------------------------- journal restore


def test_restart_restores_the_plan_and_reconciles_before_acting(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal.open(path)
    rig = Rig(journal=journal)
    rig.start()
    rig.tick(SBIN, "800.00")
    spec = p.PlanSpec(stop_ticks=10, target_ticks=None, trail=p.TrailView("ticks", Decimal(6)))
    rig.enter(SBIN, "BUY", 10, "800.00", plan=spec)
    for price in ("800.50", "801.00"):
        rig.tick(SBIN, price)
    rig.engine.handle(EngineTimer(rig.clock.now + 10**9))  # flushes the trail to the journal
    stop_before = plan_of(rig, SBIN.key).stop
    assert stop_before == 16020 - 6
    journal._conn.close()  # a crash: no clean close

    journal2 = Journal.open(path)
    rig2 = Rig(journal=journal2)
    rig2.engine.start()
    assert plan_of(rig2, SBIN.key).stop == stop_before
    assert plan_of(rig2, SBIN.key).trail_best == 16020
    rig2.tick(SBIN, "790.00")  # before reconciliation: the plan does not act
    assert not rig2.places()
    rig2.answer_books(
        [
            {
                "symbol": "SBIN",
                "exchange": "NSE",
                "product": "MIS",
                "quantity": 10,
                "average_price": 800.0,
            }
        ],
        [],
    )
    assert rig2.engine.reconciled
    assert not [a for a in rig2.pub.of(p.Alarm) if a.code == "reconcile_mismatch"]
    rig2.tick(SBIN, "800.65")
    exits = rig2.places()
    assert [(e.action, e.quantity) for e in exits] == [("SELL", 10)]
    assert rig2.pub.of(p.ExitFired)[0].level == 16014
    journal2.close()


def test_snapshot_and_exactly_one_answer_per_command(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00")
    rig.engine.handle(SnapshotRequest(3))
    conn, snap = rig.pub.replies[-1]
    assert conn == 3
    assert isinstance(snap, p.Snapshot)
    assert [q.key for q in snap.quotes] == [SBIN.key, INFY.key]
    assert snap.positions[0].qty == 10
    assert snap.plans[0].stop == 15980
    assert snap.status.armed
    encoded = p.encode(snap)
    assert p.decode_to_viewer(encoded[4:]) == snap
    ids = [m.id for _c, m in rig.pub.replies if isinstance(m, p.Ack | p.Refused)]
    assert len(ids) == len(set(ids))


def test_limit_exit_that_does_not_fill_is_chased_at_market() -> None:
    rig = Rig(exits={"exit_order_type": "limit", "exit_offset_ticks": 2})
    rig.start()
    rig.tick(SBIN, "800.00", quote=True)
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=4, target_ticks=None))
    before = len(rig.places())
    rig.tick(SBIN, "799.80", quote=True)  # the stop 799.80 is touched; bid 799.75
    exit1 = rig.places()[before]
    assert (exit1.pricetype, exit1.price) == ("LIMIT", Decimal("799.65"))
    venue_id = rig.accept(exit1)
    rig.clock.now += 500_000_000
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert not rig.router.of(CancelOrder)  # not yet
    rig.clock.now += 600_000_000
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert [c.venue_id for c in rig.router.of(CancelOrder)] == [venue_id]
    assert len(rig.places()) == before + 1  # nothing new until the cancel is confirmed
    rig.engine.handle(
        OrderUpdate(
            venue_id, "NSE", "SBIN", "SELL", "cancelled", rig.clock.now, quantity=Decimal(10)
        )
    )
    exit2 = rig.places()[-1]
    assert len(rig.places()) == before + 2
    assert (exit2.action, exit2.quantity, exit2.pricetype) == ("SELL", 10, "MARKET")
    assert "exit_chase" in [a.code for a in rig.pub.of(p.Alarm)]


def test_a_watchlist_switch_long_after_the_fill_keeps_the_symbol_with_a_position(
    rig: Rig,
) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00")
    rig.clock.now += 60 * 10**9  # the entry's fill is a minute old: nothing is in flight
    answer = rig.command(p.SwitchWatchlist, name="other", keys=[INFY.key])
    assert isinstance(answer, p.Ack), answer
    assert "kept NSE:SBIN" in answer.message
    assert SBIN.key in rig.engine.watchlist  # its ticks still reach the plan's stop


def test_cancel_modify_unsubscribe_and_shutdown_rules(rig: Rig) -> None:
    rig.enter(SBIN, "BUY", 10, "800.00")
    answer = rig.command(
        p.PlaceEntry, key=INFY.key, side="BUY", qty=Decimal(2), order_type="LIMIT", price=29900
    )
    limit = rig.places()[-1]
    venue_id = rig.accept(limit)
    moved = rig.command(p.ModifyOrder, cid=answer.cid, price=29910)
    assert isinstance(moved, p.Ack)
    from cockpit.domain.execution import ModifyOrder as RouterModify

    modify = rig.router.of(RouterModify)[-1]
    assert (modify.venue_id, modify.price, modify.quantity) == (venue_id, Decimal("1495.50"), 2)
    rig.engine.handle(RouterResult(modify, True, venue_id=venue_id))
    assert rig.engine.orders[answer.cid].price_ticks == 29910
    busy = rig.command(p.Unsubscribe, keys=[SBIN.key])
    assert isinstance(busy, p.Refused)
    assert busy.rule == "busy"
    refused = rig.command(p.Shutdown)
    assert isinstance(refused, p.Refused)
    assert refused.rule == "open_positions"
    assert isinstance(rig.command(p.CancelOrders, key=INFY.key), p.Ack)
    assert [c.venue_id for c in rig.router.of(CancelOrder)] == [venue_id]
    rig.engine.handle(
        OrderUpdate(venue_id, "NSE", "INFY", "BUY", "cancelled", rig.clock.now, quantity=Decimal(2))
    )
    assert not rig.engine.orders[answer.cid].is_working
    assert isinstance(rig.command(p.Unsubscribe, keys=[INFY.key]), p.Ack)
    assert INFY.key not in rig.engine.watchlist
    bye = rig.command(p.Shutdown, flatten=True)
    assert isinstance(bye, p.Ack)
    assert not rig.router.of(CancelAll)  # never the account-wide cancel unless asked for
    flat = rig.places()[-1]
    assert (flat.action, flat.quantity) == ("SELL", 10)
    rig.fill(flat, rig.accept(flat), "800.00")
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert rig.engine.shutdown_requested.is_set()


def test_subscribe_unknown_symbol_waits_for_the_venue(rig: Rig) -> None:
    from cockpit.domain.execution import LookupSymbol

    cmd = p.Subscribe(id=99, keys=["NSE:TCS"])
    rig.engine.handle(ViewerCommand(7, cmd))
    assert not [m for _c, m in rig.pub.replies if getattr(m, "id", None) == 99]
    lookup = rig.router.of(LookupSymbol)[-1]
    row = {"symbol": "TCS", "exchange": "NSE", "tick_size": 0.05, "lotsize": 1, "name": "TCS"}
    rig.engine.handle(RouterResult(lookup, True, data=instrument_from_row(row)))
    answer = rig.pub.answer(99)
    assert isinstance(answer, p.Ack)
    assert rig.engine.instruments["NSE:TCS"].tick_size == Decimal("0.05")
    assert "NSE:TCS" in rig.engine.watchlist


def test_trail_moves_are_paced_for_viewers_but_never_lost() -> None:
    rig = Rig()
    rig.engine.options.plan_event_interval_s = 0.05
    rig.start()
    rig.tick(SBIN, "800.00")
    spec = p.PlanSpec(stop_ticks=10, target_ticks=None, trail=p.TrailView("ticks", Decimal(4)))
    rig.enter(SBIN, "BUY", 10, "800.00", plan=spec)
    before = len(rig.pub.of(p.PlanEvent))
    for n in range(1, 21):  # 20 new highs, 1 ms apart
        rig.tick(SBIN, f"{800 + n * Decimal('0.05'):.2f}")
    events = rig.pub.of(p.PlanEvent)[before:]
    assert 1 <= len(events) <= 2
    assert plan_of(rig, SBIN.key).stop == 16020 - 4
    rig.clock.now += 60_000_000
    rig.engine.handle(EngineTimer(rig.clock.now))
    last = rig.pub.of(p.PlanEvent)[-1]
    assert last.plan.stop == 16016
    assert last.change.endswith("→ 800.80 (trail)")


def test_a_stop_crossed_before_the_first_reconciliation_exits_when_it_completes(
    tmp_path: Path,
) -> None:
    journal = Journal.open(tmp_path / "j.sqlite3")
    rig = Rig(journal=journal)
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=10, target_ticks=None))
    journal._conn.close()  # crash
    journal2 = Journal.open(tmp_path / "j.sqlite3")
    rig2 = Rig(journal=journal2)
    rig2.engine.start()
    rig2.tick(SBIN, "799.00")  # through the stop 799.50, while the books are not known yet
    assert not rig2.places()
    rig2.answer_books(
        [
            {
                "symbol": "SBIN",
                "exchange": "NSE",
                "product": "MIS",
                "quantity": 10,
                "average_price": 800,
            }
        ],
        [],
    )
    assert [(r.action, r.quantity) for r in rig2.places()] == [("SELL", 10)]
    journal2.close()


def test_the_days_pnl_counts_todays_journaled_fills_only(tmp_path: Path) -> None:
    """Issue 15.6: the journaled position's realized P&L holds yesterday's trades too; the
    day's P&L (and so the daily loss limit) is today's fills, replayed from the journal."""
    from cockpit.domain.orders import Side
    from cockpit.domain.positions import Portfolio
    from cockpit.engine.state import local_day_start_ns

    clock = Clock()
    today = local_day_start_ns(clock.now)
    fills = [
        ("y1", "BUY", "800.00", today - 3600 * 10**9),  # yesterday: -100.00
        ("y2", "SELL", "790.00", today - 3500 * 10**9),
        ("t1", "BUY", "800.00", today + 60 * 10**9),  # today: -10.00
        ("t2", "SELL", "799.00", today + 120 * 10**9),
    ]
    book = Portfolio()
    journal = Journal.open(tmp_path / "j.sqlite3")
    for cid, side, price, ts in fills:
        fill = p.FillView(cid, SBIN.key, side, Decimal(10), Decimal(price), ts)
        journal.fill(fill)
        ticks = int(Decimal(price) / SBIN.tick_size)
        book.apply_fill(SBIN.key, SBIN.tick_size, Side(side), Decimal(10), ticks, ts)
    journal.position(SBIN.key, book.get(SBIN.key).to_state())  # type: ignore[union-attr]
    journal.close()

    reopened = Journal.open(tmp_path / "j.sqlite3")
    try:
        rig = Rig(journal=reopened)
        assert rig.clock.now > today + 120 * 10**9  # all four fills are in the past
        rig.engine.start()
        restored = rig.engine.portfolio.get(SBIN.key)
        assert restored is not None
        assert restored.realized_pnl == Decimal(-110)  # what the position row holds
        assert rig.engine._day_pnls() == {"INR": Decimal(-10)}
        assert [f.cid for f in rig.engine.fills] == ["t1", "t2"]
    finally:
        reopened.close()  # its checkpoint thread must not outlive the test
