"""`cockpit engine start|status|stop|run` through the real CLI, in temporary XDG dirs.

Each test gets its own runtime/data/config/state directories; every process started is
stopped (the fixture kills whatever is left and fails the test if anything was).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.link.client import EngineClient
from cockpit.link.protocol import Ack, PlaceEntry, SetArmed
from tests.engine_child import REPO, child_env

pytest.importorskip("cockpit.engine.core", reason="the engine core is not in this tree yet")


class Env:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = child_env(root, COCKPIT_SIM__RATE="20")
        self.procs: list[subprocess.Popen[str]] = []

    @property
    def socket(self) -> Path:
        return self.root / "run" / "cockpit" / "default.sock"

    @property
    def pidfile(self) -> Path:
        return self.root / "run" / "cockpit" / "default.pid"

    @property
    def log(self) -> Path:
        return self.root / "state" / "cockpit" / "log" / "engine-default.log"

    def cli(self, *argv: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cockpit.cli", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            cwd=str(REPO),
            check=False,
        )

    def popen(self, *argv: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cockpit.cli", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=str(REPO),
        )
        self.procs.append(proc)
        return proc

    def our_processes(self) -> list[int]:
        """Pids of processes whose environment points at this test's runtime dir."""
        found = []
        marker = f"XDG_RUNTIME_DIR={self.root / 'run'}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (entry / "environ").read_bytes()
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if marker in environ.split(b"\0") and stat.split(") ", 1)[1][:1] != "Z":
                found.append(int(entry.name))
        return found

    def wait_gone(self, timeout: float = 20) -> list[int]:
        deadline = time.monotonic() + timeout
        while (left := self.our_processes()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return left


def temp_env(prefix: str) -> Iterator[Env]:
    """An :class:`Env` in a fresh temporary root; afterwards kill what is left and fail if any."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    e = Env(root)
    yield e
    for proc in e.procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
    leftovers = e.our_processes()
    for pid in leftovers:
        with_suppress_kill(pid)
    shutil.rmtree(root, ignore_errors=True)
    assert not leftovers, f"processes left behind: {leftovers}"


@pytest.fixture
def env() -> Iterator[Env]:
    yield from temp_env("cke")


def with_suppress_kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_start_status_stop(env: Env) -> None:
    out = env.cli("engine", "status")
    assert out.returncode == 3
    assert "not running" in out.stdout

    out = env.cli("engine", "start")
    assert out.returncode == 0, out.stderr + env.log.read_text()
    assert "started for profile default" in out.stdout
    assert env.socket.exists()
    assert oct(env.socket.stat().st_mode & 0o777) == oct(0o600)
    pid = int(env.pidfile.read_text())
    assert len(env.our_processes()) == 2  # the engine and its paper exchange

    out = env.cli("engine", "start")
    assert out.returncode == 0
    assert f"already running for profile default (pid {pid}" in out.stdout

    out = env.cli("engine", "status")
    assert out.returncode == 0, out.stderr
    assert f"pid {pid}" in out.stdout
    assert "venue    paper" in out.stdout
    assert "feed     openalgo" in out.stdout
    assert "positions 0 open" in out.stdout
    assert "SCHED_FIFO" not in out.stdout  # no real-time scheduling of its own

    out = env.cli("engine", "stop")
    assert out.returncode == 0, out.stderr
    assert "stopped" in out.stdout
    assert env.wait_gone() == []
    assert not env.socket.exists()
    assert not env.pidfile.exists()
    # nothing secret went to the log
    log = env.log.read_text()
    assert "API key" not in log
    assert env.cli("engine", "status").returncode == 3
    assert env.cli("engine", "stop").returncode == 3


def _text_or_empty(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def test_a_detached_engine_rotates_its_log_past_the_limit(env: Env) -> None:
    env.log.parent.mkdir(parents=True, exist_ok=True)
    env.log.write_text("an old session's line\n" * 2000)  # 44 KB from earlier runs
    Path(f"{env.log}.1").write_text("older\n")
    env.env["COCKPIT_ENGINE__LOG_MAX_KB"] = "16"
    env.env["COCKPIT_ENGINE__LOG_KEEP"] = "2"
    assert env.cli("engine", "start").returncode == 0, env.log.read_text()[-2000:]
    part1 = Path(f"{env.log}.1")
    deadline = time.monotonic() + 10
    while "engine log rotated" not in _text_or_empty(env.log) and time.monotonic() < deadline:
        time.sleep(0.05)  # the log is briefly absent between its rename and the new file
    assert env.cli("engine", "stop").returncode == 0
    assert env.wait_gone() == []
    # The big log moved to .1 whole (with this engine's first lines), .1 to .2; the engine
    # went on writing the new file, to its last line.
    assert part1.read_text().startswith("an old session's line\n" * 2000)
    assert Path(f"{env.log}.2").read_text() == "older\n"
    new = env.log.read_text()
    assert "engine log rotated" in new
    assert "engine stopped" in new
    assert oct(env.log.stat().st_mode & 0o777) == oct(0o600)


def test_stop_refused_with_open_position_unless_flatten(env: Env) -> None:
    assert env.cli("engine", "start").returncode == 0
    with EngineClient.connect(path=env.socket, client="test") as c:
        snap = c.snapshot(timeout=10)
        key = snap.watchlist[0]
        assert isinstance(c.request(SetArmed(id=0, armed=True)), Ack)
        deadline = time.monotonic() + 30
        while True:  # entries wait for the first reconciliation and a live feed
            answer = c.request(PlaceEntry(id=0, key=key, side="BUY", qty=Decimal(1)))
            if isinstance(answer, Ack) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert isinstance(answer, Ack), answer
    deadline = time.monotonic() + 30
    while True:
        out = env.cli("engine", "status")
        if "positions 1 open" in out.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "positions 1 open" in out.stdout, out.stdout

    out = env.cli("engine", "stop")
    assert out.returncode == 1
    assert "stop refused" in out.stderr
    assert "--flatten" in out.stderr
    assert env.socket.exists()

    out = env.cli("engine", "stop", "--flatten")
    assert out.returncode == 0, out.stdout + out.stderr
    assert env.wait_gone() == []


def run_foreground(env: Env) -> subprocess.Popen[str]:
    """``cockpit engine run`` in the foreground, once its socket answers a snapshot."""
    proc = env.popen("engine", "run")
    deadline = time.monotonic() + 45
    while not env.socket.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    with EngineClient.connect(path=env.socket) as c:
        c.snapshot(timeout=10)
    return proc


def test_run_foreground_sigterm_is_a_clean_stop(env: Env) -> None:
    proc = run_foreground(env)
    # a second engine for the same profile is refused
    second = env.cli("engine", "run", timeout=60)
    assert second.returncode == 4  # ALREADY_RUNNING_EXIT: a start that lost a race attaches
    assert "already running" in second.stderr
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "engine stopping: signal SIGTERM" in err
    assert "engine stopped" in err
    assert not env.socket.exists()
    assert env.wait_gone() == []
    # the journal was closed cleanly: the session has an end
    from cockpit.journal import Journal

    with Journal.open(env.root / "data" / "cockpit" / "default.sqlite3", start_session=False) as j:
        recovery = j.recover()
    assert recovery.last_session == 1
    assert not recovery.unclean


def test_killed_engine_takes_its_paper_exchange_along_and_restarts(env: Env) -> None:
    assert env.cli("engine", "start").returncode == 0
    pid = int(env.pidfile.read_text())
    os.kill(pid, signal.SIGKILL)
    assert env.wait_gone() == []  # the sim child died with it (PDEATHSIG)
    assert env.socket.exists()  # a stale socket is left behind ...
    out = env.cli("engine", "status")
    assert out.returncode == 3
    out = env.cli("engine", "start")  # ... and replaced by the next engine
    assert out.returncode == 0, out.stderr
    assert env.cli("engine", "stop").returncode == 0
    assert env.wait_gone() == []


def test_attach_or_start_starts_once_then_attaches(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cockpit.config import load_settings
    from cockpit.link.attach import attach_or_start

    for name in list(os.environ):
        if name.startswith(("COCKPIT_", "OPENALGO_", "KITE_")):
            monkeypatch.delenv(name)
    for name in (
        "XDG_RUNTIME_DIR",
        "XDG_DATA_HOME",
        "XDG_CONFIG_HOME",
        "XDG_STATE_HOME",
        "PYTHONPATH",
    ):
        monkeypatch.setenv(name, env.env[name])
    settings = load_settings()
    first = attach_or_start(settings, client="tui-test")
    with first.client as c:
        assert first.started
        assert first.notice is None
        assert c.snapshot(timeout=10).watchlist
    second = attach_or_start(settings, client="tui-test")
    with second.client:
        assert not second.started
        assert second.client.welcome.engine_pid == first.client.welcome.engine_pid
    other = load_settings(overrides={"venue": {"broker": "openalgo", "host": "http://127.0.0.1:9"}})
    third = attach_or_start(other, client="tui-test")
    with third.client:
        assert not third.started
        assert third.notice is not None
        assert "already running with venue 'paper'" in third.notice
    assert env.cli("engine", "stop").returncode == 0
    assert env.wait_gone() == []


def test_replay_feed_supplies_market_data(env: Env) -> None:
    from cockpit.domain.market import LtpTick, encode_line
    from cockpit.link.protocol import MarketBatch

    recording = env.root / "ticks.jsonl"
    prices = ["812.35", "812.40", "812.45"]
    with recording.open("wb") as fh:
        for i, price in enumerate(prices * 20):
            tick = LtpTick(
                recv_ns=1_000_000_000 + i * 20_000_000,
                exchange="NSE",
                symbol="SBIN",
                ltp=Decimal(price),
            )
            fh.write(encode_line(tick) + b"\n")
    proc = env.popen("engine", "run", "--feed", f"replay:{recording}")
    deadline = time.monotonic() + 45
    while not env.socket.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    seen: set[int] = set()
    with EngineClient.connect(path=env.socket) as c:
        c.snapshot(timeout=10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(seen) < 3:
            msg = c.recv(timeout=1)
            if isinstance(msg, MarketBatch):
                seen |= {q.ltp for q in msg.quotes if q.key == "NSE:SBIN"}
    # the order-update socket to the broker comes up on its own time (slow on a loaded host)
    deadline = time.monotonic() + 30
    while True:
        with EngineClient.connect(path=env.socket, read_only=True) as c:
            feeds = {f.feed: str(f.state) for f in c.snapshot(timeout=10).feeds}
        if feeds.get("openalgo") == "live" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    # every SBIN price came from the recording (ticks of 0.05), none from the paper walk
    assert seen == {16247, 16248, 16249}
    assert feeds.get("replay") == "live"
    assert feeds.get("openalgo") == "live"  # order updates still come from the broker
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert env.wait_gone() == []


def test_unsupported_feed_is_a_clear_error(env: Env) -> None:
    out = env.cli("engine", "run", "--feed", "binance", timeout=60)
    assert out.returncode == 1
    assert "--feed binance: needs --symbols" in out.stderr
    out = env.cli("engine", "run", "--feed", "bloomberg", timeout=60)
    assert out.returncode == 1
    assert "--feed bloomberg: expected kite, binance, bybit" in out.stderr
    out = env.cli("engine", "run", "--feed", "replay:/nonexistent/file.jsonl", timeout=60)
    assert out.returncode == 1
    assert "no such file" in out.stderr
    assert env.wait_gone() == []


def test_openalgo_broker_restart_restores_plan_after_kill(env: Env) -> None:
    """Engine on an external OpenAlgo server (our paper exchange run standalone): a killed
    engine's exit plan and position come back from the journal on restart."""
    import json

    from cockpit.link.protocol import PlanSpec

    ports = env.root / "sim-ports.json"
    sim = env.popen(
        "sim",
        "--rest-port",
        "0",
        "--ws-port",
        "0",
        "--ports-file",
        str(ports),
        "--api-key",
        "k" * 32,
        "--seed",
        "3",
    )
    deadline = time.monotonic() + 30
    while not ports.exists():
        assert sim.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.05)
    info = json.loads(ports.read_text())
    env.env.update(
        OPENALGO_API_KEY="k" * 32,
        COCKPIT_TRADING__WATCHLIST='["NSE:SBIN"]',
    )
    flags = [
        "--broker",
        "openalgo",
        "--host",
        f"http://127.0.0.1:{info['rest_port']}",
        "--ws-url",
        f"ws://127.0.0.1:{info['ws_port']}",
    ]
    out = env.cli("engine", "start", *flags)
    assert out.returncode == 0, out.stderr
    assert "venue openalgo http://127.0.0.1" in out.stdout
    with EngineClient.connect(path=env.socket) as c:
        snap = c.snapshot(timeout=10)
        assert [i.key for i in snap.instruments] == ["NSE:SBIN"]
        assert snap.instruments[0].tick_size == Decimal("0.05")
        assert isinstance(c.request(SetArmed(id=0, armed=True)), Ack)
        deadline = time.monotonic() + 30
        while True:
            answer = c.request(
                PlaceEntry(
                    id=0,
                    key="NSE:SBIN",
                    side="BUY",
                    qty=Decimal(1),
                    plan=PlanSpec(stop_ticks=400, target_ticks=400),
                )
            )
            if isinstance(answer, Ack) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert isinstance(answer, Ack), answer
        deadline = time.monotonic() + 30
        plans = []
        while not plans and time.monotonic() < deadline:
            with EngineClient.connect(path=env.socket, read_only=True) as r:
                plans = r.snapshot(timeout=10).plans
            time.sleep(0.1)
        assert plans, "no exit plan attached after the fill"
        stop_before = plans[0].stop
    engine_pid = int(env.pidfile.read_text())
    os.kill(engine_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while (env.root / "run" / "cockpit" / "default.pid").exists() and _pid_alive(engine_pid):
        assert time.monotonic() < deadline
        time.sleep(0.05)

    out = env.cli("engine", "start", *flags)
    assert out.returncode == 0, out.stderr
    with EngineClient.connect(path=env.socket, read_only=True) as c:
        snap = c.snapshot(timeout=10)
    assert [(p.key, p.stop) for p in snap.plans] == [("NSE:SBIN", stop_before)]
    assert [(p.key, p.qty) for p in snap.positions if p.qty] == [("NSE:SBIN", Decimal(1))]
    out = env.cli("engine", "stop", "--flatten")
    assert out.returncode == 0, out.stdout + out.stderr
    sim.send_signal(signal.SIGTERM)
    sim.communicate(timeout=30)
    assert env.wait_gone() == []


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
