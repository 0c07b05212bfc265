"""Trade statistics from the journal: round trips built from its fills, with the exit reason.

A round trip of a symbol opens when its position leaves zero and closes when it returns to
zero (a fill that crosses zero closes one trip and opens the next with what is left). Its P&L
is exact (the sum of its cash flows, Decimal). Where the engine's exit plan fired, the reason
is the plan's (``stop``, ``target``, ``trail stop``, ``time stop``...); otherwise the closing
order's kind (``protective stop``, ``flatten``, ``reverse``, ``manual``, ``external``).

R: the trip's P&L over its initial risk (entry to the plan's first stop, times the quantity),
where the journal holds the plan. MAE and MFE (the worst and the best the trip stood at, in
money, against its average entry) come from the marks the engine journals while a position is
open (its lowest and highest price, fills included; ``cockpit.engine.excursions``); for a trip
with no marks (a journal written before them) MFE falls back on the exit plan's best price and
MAE is not reported rather than guessed.

Reads a journal file through its own read-only SQLite connection (safe beside a writing
engine) or a connection the caller has.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from cockpit.domain.instruments import currency_of, parse_key

_NS: Final = 1_000_000_000
_SLACK_NS: Final = 2 * _NS
"""Plan events belong to a trip from this long before its first fill to after its last."""
ZERO: Final = Decimal(0)

_TAG_REASONS: Final = {
    "protective": "protective stop",
    "flatten": "flatten",
    "reverse": "reverse",
    "entry": "manual",
    "reduce": "manual",
    "exit": "exit",
}


@dataclass(frozen=True, slots=True)
class JournalFill:
    """One fill as the journal holds it, with its order's tag."""

    id: int
    ts_ns: int
    key: str
    side: str
    qty: Decimal
    price: Decimal
    cid: str
    tag: str


@dataclass(slots=True)
class RoundTrip:
    """From flat to flat on one symbol."""

    key: str
    side: str
    """``long`` | ``short``."""
    opened_ns: int
    closed_ns: int = 0
    qty: Decimal = ZERO
    """The quantity bought (long) or sold (short) in the trip."""
    entry_value: Decimal = ZERO
    exit_value: Decimal = ZERO
    exit_qty: Decimal = ZERO
    reason: str = ""
    risk: Decimal | None = None
    """Initial risk in money (None: no plan journaled)."""
    mfe: Decimal | None = None
    """Most favourable excursion in money (None: neither marks nor a plan journaled)."""
    mae: Decimal | None = None
    """Most adverse excursion in money, as a positive amount (None: no marks journaled)."""
    closing_fill: int = 0
    """The journal id of the fill that closed it."""
    fills: list[int] = field(default_factory=list)
    low: Decimal | None = None
    """The lowest price the trip filled at (with the marks, MAE/MFE's extremes)."""
    high: Decimal | None = None

    @property
    def sign(self) -> int:
        return 1 if self.side == "long" else -1

    @property
    def pnl(self) -> Decimal:
        return (self.exit_value - self.entry_value) * self.sign

    @property
    def entry_price(self) -> Decimal:
        return self.entry_value / self.qty if self.qty else ZERO

    @property
    def exit_price(self) -> Decimal:
        return self.exit_value / self.exit_qty if self.exit_qty else ZERO

    @property
    def r(self) -> Decimal | None:
        return None if not self.risk else self.pnl / self.risk


@dataclass(frozen=True, slots=True)
class Group:
    """Trades and P&L of one symbol or hour."""

    trades: int
    pnl: Decimal


