"""Journal: write/restore round trip, WAL, versioning and migration, CSV export via the CLI."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cockpit.domain.exits import ExitPlan
from cockpit.domain.feed import OrderUpdate
from cockpit.domain.orders import Order, OrderRequest, OrderStatus, OrderType, Side
from cockpit.journal import SCHEMA_VERSION, Journal, JournalError, JournalVersionError
from cockpit.journal.store import SCHEMA_V1
from cockpit.link.protocol import FillView, PlaceEntry


def an_order(
    cid: str,
    status: str = "open",
    *,
    ts_ns: int | None = None,
    side: str = "BUY",
    order_type: str = "LIMIT",
    price: int | None = 30_000,
    filled: Decimal = Decimal(0),
    **kw: Any,
) -> Order:
    """A domain order as the engine journals it."""
    ts = time.time_ns() if ts_ns is None else ts_ns
    return Order(
        cid=cid,
        key="NSE:INFY",
        side=Side(side),
        type=OrderType(order_type),
        qty=Decimal(10),
        price_ticks=price,
        status=OrderStatus(status),
        filled_qty=filled,
        created_ns=ts,
        updated_ns=ts,
        **kw,
    )


def fill_view(cid: str, ts_ns: int, **kw: object) -> FillView:
    base: dict[str, object] = dict(
        cid=cid, key="NSE:INFY", side="BUY", qty=Decimal(10), price=Decimal("1500.05"), ts_ns=ts_ns
    )
    base.update(kw)
    return FillView(**base)  # type: ignore[arg-type]


@pytest.fixture
def jpath(tmp_path: Path) -> Path:
    return tmp_path / "data" / "default.sqlite3"


def test_new_journal_is_wal_with_current_version(jpath: Path) -> None:
    with Journal.open(jpath) as j:
        assert j.pragma("journal_mode") == "wal"
        assert j.pragma("synchronous") == 1  # NORMAL
        assert j.session == 1
    conn = sqlite3.connect(jpath)
    assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    assert stat_mode(jpath) == 0o600


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_round_trip_plans_orders_positions_fills(jpath: Path) -> None:
    plan = ExitPlan(
        side=Side.BUY,
        qty=Decimal(10),
        entry_ticks=30_000,
        stop=29_980,
        target=30_040,
        created_ns=time.time_ns(),
    )
    now = time.time_ns()
    with Journal.open(jpath, venue="paper") as j:
        row = j.command(7, PlaceEntry(id=3, key="NSE:INFY", side="BUY", qty=Decimal(10)))
        j.command_outcome(row, "ack")
        j.order(an_order("c1", status="pending_new"))
        j.order(an_order("c1", status="open", venue_id="V1"))
        j.order(an_order("c2", status="complete", filled=Decimal(10)))
        j.order(an_order("c3", status="rejected", reason="margin"))
        j.order_update(
            OrderUpdate(
                orderid="V1",
                exchange="NSE",
                symbol="INFY",
                action="BUY",
                status="open",
                recv_ns=now,
            ),
            cid="c1",
        )
        assert j.fill(
            fill_view("c2", now, venue_id="V2"),
            trade_id="T1",
        )
        # a repeated trade id is not journaled twice
        assert not j.fill(
            fill_view("c2", now),
            trade_id="T1",
        )
        j.plan("NSE:INFY", plan.to_state(), change="created")
        plan.on_tick(30_010, now)  # ratchets best price
        j.plan("NSE:INFY", plan.to_state(), change="tick")
        j.plan("NSE:TCS", {"closed": True, "v": 1}, change="fired")
        j.plan("NSE:SBIN", {"v": 1, "x": 1})
        j.plan_removed("NSE:SBIN", "detached")
        j.position("NSE:INFY", {"qty": "10", "avg_price": "1500.05", "realized": "0"})
        assert j.count("commands") == 1
        assert j.count("order_events") == 1

    with Journal.open(jpath) as j2:
        rec = j2.recover()
        assert rec.last_session == 1
        assert not rec.unclean
        assert list(rec.plans) == ["NSE:INFY"]
        restored = ExitPlan.from_state(rec.plans["NSE:INFY"])
        assert restored.to_state() == plan.to_state()
        assert [o.cid for o in rec.open_orders] == ["c1"]
        assert rec.open_orders[0].venue_id == "V1"
        assert rec.open_orders[0].price_ticks == 30_000
        assert rec.positions["NSE:INFY"]["qty"] == "10"
        assert [(f.cid, f.price) for f in rec.fills] == [("c2", Decimal("1500.05"))]
        assert {o.cid for o in j2.orders()} == {"c1", "c2", "c3"}


def test_domain_order_is_journaled_too(jpath: Path) -> None:
    req = OrderRequest(
        key="NSE:INFY",
        side=Side.SELL,
        qty=Decimal(5),
        type=OrderType.SL_M,
        trigger_ticks=100,
        tag="exit",
    )
    order = Order.from_request("x1", req, time.time_ns())
    with Journal.open(jpath) as j:
        j.order(order)
        rec = j.recover()
    assert [o.cid for o in rec.open_orders] == ["x1"]
    assert rec.open_orders[0].tag == "exit"
    assert rec.open_orders[0].status == "pending_new"
    assert rec.open_orders[0].order_type == "SL-M"
    assert rec.open_orders[0].trigger_ticks == 100


def test_crash_leaves_unclean_session_and_data(jpath: Path) -> None:
    code = (
        "import os, sys\n"
        "from decimal import Decimal\n"
        "from cockpit.journal import Journal\n"
        "j = Journal.open(sys.argv[1])\n"
        "j.plan('NSE:INFY', {'v': 1, 'stop': 99})\n"
        "os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(jpath)], check=False, timeout=60)
    with Journal.open(jpath) as j:
        rec = j.recover()
    assert rec.unclean
    assert rec.plans == {"NSE:INFY": {"v": 1, "stop": 99}}


def _sql(path: Path, script: str) -> None:
    """Write to a journal file behind the Journal's back (odd, foreign or old files)."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript(script)
        conn.commit()
    finally:
        conn.close()


