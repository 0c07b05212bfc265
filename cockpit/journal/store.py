"""The journal: one SQLite (WAL) file per profile, written before the engine acts.

Ownership: one :class:`Journal` (one connection) per engine, used by the decision thread
(it is opened on the starting thread, hence ``check_same_thread=False``): the engine groups
what one item writes in one :meth:`Journal.transaction` and commits it before it sends the
requests that item decided. Outside a transaction a write is its own short transaction in
autocommit mode. With WAL and ``synchronous=NORMAL`` a
commit is an append to the WAL without fsync, so it survives the engine process dying (not a
power cut) and costs tens of microseconds (``benchmarks/journal_write.py`` measures it).

What is written, and when (the engine's duty, DESIGN.md §5):

- :meth:`Journal.command` — every viewer command as received, before it is handled;
  :meth:`Journal.command_outcome` records its Ack/Refused.
- :meth:`Journal.order` — an order's full state before it is sent (``pending_new``) and after
  every change; :meth:`Journal.order_update` — the venue's raw update as it arrives.
- :meth:`Journal.fill` — each execution as it arrives.
- :meth:`Journal.plan` — an exit plan's ``to_state()`` after every change, before the
  resulting order (if any) is sent; :meth:`Journal.plan_removed` when it is gone.
- :meth:`Journal.position` — a position's state after each fill.

Recovery: :meth:`Journal.recover` returns the open plans, working orders, last known
positions and the day's fills, so a restarted engine restores its plans and reconciles
with the broker before it trades.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final

from cockpit.domain.feed import OrderUpdate
from cockpit.domain.orders import Order
from cockpit.journal import checks
from cockpit.journal.export import export_csv
from cockpit.journal.lists import Lists
from cockpit.journal.records import (
    _DICT_DEC,
    _ORDER_COLS,
    _ORDER_STATE_FIELDS,
    _STATE_ENC,
    OrderRecord,
    Recovery,
    _json,
    _order_record,
)
from cockpit.journal.schema import (
    _TABLES,
    SCHEMA_V1,
    SCHEMA_VERSION,
    UNUSED_INDEXES,
    JournalError,
    JournalVersionError,
    _prepare_schema,
)
from cockpit.journal.writer import JournalWriter, Statement, Writes
from cockpit.link.protocol import FillView, Msg
from cockpit.paths import LockHeld, take_pid_lock

__all__ = [
    "SCHEMA_V1",
    "SCHEMA_VERSION",
    "Journal",
    "JournalError",
    "JournalVersionError",
    "OrderRecord",
    "Recovery",
    "start_of_local_day_ns",
]

log = logging.getLogger(__name__)

_UNWRITABLE: Final = ("readonly database", "unable to open database file")
"""SQLite's words for a journal (or its directory) that cannot be written."""


def start_of_local_day_ns(now_ns: int | None = None) -> int:
    """Nanoseconds since the epoch at the last local midnight."""
    now = datetime.fromtimestamp((now_ns or time.time_ns()) / 1e9, tz=UTC).astimezone()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp()) * 1_000_000_000


