"""A symbol of the restored watchlist that the broker cannot be asked about at start stays in
the journaled list.

Found in a tmux trial on an OpenAlgo broker: the engine restarted while the broker's server
stalled. The watchlist's symbols added with `/` are looked up again at start; two lookups timed
out, and the list was saved with only the three that came back, so RELIANCE (with a position
open at the broker) and INFY were gone from the list for good, every later start included.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from cockpit.adapters.openalgo.rows import instrument_from_row
from cockpit.domain.execution import LookupSymbol, RouterResult
from cockpit.journal.store import Journal
from cockpit.link import protocol as p
from cockpit.link.bus import ViewerCommand
from tests.unit.test_engine_core import Rig


def _saved(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT state FROM watchlists WHERE active=1").fetchone()
    finally:
        conn.close()
    return list(json.loads(row[0])["keys"])


def _answer(rig: Rig, symbol: str, ok: bool) -> None:
    lookup = next(r for r in rig.router.of(LookupSymbol) if r.symbol == symbol)
    if ok:
        row = {"symbol": symbol, "exchange": "NSE", "tick_size": 0.05, "lotsize": 1}
        rig.engine.handle(RouterResult(lookup, True, data=instrument_from_row(row)))
    else:
        rig.engine.handle(RouterResult(lookup, False, error="cannot reach the server"))


def test_a_symbol_whose_lookup_failed_at_start_stays_in_the_saved_list(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal.open(path)
    rig = Rig(journal=journal)
    rig.start()
    rig.engine.handle(ViewerCommand(7, p.Subscribe(id=90, keys=["NSE:TCS", "NSE:ITC"])))
    _answer(rig, "TCS", True)
    _answer(rig, "ITC", True)
    journal.flush()
    listed = _saved(path)
    assert listed[-2:] == ["NSE:TCS", "NSE:ITC"]
    journal.close()

    journal = Journal.open(path)  # the restart: the broker answers TCS, not ITC
    rig = Rig(journal=journal)
    rig.start()
    _answer(rig, "TCS", True)
    _answer(rig, "ITC", False)
    journal.flush()
    assert "NSE:TCS" in rig.engine.watchlist
    assert _saved(path) == listed  # ITC kept for the next start, in its place
    alarms = [a.message for a in rig.pub.of(p.Alarm)]
    assert any("NSE:ITC" in m and "cannot reach the server" in m for m in alarms), alarms
    journal.close()
