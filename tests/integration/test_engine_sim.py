"""The engine against the paper exchange over real sockets (OpenAlgo WS feed + REST router).

Prices are scripted: the sim's random walk is paused and every test moves the market with
``/sim/price`` (through the in-thread handle), waiting until the engine has seen each tick.
Exactly-once exits are asserted on the paper exchange's own orderbook.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from engine_stack import Stack

from cockpit.domain.feed import FeedState
from cockpit.link import protocol as p


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path).start()
    try:
        yield s
    finally:
        s.stop()


def enter(stack: Stack, symbol: str, side: str, qty: int, plan: p.PlanSpec | None = None) -> str:
    answer = stack.command(
        p.PlaceEntry, key=stack.by_symbol[symbol].key, side=side, qty=Decimal(qty), plan=plan
    )
    assert isinstance(answer, p.Ack), answer
    assert answer.cid
    signed = qty if side == "BUY" else -qty
    stack.wait_position(symbol, signed)
    stack.rec.wait(lambda: stack.plan(symbol) is not None or plan is not None and plan.none)
    return answer.cid


def actions(rows: list[dict]) -> list[tuple[str, int, str]]:
    return [(r["action"], int(r["quantity"]), r["order_status"]) for r in rows]


def test_long_trailing_stop_ratchets_up_and_exits_once_on_the_pullback(stack: Stack) -> None:
    stack.price("SBIN", "800.00")
    trail = p.TrailView("ticks", Decimal(4))
    enter(stack, "SBIN", "BUY", 10, p.PlanSpec(stop_ticks=10, target_ticks=None, trail=trail))
    plan = stack.plan("SBIN")
    assert plan.entry == 16001  # a market buy fills at the ask, one tick up
    assert plan.stop == plan.entry - 4
    for price in ("800.50", "801.00", "801.50"):
        stack.price("SBIN", price)
    stack.rec.wait(lambda: stack.plan("SBIN").stop == 16030 - 4, what="stop ratcheted")
    stack.rec.wait(
        lambda: any(e.change.endswith("→ 801.30 (trail)") for e in stack.rec.of(p.PlanEvent)),
        what="the ratchet published",
    )
    stack.price("SBIN", "801.40")
    assert not stack.rec.of(p.ExitFired)
    stack.price("SBIN", "801.25")  # through the trailing stop
    stack.wait_position("SBIN", 0)
    for price in ("801.00", "800.00", "799.00"):
        stack.price("SBIN", price)
    rows = stack.settle("SBIN", 2)
    assert actions(rows) == [("BUY", 10, "complete"), ("SELL", 10, "complete")]
    fired = stack.rec.of(p.ExitFired)
    assert len(fired) == 1
    assert fired[0].reason == "trailing_stop"
    assert fired[0].level == 16026
    assert stack.sim_position("SBIN") == 0


def test_short_entry_target_first(stack: Stack) -> None:
    stack.price("INFY", "1500.00")
    enter(stack, "INFY", "SELL", 4, p.PlanSpec(stop_ticks=10, target_ticks=6))
    assert stack.plan("INFY").entry == 29999  # sold at the bid, 1499.95
    stack.price("INFY", "1500.20")  # towards the stop 1500.45, not through it
    stack.price("INFY", "1499.65")  # at the target 1499.65
    stack.wait_position("INFY", 0)
    rows = stack.settle("INFY", 2)
    assert actions(rows) == [("SELL", 4, "complete"), ("BUY", 4, "complete")]
    assert [e.reason for e in stack.rec.of(p.ExitFired)] == ["target"]


def test_long_entry_stop_first(stack: Stack) -> None:
    stack.price("TCS", "3400.00")
    enter(stack, "TCS", "BUY", 2, p.PlanSpec(stop_ticks=6, target_ticks=10))
    assert stack.plan("TCS").entry == 68001  # bought at the ask, 3400.05
    stack.price("TCS", "3400.50")  # towards the target 3400.55, not at it
    stack.price("TCS", "3399.70")  # below the stop 3399.75
    stack.wait_position("TCS", 0)
    rows = stack.settle("TCS", 2)
    assert actions(rows) == [("BUY", 2, "complete"), ("SELL", 2, "complete")]
    fired = stack.rec.of(p.ExitFired)
    assert [(e.reason, e.level) for e in fired] == [("stop", 68001 - 6)]


def test_breakeven_then_exit_at_entry(stack: Stack) -> None:
    stack.price("SBIN", "800.00")
    enter(stack, "SBIN", "BUY", 5, p.PlanSpec(stop_ticks=10, target_ticks=20, breakeven_after=4))
    stack.price("SBIN", "800.25")  # 4 ticks above the entry 800.05
    stack.rec.wait(lambda: stack.plan("SBIN").stop == 16001, what="stop at breakeven")
    assert stack.plan("SBIN").breakeven_done
    stack.price("SBIN", "800.00")
    stack.wait_position("SBIN", 0)
    assert [e.reason for e in stack.rec.of(p.ExitFired)] == ["breakeven"]
    assert len(stack.settle("SBIN", 2)) == 2


def test_time_stop_exits_without_a_tick(stack: Stack) -> None:
    stack.price("SBIN", "800.00")
    enter(stack, "SBIN", "BUY", 3, p.PlanSpec(stop_ticks=50, target_ticks=50, time_stop_s=0.5))
    stack.wait_position("SBIN", 0)  # the market is paused: only the clock can do it
    fired = stack.rec.of(p.ExitFired)
    assert [(e.reason, e.level) for e in fired] == [("time", None)]
    assert actions(stack.settle("SBIN", 2)) == [("BUY", 3, "complete"), ("SELL", 3, "complete")]


def test_rejected_exit_is_retried_with_an_alarm(stack: Stack) -> None:
    stack.price("SBIN", "800.00")
    enter(stack, "SBIN", "BUY", 10, p.PlanSpec(stop_ticks=4, target_ticks=None))
    stack.sim.reject_next("NSE", "SBIN", count=1, reason="RMS: margin shortfall")
    stack.price("SBIN", "799.75")
    stack.wait_position("SBIN", 0)
    alarms = [a for a in stack.rec.of(p.Alarm) if a.code == "exit_retry"]
    assert len(alarms) == 1
    assert "RMS: margin shortfall" in alarms[0].message
    rows = stack.settle("SBIN", 3)
    assert actions(rows) == [
        ("BUY", 10, "complete"),
        ("SELL", 10, "rejected"),
        ("SELL", 10, "complete"),
    ]
    assert len(stack.rec.of(p.ExitFired)) == 1
    assert stack.sim_position("SBIN") == 0


def test_kill_switch_flattens_every_position_and_cancels_every_order(stack: Stack) -> None:
    stack.price("SBIN", "800.00")
    stack.price("INFY", "1500.00")
    stack.price("TCS", "3400.00")
    enter(stack, "SBIN", "BUY", 10)
    enter(stack, "INFY", "SELL", 6)
    far = stack.command(
        p.PlaceEntry, key="NSE:TCS", side="BUY", qty=Decimal(1), order_type="LIMIT", price=60000
    )
    assert isinstance(far, p.Ack)
    stop_entry = stack.command(
        p.PlaceEntry, key="NSE:TCS", side="BUY", qty=Decimal(1), order_type="SL-M", trigger=69000
    )
    assert isinstance(stop_entry, p.Ack)
    stack.poll(
        lambda: len([r for r in stack.sim_orders("TCS") if r["order_status"] != "complete"]) == 2,
        what="two working TCS orders at the sim",
    )
    answer = stack.command(p.KillSwitch)
    assert isinstance(answer, p.Ack)
    stack.wait_position("SBIN", 0)
    stack.wait_position("INFY", 0)
    rows = stack.settle("TCS", 2)
    assert sorted(r["order_status"] for r in rows) == ["cancelled", "cancelled"]
    assert stack.sim_position("SBIN") == 0
    assert stack.sim_position("INFY") == 0
    again = stack.command(p.KillSwitch)  # idempotent
    assert isinstance(again, p.Ack)
    assert len(stack.settle("SBIN", 2)) == 2
    assert len(stack.settle("INFY", 2)) == 2
    refused = stack.command(p.PlaceEntry, key="NSE:SBIN", side="BUY", qty=Decimal(1))
    assert isinstance(refused, p.Refused)
    assert refused.rule == "kill_switch"


def test_kill_switch_drops_every_queued_entry_and_exits_go_first(tmp_path: Path) -> None:
    """Issue 16.1: entries queued behind the router's rate limit never reach the broker after
    the kill switch; the flatten's exits are not held behind them."""
    stack = Stack(tmp_path, order_rate=2.0).start()  # 2 orders a second: entries queue up
    try:
        stack.price("SBIN", "800.00")
        for _ in range(8):
            answer = stack.command(p.PlaceEntry, key="NSE:SBIN", side="BUY", qty=Decimal(1))
            assert isinstance(answer, p.Ack), answer
        stack.poll(lambda: stack.sim_orders("SBIN"), what="the first entry at the sim")
        kill = stack.command(p.KillSwitch)
        assert isinstance(kill, p.Ack)
        entries_at_kill = len([r for r in stack.sim_orders("SBIN") if r["action"] == "BUY"])
        assert entries_at_kill < 8
        stack.wait_position("SBIN", 0, timeout=10)  # the exits went out, not held behind
        time.sleep(8 / 2.0)  # long enough for every queued entry to have gone at 2/s
        buys = [r for r in stack.sim_orders("SBIN") if r["action"] == "BUY"]
        assert len(buys) <= entries_at_kill + 1  # at most the one already on its way
        assert stack.sim_position("SBIN") == 0
        assert not [o for o in stack.engine.working.values() if o.tag == "entry"]
        dropped = [
            e for e in stack.rec.events if isinstance(e, p.Alarm) and "dropped unsent" in e.message
        ]
        assert dropped
    finally:
        stack.stop()


