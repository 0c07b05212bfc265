"""Crash safety: SIGKILL the engine with an open trailing plan, restart it, and it carries on.

The real ``cockpit engine run`` process talks to an in-thread paper exchange (scripted
prices) through the OpenAlgo feed and router; the test is a viewer on the engine's socket
(``EngineClient``). After the kill the journal restores the plan (same stop, same high-water
mark), the engine reconciles with the broker, and the next pullback exits exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cockpit.link import protocol as p
from cockpit.link.client import EngineClient, EngineNotRunning
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from tests.engine_child import REPO, child_env, engine_run_argv
from tests.servers.base import poll_until


def wait(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    return poll_until(pred, timeout, what, interval=0.05)


class EngineProc:
    """`cockpit engine run` against the paper exchange, in private XDG directories."""

    def __init__(self, root: Path, sim: SimHandle) -> None:
        self.root = root
        self.journal = root / "journal.sqlite3"
        self.socket = root / "run" / "cockpit" / "default.sock"
        self.env = child_env(
            root,
            OPENALGO_API_KEY=sim.api_key,
            COCKPIT_TRADING__WATCHLIST=json.dumps(["NSE:SBIN", "NSE:INFY"]),
            COCKPIT_TRADING__ARMED_AT_START="true",
        )
        self.sim = sim
        self.proc: subprocess.Popen[bytes] | None = None
        self._logs: list[Any] = []

    def start(self) -> None:
        log = open(self.root / "engine.log", "ab")  # noqa: SIM115 (closed in stop)
        self._logs.append(log)
        self.proc = subprocess.Popen(
            engine_run_argv(self.sim, "--journal", str(self.journal)),
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=self.env,
            cwd=str(REPO),
        )

    def connect(self, timeout: float = 30.0) -> EngineClient:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                log = (self.root / "engine.log").read_text(errors="replace")[-2000:]
                raise AssertionError(f"engine exited with {self.proc.returncode}:\n{log}")
            try:
                return EngineClient.connect(path=self.socket, client="crash-test")
            except EngineNotRunning:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for log in self._logs:
            log.close()


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    handle = start_in_thread(SimConfig(seed=3, rate=20.0, paused=True))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def engine(tmp_path: Path, sim: SimHandle) -> Iterator[EngineProc]:
    # A short root: Unix socket paths are limited to ~107 bytes.
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"cc{os.getpid()}{time.monotonic_ns() % 10**6}"
    root.mkdir()
    proc = EngineProc(root, sim)
    try:
        yield proc
    finally:
        proc.stop()
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def sim_orders(sim: SimHandle, symbol: str) -> list[tuple[str, int, str]]:
    reply = httpx.post(f"{sim.rest_url}/api/v1/orderbook", json={"apikey": sim.api_key})
    rows = [r for r in reply.json()["data"]["orders"] if r["symbol"] == symbol]
    rows.sort(key=lambda r: r["orderid"])
    return [(r["action"], int(r["quantity"]), r["order_status"]) for r in rows]


class Viewer:
    """Collects what the engine sends to one client."""

    def __init__(self, client: EngineClient) -> None:
        self.client = client
        self.snapshot = client.snapshot()
        self.msgs: list[Any] = []

    def pump(self) -> None:
        while True:
            msg = self.client.recv(timeout=0.05)
            if msg is None:
                return
            self.msgs.append(msg)

    def until(self, pred: Callable[[Any], bool], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            for msg in self.msgs:
                if pred(msg):
                    return msg
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            self.pump()

    def command(self, cmd: p.Msg) -> p.Msg:
        cmd_id = self.client.send(cmd)  # type: ignore[arg-type]  (the client renumbers it)
        return self.until(
            lambda m: isinstance(m, p.Ack | p.Refused) and m.id == cmd_id,
            10,
            f"answer to {type(cmd).__name__}",
        )

    def price(self, sim: SimHandle, price: str, ticks: int, timeout: float = 15.0) -> None:
        """Put SBIN at ``price`` and wait until the engine shows it (re-sent until then:
        right after start the feed may not have subscribed yet, and the market is paused)."""
        deadline = time.monotonic() + timeout
        while True:
            sim.set_price("NSE", "SBIN", price)
            try:
                self.until(
                    lambda m: (
                        isinstance(m, p.MarketBatch)
                        and any(q.key == "NSE:SBIN" and q.ltp == ticks for q in m.quotes)
                    ),
                    0.5,
                    f"SBIN at {price}",
                )
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise


def journaled_stop(journal: Path) -> int | None:
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=2)
    try:
        row = conn.execute("SELECT state FROM plans WHERE key='NSE:SBIN' AND open=1").fetchone()
    finally:
        conn.close()
    return None if row is None else json.loads(row[0])["stop"]


def test_sigkill_with_an_open_trailing_plan_then_restart_restores_it(
    sim: SimHandle, engine: EngineProc
) -> None:
    engine.start()
    viewer = Viewer(engine.connect())
    viewer.price(sim, "800.00", 16000)
    trail = p.TrailView("ticks", Decimal(4))
    answer = viewer.command(
        p.PlaceEntry(
            id=1,
            key="NSE:SBIN",
            side="BUY",
            qty=Decimal(10),
            plan=p.PlanSpec(stop_ticks=10, target_ticks=None, trail=trail),
        )
    )
    assert isinstance(answer, p.Ack), answer
    attached = viewer.until(
        lambda m: isinstance(m, p.PlanEvent) and m.change == "attached", 10, "plan attached"
    )
    entry = attached.plan.entry
    for price, ticks in (("800.50", 16010), ("801.00", 16020)):
        viewer.price(sim, price, ticks)
    expected_stop = 16020 - 4
    wait(lambda: journaled_stop(engine.journal) == expected_stop, 10, "the ratchet journaled")
    viewer.client.close()

    engine.kill()  # no clean shutdown, no journal close
    sim.set_price("NSE", "SBIN", "800.95")  # the market moves while the engine is down

    engine.start()
    viewer = Viewer(engine.connect())
    plans = {plan.key: plan for plan in viewer.snapshot.plans}
    assert plans["NSE:SBIN"].stop == expected_stop
    assert plans["NSE:SBIN"].entry == entry
    assert plans["NSE:SBIN"].high_water == 16020
    assert [pos.qty for pos in viewer.snapshot.positions if pos.key == "NSE:SBIN"] == [10]

    viewer.price(sim, "800.75", 16015)  # below the restored stop 800.80
    fired = viewer.until(lambda m: isinstance(m, p.ExitFired), 15, "the exit")
    assert fired.reason == "trailing_stop"
    assert fired.level == expected_stop
    wait(lambda: len(sim_orders(sim, "SBIN")) >= 2, 10, "the exit at the sim")
    time.sleep(0.3)  # nothing more may arrive
    assert sim_orders(sim, "SBIN") == [("BUY", 10, "complete"), ("SELL", 10, "complete")]


def _mount_tmpfs(where: Path, size: str) -> bool:
    """A tiny tmpfs at ``where`` (root only); False where that is not allowed."""
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _fill(where: Path) -> Path:
    """Fill the filesystem at ``where`` up to its last byte; the filler file."""
    filler = where / "filler"
    with open(filler, "wb", buffering=0) as f:
        for size in (65536, 512):  # then the last partial chunk
            try:
                while f.write(b"\0" * size):
                    pass
            except OSError:
                pass
    return filler


def test_a_full_disk_under_the_journal_still_exits_then_refuses_entries_until_it_writes(
    sim: SimHandle, engine: EngineProc
) -> None:
    """Issue 16.4: with the journal's disk full the engine lives on: the exit still goes,
    the failure is alarmed, entries are refused; once space is back, entries are allowed."""
    jfs = engine.root / "jfs"
    if not _mount_tmpfs(jfs, "2m"):
        pytest.skip("needs root to mount a tmpfs")
    try:
        engine.journal = jfs / "journal.sqlite3"
        engine.start()
        viewer = Viewer(engine.connect())
        viewer.price(sim, "800.00", 16000)
        answer = viewer.command(
            p.PlaceEntry(
                id=1, key="NSE:SBIN", side="BUY", qty=Decimal(10),
                plan=p.PlanSpec(stop_ticks=10, target_ticks=None),
            )
        )  # fmt: skip
        assert isinstance(answer, p.Ack), answer
        viewer.until(lambda m: isinstance(m, p.PlanEvent) and m.change == "attached", 10, "plan")
        filler = _fill(jfs)
        # Journal writes until one fails (SQLite reuses what its files already hold first).
        deadline = time.monotonic() + 30
        while not any(isinstance(m, p.Alarm) and m.code == "journal" for m in viewer.msgs):
            assert time.monotonic() < deadline, "no journal alarm with the disk full"
            viewer.command(p.SetArmed(id=0, armed=True))
        viewer.price(sim, "799.00", 15980)  # through the stop 799.50
        fired = viewer.until(lambda m: isinstance(m, p.ExitFired), 15, "the exit")
        assert fired.reason == "stop"
        wait(lambda: len(sim_orders(sim, "SBIN")) >= 2, 10, "the exit at the sim")
        assert sim_orders(sim, "SBIN") == [("BUY", 10, "complete"), ("SELL", 10, "complete")]
        refused = viewer.command(p.PlaceEntry(id=0, key="NSE:SBIN", side="BUY", qty=Decimal(1)))
        assert isinstance(refused, p.Refused)
        assert refused.rule == "journal"
        assert engine.proc is not None
        assert engine.proc.poll() is None  # alive all along
        filler.unlink()  # space again: the timer's next try writes
        viewer.until(lambda m: isinstance(m, p.Alarm) and m.code == "journal_ok", 10, "ok")
        again = viewer.command(p.PlaceEntry(id=0, key="NSE:SBIN", side="BUY", qty=Decimal(1)))
        assert isinstance(again, p.Ack), again
    finally:
        engine.stop()
        subprocess.run(["umount", "-l", str(jfs)], capture_output=True, check=False)


def test_stop_flatten_is_bounded_and_names_the_orders_still_working(
    sim: SimHandle, engine: EngineProc, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Issue 17.1: ``cockpit engine stop --flatten`` never hangs on an order the venue does not
    cancel: it waits a bounded time, then says which orders are still working, and fails."""
    from cockpit.config import Settings
    from cockpit.daemon.main import stop

    engine.start()
    viewer = Viewer(engine.connect())
    viewer.price(sim, "800.00", 16000)
    answer = viewer.command(
        p.PlaceEntry(
            id=1, key="NSE:SBIN", side="BUY", qty=Decimal(1), order_type="LIMIT", price=15000
        )
    )
    assert isinstance(answer, p.Ack), answer
    acked = viewer.until(
        lambda m: isinstance(m, p.OrderEvent) and m.order.venue_id, 10, "the venue's ack"
    )
    viewer.client.close()
    sim.stop()  # the venue is gone: the cancel cannot be carried out
    for name in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, engine.env[name])
    started = time.monotonic()
    assert stop(Settings(), flatten=True, timeout=3.0) == 1
    assert time.monotonic() - started < 20
    err = capsys.readouterr().err
    assert "still running after 3s; still:" in err
    assert f"working: NSE:SBIN BUY 1 LIMIT #{acked.order.venue_id}" in err


