"""MAE and MFE of a round trip from the marks the engine journals (`cockpit journal stats`).

A mark's time is the engine's clock when it journaled it; a fill's time is the venue's. On a
loaded host the once-a-second timer mark can land between a closing fill's time and the
engine handling that fill (seen in a full run: a stop trip's MAE 2.10 where its loss was 2.20).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from cockpit.engine.core import EngineTimer
from cockpit.journal.stats import Stats, compute, connect_read_only
from cockpit.journal.store import Journal
from cockpit.link import protocol as p
from cockpit.link.views import FillView

KEY = "NSE:SBIN"
TICK = Decimal("0.05")
S = 1_000_000_000


def _fill(j: Journal, cid: str, side: str, qty: int, price: str, ts: int) -> None:
    j.fill(FillView(cid, KEY, side, Decimal(qty), Decimal(price), ts), trade_id=cid)


def _stats(path: Path) -> Stats:
    conn = connect_read_only(path)
    try:
        return compute(conn)
    finally:
        conn.close()


def test_a_timer_mark_between_the_closing_fill_and_its_handling_does_not_cut_the_trip(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    j = Journal.open(path, checkpoint_interval_s=None)
    _fill(j, "e1", "BUY", 10, "100.00", 1 * S)
    j.mark(KEY, 1990, 2004, TICK, 5 * S)  # 99.50 .. 100.20 while open
    # The stop's market exit filled at 97.80 (venue time 10 s); the engine's timer journaled
    # the extremes it had at 10.2 s, then handled the fill at 10.5 s (the closing mark).
    _fill(j, "x1", "SELL", 10, "97.80", 10 * S)
    j.mark(KEY, 1958, 2004, TICK, 10 * S + S // 5)
    j.mark(KEY, 1956, 2004, TICK, 10 * S + S // 2)
    j.close()

    (trip,) = _stats(path).trips
    assert trip.pnl == Decimal("-22.00")
    assert trip.mae == Decimal("22.00")  # the exit price is the worst it went
    assert trip.mfe == Decimal("2.00")  # 100.20


def test_the_next_trips_marks_are_not_read_into_this_one(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    j = Journal.open(path, checkpoint_interval_s=None)
    _fill(j, "e1", "BUY", 10, "100.00", 1 * S)
    j.mark(KEY, 1998, 2002, TICK, 2 * S)
    _fill(j, "x1", "SELL", 10, "100.05", 3 * S)
    j.mark(KEY, 1998, 2002, TICK, 3 * S + S // 10)  # the closing fill's mark
    _fill(j, "e2", "BUY", 10, "100.05", 4 * S)
    j.mark(KEY, 1900, 2100, TICK, 5 * S)  # the second trip's wide range
    _fill(j, "x2", "SELL", 10, "100.05", 6 * S)
    j.close()

    first, second = _stats(path).trips
    assert first.mae == Decimal("1.00")  # 99.90
    assert first.mfe == Decimal("1.00")  # 100.10
    assert second.mae == Decimal("50.50")  # 95.00 against 100.05


def test_a_reverse_starts_the_new_trips_excursions_at_its_fill(tmp_path: Path) -> None:
    """One reverse fill closes a long and opens a short: the short's MAE is not the long's
    high (the engine's extremes carried over a reverse before)."""
    from tests.unit.test_engine_core import SBIN, Rig

    path = tmp_path / "journal.sqlite"
    journal = Journal.open(path, checkpoint_interval_s=None)
    rig = Rig(journal=journal)
    rig.start()
    rig.tick(SBIN, "800.00")
    rig.enter(SBIN, "BUY", 10, "800.00", plan=p.PlanSpec(stop_ticks=100))
    rig.tick(SBIN, "801.00")  # the long's best (inside its 40-tick target)
    rig.tick(SBIN, "800.50")
    assert isinstance(rig.command(p.Reverse, key=SBIN.key), p.Ack)
    reverse = rig.places()[-1]
    rig.fill(reverse, rig.accept(reverse), "800.50")
    assert rig.engine.portfolio.get(SBIN.key).qty == -10
    rig.tick(SBIN, "800.20")  # the short's best
    rig.tick(SBIN, "800.70")  # the short's worst
    rig.clock.now += 2 * S  # the timer journals the short's extremes
    rig.engine.handle(EngineTimer(rig.clock.now))
    assert isinstance(rig.command(p.Flatten, key=SBIN.key), p.Ack)
    close = rig.places()[-1]
    rig.fill(close, rig.accept(close), "800.50")
    journal.close()

    long_trip, short_trip = _stats(path).trips
    assert long_trip.mfe == Decimal("10.00")  # 801.00
    assert short_trip.side == "short"
    assert short_trip.mae == Decimal("2.00")  # 800.70, not the long's 801.00
    assert short_trip.mfe == Decimal("3.00")  # 800.20