def test_newer_version_is_refused_clearly(jpath: Path) -> None:
    with Journal.open(jpath):
        pass
    _sql(jpath, "UPDATE schema_version SET version = 99;")
    with pytest.raises(JournalVersionError, match="newer than this cockpit understands"):
        Journal.open(jpath)


def test_unknown_old_version_is_refused(jpath: Path) -> None:
    jpath.parent.mkdir(parents=True)
    _sql(
        jpath,
        "CREATE TABLE schema_version (version INTEGER); INSERT INTO schema_version VALUES (0);",
    )
    with pytest.raises(JournalVersionError, match="cannot migrate"):
        Journal.open(jpath)


def test_other_sqlite_file_is_refused(jpath: Path) -> None:
    jpath.parent.mkdir(parents=True)
    _sql(jpath, "CREATE TABLE notes (x);")
    with pytest.raises(JournalError, match="not a cockpit journal"):
        Journal.open(jpath)
    jpath.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(JournalError):
        Journal.open(jpath)


def test_version_1_journal_is_migrated_keeping_data(jpath: Path) -> None:
    jpath.parent.mkdir(parents=True)
    _sql(
        jpath,
        SCHEMA_V1
        + "INSERT INTO schema_version VALUES (1);"
        + "INSERT INTO sessions(started_ns, profile, venue, pid) VALUES (1, 'd', 'p', 1);"
        + "INSERT INTO plans VALUES ('NSE:INFY', 1, 5, 1, '{\"v\": 1, \"stop\": 7}');"
        + "INSERT INTO commands(session, ts_ns, conn_id, cmd_id, kind, body) "
        + "VALUES (1, 5, 1, 1, 'Ping', '{}');",
    )
    with Journal.open(jpath) as j:
        assert j.recover().plans == {"NSE:INFY": {"v": 1, "stop": 7}}
        j.command_outcome(1, "ack")  # a v2 column
        j.instrument("NSE:INFY", Decimal("0.05"))  # a v2 table
    conn = sqlite3.connect(jpath)
    assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT outcome FROM commands").fetchone()[0] == "ack"


