"""/history bars: the live path's bars, after a synthetic past that ends where it starts.

Before the sim started there is a seeded past: one-minute bars for the previous five
sessions and daily bars for about a year, ending at the instrument's previous close. Since
the start, bars are aggregated from the live path: intervals under a minute from its
one-second bars (the last 5 minutes are kept), longer ones from its one-minute bars (6
hours). Intraday buckets are aligned to the IST clock; daily bars carry the IST date as UTC
midnight (as brokers do).
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import random
import zlib
from collections.abc import Callable
from typing import Any, Final

from cockpit.sim.market import SymbolState
from cockpit.sim.universe import IST

_IST_OFFSET: Final = 19_800
_SECONDS: Final = {
    "1s": 1,
    "5s": 5,
    "10s": 10,
    "15s": 15,
    "30s": 30,
    "45s": 45,
    "1m": 60,
    "2m": 120,
    "3m": 180,
    "5m": 300,
    "10m": 600,
    "15m": 900,
    "20m": 1200,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "3h": 10800,
    "4h": 14400,
}
_PAST_INTRADAY_DAYS: Final = 5
_PAST_DAILY_DAYS: Final = 250

RawBar = tuple[int, int, int, int, int, int]
"""``(epoch_s, open, high, low, close, volume_steps)`` in ticks and steps."""

_CACHE: dict[tuple[str, int | None, int, int], tuple[list[RawBar], list[RawBar]]] = {}


def _session(exchange: str) -> tuple[int, int, bool]:
    """Session open and close in IST minutes after midnight, and whether weekends trade."""
    if exchange == "CRYPTO":
        return 0, 24 * 60, True
    if exchange in ("MCX", "MCX_INDEX"):
        return 9 * 60, 23 * 60 + 30, False
    return 9 * 60 + 15, 15 * 60 + 30, False


def _past_days(start: dt.date, count: int, weekends: bool) -> list[dt.date]:
    days: list[dt.date] = []
    day = start
    while len(days) < count:
        day -= dt.timedelta(days=1)
        if weekends or day.weekday() < 5:
            days.append(day)
    days.reverse()
    return days


def _bar_back(
    rng: random.Random, close: float, sigma: float, vol: float
) -> tuple[float, float, float, float]:
    """One bar generated backwards from its close: (open, high, low, volume)."""
    step = sigma * rng.gauss(0.0, 1.0)
    open_ = max(close / math.exp(step), 2.0)
    wick = abs(rng.gauss(0.0, 0.6)) * sigma * close
    high = max(open_, close) + wick * rng.random()
    low = max(min(open_, close) - wick * rng.random(), 1.0)
    return open_, high, low, vol * (0.3 + 1.4 * rng.random())


def _past(s: SymbolState, seed: int | None) -> tuple[list[RawBar], list[RawBar]]:
    """The synthetic one-minute and daily bars before the sim started (cached)."""
    first = _first_live(s)
    cache_key = (s.key, seed, s.prev_close, first // 86400)
    hit = _CACHE.get(cache_key)
    if hit is not None:
        return hit
    rng = random.Random(zlib.crc32(f"{s.key}|{seed}|history".encode()))
    today = dt.datetime.fromtimestamp(first, IST).date()
    open_min, close_min, weekends = _session(s.exchange)
    per_day = close_min - open_min
    vol = s.listing.vol
    trades_per_min = s.avg_steps * 60 * 2
    days = _past_days(today, _PAST_INTRADAY_DAYS, weekends)
    minutes: list[RawBar] = []
    level = float(s.prev_close)
    sigma_m = vol * math.sqrt(60)
    for day in reversed(days):
        midnight = calendar.timegm(day.timetuple()) - _IST_OFFSET
        for m in range(per_day - 1, -1, -1):
            o, h, lo, v = _bar_back(rng, level, sigma_m, trades_per_min)
            t = midnight + (open_min + m) * 60
            minutes.append((t, round(o), round(h), round(lo), round(level), int(v)))
            level = o
    minutes.reverse()
    minutes = [(t, o, max(h, o, c), min(lo, o, c), c, v) for t, o, h, lo, c, v in minutes if o > 0]
    daily: list[RawBar] = []
    for day in days:
        midnight = calendar.timegm(day.timetuple()) - _IST_OFFSET
        rows = [b for b in minutes if midnight <= b[0] < midnight + 86400]
        if rows:
            daily.append(
                (
                    calendar.timegm(day.timetuple()),
                    rows[0][1],
                    max(b[2] for b in rows),
                    min(b[3] for b in rows),
                    rows[-1][4],
                    sum(b[5] for b in rows),
                )
            )
    older = _past_days(days[0] if days else today, _PAST_DAILY_DAYS, weekends)
    level = float(daily[0][1]) if daily else float(s.prev_close)
    sigma_d = vol * math.sqrt(per_day * 60)
    back: list[RawBar] = []
    for day in reversed(older):
        o, h, lo, v = _bar_back(rng, level, sigma_d, trades_per_min * per_day)
        c = round(level)
        back.append(
            (
                calendar.timegm(day.timetuple()),
                round(o),
                max(round(h), c),
                min(round(lo), c),
                c,
                int(v),
            )
        )
        level = o
    back.reverse()
    result = (minutes, back + daily)
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[cache_key] = result
    return result


def _first_live(s: SymbolState) -> int:
    """When the live path started (its first bar kept), in epoch seconds."""
    first = s.minutes.first_t()
    if first is not None:
        return first
    if s.minute is not None:
        return s.minute.t
    first = s.bars.first_t()
    if first is not None:
        return first
    return s.bar.t if s.bar is not None else s.ts_ms // 1000


def _live(s: SymbolState) -> list[RawBar]:
    """The live one-second bars kept (the last minutes), the one in progress last."""
    bars = s.bars.rows()
    if s.bar is not None:
        b = s.bar
        bars.append((b.t, b.o, b.h, b.l, b.c, b.v))
    return bars


def _live_minutes(s: SymbolState) -> list[RawBar]:
    """Every live minute since the start (each built from all its ticks), the one in
    progress merged with the second in progress."""
    bars = s.minutes.rows()
    for b in (s.minute, s.bar):
        if b is not None:
            bars.append((b.t, b.o, b.h, b.l, b.c, b.v))
    return _bucket(bars, 60, _IST_OFFSET)


def _merge(bars: list[RawBar], start_of: Callable[[int], int]) -> list[RawBar]:
    """Fold consecutive bars whose ``start_of(t)`` is the same into one OHLCV bar at that start."""
    out: list[RawBar] = []
    cur: list[int] | None = None
    for t, o, h, lo, c, v in bars:
        start = start_of(t)
        if cur is None or cur[0] != start:
            if cur is not None:
                out.append((cur[0], cur[1], cur[2], cur[3], cur[4], cur[5]))
            cur = [start, o, h, lo, c, v]
        else:
            cur[2] = max(cur[2], h)
            cur[3] = min(cur[3], lo)
            cur[4] = c
            cur[5] += v
    if cur is not None:
        out.append((cur[0], cur[1], cur[2], cur[3], cur[4], cur[5]))
    return out


def _bucket(bars: list[RawBar], size: int, offset: int) -> list[RawBar]:
    return _merge(bars, lambda t: (t + offset) // size * size - offset)


def _date(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"Invalid {name} '{text}': expected YYYY-MM-DD") from None


def history_bars(
    s: SymbolState, interval: str, start_date: str, end_date: str, seed: int | None
) -> list[dict[str, Any]]:
    """The /history rows of ``s`` for ``interval`` between two IST dates (inclusive)."""
    start = _date(start_date, "start_date")
    end = _date(end_date, "end_date")
    if end < start:
        raise ValueError("end_date must not be before start_date")
    minutes, daily = _past(s, seed)
    if interval in _SECONDS:
        size = _SECONDS[interval]
        source = _live(s) if size < 60 else minutes + _live_minutes(s)
        rows = _bucket(source, size, _IST_OFFSET)
        lo_t = calendar.timegm(start.timetuple()) - _IST_OFFSET
        hi_t = calendar.timegm(end.timetuple()) - _IST_OFFSET + 86400
    elif interval in ("D", "W", "M"):
        today_rows = _bucket(_live_minutes(s), 86400, _IST_OFFSET)
        days = daily + [(t + _IST_OFFSET, o, h, lo, c, v) for t, o, h, lo, c, v in today_rows]
        rows = days if interval == "D" else _calendar_buckets(days, interval)
        lo_t = calendar.timegm(start.timetuple())
        hi_t = calendar.timegm(end.timetuple()) + 86400
    else:
        raise ValueError(f"Interval {interval} is not supported by this broker")
    qty, px = s.qty, s.px
    return [
        {
            "timestamp": t,
            "open": px(o),
            "high": px(h),
            "low": px(lo),
            "close": px(c),
            "volume": qty(v),
            "oi": s.oi,
        }
        for t, o, h, lo, c, v in rows
        if lo_t <= t < hi_t
    ]


def _calendar_buckets(days: list[RawBar], interval: str) -> list[RawBar]:
    def start_of(t: int) -> int:
        day = dt.datetime.fromtimestamp(t, dt.UTC).date()
        first = day - dt.timedelta(days=day.weekday()) if interval == "W" else day.replace(day=1)
        return calendar.timegm(first.timetuple())

    return _merge(days, start_of)