@dataclass(frozen=True, slots=True)
class Stats:
    """What ``cockpit journal stats`` and the TUI's stats screen show."""

    trips: list[RoundTrip]
    open_trips: int
    """Trips still open at the end of the range (not counted)."""
    trades: int
    wins: int
    losses: int
    win_rate: Decimal | None
    avg_win: Decimal | None
    avg_loss: Decimal | None
    avg_r: Decimal | None
    r_trades: int
    """Trades with a known initial risk (those ``avg_r`` is over)."""
    expectancy: Decimal | None
    """Average P&L per trade."""
    total: Decimal
    """The sum of every trip's P&L: the total when they share one currency (see ``totals``)."""
    max_mfe: Decimal | None
    max_mae: Decimal | None
    """The largest adverse excursion of a trip (money, positive)."""
    by_symbol: dict[str, Group]
    by_hour: dict[int, Group]
    """Local hour of the closing fill."""
    by_reason: dict[str, Group]
    totals: dict[str, Decimal] = field(default_factory=dict)
    """Total P&L per currency (``INR``, ``USDT``): never added together."""


# ------------------------------------------------------------------------------ reading


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to a journal file (raises ``sqlite3.Error``)."""
    if not path.is_file():
        raise FileNotFoundError(f"no journal at {path}")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


def load_fills(
    conn: sqlite3.Connection, since_ns: int = 0, until_ns: int | None = None
) -> list[JournalFill]:
    """The fills in a time range, oldest first, with their orders' tags."""
    until = until_ns if until_ns is not None else 2**63 - 1
    rows = conn.execute(
        "SELECT f.id, f.ts_ns, f.key, f.side, f.qty, f.price, f.cid, o.tag FROM fills f"
        " LEFT JOIN orders o ON o.cid = f.cid WHERE f.ts_ns >= ? AND f.ts_ns <= ?"
        " ORDER BY f.ts_ns, f.id",
        (since_ns, until),
    )
    return [
        JournalFill(r[0], r[1], r[2], r[3].upper(), Decimal(r[4]), Decimal(r[5]), r[6], r[7] or "")
        for r in rows
    ]


def _plan_events(
    conn: sqlite3.Connection, key: str, lo: int, hi: int
) -> list[tuple[int, str, Any]]:
    rows = conn.execute(
        "SELECT ts_ns, change, state FROM plan_events WHERE key = ? AND ts_ns >= ? AND ts_ns <= ?"
        " ORDER BY ts_ns, id",
        (key, lo, hi),
    )
    out = []
    for ts, change, state in rows:
        try:
            parsed = json.loads(state) if state else None
        except ValueError:
            parsed = None
        out.append((ts, change or "", parsed))
    return out


# ------------------------------------------------------------------------------ building


def round_trips(fills: Iterable[JournalFill]) -> tuple[list[RoundTrip], list[RoundTrip]]:
    """``(closed, still_open)`` round trips from fills in time order."""
    closed: list[RoundTrip] = []
    open_: dict[str, RoundTrip] = {}
    pos: dict[str, Decimal] = {}
    for f in fills:
        signed = f.qty if f.side == "BUY" else -f.qty
        left = signed
        while left:
            cur = pos.get(f.key, ZERO)
            trip = open_.get(f.key)
            if cur == 0 or trip is None:
                trip = open_[f.key] = RoundTrip(f.key, "long" if left > 0 else "short", f.ts_ns)
                cur = ZERO
            trip.fills.append(f.id)
            trip.low = f.price if trip.low is None else min(trip.low, f.price)
            trip.high = f.price if trip.high is None else max(trip.high, f.price)
            if (left > 0) == (cur > 0) or cur == 0:  # opens or adds
                trip.qty += abs(left)
                trip.entry_value += abs(left) * f.price
                pos[f.key] = cur + left
                left = ZERO
                continue
            q = min(abs(left), abs(cur))  # reduces
            trip.exit_qty += q
            trip.exit_value += q * f.price
            step = q if left > 0 else -q
            pos[f.key] = cur + step
            left -= step
            if pos[f.key] == 0:
                trip.closed_ns = f.ts_ns
                trip.closing_fill = f.id
                trip.reason = _TAG_REASONS.get(f.tag, f.tag or "external")
                closed.append(trip)
                del open_[f.key]
    return closed, list(open_.values())


