"""``cockpit journal export``'s CSV: a journal's fills (trades) or orders."""

from __future__ import annotations

import csv
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO

from cockpit.journal.stats import fill_outcomes


def export_csv(
    conn: sqlite3.Connection,
    what: str,
    out: IO[str],
    *,
    since_ns: int = 0,
    until_ns: int | None = None,
) -> int:
    """Write ``trades`` (fills) or ``orders`` as CSV to ``out``; return the row count."""
    ticks = {k: Decimal(t) for k, t in conn.execute("SELECT key, tick_size FROM instruments")}
    until = until_ns if until_ns is not None else 2**63 - 1
    writer = csv.writer(out, lineterminator="\n")
    n = 0
    if what == "trades":
        # pnl and exit_reason: on the fill that closes a round trip (cockpit.journal.stats).
        closing = fill_outcomes(conn, since_ns, until_ns)
        writer.writerow(
            ["time", "ts_ns", "session", "symbol", "side", "qty", "price", "value", "cid"]
            + ["venue_order_id", "trade_id", "tag", "pnl", "exit_reason"]
        )
        rows = conn.execute(
            "SELECT f.ts_ns, f.session, f.key, f.side, f.qty, f.price, f.cid, f.venue_id,"
            " f.trade_id, o.tag, f.id FROM fills f LEFT JOIN orders o ON o.cid = f.cid"
            " WHERE f.ts_ns >= ? AND f.ts_ns <= ? ORDER BY f.ts_ns, f.id",
            (since_ns, until),
        )
        for ts, session, key, side, qty, price, cid, vid, tid, tag, fid in rows:
            value = Decimal(qty) * Decimal(price)
            pnl, why = closing.get(fid, ("", ""))
            writer.writerow(
                [_iso(ts), ts, session, key, side, qty, price, str(value), cid]
                + [vid or "", tid or "", tag or "", str(pnl), why]
            )
            n += 1
    elif what == "orders":
        writer.writerow(
            ["created", "updated", "session", "cid", "venue_order_id", "symbol", "side"]
            + ["type", "product", "qty", "price", "trigger", "status", "filled", "avg_price"]
            + ["tag", "reason"]
        )
        rows = conn.execute(
            "SELECT created_ns, updated_ns, session, cid, venue_id, key, side, order_type,"
            " product, qty, price_ticks, trigger_ticks, status, filled, avg_price, tag,"
            " reason FROM orders WHERE created_ns >= ? AND created_ns <= ?"
            " ORDER BY created_ns, cid",
            (since_ns, until),
        )
        averages = _fill_averages(conn)
        for r in rows:
            tick = ticks.get(r[5])
            avg = r[14] or averages.get(r[3], "")
            writer.writerow(
                [_iso(r[0]), _iso(r[1]), r[2], r[3], r[4] or "", r[5], r[6], r[7], r[8], r[9]]
                + [_price(r[10], tick), _price(r[11], tick), r[12], r[13], avg]
                + [r[15], r[16]]
            )
            n += 1
    else:
        raise ValueError(f"export what={what!r}: expected 'trades' or 'orders'")
    return n


def _fill_averages(conn: sqlite3.Connection) -> dict[str, str]:
    """Each order's average fill price from its fills (the engine journals its orders without
    one: the fills carry the prices), exact in Decimal."""
    sums: dict[str, tuple[Decimal, Decimal]] = {}
    for cid, qty, price in conn.execute("SELECT cid, qty, price FROM fills"):
        q, v = sums.get(cid, (Decimal(0), Decimal(0)))
        sums[cid] = (q + Decimal(qty), v + Decimal(qty) * Decimal(price))
    return {cid: str(v / q) for cid, (q, v) in sums.items() if q}


def _iso(ns: int | None) -> str:
    if ns is None:
        return ""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).astimezone().isoformat(timespec="milliseconds")


def _price(ticks: int | None, tick_size: Decimal | None) -> str:
    if ticks is None:
        return ""
    if tick_size is None:
        return f"{ticks}t"
    return str(ticks * tick_size)