class Journal(Lists, Writes):
    """The engine's journal. Open it with :meth:`Journal.open`; close it with :meth:`close`."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, session: int, lock: str | None = None
    ) -> None:
        self._conn = conn
        self.path = path
        self.session = session
        """This engine run's session id."""
        self._closed = False
        self._lock = lock
        self._in_tx = False
        self._ckpt_stop = threading.Event()
        self._ckpt_thread: threading.Thread | None = None
        self._next_command_id: int | None = None
        self._writer: JournalWriter | None = None
        self._pending: list[Statement] = []
        self._after: list[Callable[[], None]] = []
        self._conn_lock = threading.Lock()

    # ------------------------------------------------------------------ open / close

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        profile: str = "default",
        venue: str = "",
        start_session: bool = True,
        checkpoint_interval_s: float | None = 1.0,
        writer: bool = False,
    ) -> Journal:
        """Open (creating or migrating as needed) the journal at ``path`` and start a session.

        ``start_session=False`` opens it for reading and export only (no session row; the
        session id is 0 and writes must not be made).

        ``checkpoint_interval_s``: with a session, the WAL is checkpointed by a background
        thread (its own connection, PASSIVE, every that many seconds) instead of inside
        whichever write crosses SQLite's 1000-page threshold: an automatic checkpoint copies
        pages and fsyncs on the writing thread, milliseconds in the middle of an exit.
        ``None`` or 0 keeps SQLite's automatic checkpoints.

        ``writer``: with a session, statements are executed and committed by a writer thread
        (:mod:`cockpit.journal.writer`, see :meth:`use_writer`).

        Raises:
            JournalVersionError: written by a newer cockpit, or too old to migrate.
            JournalError: not a cockpit journal, or the file cannot be opened.
        """
        path = Path(path)
        problem = checks.emptied(path)
        if problem is not None:
            raise JournalError(problem)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock = _lock_writer(path) if start_session else None
        except OSError as exc:
            raise JournalError(checks.unwritable(path, exc)) from exc
        try:
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, cached_statements=256
            )
        except sqlite3.Error as exc:
            _unlock(lock)
            raise JournalError(f"cannot open journal {path}: {exc}") from exc
        try:
            try:
                os.chmod(path, 0o600)
            except OSError:
                pass
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(f"journal {path}: cannot enable WAL (got {mode})")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=OFF")
            conn.execute("PRAGMA busy_timeout=2000")
            problem = checks.damaged(conn, path)
            if problem is not None:
                raise JournalError(problem)
            _prepare_schema(conn, path)
            session = 0
            if start_session:
                cur = conn.execute(
                    "INSERT INTO sessions(started_ns, profile, venue, pid) VALUES (?,?,?,?)",
                    (time.time_ns(), profile, venue, os.getpid()),
                )
                session = int(cur.lastrowid or 0)
                if checkpoint_interval_s:
                    conn.execute("PRAGMA wal_autocheckpoint=0")
                for index in UNUSED_INDEXES:
                    conn.execute(f"DROP INDEX IF EXISTS {index}")
        except sqlite3.DatabaseError as exc:
            conn.close()
            _unlock(lock)
            if any(w in str(exc) for w in _UNWRITABLE):
                raise JournalError(checks.unwritable(path, OSError(str(exc)))) from exc
            raise JournalError(f"journal {path} is not a usable cockpit journal: {exc}") from exc
        except BaseException:
            conn.close()
            _unlock(lock)
            raise
        journal = cls(conn, path, session, lock)
        if start_session and checkpoint_interval_s:
            journal._start_checkpointer(float(checkpoint_interval_s))
        if start_session and writer:
            journal.use_writer(True)
        return journal

    def _start_checkpointer(self, interval_s: float) -> None:
        self._ckpt_thread = threading.Thread(
            target=self._checkpoint_loop,
            args=(interval_s,),
            name="journal-checkpoint",
            daemon=True,
        )
        self._ckpt_thread.start()

    def _checkpoint_loop(self, interval_s: float) -> None:
        """PASSIVE checkpoints from a second connection (never blocks the writer)."""
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            log.exception("journal: checkpoint connection failed; the WAL grows until close")
            return
        try:
            conn.execute("PRAGMA busy_timeout=0")
            while not self._ckpt_stop.wait(interval_s):
                try:
                    self._conn.total_changes  # noqa: B018 (raises once the writer is closed)
                except sqlite3.ProgrammingError:
                    return  # closed without close() (a simulated crash): stop with it
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:
                    log.debug("journal: checkpoint skipped: %s", exc)
        finally:
            conn.close()

    def close(self) -> None:
        """End the session (marks a clean stop) and close the file. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.use_writer(False)
        self._ckpt_stop.set()
        if self._ckpt_thread is not None:
            self._ckpt_thread.join(5)
            self._ckpt_thread = None
        try:
            if self.session:
                self._conn.execute(
                    "UPDATE sessions SET ended_ns=? WHERE id=?", (time.time_ns(), self.session)
                )
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            self._conn.close()
            _unlock(self._lock)
            self._lock = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writes

    def command(self, conn_id: int, command: Msg, ts_ns: int | None = None) -> int:
        """Journal a viewer command as received; returns its row id (for the outcome)."""
        if self._next_command_id is None:
            row = self._query("SELECT COALESCE(MAX(id), 0) FROM commands")[0]
            self._next_command_id = int(row[0]) + 1
        row_id = self._next_command_id
        self._next_command_id += 1
        self._exec(
            "INSERT INTO commands(id, session, ts_ns, conn_id, cmd_id, kind, body) "
            "VALUES (?,?,?,?,?,?,?)",
            (
                row_id,
                self.session,
                ts_ns or time.time_ns(),
                conn_id,
                getattr(command, "id", None),
                type(command).__name__,
                _json(command),
            ),
        )
        return row_id

    def command_outcome(self, row_id: int, outcome: str, message: str = "") -> None:
        """Record how a command was answered: ``ack`` or ``refused:<rule>``."""
        self._exec(
            "UPDATE commands SET outcome=?, outcome_message=? WHERE id=?",
            (outcome, message, row_id),
        )

    def order(self, order: Order, ts_ns: int | None = None) -> None:
        """Journal an order's full current state (insert or replace by ``cid``; its history
        is not kept)."""
        now = ts_ns or time.time_ns()
        state = {name: getattr(order, name) for name in _ORDER_STATE_FIELDS}
        self._exec(
            "INSERT INTO orders(cid, session, key, side, order_type, product, qty, price_ticks,"
            " trigger_ticks, tag, status, venue_id, filled, reason, created_ns, updated_ns, open,"
            " state) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(cid) DO UPDATE SET key=excluded.key, side=excluded.side,"
            " order_type=excluded.order_type, product=excluded.product, qty=excluded.qty,"
            " price_ticks=excluded.price_ticks, trigger_ticks=excluded.trigger_ticks,"
            " tag=excluded.tag, status=excluded.status, venue_id=excluded.venue_id,"
            " filled=excluded.filled, reason=excluded.reason, updated_ns=excluded.updated_ns,"
            " open=excluded.open, state=excluded.state",
            (
                order.cid,
                self.session,
                order.key,
                str(order.side),
                str(order.type),
                str(order.product),
                str(order.qty),
                order.price_ticks,
                order.trigger_ticks,
                order.tag,
                str(order.status),
                order.venue_id,
                str(order.filled_qty),
                order.reason,
                order.created_ns or now,
                order.updated_ns or now,
                0 if order.status.is_final else 1,
                _STATE_ENC.encode(state).decode(),
            ),
        )

    def order_update(self, update: OrderUpdate, cid: str | None = None) -> None:
        """Journal a venue order update as it arrived (``cid`` if already matched)."""
        self._exec(
            "INSERT INTO order_events(session, ts_ns, cid, venue_id, status, body)"
            " VALUES (?,?,?,?,?,?)",
            (self.session, update.recv_ns, cid, update.orderid, update.status, _json(update)),
        )

    def fill(self, fill: FillView, trade_id: str | None = None) -> bool:
        """Journal an execution. Returns False if ``trade_id`` was journaled already.

        While collecting (see :meth:`collect`) it cannot know yet and returns True; the
        duplicate is still ignored when the statements are committed.
        """
        cur = self._exec(
            "INSERT OR IGNORE INTO fills(session, ts_ns, cid, venue_id, trade_id, key, side,"
            " qty, price) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                self.session,
                fill.ts_ns,
                fill.cid,
                fill.venue_id,
                trade_id,
                fill.key,
                fill.side,
                str(fill.qty),
                str(fill.price),
            ),
        )
        return cur is None or cur.rowcount == 1

    def plan(
        self, key: str, state: Mapping[str, Any], change: str = "", ts_ns: int | None = None
    ) -> None:
        """Journal an exit plan's state (``ExitPlan.to_state()``) after a change.

        A state with ``closed`` or ``detached`` true is no longer open (not recovered).
        """
        now = ts_ns or time.time_ns()
        body = _STATE_ENC.encode(state).decode()
        is_open = 0 if (state.get("closed") or state.get("detached")) else 1
        with self.transaction():
            self._exec(
                "INSERT INTO plans(key, session, updated_ns, open, state) VALUES (?,?,?,?,?)"
                " ON CONFLICT(key) DO UPDATE SET session=excluded.session,"
                " updated_ns=excluded.updated_ns, open=excluded.open, state=excluded.state",
                (key, self.session, now, is_open, body),
            )
            self._exec(
                "INSERT INTO plan_events(session, ts_ns, key, change, state) VALUES (?,?,?,?,?)",
                (self.session, now, key, change, body),
            )

    def plan_removed(self, key: str, reason: str = "", ts_ns: int | None = None) -> None:
        """The plan of ``key`` is gone (position closed, detached); it is not recovered."""
        now = ts_ns or time.time_ns()
        with self.transaction():
            self._exec("UPDATE plans SET open=0, updated_ns=? WHERE key=?", (now, key))
            self._exec(
                "INSERT INTO plan_events(session, ts_ns, key, change, state) VALUES (?,?,?,?,?)",
                (self.session, now, key, f"removed: {reason}" if reason else "removed", None),
            )

    def position(self, key: str, state: Mapping[str, Any], ts_ns: int | None = None) -> None:
        """Journal a position as now known (``Position.to_state()``)."""
        body = _STATE_ENC.encode(state).decode()
        self._exec(
            "INSERT INTO positions(key, session, updated_ns, state) VALUES (?,?,?,?)"
            " ON CONFLICT(key) DO UPDATE SET session=excluded.session,"
            " updated_ns=excluded.updated_ns, state=excluded.state",
            (key, self.session, ts_ns or time.time_ns(), body),
        )

    def instrument(self, key: str, tick_size: Decimal, lot_size: Decimal = Decimal(1)) -> None:
        """Remember an instrument's tick size, so exports can show prices, not ticks."""
        self._exec(
            "INSERT OR REPLACE INTO instruments(key, tick_size, lot_size) VALUES (?,?,?)",
            (key, str(tick_size), str(lot_size)),
        )

    def instrument_sizes(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Each remembered instrument's ``(tick_size, lot_size)`` by key, as the broker last
        gave them (a restart rebuilds from them the instruments the broker cannot answer for)."""
        rows = self._query("SELECT key, tick_size, lot_size FROM instruments ORDER BY key")
        return {key: (Decimal(tick), Decimal(lot)) for key, tick, lot in rows}

    def event(self, kind: str, data: Mapping[str, Any] | Msg, ts_ns: int | None = None) -> None:
        """Journal anything else worth keeping (alarms, reconciliation results, kill switch)."""
        self._exec(
            "INSERT INTO events(session, ts_ns, kind, body) VALUES (?,?,?,?)",
            (self.session, ts_ns or time.time_ns(), kind, _STATE_ENC.encode(data).decode()),
        )

    # ------------------------------------------------------------------ reads

    def open_plan_keys(self) -> list[str]:
        """Keys of the plans held open (what a restart would restore)."""
        return [r[0] for r in self._query("SELECT key FROM plans WHERE open=1 ORDER BY key")]

    def recover(self, since_ns: int | None = None) -> Recovery:
        """What a restarted engine restores and reconciles (see :class:`Recovery`)."""
        query = self._query
        plans = {
            key: _DICT_DEC.decode(state)
            for key, state in query("SELECT key, state FROM plans WHERE open=1 ORDER BY key")
        }
        orders = [
            _order_record(r)
            for r in query(
                f"SELECT {_ORDER_COLS} FROM orders WHERE open=1 ORDER BY created_ns, cid"
            )
        ]
        positions = {
            key: _DICT_DEC.decode(state)
            for key, state in query("SELECT key, state FROM positions ORDER BY key")
        }
        since = start_of_local_day_ns() if since_ns is None else since_ns
        fills = self.fills(since_ns=since)
        rows = query(
            "SELECT id, ended_ns FROM sessions WHERE id < ? OR ? = 0 ORDER BY id DESC LIMIT 1",
            (self.session, self.session),
        )
        prev = rows[0] if rows else None
        return Recovery(
            plans=plans,
            open_orders=orders,
            positions=positions,
            fills=fills,
            last_session=None if prev is None else int(prev[0]),
            unclean=prev is not None and prev[1] is None,
        )

    def fills(self, since_ns: int = 0, session: int | None = None) -> list[FillView]:
        """Fills since ``since_ns`` (optionally of one session), oldest first."""
        sql = "SELECT cid, key, side, qty, price, ts_ns, venue_id FROM fills WHERE ts_ns >= ?"
        params: list[Any] = [since_ns]
        if session is not None:
            sql += " AND session = ?"
            params.append(session)
        return [
            FillView(
                cid=r[0],
                key=r[1],
                side=r[2],
                qty=Decimal(r[3]),
                price=Decimal(r[4]),
                ts_ns=r[5],
                venue_id=r[6],
            )
            for r in self._query(sql + " ORDER BY ts_ns, id", params)
        ]

    def orders(self, session: int | None = None) -> list[OrderRecord]:
        """Every journaled order (optionally of one session), oldest first."""
        sql = f"SELECT {_ORDER_COLS} FROM orders"
        params: tuple[Any, ...] = ()
        if session is not None:
            sql += " WHERE session = ?"
            params = (session,)
        return [_order_record(r) for r in self._query(sql + " ORDER BY created_ns", params)]

    def final_orders(self, since_ns: int, limit: int) -> list[OrderRecord]:
        """The last ``limit`` orders that ended (filled, cancelled, rejected) at or after
        ``since_ns``, in the order they ended (a restarted engine's recent orders)."""
        rows = self._query(
            f"SELECT {_ORDER_COLS} FROM orders WHERE open=0 AND updated_ns >= ?"
            " ORDER BY updated_ns DESC, cid DESC LIMIT ?",
            (since_ns, limit),
        )
        return [_order_record(r) for r in reversed(rows)]

    def count(self, table: str) -> int:
        """Rows in a journal table (for tests and status)."""
        if table not in _TABLES:
            raise ValueError(f"no journal table {table!r}")
        return int(self._query(f"SELECT COUNT(*) FROM {table}")[0][0])

    def export_csv(
        self, what: str, out: IO[str], *, since_ns: int = 0, until_ns: int | None = None
    ) -> int:
        """Write ``trades`` (fills) or ``orders`` as CSV to ``out`` (see ``export.export_csv``)."""
        self.flush()
        with self._conn_lock:
            return export_csv(self._conn, what, out, since_ns=since_ns, until_ns=until_ns)

    def pragma(self, name: str) -> Any:
        """The value of a read-only pragma (``journal_mode``, ``synchronous``...)."""
        if not name.isidentifier():
            raise ValueError(name)
        return self._query(f"PRAGMA {name}")[0][0]


_HELD: dict[str, list[int]] = {}
"""Journal locks this process holds: resolved path -> [fd, users]."""
_HELD_LOCK = threading.Lock()


def _lock_writer(path: Path) -> str:
    """One writing engine per journal file: an exclusive flock on ``<journal>.lock``.

    The lock is per process (a second open in the same process shares it), so it guards
    against two engines, not against a test reopening a file it "crashed".
    """
    key = str(path.resolve())
    with _HELD_LOCK:
        held = _HELD.get(key)
        if held is not None:
            held[1] += 1
            return key
        try:
            fd = take_pid_lock(path.with_name(path.name + ".lock"))
        except LockHeld as held_by:
            raise JournalError(
                f"journal {path} is in use by another engine (pid {held_by.holder}); "
                "stop it, or use another --journal / --profile"
            ) from None
        _HELD[key] = [fd, 1]
        return key


def _unlock(key: str | None) -> None:
    if key is None:
        return
    with _HELD_LOCK:
        held = _HELD.get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] <= 0:
            del _HELD[key]
            os.close(held[0])