def _from_plans(conn: sqlite3.Connection, trip: RoundTrip) -> None:
    """The exit reason, initial risk and best price from the trip's exit plan (if any)."""
    events = _plan_events(conn, trip.key, trip.opened_ns - _SLACK_NS, trip.closed_ns + _SLACK_NS)
    if trip.reason == "exit":
        # The plan fired just before its exit order filled (the next trip's come after).
        fired = [(ts, c) for ts, c, _ in events if c.startswith("fired: ")]
        before = [c for ts, c in fired if ts <= trip.closed_ns]
        after = [c for ts, c in fired if ts > trip.closed_ns]
        if before or after:
            trip.reason = (before[-1] if before else after[0]).removeprefix("fired: ")
    # The trip's own plan: created between its first fill (less the slack) and its close.
    created = [
        s.get("created_ns")
        for _, _, s in events
        if isinstance(s, dict)
        and isinstance(s.get("created_ns"), int)
        and trip.opened_ns - _SLACK_NS <= s["created_ns"] <= trip.closed_ns
    ]
    if not created:
        return
    states = [s for _, _, s in events if isinstance(s, dict) and s.get("created_ns") == created[0]]
    first, last = states[0], states[-1]
    tick = first.get("tick_size")
    try:
        tick_size = Decimal(tick) if tick else None
    except ArithmeticError:
        tick_size = None
    if tick_size is None:
        return
    entry = first.get("entry_ticks")
    stop = first.get("initial_stop", first.get("stop"))
    if isinstance(entry, int) and isinstance(stop, int) and entry != stop:
        trip.risk = abs(entry - stop) * tick_size * trip.qty
    best = last.get("best_ticks")
    if isinstance(entry, int) and isinstance(best, int):
        trip.mfe = max(ZERO, (best - entry) * trip.sign * tick_size * trip.qty)


def _from_marks(conn: sqlite3.Connection, trip: RoundTrip, read: dict[str, int]) -> None:
    """MAE and MFE from the marks journaled between the trip's first fill and its close.

    Marks are cumulative per position (lowest and highest since it opened); the first at or
    after the closing fill's time ends the trip's (the engine gives the closing mark the
    fill's time), so later ones (the next trip's) are not read; ``read`` holds the last mark
    id each symbol's earlier trips read (a reverse's closing mark has the next trip's opening
    time). The trip's own fill prices count too.
    """
    try:
        rows = conn.execute(
            "SELECT id, ts_ns, low_ticks, high_ticks, tick_size FROM marks WHERE key = ?"
            " AND ts_ns >= ? AND ts_ns <= ? AND id > ? ORDER BY ts_ns, id",
            (trip.key, trip.opened_ns, trip.closed_ns + _SLACK_NS, read.get(trip.key, 0)),
        ).fetchall()
    except sqlite3.OperationalError:
        return  # a journal from before marks (read-only: not migrated)
    lows: list[Decimal] = []
    highs: list[Decimal] = []
    for mark_id, ts, low, high, tick in rows:
        lows.append(low * Decimal(tick))
        highs.append(high * Decimal(tick))
        if ts >= trip.closed_ns:
            read[trip.key] = mark_id
            break
    if not lows:
        return
    if trip.low is not None and trip.high is not None:
        lows.append(trip.low)
        highs.append(trip.high)
    entry = trip.entry_price
    worst, best = (min(lows), max(highs)) if trip.sign > 0 else (max(highs), min(lows))
    trip.mae = max(ZERO, (entry - worst) * trip.sign * trip.qty)
    trip.mfe = max(ZERO, (best - entry) * trip.sign * trip.qty)


def _mean(values: list[Decimal]) -> Decimal | None:
    return sum(values, ZERO) / len(values) if values else None