def test_feed_reconnect_during_an_open_plan(stack: Stack) -> None:
    stack.price("SBIN", "800.00")
    enter(stack, "SBIN", "BUY", 10, p.PlanSpec(stop_ticks=8, target_ticks=None))
    assert stack.sim.drop_ws() >= 1

    def live_again() -> bool:
        states = [e.status.state for e in stack.rec.events if isinstance(e, p.FeedEvent)]
        return len(states) >= 3 and states[-1] is FeedState.LIVE

    stack.rec.wait(live_again, 10, "feed back to live")
    stack.rec.wait(
        lambda: stack.engine._recon_token >= 2 and not stack.engine._recon,
        what="reconciliation after the reconnect",
    )
    assert not [a for a in stack.rec.of(p.Alarm) if a.code == "reconcile_mismatch"]
    assert stack.plan("SBIN").stop == 16001 - 8
    stack.price("SBIN", "799.55")
    stack.wait_position("SBIN", 0)
    assert actions(stack.settle("SBIN", 2)) == [("BUY", 10, "complete"), ("SELL", 10, "complete")]


def test_entries_refused_while_the_feed_is_down_but_flatten_works(stack: Stack) -> None:
    stack.price("SBIN", "800.00")
    enter(stack, "SBIN", "BUY", 2)
    stack.feed.stop()
    stack.rec.wait(
        lambda: [e for e in stack.rec.of(p.FeedEvent)][-1].status.state is not FeedState.LIVE,
        what="feed not live",
    )
    refused = stack.command(p.PlaceEntry, key="NSE:SBIN", side="BUY", qty=Decimal(1))
    assert isinstance(refused, p.Refused)
    assert refused.rule == "stale"
    assert isinstance(stack.command(p.Flatten, key="NSE:SBIN"), p.Ack)
    stack.poll(lambda: stack.sim_position("SBIN") == 0, what="flat at the sim")