def _show(viewer: Viewer, sim: SimHandle, symbol: str, price: str) -> None:
    """Put ``symbol`` at ``price`` and wait until the engine shows it."""
    ticks = int(Decimal(price) / Decimal("0.05"))
    key = f"NSE:{symbol}"
    deadline = time.monotonic() + 15
    while True:
        sim.set_price("NSE", symbol, price)
        try:
            viewer.until(
                lambda m: (
                    isinstance(m, p.MarketBatch)
                    and any(q.key == key and q.ltp == ticks for q in m.quotes)
                ),
                0.5,
                f"{symbol} at {price}",
            )
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def journaled_sells(journal: Path) -> dict[str, int]:
    """The exit orders the journal holds (committed), by symbol."""
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=2)
    try:
        rows = conn.execute("SELECT key FROM orders WHERE side='SELL'").fetchall()
    finally:
        conn.close()
    out: dict[str, int] = {}
    for (key,) in rows:
        out[key] = out.get(key, 0) + 1
    return out


@pytest.mark.parametrize("delay_s", [0.0, 0.001, 0.002])
def test_sigkill_during_a_burst_every_exit_at_the_venue_was_journaled_and_none_goes_twice(
    sim: SimHandle, engine: EngineProc, delay_s: float
) -> None:
    """Both symbols gap through their stops at once; the engine is killed as the first exit
    is on its way (each may be decided, committed, on the wire or not yet). Every
    exit the venue holds was committed to the journal before it was sent, and after a
    restart each position is closed by exactly one exit."""
    engine.start()  # [engine] journal_writer is on by default: commits on the writer thread
    viewer = Viewer(engine.connect())
    prices = {"SBIN": ("800.00", "799.00"), "INFY": ("1500.00", "1499.00")}  # stops 0.50 below
    for symbol, (entry, _gap) in prices.items():
        _show(viewer, sim, symbol, entry)
        answer = viewer.command(
            p.PlaceEntry(
                id=0, key=f"NSE:{symbol}", side="BUY", qty=Decimal(10),
                plan=p.PlanSpec(stop_ticks=10, target_ticks=None),
            )
        )  # fmt: skip
        assert isinstance(answer, p.Ack), answer
    wait(lambda: _attached(viewer) == 2, 15, "two plans")
    viewer.client.close()

    for symbol, (_entry, gap) in prices.items():
        sim.set_price("NSE", symbol, gap)  # through both stops, back to back
    time.sleep(delay_s)
    engine.kill()
    at_venue = {s: sum(a == "SELL" for a, _q, _st in sim_orders(sim, s)) for s in prices}
    journaled = journaled_sells(engine.journal)
    for symbol, sells in at_venue.items():
        assert journaled.get(f"NSE:{symbol}", 0) >= sells, (at_venue, journaled)

    engine.start()
    viewer = Viewer(engine.connect())
    for symbol, (_entry, gap) in prices.items():  # the market goes on ticking
        _show(viewer, sim, symbol, str(Decimal(gap) - Decimal("0.05")))
    wait(
        lambda: all(sum(a == "SELL" for a, _q, _st in sim_orders(sim, s)) == 1 for s in prices),
        20,
        "one exit per position at the venue",
    )
    time.sleep(1.0)  # a second exit, if one were coming, has had its time
    for symbol in prices:
        assert sim_orders(sim, symbol) == [("BUY", 10, "complete"), ("SELL", 10, "complete")]


def _attached(viewer: Viewer) -> int:
    viewer.pump()
    return sum(isinstance(m, p.PlanEvent) and m.change == "attached" for m in viewer.msgs)