def _groups(pairs: Iterator[tuple[Any, Decimal]]) -> dict[Any, Group]:
    acc: dict[Any, list[Decimal]] = {}
    for k, v in pairs:
        acc.setdefault(k, []).append(v)
    return {k: Group(len(v), sum(v, ZERO)) for k, v in sorted(acc.items())}


def compute(conn: sqlite3.Connection, since_ns: int = 0, until_ns: int | None = None) -> Stats:
    """The statistics of the round trips closed in a time range."""
    trips, still_open = round_trips(load_fills(conn, since_ns, until_ns))
    read: dict[str, int] = {}
    for trip in trips:
        _from_plans(conn, trip)
        _from_marks(conn, trip, read)
    pnls = [t.pnl for t in trips]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    rs = [r for t in trips if (r := t.r) is not None]
    mfes = [t.mfe for t in trips if t.mfe is not None]
    maes = [t.mae for t in trips if t.mae is not None]
    return Stats(
        trips=trips,
        open_trips=len(still_open),
        trades=len(trips),
        wins=len(wins),
        losses=len(losses),
        win_rate=Decimal(len(wins)) / len(trips) if trips else None,
        avg_win=_mean(wins),
        avg_loss=_mean(losses),
        avg_r=_mean(rs),
        r_trades=len(rs),
        expectancy=_mean(pnls),
        total=sum(pnls, ZERO),
        max_mfe=max(mfes) if mfes else None,
        max_mae=max(maes) if maes else None,
        by_symbol=_groups((t.key, t.pnl) for t in trips),
        by_hour=_groups((_local_hour(t.closed_ns), t.pnl) for t in trips),
        by_reason=_groups((t.reason, t.pnl) for t in trips),
        totals={c: g.pnl for c, g in _groups((currency(t.key), t.pnl) for t in trips).items()},
    )


def currency(key: str) -> str:
    """The currency of ``EXCH:SYMBOL``'s prices (``""`` when unknown)."""
    try:
        return currency_of(*parse_key(key))
    except ValueError:
        return ""


def _per_currency(trips: list[RoundTrip], figure: Any, value: Any = None) -> str:
    """``figure(values)`` of each currency's trips (``value(trip)``, by default its P&L; a
    None left out): ``INR -50.00  USDT 30.00`` (none at all: ``-``)."""
    by: dict[str, list[Decimal]] = {}
    for t in trips:
        v = t.pnl if value is None else value(t)
        if v is not None:
            by.setdefault(currency(t.key), []).append(v)
    parts = [
        f"{c or '?'} {money(v)}"
        for c, pnls in sorted(by.items())
        if (v := figure(pnls)) is not None
    ]
    return "  ".join(parts) or "-"


def _clock(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / _NS).astimezone().strftime("%H:%M:%S")


def _local_hour(ts_ns: int) -> int:
    return datetime.fromtimestamp(ts_ns / _NS).astimezone().hour


# ------------------------------------------------------------------------------ words


def money(value: Decimal | None) -> str:
    """Money to 2 places (``-`` for none)."""
    return "-" if value is None else f"{value.quantize(Decimal('0.01')):,}"


