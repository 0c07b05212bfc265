"""The journal's schema: the tables as version 1 shipped them, the migrations since, and the
check made on open (older journals are migrated; newer ones refused)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final


class JournalError(Exception):
    """The journal cannot be used (wrong version, not a journal, unwritable)."""


class JournalVersionError(JournalError):
    """The journal was written by a schema this code cannot read or migrate."""


SCHEMA_VERSION: Final = 3
"""The schema this code writes. Older journals are migrated on open; newer ones refused."""

# The schema as version 1 shipped it (kept to test the migration path, and as history).
SCHEMA_V1: Final = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY, started_ns INTEGER NOT NULL, ended_ns INTEGER,
    profile TEXT NOT NULL, venue TEXT NOT NULL, pid INTEGER NOT NULL);
CREATE TABLE commands (
    id INTEGER PRIMARY KEY, session INTEGER NOT NULL, ts_ns INTEGER NOT NULL,
    conn_id INTEGER NOT NULL, cmd_id INTEGER, kind TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE orders (
    cid TEXT PRIMARY KEY, session INTEGER NOT NULL, key TEXT NOT NULL, side TEXT NOT NULL,
    order_type TEXT NOT NULL, product TEXT NOT NULL, qty TEXT NOT NULL,
    price_ticks INTEGER, trigger_ticks INTEGER, tag TEXT NOT NULL, status TEXT NOT NULL,
    venue_id TEXT, filled TEXT NOT NULL, avg_price TEXT, reason TEXT NOT NULL,
    created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL, open INTEGER NOT NULL,
    state TEXT NOT NULL);
CREATE INDEX orders_open ON orders(open) WHERE open = 1;
CREATE TABLE order_events (
    id INTEGER PRIMARY KEY, session INTEGER NOT NULL, ts_ns INTEGER NOT NULL,
    cid TEXT, venue_id TEXT, status TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE fills (
    id INTEGER PRIMARY KEY, session INTEGER NOT NULL, ts_ns INTEGER NOT NULL,
    cid TEXT NOT NULL, venue_id TEXT, trade_id TEXT, key TEXT NOT NULL, side TEXT NOT NULL,
    qty TEXT NOT NULL, price TEXT NOT NULL);
CREATE UNIQUE INDEX fills_trade ON fills(trade_id) WHERE trade_id IS NOT NULL;
CREATE INDEX fills_ts ON fills(ts_ns);
CREATE TABLE plans (
    key TEXT PRIMARY KEY, session INTEGER NOT NULL, updated_ns INTEGER NOT NULL,
    open INTEGER NOT NULL, state TEXT NOT NULL);
CREATE TABLE plan_events (
    id INTEGER PRIMARY KEY, session INTEGER NOT NULL, ts_ns INTEGER NOT NULL,
    key TEXT NOT NULL, change TEXT NOT NULL, state TEXT);
CREATE TABLE positions (
    key TEXT PRIMARY KEY, session INTEGER NOT NULL, updated_ns INTEGER NOT NULL,
    state TEXT NOT NULL);
CREATE TABLE events (
    id INTEGER PRIMARY KEY, session INTEGER NOT NULL, ts_ns INTEGER NOT NULL,
    kind TEXT NOT NULL, body TEXT NOT NULL);
"""

# version N -> SQL taking a version-N journal to version N+1.
MIGRATIONS: Final[dict[int, str]] = {
    1: """
ALTER TABLE commands ADD COLUMN outcome TEXT;
ALTER TABLE commands ADD COLUMN outcome_message TEXT;
CREATE TABLE instruments (
    key TEXT PRIMARY KEY, tick_size TEXT NOT NULL, lot_size TEXT NOT NULL);
""",
    2: """
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY, session INTEGER NOT NULL, updated_ns INTEGER NOT NULL,
    active INTEGER NOT NULL, state TEXT NOT NULL);
CREATE TABLE watchlists (
    name TEXT PRIMARY KEY, updated_ns INTEGER NOT NULL, active INTEGER NOT NULL,
    state TEXT NOT NULL);
CREATE TABLE marks (
    id INTEGER PRIMARY KEY, session INTEGER NOT NULL, ts_ns INTEGER NOT NULL,
    key TEXT NOT NULL, low_ticks INTEGER NOT NULL, high_ticks INTEGER NOT NULL,
    tick_size TEXT NOT NULL);
CREATE INDEX marks_key_ts ON marks(key, ts_ns);
""",
}


_TABLES: Final = frozenset(
    {
        "sessions",
        "commands",
        "orders",
        "order_events",
        "fills",
        "plans",
        "plan_events",
        "positions",
        "events",
        "instruments",
        "alerts",
        "watchlists",
        "marks",
    }
)


UNUSED_INDEXES: Final = ("orders_venue",)
"""Indexes older journals have that nothing reads (each cost a page on every order change):
dropped when a journal is opened for writing (an older cockpit reads the file as before)."""


def _prepare_schema(conn: sqlite3.Connection, path: Path) -> None:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        conn.executescript(f"BEGIN;{SCHEMA_V1}INSERT INTO schema_version VALUES (1);COMMIT;")
        _migrate(conn, path, 1)
        return
    if "schema_version" not in tables:
        raise JournalError(
            f"{path} is an SQLite file but not a cockpit journal (no schema_version table); "
            "choose another file with --journal"
        )
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    version = int(row[0]) if row else 0
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise JournalVersionError(
            f"journal {path} has schema version {version}, newer than this cockpit understands "
            f"(up to {SCHEMA_VERSION}): upgrade cockpit, or use --journal to start another file"
        )
    if version not in MIGRATIONS:
        raise JournalVersionError(
            f"journal {path} has schema version {version}, which this cockpit cannot migrate "
            f"(it migrates from {min(MIGRATIONS)} to {SCHEMA_VERSION}); use --journal to start "
            "another file"
        )
    _migrate(conn, path, version)


def _migrate(conn: sqlite3.Connection, path: Path, version: int) -> None:
    while version < SCHEMA_VERSION:
        script = MIGRATIONS[version]
        try:
            conn.executescript(
                f"BEGIN;{script}UPDATE schema_version SET version = {version + 1};COMMIT;"
            )
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise JournalError(
                f"journal {path}: migration from version {version} failed: {exc}"
            ) from exc
        version += 1