def test_an_index_nothing_reads_is_dropped_when_written_and_kept_when_read(jpath: Path) -> None:
    Journal.open(jpath).close()
    _sql(jpath, "CREATE INDEX orders_venue ON orders(venue_id);")  # as older journals have it
    indexes = "SELECT name FROM sqlite_master WHERE type='index' AND name='orders_venue'"
    Journal.open(jpath, start_session=False).close()  # reading writes nothing
    assert sqlite3.connect(jpath).execute(indexes).fetchall() == [("orders_venue",)]
    with Journal.open(jpath) as j:
        j.order(an_order("c1", venue_id="v1"))
        assert [r.cid for r in j.recover().open_orders] == ["c1"]
    assert sqlite3.connect(jpath).execute(indexes).fetchall() == []


def _fill_journal(jpath: Path) -> None:
    now = time.time_ns()
    with Journal.open(jpath) as j:
        j.instrument("NSE:INFY", Decimal("0.05"))
        j.order(
            an_order(
                "c1",
                status="complete",
                filled=Decimal(10),
                price=30_001,
            )
        )
        j.order(
            an_order(
                "c2", status="complete", side="SELL", tag="exit", order_type="MARKET", price=None
            )
        )
        j.fill(
            fill_view("c1", now, venue_id="V1"),
            trade_id="T1",
        )
        j.fill(
            fill_view("c2", now + 1, side="SELL", price=Decimal("1501.10"), venue_id="V2"),
            trade_id="T2",
        )


def _cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cockpit.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def test_export_trades_and_orders_through_the_cli(jpath: Path, tmp_path: Path) -> None:
    _fill_journal(jpath)
    out = _cli("journal", "export", "--journal", str(jpath), "--what", "trades", "--out", "-")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [(r["side"], r["qty"], r["price"], r["tag"]) for r in rows] == [
        ("BUY", "10", "1500.05", "entry"),
        ("SELL", "10", "1501.10", "exit"),
    ]
    assert rows[0]["value"] == "15000.50"
    assert "exported 2 trades" in out.stderr

    dest = tmp_path / "orders.csv"
    out = _cli(
        "journal",
        "export",
        "--journal",
        str(jpath),
        "--what",
        "orders",
        "--out",
        str(dest),
        "--day",
        "today",
    )
    assert out.returncode == 0, out.stderr
    orders = list(csv.DictReader(dest.open()))
    assert [(o["cid"], o["price"], o["status"]) for o in orders] == [
        ("c1", "1500.05", "complete"),
        ("c2", "", "complete"),
    ]
    out = _cli("journal", "export", "--journal", str(jpath), "--day", "2001-01-01")
    assert out.returncode == 0
    assert len(list(csv.reader(io.StringIO(out.stdout)))) == 1  # header only
    # export did not add a session
    with Journal.open(jpath, start_session=False) as j:
        assert j.recover().last_session == 1


