"""Issue 21.7: trade statistics from a journal written by a real engine run.

`cockpit engine run` on the paper exchange trades three round trips (a target exit, a stop
exit, a flatten); then `cockpit journal stats` and `cockpit journal export` (subprocesses)
read its journal. The expected figures are worked out here from the journal's fills.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.journal.stats import JournalFill, money, round_trips
from cockpit.journal.store import Journal
from cockpit.link import protocol as p
from cockpit.link.client import EngineClient
from tests.ui.test_engine_pilot import EngineProc

SBIN = "NSE:SBIN"
TICK = Decimal("0.05")
STOP_TICKS = 6  # EngineProc's COCKPIT_EXITS__STOP_TICKS


def position(engine: EngineProc) -> Decimal:
    with EngineClient.connect(path=engine.socket, client="test") as c:
        snap = c.snapshot(timeout=5)
    return sum((x.qty for x in snap.positions if x.key == SBIN), Decimal(0))


def wait_position(engine: EngineProc, want: Decimal) -> None:
    deadline = time.monotonic() + 15
    while position(engine) != want:
        assert time.monotonic() < deadline, f"position never {want}: {engine.log_text()}"
        time.sleep(0.1)


def enter(engine: EngineProc, side: str, qty: int) -> None:
    engine.price("SBIN", "800.00")  # a fresh tick: the stale-data gate is on
    time.sleep(0.3)
    answer = engine.command(p.PlaceEntry(id=1, key=SBIN, side=side, qty=Decimal(qty)))
    assert isinstance(answer, p.Ack), answer


@pytest.fixture(scope="module")
def traded() -> Iterator[tuple[EngineProc, Path]]:
    e = EngineProc()
    try:
        e.price("SBIN", "800.00")
        e.price("INFY", "1500.00")
        e.wait_ready()
        enter(e, "BUY", 1)
        wait_position(e, Decimal(1))
        e.price("SBIN", "800.80")  # through the target
        wait_position(e, Decimal(0))
        enter(e, "BUY", 2)
        wait_position(e, Decimal(2))
        e.price("SBIN", "799.00")  # through the stop
        wait_position(e, Decimal(0))
        enter(e, "SELL", 1)
        wait_position(e, Decimal(-1))
        assert isinstance(e.command(p.Flatten(id=2, key=SBIN)), p.Ack)
        wait_position(e, Decimal(0))
        (path,) = (e.root / "data").rglob("*.sqlite3")
        yield e, path
    finally:
        e.stop()


def cli(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def trips_from_the_journal(path: Path) -> list[Decimal]:
    """Each trip's P&L from the journal's fills, worked out here: flat between trips."""
    j = Journal.open(path, start_session=False)
    try:
        fills = j.fills()
    finally:
        j.close()
    pnls, pos, cash = [], Decimal(0), Decimal(0)
    for f in fills:
        sign = 1 if f.side.upper() == "BUY" else -1
        pos += sign * f.qty
        cash -= sign * f.qty * f.price
        if pos == 0:
            pnls.append(cash)
            cash = Decimal(0)
    return pnls


def trip_excursions(path: Path, ticks: list[list[Decimal]]) -> list[tuple[Decimal, Decimal]]:
    """(MAE, MFE) of each trip: its worst and best price (fills and ``ticks`` seen while
    open) against its average entry, times its quantity."""
    j = Journal.open(path, start_session=False)
    try:
        fills = j.fills()
    finally:
        j.close()
    out, pos, trip = [], Decimal(0), []
    for f in fills:
        pos += f.qty if f.side.upper() == "BUY" else -f.qty
        trip.append(f)
        if pos == 0:
            sign = 1 if trip[0].side.upper() == "BUY" else -1
            opening = [x for x in trip if x.side == trip[0].side]
            qty = sum((x.qty for x in opening), Decimal(0))
            entry = sum((x.qty * x.price for x in opening), Decimal(0)) / qty
            prices = [x.price for x in trip] + ticks[len(out)]
            worst, best = (min(prices), max(prices)) if sign > 0 else (max(prices), min(prices))
            out.append(
                (
                    max(Decimal(0), (entry - worst) * sign * qty),
                    max(Decimal(0), (best - entry) * sign * qty),
                )
            )
            trip = []
    return out


def test_journal_stats_of_a_real_engine_run(traded: tuple[EngineProc, Path]) -> None:
    engine, path = traded
    pnls = trips_from_the_journal(path)
    assert len(pnls) == 3
    out = cli("journal", "stats", "--journal", str(path), env=engine.env)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    wins = [x for x in pnls if x > 0]
    losses = [x for x in pnls if x < 0]
    assert f"trades      3  (wins {len(wins)}, losses {len(losses)})" in text
    assert f"total P&L   {money(sum(pnls, Decimal(0)))}" in text
    assert f"expectancy  {money(sum(pnls, Decimal(0)) / 3)} per trade" in text
    # R over each trip's initial risk: 6 ticks times its quantity (1, 2, 1).
    rs = [pnl / (STOP_TICKS * TICK * q) for pnl, q in zip(pnls, (1, 2, 1), strict=True)]
    avg_r = (sum(rs, Decimal(0)) / 3).quantize(Decimal("0.01"))
    assert f"avg R       {avg_r}R  (over 3 trade(s) with a journaled stop)" in text
    # Exit reasons: the plan's for the exits it fired, the order's kind for a flatten.
    reasons = text.split("by exit reason", 1)[1]
    assert f"target                      1  {money(pnls[0]):>12}" in reasons
    assert f"stop                        1  {money(pnls[1]):>12}" in reasons
    assert f"flatten                     1  {money(pnls[2]):>12}" in reasons
    assert f"NSE:SBIN                    3  {money(sum(pnls, Decimal(0))):>12}" in text
    # MAE / MFE per trip from the marks the engine journaled: worked out here from each trip's
    # fills and the prices the test set while it was open (800.80 in the first, 799.00 in
    # the second, none in the third).
    excursions = trip_excursions(path, [[Decimal("800.80")], [Decimal("799.00")], []])
    for (mae, mfe), reason in zip(excursions, ("target", "stop", "flatten"), strict=True):
        assert f"  MAE {money(mae):>8}  MFE {money(mfe):>8}  {reason}" in text, text
    assert excursions[0][1] > 0  # the target trip stood in profit
    assert excursions[1][0] > 0  # the stop trip stood at a loss
    assert f"MAE         largest {money(max(m for m, _ in excursions))}" in text
    assert f"MFE         largest {money(max(f for _, f in excursions))}" in text


def test_the_trades_export_has_pnl_and_exit_reason(traded: tuple[EngineProc, Path]) -> None:
    engine, path = traded
    pnls = trips_from_the_journal(path)
    out = cli("journal", "export", "--journal", str(path), env=engine.env)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 6
    closing = [(r["exit_reason"], Decimal(r["pnl"])) for r in rows if r["exit_reason"]]
    assert closing == [("target", pnls[0]), ("stop", pnls[1]), ("flatten", pnls[2])]
    assert all(r["pnl"] == "" for r in rows if not r["exit_reason"])


def test_the_orders_export_has_each_filled_orders_average_price(
    traded: tuple[EngineProc, Path],
) -> None:
    """The engine journals its orders without an average price (the fills carry it): the
    export works it out from the order's fills, so a filled order never shows an empty one."""
    engine, path = traded
    out = cli("journal", "export", "--journal", str(path), "--what", "orders", env=engine.env)
    assert out.returncode == 0, out.stderr
    orders = [r for r in csv.DictReader(io.StringIO(out.stdout)) if Decimal(r["filled"] or 0)]
    fills = cli("journal", "export", "--journal", str(path), env=engine.env)
    by_cid: dict[str, list[tuple[Decimal, Decimal]]] = {}
    for r in csv.DictReader(io.StringIO(fills.stdout)):
        by_cid.setdefault(r["cid"], []).append((Decimal(r["qty"]), Decimal(r["price"])))
    assert len(orders) == 6
    for r in orders:
        legs = by_cid[r["cid"]]
        qty = sum(q for q, _ in legs)
        assert Decimal(r["avg_price"]) == sum(q * p for q, p in legs) / qty, r