def render(stats: Stats, width: int | None = None) -> list[str]:
    """The statistics as text lines (the CLI prints them; the TUI shows them). Within
    ``width`` a round trip's line drops its column padding rather than wrap (at 80 columns
    its MFE and exit reason went to the next line)."""
    s = stats
    pct = "-" if s.win_rate is None else f"{(s.win_rate * 100).quantize(Decimal('0.1'))}%"
    avg_r = "-" if s.avg_r is None else f"{s.avg_r.quantize(Decimal('0.01'))}R"
    avg_win, avg_loss, expectancy, total, mae, mfe = (
        money(s.avg_win),
        money(s.avg_loss),
        money(s.expectancy),
        money(s.total),
        money(s.max_mae),
        money(s.max_mfe),
    )
    by_hour = {f"{h:02d}:00": g for h, g in s.by_hour.items()}
    by_reason = s.by_reason
    if len(s.totals) > 1:  # money in several currencies: each apart, never their sum
        avg_win = _per_currency(s.trips, lambda v: _mean([p for p in v if p > 0]))
        avg_loss = _per_currency(s.trips, lambda v: _mean([p for p in v if p < 0]))
        expectancy = _per_currency(s.trips, _mean)
        total = _per_currency(s.trips, lambda v: sum(v, ZERO))
        mae = _per_currency(s.trips, max, lambda t: t.mae)
        mfe = _per_currency(s.trips, max, lambda t: t.mfe)
        # A group's P&L per currency: "00:00 INR", "stop USDT".
        by_hour = _groups(
            (f"{_local_hour(t.closed_ns):02d}:00 {currency(t.key) or '?'}", t.pnl) for t in s.trips
        )
        by_reason = _groups((f"{t.reason} {currency(t.key) or '?'}", t.pnl) for t in s.trips)
    lines = [
        f"trades      {s.trades}  (wins {s.wins}, losses {s.losses}"
        + (f", {s.open_trips} still open" if s.open_trips else "")
        + ")",
        f"win rate    {pct}",
        f"avg win     {avg_win}",
        f"avg loss    {avg_loss}",
        f"avg R       {avg_r}  (over {s.r_trades} trade(s) with a journaled stop)",
        f"expectancy  {expectancy} per trade",
        f"total P&L   {total}",
        f"MAE         largest {mae} (the worst a trip stood at)",
        f"MFE         largest {mfe} (the best a trip stood at)",
        "",
        "round trips (closed; MAE / MFE in money)",
    ]
    lines += _trip_lines(s.trips, width)
    lines += ["", "by symbol"]
    lines += [f"  {k:<24} {g.trades:>4}  {money(g.pnl):>12}" for k, g in s.by_symbol.items()]
    lines += ["", "by hour (local, at exit)"]
    lines += [f"  {k:<24} {g.trades:>4}  {money(g.pnl):>12}" for k, g in by_hour.items()]
    lines += ["", "by exit reason"]
    lines += [f"  {k:<24} {g.trades:>4}  {money(g.pnl):>12}" for k, g in by_reason.items()]
    return lines


def _trip_lines(trips: list[RoundTrip], width: int | None) -> list[str]:
    """One line per round trip: in the CLI's columns, or as narrow as the trips allow."""
    cols = (16, 5, 6, 10, 8, 8)
    lines = [_trip_line(t, cols) for t in trips]
    if width is None or all(len(line) <= width for line in lines):
        return lines
    tight = tuple(
        max(len(v) for v in values)
        for values in zip(
            *((t.key, t.side, str(t.qty), money(t.pnl), money(t.mae), money(t.mfe)) for t in trips),
            strict=True,
        )
    )
    return [_trip_line(t, tight) for t in trips]


def _trip_line(t: RoundTrip, cols: tuple[int, ...]) -> str:
    key, side, qty, pnl, mae, mfe = cols
    return (
        f"  {_clock(t.closed_ns)} {t.key:<{key}} {t.side:<{side}} {t.qty:>{qty}}"
        f" {money(t.pnl):>{pnl}}  MAE {money(t.mae):>{mae}}  MFE {money(t.mfe):>{mfe}}"
        f"  {t.reason}"
    )


def fill_outcomes(
    conn: sqlite3.Connection, since_ns: int = 0, until_ns: int | None = None
) -> dict[int, tuple[Decimal, str]]:
    """Fill id -> (the trip's P&L, its exit reason), for the fill that closed each trip."""
    trips, _ = round_trips(load_fills(conn, since_ns, until_ns))
    out = {}
    for trip in trips:
        _from_plans(conn, trip)
        out[trip.closing_fill] = (trip.pnl, trip.reason)
    return out
