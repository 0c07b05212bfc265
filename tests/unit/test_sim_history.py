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
