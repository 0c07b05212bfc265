"""The journal's writer thread: statements executed and committed off the decision thread.

The decision thread queues what a batch wrote (``(sql, params)`` pairs, as :class:`Journal`
built them) together with what waits for it (the router requests the batch decided); this
thread executes and commits them, then runs what waited. sqlite3 releases the GIL while a
statement runs, so the commit overlaps the next decisions on another core, and what queued
up while one commit ran goes in the next one (a group commit: one WAL append for many items).

The rule it keeps (DESIGN.md §5, journal before send): a callback runs only after every
statement queued before it is committed, so a request is never on the wire before its
records are in the WAL. A failed statement or commit is recorded
(:meth:`JournalWriter.take_failures`: the engine alarms it) and what waited still runs, told
so (:attr:`Writes.committed`): the engine sends an exit, never held back by a full disk, and
refuses an entry whose records were not written.
:meth:`barrier` waits until everything queued before it is done (reads of the journal call
it first); :meth:`close` drains the queue and stops the thread.

A few urgent requests (a lone exit: ``after_commit(..., urgent=n)``, ``n`` up to ``HERE_MAX``)
skip the hop to this thread when it has nothing queued or in hand: :meth:`JournalWriter.run_here`
commits and runs them on the calling thread, so an exit reaches the wire with no other thread
woken on its way (a speed mechanism: ``Writes.urgent_here``; ``benchmarks/bench_exit_latency.py
--here-ab`` and ``benchmarks/lab/exit_hops.py`` show what it buys). More (a gap through many
stops) go through this thread, whose commit then overlaps the next decisions. Order holds: a
group runs here only when nothing queued before it is still to run.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)

Statement = tuple[str, tuple[Any, ...]]
HERE_MAX = 4
"""At most this many urgent requests are committed and sent on the deciding thread."""


def begin(conn: sqlite3.Connection) -> None:
    """BEGIN. A transaction an earlier failure left open (its ROLLBACK failed) would make
    every later BEGIN fail and every later write join it, never committed: it is ended first
    (committed, as the engine keeps what a failed handler wrote, or rolled back if it cannot
    be) and BEGIN tried again.

    Raises:
        sqlite3.Error: BEGIN failed (the caller counts and alarms it).
    """
    try:
        conn.execute("BEGIN")
        return
    except sqlite3.Error:
        if not conn.in_transaction:
            raise
    log.warning("journal: ending a transaction an earlier failure left open")
    try:
        conn.execute("COMMIT")
    except sqlite3.Error:
        conn.execute("ROLLBACK")
    conn.execute("BEGIN")


class JournalWriter:
    """One thread that owns the journal connection's writes while it runs."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self.lock = lock
        """Held while a group is executed; a reader takes it after :meth:`barrier`."""
        self._queue: deque[tuple[list[Statement], list[Callable[[], None]]]] = deque()
        self._cv = threading.Condition(threading.Lock())
        self._stopping = False
        self._busy = False  # a group is being committed (on this thread or by run_here)
        self._here: int | None = None  # the thread in run_here
        self._failures: deque[Exception] = deque(maxlen=100)
        self.commits = 0
        """Groups committed (for tests and the bench)."""
        self.ok = True
        """Whether the group whose callbacks run now was committed whole (read by them)."""
        self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)
        self._thread.start()

    def put(self, statements: list[Statement], then: list[Callable[[], None]]) -> None:
        """Queue statements to commit, and callbacks to run once they are committed."""
        with self._cv:
            self._queue.append((statements, then))
            self._cv.notify()

    def run_here(self, statements: list[Statement], then: list[Callable[[], None]]) -> bool:
        """Commit ``statements`` and run ``then`` on the calling thread, if nothing queued
        before is still to commit or run and no read holds the connection; False (nothing
        done) if not."""
        with self._cv:
            if self._queue or self._busy or self._stopping:
                return False
            if statements and not self.lock.acquire(blocking=False):
                return False  # a read (or a checkpoint) has it: the writer waits, not us
            self._busy, self._here = True, threading.get_ident()
        try:
            ok = True
            if statements:
                try:
                    ok = self._commit(statements)
                finally:
                    self.lock.release()
            self.ok = ok
            self._run_callbacks([(statements, then)])
        finally:
            with self._cv:
                self._busy, self._here = False, None
                self._cv.notify()
        return True

    def barrier(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far is committed and its callbacks ran."""
        if threading.current_thread() is self._thread:
            return True
        with self._cv:
            if (not self._queue and not self._busy) or self._here == threading.get_ident():
                return True  # nothing left to wait for (no hop to the writer and back)
        done = threading.Event()
        self.put([], [done.set])
        return done.wait(timeout)

    def take_failures(self) -> list[Exception]:
        """The failures recorded since the last call (oldest first)."""
        out: list[Exception] = []
        while self._failures:
            out.append(self._failures.popleft())
        return out

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, run what waits for it, and stop the thread."""
        with self._cv:
            self._stopping = True
            self._cv.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("journal: the writer did not drain within %.0f s", timeout)

    def _run(self) -> None:
        queue, cv = self._queue, self._cv
        while True:
            with cv:
                while not queue or self._busy:
                    if self._stopping and not queue:
                        return  # stopping, and drained
                    cv.wait()
                groups = list(queue)
                queue.clear()
                self._busy = True
            try:
                self._do(groups)
            finally:
                with cv:
                    self._busy = False

    def _do(self, groups: list[tuple[list[Statement], list[Callable[[], None]]]]) -> None:
        """Commit the groups' statements together, then run their callbacks in order."""
        statements = [s for group in groups for s in group[0]]
        ok = True
        if statements:
            with self.lock:
                ok = self._commit(statements)
        self.ok = ok
        self._run_callbacks(groups)

    @staticmethod
    def _run_callbacks(groups: list[tuple[list[Statement], list[Callable[[], None]]]]) -> None:
        for _, then in groups:
            for callback in then:
                try:
                    callback()
                except Exception:
                    log.exception("journal: a callback after the commit failed")

    def _commit(self, statements: list[Statement]) -> bool:
        """Execute and commit; a statement that fails is recorded and the rest still go (as
        each write of the decision thread's own transaction would); a failed commit too.
        True if every statement was executed and committed."""
        conn = self._conn
        failed: Exception | None = None
        try:
            begin(conn)
        except Exception as exc:
            self._failed(exc)
            return False
        execute = conn.execute
        for sql, params in statements:
            try:
                execute(sql, params)
            except Exception as exc:
                failed = failed or exc
        if failed is not None:
            self._failed(failed)
        try:
            if conn.in_transaction:
                conn.execute("COMMIT")
        except Exception as exc:
            self._failed(exc)
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except Exception:  # noqa: S110 (the commit's failure is what is reported)
                pass
            return False
        self.commits += 1
        return failed is None

    def _failed(self, exc: Exception) -> None:
        log.error("journal write failed (writer): %s", exc)
        self._failures.append(exc)


class Writes:
    """How :class:`~cockpit.journal.store.Journal` writes and reads: on the caller's thread,
    or through a :class:`JournalWriter` (mixed into the journal)."""

    _conn: sqlite3.Connection
    _conn_lock: threading.Lock
    _writer: JournalWriter | None
    _pending: list[Statement]
    _after: list[Callable[[], None]]
    _in_tx: bool
    _urgent = 0  # urgent requests waiting in ``_after``
    _sync_ok = True  # without the writer: whether the transaction ending now committed
    urgent_here = True
    """Commit and run urgent callbacks on the caller's thread when the writer is idle."""

    def use_writer(self, on: bool) -> None:
        """Execute and commit on a writer thread (``on``) or on the caller's thread.

        With the writer, a write only queues its statement (a transaction's statements are
        queued together as it ends), :meth:`after_commit` callbacks run on the writer thread
        once what was written before them is committed, and every read waits for what was
        queued before it. Switching drains what is queued first.
        """
        if on == (self._writer is not None) or self._in_tx:
            return
        if on:
            self._writer = JournalWriter(self._conn, self._conn_lock)
            return
        writer, self._writer = self._writer, None
        assert writer is not None
        writer.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group the writes made inside into one commit (nested uses join the outer one)."""
        if self._in_tx:
            yield
            return
        if self._writer is not None:
            self._in_tx = True
            try:
                yield
            except BaseException:
                self._pending.clear()  # as a rollback would
                raise
            finally:
                self._in_tx = False
                self._ship()
            return
        conn = self._conn
        begin(conn)
        self._in_tx = True
        try:
            try:
                yield
            except BaseException:
                self._in_tx = False
                self._sync_ok = False  # rolled back: nothing of it is written
                conn.execute("ROLLBACK")
                raise
            self._in_tx = False
            try:
                conn.execute("COMMIT")
            except BaseException:
                self._sync_ok = False
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            after, self._after = self._after, []
            try:
                for callback in after:
                    callback()
            finally:
                self._sync_ok = True

    @property
    def committed(self) -> bool:
        """Read by an :meth:`after_commit` callback: whether what it waited for was committed
        whole (False: a statement or the commit failed, e.g. a full disk)."""
        writer = self._writer
        return writer.ok if writer is not None else self._sync_ok

    @property
    def deferred(self) -> bool:
        """Whether writes are committed by the writer thread (later than they are made)."""
        return self._writer is not None

    def after_commit(self, callback: Callable[[], None], *, urgent: int = 0) -> None:
        """Run ``callback`` once everything written so far is committed: at once if it is,
        after the current transaction's commit, or on the writer thread after its commit
        (``urgent``: the urgent requests it sends; a few are committed and sent on this
        thread when the writer has nothing in hand).
        It runs even if the commit failed (the failure is recorded and alarmed apart; the
        callback reads :attr:`committed` to know)."""
        if self._writer is not None:
            self._after.append(callback)
            self._urgent += urgent
            if not self._in_tx:
                self._ship()
        elif self._in_tx:
            self._after.append(callback)
        else:
            callback()

    def flush(self) -> None:
        """Wait until everything written so far is committed (no-op without the writer)."""
        writer = self._writer
        if writer is not None:
            self._ship()
            if not writer.barrier():
                log.error("journal: the writer did not catch up within 30 s")

    def take_failures(self) -> list[Exception]:
        """Writes the writer thread failed to commit since the last call (none without it:
        a failed write raises where it is made)."""
        return self._writer.take_failures() if self._writer is not None else []

    def _ship(self) -> None:
        writer = self._writer
        if (self._pending or self._after) and writer is not None:
            pending, after, urgent = self._pending, self._after, self._urgent
            self._pending, self._after, self._urgent = [], [], 0
            here = 0 < urgent <= HERE_MAX and self.urgent_here
            if not (here and writer.run_here(pending, after)):
                writer.put(pending, after)

    def _query(self, sql: str, params: Any = ()) -> list[Any]:
        """A read: it sees everything written before it (the writer is waited for)."""
        self.flush()
        with self._conn_lock:
            return self._conn.execute(sql, params).fetchall()

    def _exec(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor | None:
        if self._writer is None:
            try:
                return self._conn.execute(sql, params)
            except BaseException:
                if self._in_tx:
                    self._sync_ok = False  # what waits for this transaction knows it
                raise
        self._pending.append((sql, params))
        if not self._in_tx:
            self._ship()
        return None
