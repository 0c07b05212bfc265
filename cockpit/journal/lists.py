"""What the engine keeps for the trader beyond orders and plans: alerts, named watchlists, and
the price extremes of open positions (marks, for MAE/MFE).

A part of :class:`cockpit.journal.store.Journal` (its writes go through the same connection
and join the engine's current transaction).
"""

from __future__ import annotations

import sqlite3
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from cockpit.journal.records import _DICT_DEC, _STATE_ENC


class Lists:
    """Alerts, watchlists and marks (mixed into :class:`~cockpit.journal.store.Journal`)."""

    _conn: sqlite3.Connection
    session: int

    if TYPE_CHECKING:

        def _exec(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor | None: ...
        def _query(self, sql: str, params: Any = ()) -> list[Any]: ...

    # ------------------------------------------------------------------ alerts

    def alert(self, state: Any, ts_ns: int | None = None) -> None:
        """Journal an alert as it now is (an ``AlertView`` or its dict; by its ``id``)."""
        data = msgspec.to_builtins(state) if isinstance(state, msgspec.Struct) else dict(state)
        self._exec(
            "INSERT INTO alerts(id, session, updated_ns, active, state) VALUES (?,?,?,?,?)"
            " ON CONFLICT(id) DO UPDATE SET session=excluded.session,"
            " updated_ns=excluded.updated_ns, active=excluded.active, state=excluded.state",
            (
                int(data["id"]),
                self.session,
                ts_ns or time.time_ns(),
                1 if data.get("active", True) else 0,
                _STATE_ENC.encode(data).decode(),
            ),
        )

    def alerts(self, *, active_only: bool = True) -> list[dict[str, Any]]:
        """The alerts as last journaled (active ones only by default), by id."""
        sql = "SELECT state FROM alerts" + (" WHERE active=1" if active_only else "")
        return [_DICT_DEC.decode(r[0]) for r in self._query(sql + " ORDER BY id")]

    def last_alert_id(self) -> int:
        """The highest alert id ever journaled (0 for none): new alerts number on from it."""
        return int(self._query("SELECT COALESCE(MAX(id), 0) FROM alerts")[0][0])

    # ------------------------------------------------------------------ watchlists

    def watchlist(self, state: Any, *, active: bool, ts_ns: int | None = None) -> None:
        """Journal a named watchlist (a ``WatchlistView`` or its dict); ``active``: it is the
        one in use (every other one becomes inactive)."""
        data = msgspec.to_builtins(state) if isinstance(state, msgspec.Struct) else dict(state)
        name = str(data["name"])
        if active:
            self._exec("UPDATE watchlists SET active=0 WHERE name != ?", (name,))
        self._exec(
            "INSERT INTO watchlists(name, updated_ns, active, state) VALUES (?,?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET updated_ns=excluded.updated_ns,"
            " active=excluded.active, state=excluded.state",
            (name, ts_ns or time.time_ns(), 1 if active else 0, _STATE_ENC.encode(data).decode()),
        )

    def watchlist_removed(self, name: str) -> None:
        """A named watchlist is gone."""
        self._exec("DELETE FROM watchlists WHERE name=?", (name,))

    def watchlists(self) -> tuple[list[dict[str, Any]], str | None]:
        """Every named watchlist (by name) and the active one's name (None: none journaled)."""
        rows = self._query("SELECT state, active FROM watchlists ORDER BY name")
        lists = [_DICT_DEC.decode(r[0]) for r in rows]
        active = next((str(d.get("name")) for d, r in zip(lists, rows, strict=True) if r[1]), None)
        return lists, active

    # ------------------------------------------------------------------ marks

    def mark(
        self, key: str, low_ticks: int, high_ticks: int, tick_size: Decimal, ts_ns: int
    ) -> None:
        """The lowest and highest price a symbol traded at while a position was open, since
        its previous mark (the round trip's excursions are built from them)."""
        self._exec(
            "INSERT INTO marks(session, ts_ns, key, low_ticks, high_ticks, tick_size)"
            " VALUES (?,?,?,?,?,?)",
            (self.session, ts_ns, key, low_ticks, high_ticks, str(tick_size)),
        )

    # ------------------------------------------------------------------ events

    def events_of(self, *kinds: str) -> list[tuple[str, dict[str, Any]]]:
        """``(kind, body)`` of every journaled event of these kinds, oldest first (the engine
        folds them into what it still holds: MIT entries, orders pending approval)."""
        if not kinds:
            return []
        marks = ",".join("?" * len(kinds))
        sql = f"SELECT kind, body FROM events WHERE kind IN ({marks}) ORDER BY id"
        rows = self._query(sql, kinds)
        out = []
        for kind, body in rows:
            try:
                out.append((str(kind), _DICT_DEC.decode(body)))
            except msgspec.DecodeError:
                continue  # not a dict body: nothing to fold
        return out
