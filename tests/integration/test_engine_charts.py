"""Charts against the paper exchange: bars built from scripted ticks, history backfill, prints."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from pathlib import Path

from cockpit.link import protocol as p
from tests.integration.engine_stack import Stack

NS = 1_000_000_000


def _bars_event(stack: Stack, size: int, *, replace: bool) -> p.Bars | None:
    found = [e for e in stack.rec.of(p.Bars) if e.size_s == size and e.replace == replace]
    return found[-1] if found else None


def _series(stack: Stack, key: str, size: int) -> dict[int, p.BarView]:
    """The viewer's picture of one series: the last replace, then every update in order."""
    bars: dict[int, p.BarView] = {}
    for _conn, m in stack.rec.replies:
        if isinstance(m, p.Bars) and m.key == key and m.size_s == size and m.replace:
            bars = {b.start_ns: b for b in m.bars}
    for e in stack.rec.of(p.Bars):
        if e.key != key or e.size_s != size:
            continue
        if e.replace:
            bars = {}
        bars.update((b.start_ns, b) for b in e.bars)
    return bars


def _wait_for_boundary(size_s: int, after_s: float = 0.2) -> int:
    """Sleep until ``after_s`` past the next multiple of ``size_s``; that boundary (ns)."""
    now = time.time()
    boundary = (int(now) // size_s + 1) * size_s
    time.sleep(boundary + after_s - now)
    return boundary * NS


def test_bars_built_from_scripted_ticks_equal_the_expected_ohlcv(tmp_path: Path) -> None:
    stack = Stack(tmp_path, symbols=["SBIN"], options={"chart_sizes_s": (5, 15)}).start()
    try:
        inst = stack.by_symbol["SBIN"]
        key = inst.key
        stack.price("SBIN", "800.00")  # the touch the first scripted trade is judged by
        assert isinstance(stack.command(p.WatchChart, key=key), p.Ack)
        stack.rec.wait(lambda: _bars_event(stack, 5, replace=True), what="backfill")
        lot = Decimal(stack.rest("quotes", symbol="SBIN", exchange="NSE")["volume"])
        start = _wait_for_boundary(15)
        script = [["800.05", "800.25", "799.90", "800.10"], ["800.40", "799.75"]]
        times: list[list[int]] = []
        for i, prices in enumerate(script):
            if i:
                _wait_for_boundary(5)
            times.append([])
            for price in prices:
                stack.price("SBIN", price)
                times[-1].append(time.time_ns())
        volume = Decimal(stack.rest("quotes", symbol="SBIN", exchange="NSE")["volume"])
        step = (volume - lot) / 6  # one small trade per scripted price
        assert step > 0

        def expected(prices: list[str]) -> tuple[int, int, int, int, Decimal]:
            t = [inst.ticks(Decimal(x)) for x in prices]
            return t[0], max(t), min(t), t[-1], step * len(t)

        assert all(start <= t < start + 15 * NS for ts in times for t in ts)
        first = times[0][0] - times[0][0] % (5 * NS)
        second = times[1][0] - times[1][0] % (5 * NS)
        assert second == first + 5 * NS
        # Both 5 s bars close by the clock (no later tick needed).
        stack.rec.wait(
            lambda: (
                len([b for b in _series(stack, key, 5) if b >= first]) == 2
                and time.time_ns() > second + 5 * NS + NS // 5
            ),
            timeout=12,
            what="two 5 s bars",
        )
        bars5 = _series(stack, key, 5)
        got = {s: (b.open, b.high, b.low, b.close, b.volume) for s, b in bars5.items()}
        assert got[first] == expected(script[0])
        assert got[second] == expected(script[1])
        bar15 = _series(stack, key, 15)[start]
        assert (bar15.open, bar15.high, bar15.low, bar15.close, bar15.volume) == expected(
            script[0] + script[1]
        )
        # The tape: each scripted trade once, with its side judged by the touch before it.
        prints = [x for e in stack.rec.of(p.Prints) for x in e.prints if x.ts_ns >= start]
        assert [x.price for x in prints] == [inst.ticks(Decimal(x)) for x in script[0] + script[1]]
        assert [x.qty for x in prints] == [step] * 6
        assert [x.side for x in prints] == ["buy", "buy", "sell", "buy", "buy", "sell"]
        assert all(x.inferred for x in prints)  # OpenAlgo sends no aggressor
    finally:
        stack.stop()


def test_one_minute_history_backfills_every_size(tmp_path: Path) -> None:
    stack = Stack(tmp_path, symbols=["SBIN"]).start()
    try:
        key = stack.by_symbol["SBIN"].key
        inst = stack.by_symbol["SBIN"]
        assert isinstance(stack.command(p.WatchChart, key=key), p.Ack)
        stack.rec.wait(lambda: _bars_event(stack, 900, replace=True), what="backfill")
        today = dt.datetime.now(dt.UTC).date()
        dates = {
            "start_date": (today - dt.timedelta(days=4)).isoformat(),
            "end_date": (today + dt.timedelta(days=1)).isoformat(),
        }
        for size, interval in ((60, "1m"), (300, "5m"), (900, "15m")):
            rows = stack.rest("history", symbol="SBIN", exchange="NSE", interval=interval, **dates)
            assert rows, interval
            want = [
                (
                    r["timestamp"] * NS,
                    *(inst.ticks(Decimal(str(r[f]))) for f in ("open", "high", "low", "close")),
                    Decimal(str(r["volume"])),
                )
                for r in rows
            ]
            event = _bars_event(stack, size, replace=True)
            assert event is not None
            got = [(b.start_ns, b.open, b.high, b.low, b.close, b.volume) for b in event.bars]
            assert got[-len(want) :] == want[-600:], interval
    finally:
        stack.stop()