def test_protective_stop_follows_the_trail_throttled_and_is_cancelled_on_exit(
    tmp_path: Path,
) -> None:
    from cockpit.domain.execution import ModifyOrder

    settings = {"exits": {"protective_stop": True, "protective_throttle_s": 0.3}}
    stack = Stack(tmp_path, settings=settings).start()
    try:
        modifies: list[float] = []
        submit = stack.router.submit

        def counting(request: object) -> None:
            if isinstance(request, ModifyOrder):
                modifies.append(time.monotonic())
            submit(request)

        stack.engine.router = type("R", (), {"submit": staticmethod(counting)})()
        stack.price("SBIN", "800.00")
        trail = p.TrailView("ticks", Decimal(4))
        enter(stack, "SBIN", "BUY", 10, p.PlanSpec(stop_ticks=10, target_ticks=None, trail=trail))
        # Entry 800.05, stop 799.85; the broker-side SL-M rests 5 ticks further, at 799.60.
        sl = stack.poll(
            lambda: [r for r in stack.sim_orders("SBIN") if r["pricetype"] == "SL-M"],
            what="protective SL-M at the sim",
        )[0]
        assert sl["action"] == "SELL"
        assert Decimal(str(sl["trigger_price"])) == Decimal("799.60")
        assert sl["order_status"] == "trigger pending"
        t0 = time.monotonic()
        for price in ("800.20", "800.40", "800.60", "800.80", "801.00"):
            stack.price("SBIN", price)
        # The trail is at 801.00 - 4 ticks = 800.80; the SL-M follows to 800.55 (throttled).
        stack.poll(
            lambda: [
                r
                for r in stack.sim_orders("SBIN")
                if r["pricetype"] == "SL-M"
                and Decimal(str(r["trigger_price"])) == Decimal("800.55")
            ],
            what="SL-M moved to 800.55",
        )
        elapsed = time.monotonic() - t0
        assert 1 <= len(modifies) <= int(elapsed / 0.3) + 2
        gaps = [b - a for a, b in zip(modifies, modifies[1:], strict=False)]
        assert all(g >= 0.25 for g in gaps), gaps
        stack.price("SBIN", "800.75")  # through the plan's stop 800.80, above the SL-M
        stack.wait_position("SBIN", 0)
        rows = stack.settle("SBIN", 3)
        assert sorted((r["action"], r["pricetype"], r["order_status"]) for r in rows) == [
            ("BUY", "MARKET", "complete"),
            ("SELL", "MARKET", "complete"),
            ("SELL", "SL-M", "cancelled"),
        ]
        assert stack.sim_position("SBIN") == 0
    finally:
        stack.stop()


def test_subscribe_looks_unknown_symbols_up_and_search_asks_the_venue(tmp_path: Path) -> None:
    stack = Stack(tmp_path, symbols=["SBIN"]).start()
    try:
        assert "NSE:TCS" not in stack.engine.instruments
        answer = stack.command(p.Subscribe, keys=["NSE:TCS", "NSE:NOSUCH"])
        assert isinstance(answer, p.Ack), answer
        assert "NSE:NOSUCH" in answer.message
        changed = stack.rec.of(p.WatchlistChanged)[-1]
        assert "NSE:TCS" in changed.watchlist
        assert [(i.key, i.tick_size) for i in changed.instruments] == [("NSE:TCS", Decimal("0.05"))]
        stack.price("TCS", "3400.00")  # the feed subscribed it: ticks reach the engine
        refused = stack.command(p.Subscribe, keys=["NSE:NOSUCH"])
        assert isinstance(refused, p.Refused)
        assert refused.rule == "unknown_symbol"
        found = stack.command(p.Search, query="INF")
        assert isinstance(found, p.Ack)
        results = [m for _c, m in stack.rec.replies if isinstance(m, p.SearchResult)]
        assert "NSE:INFY" in [i.key for i in results[-1].results]
    finally:
        stack.stop()
