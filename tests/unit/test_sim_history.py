"""/history bars: well-formed, on the grid, ending at the previous close, live bars after."""

from __future__ import annotations

import datetime as dt

import pytest

from cockpit.sim.history import history_bars
from cockpit.sim.market import Market
from cockpit.sim.universe import IST, default_listings


@pytest.fixture
def market() -> Market:
    return Market(default_listings(), 4, 10)


def test_daily_and_intraday_bars(market: Market) -> None:
    state = market.states["NSE:SBIN"]
    now = dt.datetime.now(IST)
    for i in range(50):
        state.step(now.timestamp().__int__() * 1_000_000_000 + i * 100_000_000)
    today = now.date()
    start = (today - dt.timedelta(days=60)).isoformat()
    daily = history_bars(state, "D", start, today.isoformat(), 4)
    assert len(daily) > 30
    past = daily[:-1]
    assert past[-1]["close"] == state.px(state.prev_close)
    for bar in daily:
        assert bar["low"] <= min(bar["open"], bar["close"])
        assert bar["high"] >= max(bar["open"], bar["close"])
        assert bar["close"] % state.inst.tick_size == 0
        assert bar["oi"] == 0
    times = [b["timestamp"] for b in daily]
    assert times == sorted(times)
    assert all(t % 86400 == 0 for t in times)  # the IST date at UTC midnight
    five = history_bars(
        state, "5m", (today - dt.timedelta(days=8)).isoformat(), today.isoformat(), 4
    )
    assert len(five) >= 4 * 75
    assert all(b["timestamp"] % 300 == 0 for b in five)
    secs = history_bars(state, "1s", today.isoformat(), today.isoformat(), 4)
    assert 1 <= len(secs) <= 6
    weekly = history_bars(state, "W", start, today.isoformat(), 4)
    assert 8 <= len(weekly) <= 10


def test_bad_dates(market: Market) -> None:
    state = market.states["NSE:SBIN"]
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        history_bars(state, "D", "yesterday", "2026-01-01", 1)
    with pytest.raises(ValueError, match="before"):
        history_bars(state, "D", "2026-02-01", "2026-01-01", 1)


def test_live_bars_take_bounded_memory_and_minute_bars_stay_exact(market: Market) -> None:
    """Issue 19: 3,000 symbols for hours must not grow the sim without bound. One-second
    bars are kept for the last minutes only; older time lives in one-minute bars built from
    every tick (so the minute history is exact), and the price cache is capped."""
    from cockpit.sim import market as sim_market

    state = market.states["NSE:SBIN"]
    start = (int(dt.datetime.now(IST).timestamp()) // 60 - 150) * 60  # 2.5 h ago, on a minute
    minutes: dict[int, list[int]] = {}
    for i in range(9000):  # a tick a second for 2.5 hours
        before = state.volume
        state.step((start + i) * 1_000_000_000)
        ltp = state.ltp
        m = minutes.setdefault((start + i) // 60 * 60, [ltp, ltp, ltp, ltp, 0])
        m[1], m[2], m[3] = max(m[1], ltp), min(m[2], ltp), ltp
        m[4] += state.volume - before
    assert len(state.bars) <= sim_market.SECOND_BARS
    assert len(state._px) <= sim_market.PRICE_CACHE
    day = dt.datetime.fromtimestamp(start, IST).date()
    days = (day.isoformat(), (day + dt.timedelta(days=1)).isoformat())
    rows = [b for b in history_bars(state, "1m", *days, 4) if b["timestamp"] >= start]
    got = {b["timestamp"]: b for b in rows}
    assert sorted(got) == sorted(minutes)
    for t, (o, h, lo, c, v) in minutes.items():
        bar = got[t]
        assert (bar["open"], bar["high"], bar["low"], bar["close"]) == tuple(
            state.px(x) for x in (o, h, lo, c)
        ), t
        assert bar["volume"] == state.qty(v)
    secs = history_bars(state, "1s", *days, 4)
    assert 0 < len(secs) <= sim_market.SECOND_BARS + 1
    assert [b["timestamp"] for b in secs] == list(range(start + 9000 - len(secs), start + 9000))