def test_stats_for_a_day_with_no_trades(traded: tuple[EngineProc, Path]) -> None:
    engine, path = traded
    out = cli("journal", "stats", "--journal", str(path), "--day", "2001-01-01", env=engine.env)
    assert out.returncode == 0, out.stderr
    assert "trades      0  (wins 0, losses 0)" in out.stdout
    assert "win rate    -" in out.stdout


def test_a_fill_that_crosses_zero_closes_one_trip_and_opens_the_next() -> None:
    def f(i: int, side: str, qty: str, price: str) -> JournalFill:
        return JournalFill(i, i, SBIN, side, Decimal(qty), Decimal(price), f"c{i}", "entry")

    closed, still_open = round_trips(
        [f(1, "BUY", "2", "100"), f(2, "SELL", "3", "101"), f(3, "BUY", "1", "99.5")]
    )
    assert [(t.side, t.qty, t.pnl) for t in closed] == [
        ("long", Decimal(2), Decimal(2)),
        ("short", Decimal(1), Decimal("1.5")),
    ]
    assert [t.reason for t in closed] == ["manual", "manual"]
    assert still_open == []


async def test_the_stats_screen_shows_the_journal(traded: tuple[EngineProc, Path]) -> None:
    from tests.ui.conftest import wait_for
    from tests.ui.test_engine_pilot import attached, make_app

    engine, path = traded
    pnls = trips_from_the_journal(path)
    app = make_app(engine, journal_path=path)
    async with app.run_test(size=(120, 40)) as pilot:
        await attached(pilot, app)
        app.action_journal_stats()  # by its action: on main P is bound twice (template, stats)
        await wait_for(pilot, lambda: type(app.screen).__name__ == "StatsScreen")
        screen = app.screen
        await wait_for(pilot, lambda: bool(screen.shown), 10)  # type: ignore[attr-defined]
        text = "\n".join(screen.shown)  # type: ignore[attr-defined]
        assert "trades      3" in text
        assert f"total P&L   {money(sum(pnls, Decimal(0)))}" in text
        assert "by hour (local, at exit)" in text
        mae, mfe = trip_excursions(path, [[Decimal("800.80")], [Decimal("799.00")], []])[1]
        assert f"  MAE {money(mae):>8}  MFE {money(mfe):>8}  stop" in text  # the J screen too
        await pilot.press("d")  # every day: the same three
        await pilot.pause(0.3)
        assert "every day" in str(screen.query_one("#stats-title").render())
        app.action_journal_stats()
        await wait_for(pilot, lambda: type(app.screen).__name__ == "TradeScreen")