def test_export_default_profile_path_and_errors(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "xdg"))
    out = _cli("journal", "export", "--profile", "p1", env=env)
    assert out.returncode == 1
    assert "no journal at" in out.stderr
    assert "p1.sqlite3" in out.stderr
    _fill_journal(tmp_path / "xdg" / "cockpit" / "p1.sqlite3")
    out = _cli("journal", "export", "--profile", "p1", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 3
    out = _cli("journal", "export", "--profile", "p1", "--day", "yesterday", env=env)
    assert out.returncode == 2
    assert "YYYY-MM-DD" in out.stderr


def test_one_writer_per_journal_file(jpath: Path) -> None:
    code = (
        "import sys, time\n"
        "from cockpit.journal import Journal\n"
        "j = Journal.open(sys.argv[1])\n"
        "print('open', flush=True)\n"
        "sys.stdin.readline()\n"
        "j.close()\n"
    )
    other = subprocess.Popen(
        [sys.executable, "-c", code, str(jpath)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None
        assert other.stdout.readline().strip() == "open"
        with pytest.raises(JournalError, match=f"in use by another engine \\(pid {other.pid}\\)"):
            Journal.open(jpath)
        # readers (export) are fine meanwhile
        with Journal.open(jpath, start_session=False) as reader:
            assert reader.recover().last_session == 1
    finally:
        other.communicate("\n", timeout=30)
    with Journal.open(jpath) as again:  # released when the other closed it
        assert again.session == 2
        with Journal.open(jpath) as same_process:  # shared within one process
            assert same_process.session == 3


def test_transaction_commits_once_and_rolls_back_on_error(jpath: Path) -> None:
    with Journal.open(jpath) as j:

        def failing_batch() -> None:
            with j.transaction():
                j.plan("NSE:INFY", {"closed": False}, "fired")
                j.order(an_order("c1"))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            failing_batch()
        assert j.count("plans") == 0
        assert j.count("orders") == 0
        with j.transaction():
            j.plan("NSE:INFY", {"closed": False}, "fired")  # nested BEGIN joins the outer one
            j.order(an_order("c1"))
        assert j.count("plans") == 1
        assert j.count("orders") == 1


def test_wal_is_checkpointed_by_a_background_thread_not_the_writer(jpath: Path) -> None:
    j = Journal.open(jpath, checkpoint_interval_s=0.05)
    try:
        assert j.pragma("wal_autocheckpoint") == 0
        assert any(t.name == "journal-checkpoint" for t in threading.enumerate())
        time.sleep(0.2)  # let the schema be checkpointed first
        before = jpath.stat().st_size
        for n in range(100):
            j.order(an_order(f"c{n}", reason="x" * 200))
        # Only a checkpoint copies pages from the WAL into the database file (SQLite's own
        # would wait for 1000 pages, and it is off on the writer).
        deadline = time.monotonic() + 5
        while jpath.stat().st_size <= before:
            assert time.monotonic() < deadline, "the WAL was never checkpointed"
            time.sleep(0.02)
    finally:
        j.close()
    assert not any(t.name == "journal-checkpoint" for t in threading.enumerate())


def test_no_checkpoint_thread_when_disabled(jpath: Path) -> None:
    with Journal.open(jpath, checkpoint_interval_s=None) as j:
        assert j.pragma("wal_autocheckpoint") == 1000
        assert not any(t.name == "journal-checkpoint" for t in threading.enumerate())


def test_final_orders_are_the_last_ones_ended_since_a_time_in_the_order_they_ended(
    jpath: Path,
) -> None:
    """What a restarted engine shows as recent orders: today's ended ones, not yesterday's
    nor the working ones, the newest ``limit`` of them, oldest first."""
    day = 1_000_000_000_000
    with Journal.open(jpath, venue="paper") as j:
        j.order(an_order("old", status="complete", ts_ns=day - 1))
        j.order(an_order("c1", status="cancelled", ts_ns=day + 30))
        j.order(an_order("c2", status="complete", ts_ns=day + 10))
        j.order(an_order("c3", status="rejected", reason="margin", ts_ns=day + 20))
        j.order(an_order("w1", status="open", ts_ns=day + 40))
        assert [o.cid for o in j.final_orders(day, 10)] == ["c2", "c3", "c1"]
        assert [o.cid for o in j.final_orders(day, 2)] == ["c3", "c1"]
        assert j.final_orders(day, 10)[1].reason == "margin"
