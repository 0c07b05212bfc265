"""The paper exchange keeps its account across a crash: orders, fills, positions, funds and
realized P&L are on disk and reloaded at start (issue 15 item 6).

The sim is a real ``cockpit sim`` process, SIGKILLed and started again on the same state
directory; an engine started by ``cockpit engine start`` finds its profile's account by itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cockpit.sim import SimConfig, start_in_thread
from cockpit.sim.accounts import STATE_FILE, AccountStore, StateLocked
from tests.engine_child import REPO


class SimProc:
    """``cockpit sim`` as a child process on free ports, with a known key."""

    def __init__(self, tmp: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.extra = extra
        self.env = dict(env or os.environ, COCKPIT_SIM_API_KEY="k" * 32, PYTHONPATH=str(REPO))
        self.proc: subprocess.Popen[bytes] | None = None
        self.rest = ""

    def start(self) -> SimProc:
        ports = self.tmp / "ports.json"
        ports.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cockpit.cli", "sim", "--rest-port", "0", "--ws-port", "0",
             "--ports-file", str(ports), "--paused", "--seed", "4", *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env, cwd=str(REPO),
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not ports.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                err = self.proc.stderr.read() if self.proc.stderr else b""
                raise AssertionError(f"sim did not start: {err.decode(errors='replace')}")
            time.sleep(0.02)
        info = json.loads(ports.read_text())
        assert "api_key" not in info  # the caller gave the key: none is written to disk
        self.rest = f"http://127.0.0.1:{info['rest_port']}"
        return self

    def post(self, path: str, **body: Any) -> Any:
        resp = httpx.post(f"{self.rest}/{path}", json={"apikey": "k" * 32, **body}, timeout=10)
        return resp.status_code, resp.json()

    def order(self, **extra: Any) -> str:
        body = {"strategy": "t", "exchange": "NSE", "symbol": "SBIN", "action": "BUY",
                "quantity": "1", "pricetype": "MARKET", "product": "MIS"}  # fmt: skip
        body.update(extra)
        status, answer = self.post("api/v1/placeorder", **body)
        assert status == 200, answer
        return str(answer["orderid"])

    def books(self) -> dict[str, Any]:
        return {
            name: self.post(f"api/v1/{name}")[1]["data"]
            for name in ("orderbook", "tradebook", "positionbook", "funds")
        }

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def sims() -> Iterator[list[SimProc]]:
    started: list[SimProc] = []
    yield started
    for sim in started:
        sim.stop()


def _price(sim: SimProc, ltp: str) -> None:
    status, answer = sim.post("sim/price", exchange="NSE", symbol="SBIN", ltp=ltp)
    assert status == 200, answer


def test_account_survives_sigkill_and_restart(tmp_path: Path, sims: list[SimProc]) -> None:
    state = tmp_path / "paper"
    sim = SimProc(tmp_path, "--state-dir", str(state)).start()
    sims.append(sim)
    _price(sim, "800.00")
    sim.order(quantity="10")  # long 10 at the ask 800.05
    _price(sim, "801.00")
    sim.order(action="SELL", quantity="4")  # 4 closed at the bid 800.95: +3.60
    _price(sim, "802.00")
    working = sim.order(pricetype="LIMIT", price="790.00", quantity="2")
    stop = sim.order(action="SELL", pricetype="SL-M", trigger_price="780.00", quantity="6")
    before = sim.books()
    position = before["positionbook"][0]
    assert (position["quantity"], position["today_realized_pnl"]) == (6, 3.6)
    sim.kill()

    again = SimProc(tmp_path, "--state-dir", str(state)).start()
    sims.append(again)
    after = again.books()
    assert after["orderbook"] == before["orderbook"]
    assert after["tradebook"] == before["tradebook"]
    assert after["positionbook"] == before["positionbook"]  # the market resumed at 802.00
    assert after["funds"] == before["funds"]
    # the working orders still work: the stop fires, the limit can be cancelled
    status, answer = again.post("api/v1/cancelorder", strategy="t", orderid=working)
    assert status == 200, answer
    _price(again, "779.00")
    _, stop_status = again.post("api/v1/orderstatus", strategy="t", orderid=stop)
    assert stop_status["data"]["order_status"] == "complete"
    # new ids never repeat a restored one
    fresh = again.order(quantity="1")
    assert fresh not in {row["orderid"] for row in before["orderbook"]["orders"]}
    trade_ids = [row["tradeid"] for row in again.books()["tradebook"]]
    assert len(trade_ids) == len(set(trade_ids))


def test_without_a_state_dir_a_standalone_sim_forgets(tmp_path: Path, sims: list[SimProc]) -> None:
    sim = SimProc(tmp_path).start()
    sims.append(sim)
    sim.order(quantity="3")
    sim.kill()
    again = SimProc(tmp_path).start()
    sims.append(again)
    assert again.books()["positionbook"] == []


def test_started_by_an_engine_it_keeps_the_profiles_account(
    tmp_path: Path, sims: list[SimProc]
) -> None:
    """The parent holds ``<runtime>/<profile>.pid`` with its pid: the sim keeps the account
    in ``<data>/cockpit/paper/<profile>`` with no flag (here the test plays the engine)."""
    run = tmp_path / "run" / "cockpit"
    run.mkdir(parents=True, mode=0o700)
    (run / "desk.pid").write_text(f"{os.getpid()}\n")
    env = dict(
        os.environ, XDG_RUNTIME_DIR=str(tmp_path / "run"), XDG_DATA_HOME=str(tmp_path / "data")
    )
    sim = SimProc(tmp_path, env=env).start()
    sims.append(sim)
    sim.order(quantity="5")
    state = tmp_path / "data" / "cockpit" / "paper" / "desk"
    assert (state / STATE_FILE).exists()
    assert state.stat().st_mode & 0o777 == 0o700
    sim.kill()
    again = SimProc(tmp_path, env=env).start()
    sims.append(again)
    assert [row["quantity"] for row in again.books()["positionbook"]] == [5]
    again.stop()
    off = SimProc(tmp_path, "--no-state", env=env).start()
    sims.append(off)
    assert off.books()["positionbook"] == []


def test_a_second_sim_on_the_same_account_is_refused(tmp_path: Path) -> None:
    first = AccountStore(tmp_path / "acct")
    try:
        with pytest.raises(StateLocked):
            AccountStore(tmp_path / "acct", lock_wait_s=0.2)
    finally:
        first.close()
    AccountStore(tmp_path / "acct", lock_wait_s=0.2).close()


def test_a_new_day_carries_positions_and_banks_the_realized_pnl(tmp_path: Path) -> None:
    state = tmp_path / "acct"
    cfg = SimConfig(seed=2, paused=True, state_dir=str(state))
    with start_in_thread(cfg) as sim:
        sim.set_price("NSE", "SBIN", "800.00")
        ex = sim.server.exchange
        for action, qty in (("BUY", 10), ("SELL", 4)):
            if action == "SELL":
                sim.set_price("NSE", "SBIN", "801.00")
            order = sim.call(
                lambda a=action, q=qty: ex.build(
                    strategy="t", exchange="NSE", symbol="SBIN", action=a, quantity=Decimal(q),
                    pricetype="MARKET", product="MIS", price=Decimal(0), trigger_price=Decimal(0),
                )
            )  # fmt: skip
            sim.call(ex.place, order)
        realized = sim.call(ex.realized)
        capital = sim.call(lambda: ex.capital)
    assert realized == Decimal("3.60")
    path = state / STATE_FILE
    lines = path.read_text().splitlines()
    head = json.loads(lines[0])
    head["day"] = "2000-01-01"
    path.write_text("\n".join([json.dumps(head), *lines[1:]]) + "\n")
    with start_in_thread(cfg) as sim:
        ex = sim.server.exchange
        assert sim.call(lambda: ex.capital) == capital + Decimal("3.60")
        rows, _ = sim.call(ex.positionbook)
        assert [(r["quantity"], r["average_price"], r["today_realized_pnl"]) for r in rows] == [
            (6, Decimal("800.05"), Decimal("0.00"))
        ]
        assert sim.call(ex.orderbook)["orders"] == []
        assert sim.call(ex.tradebook) == []


# -- through a real engine -----------------------------------------------------------------------


@pytest.fixture
def engine_env() -> Iterator[Any]:
    pytest.importorskip("cockpit.engine.core")
    from tests.integration.test_engine_cli import temp_env

    yield from temp_env("cka")


def _status_positions(env: Any, want: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        out = env.cli("engine", "status").stdout
        if want in out or time.monotonic() > deadline:
            return out
        time.sleep(0.2)


def test_the_paper_position_survives_a_killed_engine(engine_env: Any) -> None:
    from cockpit.link.client import EngineClient
    from cockpit.link.protocol import Ack, PlaceEntry, SetArmed

    env = engine_env
    assert env.cli("engine", "start").returncode == 0
    with EngineClient.connect(path=env.socket, client="test") as c:
        key = c.snapshot(timeout=10).watchlist[0]
        assert isinstance(c.request(SetArmed(id=0, armed=True)), Ack)
        deadline = time.monotonic() + 30
        while True:  # entries wait for the first reconciliation and a live feed
            answer = c.request(PlaceEntry(id=0, key=key, side="BUY", qty=Decimal(1)))
            if isinstance(answer, Ack) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert isinstance(answer, Ack), answer
    before = _status_positions(env, "positions 1 open")
    assert "positions 1 open" in before, before
    held = next(line for line in before.splitlines() if line.strip().startswith(key))
    os.kill(int(env.pidfile.read_text()), signal.SIGKILL)
    assert env.wait_gone() == []  # the paper exchange died with its engine
    assert (env.root / "data" / "cockpit" / "paper" / "default" / STATE_FILE).exists()

    assert env.cli("engine", "start").returncode == 0
    after = _status_positions(env, "positions 1 open")
    assert "positions 1 open" in after, after
    again = next(line for line in after.splitlines() if line.strip().startswith(key))
    assert again.split()[:4] == held.split()[:4]  # key, quantity, "avg", the same price
    out = env.cli("engine", "stop", "--flatten")
    assert out.returncode == 0, out.stdout + out.stderr
    assert env.wait_gone() == []


def test_a_torn_or_foreign_line_is_skipped_and_counted(tmp_path: Path) -> None:
    """A power cut can leave half a line; an instrument no longer listed leaves orphans.
    Neither stops the account from loading: what can be read is restored, the rest counted."""
    state = tmp_path / "acct"
    cfg = SimConfig(seed=2, paused=True, state_dir=str(state))
    with start_in_thread(cfg) as sim:
        sim.set_price("NSE", "SBIN", "800.00")
        ex = sim.server.exchange
        order = sim.call(
            lambda: ex.build(
                strategy="t", exchange="NSE", symbol="SBIN", action="BUY", quantity=Decimal(3),
                pricetype="MARKET", product="MIS", price=Decimal(0), trigger_price=Decimal(0),
            )
        )  # fmt: skip
        sim.call(ex.place, order)
    path = state / STATE_FILE
    with path.open("a") as fh:
        fh.write('{"k": "order", "id": "x", "key": "NSE:GONE", "strategy": "t"}\n')
        fh.write('{"k": "trade", "id": "9", "order": "nope", "price": 1, "steps": 1, "ts": ""}\n')
        fh.write('{"k": "order", "id": "26')  # torn by a crash mid-write
    with start_in_thread(cfg) as sim:
        assert sim.server.restored["skipped"] == 3
        rows, _ = sim.call(sim.server.exchange.positionbook)
        assert [r["quantity"] for r in rows] == [3]
    assert all(json.loads(line) for line in path.read_text().splitlines())  # compacted clean


def test_a_state_dir_that_is_not_ours_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "real"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    proc = subprocess.run(
        [sys.executable, "-m", "cockpit.cli", "sim", "--rest-port", "0", "--ws-port", "0",
         "--state-dir", str(link)],
        capture_output=True, text=True, timeout=60, cwd=str(REPO),
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )  # fmt: skip
    assert proc.returncode == 2
    assert "symlink" in proc.stderr
    assert "Traceback" not in proc.stderr
