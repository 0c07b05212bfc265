"""The real TUI under load: frames/s, key-to-screen latency, CPU, terminal bytes/s. Prints JSON.

Setup (all real processes, loopback only): the paper exchange (`cockpit sim`) with 50
symbols, `cockpit engine run` attached to it, and `cockpit` (the TUI) in a 160×48 pty whose
output this script reads like a terminal would (it answers Textual's synchronized-output
query, so every frame is bracketed by ``ESC[?2026h`` … ``ESC[?2026l`` and can be counted).

For each total tick rate (default 1,000 / 5,000 / 20,000 ticks/s over 50 symbols) it measures:
frames/s written, key-to-screen latency (``+`` pressed → the new quantity appears in the
output) p50/p99, CPU of the TUI and of the engine (share of one core), bytes written to the
terminal per second, and the rate the engine actually processed. At the end the market is
frozen and one last price set: the screen must end on it. The pty is a tmux-like
``TERM=screen-256color`` without ``COLORTERM`` (what SSH usually gives); ``--truecolor`` sends
24-bit colours instead (longer escape sequences, more bytes).

Goals (compared in the output as ratios): 30 fps held, key-to-screen p99 < 50 ms at 20k/s,
TUI < 35 % of a core at 5k/s, < 100 KB/s at 1k/s.

    python3 benchmarks/bench_ui.py [--rates 1000,5000,20000] [--seconds 8] [--presses 20]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cockpit.link.client import ClientError, EngineClient  # noqa: E402

ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
SYNC_END = b"\x1b[?2026l"
DECRQM = b"\x1b[?2026$p"
WIDTH, HEIGHT = 160, 48
CLK = os.sysconf("SC_CLK_TCK")
BASE = [
    "NSE:RELIANCE",
    "NSE:INFY",
    "NSE:SBIN",
    "NSE:TCS",
    "NSE:HDFCBANK",
    "NFO:NIFTY24NOV26FUT",
    "MCX:CRUDEOIL",
    "CRYPTO:BTCUSDT",
]


def _die_with_parent() -> None:
    """In a child: get SIGTERM when this benchmark dies (so nothing is left behind)."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


TOKEN = re.compile(rb"\x1b\[([0-9;?<>=]*)([ -/]*)([@-~])|\x1b[()][0-9A-Za-z]|\x1b[=>78]|\r|\n|\x08")


class Screen:
    """A minimal terminal model: cursor moves (CUP, CR/LF) and text; attributes ignored.

    Textual repaints only the changed span of a row, so "what is on screen" must be read from
    a screen model, not from the byte stream.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.rows = [[" "] * width for _ in range(height)]
        self.x = self.y = 0
        self._pending = b""

    def feed(self, data: bytes) -> None:
        data = self._pending + data
        self._pending = b""
        pos = 0
        for m in TOKEN.finditer(data):
            if m.start() > pos:
                self._text(data[pos : m.start()])
            pos = m.end()
            tok = m.group(0)
            if tok == b"\r":
                self.x = 0
            elif tok == b"\n":
                self.y = min(self.height - 1, self.y + 1)
            elif tok == b"\x08":
                self.x = max(0, self.x - 1)
            elif m.group(3) == b"H":
                parts = (m.group(1) or b"").split(b";")
                self.y = max(0, int(parts[0] or 1) - 1)
                self.x = max(0, int(parts[1] or 1) - 1) if len(parts) > 1 else 0
        rest = data[pos:]
        cut = rest.rfind(b"\x1b")
        if cut >= 0 and len(rest) - cut < 32:  # an escape sequence split across reads
            self._pending = rest[cut:]
            rest = rest[:cut]
        self._text(rest)

    def _text(self, raw: bytes) -> None:
        if not raw:
            return
        text = raw.decode("utf-8", "replace")
        if 0 <= self.y < self.height and self.x < self.width:
            start = max(0, self.x)
            chunk = text[start - self.x : self.width - self.x]
            self.rows[self.y][start : start + len(chunk)] = chunk
        self.x += len(text)

    def line(self, y: int) -> str:
        return "".join(self.rows[y])

    def text(self) -> str:
        return "\n".join(self.line(y) for y in range(self.height))


class Pty:
    """The TUI's terminal: reads everything it writes, answers the sync-output query."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
        self.master = master
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        os.close(slave)
        self.lock = threading.Lock()
        self.chunks: list[tuple[float, bytes]] = []
        self.bytes = 0
        self.frames = 0
        self.text = bytearray()
        """Output with escape sequences removed (for finding what was drawn)."""
        self.screen = Screen(WIDTH, HEIGHT)
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        tail = b""
        while not self._stop:
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            now = time.monotonic()
            both = tail + data
            if DECRQM in both:
                os.write(self.master, b"\x1b[?2026;2$y")
            frames = both.count(SYNC_END) - tail.count(SYNC_END)
            with self.lock:
                self.bytes += len(data)
                self.frames += frames
                self.chunks.append((now, data))
                self.text += ANSI.sub(b"", data)
                self.screen.feed(data)
            tail = data[-16:]

    def mark(self) -> int:
        """An offset into the stripped text (what is drawn after now starts there)."""
        with self.lock:
            return len(self.text)

    def wait_text(self, needle: bytes, since: int, timeout: float) -> float | None:
        """Seconds until ``needle`` appears in the output after ``since``; None on timeout."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            with self.lock:
                if self.text.find(needle, max(0, since - len(needle))) >= 0:
                    return time.monotonic() - t0
            time.sleep(0.0005)
        return None

    def wait_screen(self, needle: str, timeout: float, row: int | None = None) -> float | None:
        """Seconds until ``needle`` is on the screen (on ``row`` if given); None on timeout."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            with self.lock:
                shown = self.screen.line(row) if row is not None else self.screen.text()
            if needle in shown:
                return time.monotonic() - t0
            time.sleep(0.001)
        return None

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        self._stop = True
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        os.close(self.master)


def start_sim(
    root: Path, env: dict[str, str], key: str, symbols: int
) -> tuple[subprocess.Popen[bytes], dict[str, Any], list[str]]:
    extra = [f"NSE:BENCH{i:02d}:{100 + 7 * i}.00:0.05" for i in range(symbols - len(BASE))]
    keys = BASE + [s.rsplit(":", 2)[0] for s in extra]
    ports = root / "ports.json"
    argv = [sys.executable, "-m", "cockpit.cli", "sim", "--rest-port", "0", "--ws-port", "0"]
    argv += ["--ports-file", str(ports), "--api-key", key, "--rate", "20", "--seed", "3"]
    for spec in extra:
        argv += ["--instrument", spec]
    log = open(root / "sim.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        argv,
        env=env,
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
    )
    deadline = time.monotonic() + 30
    while not ports.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"sim did not start: {(root / 'sim.log').read_text()[-2000:]}")
        time.sleep(0.05)
    time.sleep(0.1)
    return proc, json.loads(ports.read_text()), keys


def wait_engine(socket: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"engine exited: {log.read_text()[-2000:]}")
        try:
            with EngineClient.connect(path=socket, client="bench") as c:
                snap = c.snapshot(timeout=5)
                if snap.feeds and all(f.state == "live" for f in snap.feeds) and snap.quotes:
                    return
        except ClientError:
            pass
        time.sleep(0.2)
    raise SystemExit("engine not ready")


def engine_rate(socket: Path) -> float:
    with EngineClient.connect(path=socket, client="bench") as c:
        return c.snapshot(timeout=5).status.ticks_per_s


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def cold_start(env: dict[str, str], term: str) -> dict[str, Any]:
    """`cockpit` with no engine running: it starts the engine and the paper exchange.

    Returns seconds from launch to the first price on the ladder, and whether quitting
    (nothing open) stopped everything it started.
    """
    root = Path(tempfile.mkdtemp(prefix="ckc", dir="/tmp"))
    cenv = dict(env, TERM=term)
    cenv.update(
        XDG_RUNTIME_DIR=str(root / "run"),
        XDG_DATA_HOME=str(root / "data"),
        XDG_CONFIG_HOME=str(root / "cfg"),
        XDG_STATE_HOME=str(root / "state"),
    )
    out: dict[str, Any] = {}
    t0 = time.monotonic()
    tui = Pty([sys.executable, "-m", "cockpit.cli"], cenv)
    try:
        got = tui.wait_screen("\u25c0LTP", 30)
        out["seconds_to_prices_cold"] = round(time.monotonic() - t0, 3) if got is not None else None
        tui.send(b"\x11")  # ctrl+q: nothing open, this TUI started the engine: it stops it
        tui.proc.wait(15)
        sock = root / "run" / "cockpit" / "default.sock"
        deadline = time.monotonic() + 15
        while sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        out["quit_stopped_engine"] = not sock.exists()
    finally:
        tui.close()
        if (root / "run" / "cockpit" / "default.sock").exists():
            subprocess.run(
                [sys.executable, "-m", "cockpit.cli", "engine", "stop", "--flatten"],
                env=cenv,
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="1000,5000,20000")
    ap.add_argument("--symbols", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--presses", type=int, default=20)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--term", default="screen-256color", help="TERM of the pty (tmux's)")
    ap.add_argument("--truecolor", action="store_true", help="also set COLORTERM=truecolor")
    opts = ap.parse_args()
    rates = [int(r) for r in opts.rates.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on `timeout`

    root = Path(tempfile.mkdtemp(prefix="ckb", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COCKPIT_", "OPENALGO_"))}
    env.update(
        PYTHONPATH=str(REPO),
        XDG_RUNTIME_DIR=str(root / "run"),
        XDG_DATA_HOME=str(root / "data"),
        XDG_CONFIG_HOME=str(root / "cfg"),
        XDG_STATE_HOME=str(root / "state"),
    )
    key = secrets.token_hex(16)
    procs: list[subprocess.Popen[bytes]] = []
    tui: Pty | None = None
    result: dict[str, Any] = {
        "benchmark": "bench_ui",
        "terminal": f"{WIDTH}x{HEIGHT}",
        "levels": [],
    }
    try:
        result.update(cold_start(env, opts.term))
        sim, ports, keys = start_sim(root, env, key, opts.symbols)
        procs.append(sim)
        rest = f"http://127.0.0.1:{ports['rest_port']}"
        http = httpx.Client(timeout=10)

        def control(route: str, **body: Any) -> None:
            r = http.post(f"{rest}/sim/{route}", json={"apikey": key, **body})
            r.raise_for_status()

        eng_env = dict(env, OPENALGO_API_KEY=key, COCKPIT_TRADING__WATCHLIST=json.dumps(keys),
                       COCKPIT_UI__FPS=str(opts.fps))  # fmt: skip
        elog = open(root / "engine.log", "wb")  # noqa: SIM115
        engine = subprocess.Popen(
            [sys.executable, "-m", "cockpit.cli", "engine", "run", "--broker", "openalgo",
             "--host", rest, "--ws-url", f"ws://127.0.0.1:{ports['ws_port']}"],
            env=eng_env, stdout=elog, stderr=elog, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        procs.append(engine)
        socket = root / "run" / "cockpit" / "default.sock"
        wait_engine(socket, engine, root / "engine.log")

        tui_env = dict(env, TERM=opts.term, COCKPIT_UI__FPS=str(opts.fps))
        if opts.truecolor:
            tui_env["COLORTERM"] = "truecolor"
        result["term"] = opts.term + (" + COLORTERM=truecolor" if opts.truecolor else "")
        t_launch = time.monotonic()
        tui = Pty([sys.executable, "-m", "cockpit.cli"], tui_env)
        first = tui.wait_text(b"\xe2\x97\x80LTP", 0, 30)  # "◀LTP": the ladder shows a price
        result["seconds_to_prices_attached"] = (
            round(time.monotonic() - t_launch, 3) if first is not None else None
        )
        qty = 1
        for rate in rates:
            control("rate", rate=rate / opts.symbols)
            time.sleep(opts.warmup)
            b0, f0 = tui.bytes, tui.frames
            c_tui0, c_eng0 = cpu_seconds(tui.proc.pid), cpu_seconds(engine.pid)
            t0 = time.monotonic()
            lat: list[float] = []
            missed = 0
            gap = opts.seconds / max(1, opts.presses)
            for _ in range(opts.presses):
                qty += 1
                tui.send(b"+")
                got = tui.wait_screen(f"qty {qty} ", 2.0, row=HEIGHT - 2)  # the status bar
                if got is None:
                    missed += 1
                else:
                    lat.append(got * 1000)
                time.sleep(max(0.0, gap - (got or 2.0)))
            wall = time.monotonic() - t0
            fps = (tui.frames - f0) / wall
            level = {
                "ticks_per_s_requested": rate,
                "engine_ticks_per_s": round(engine_rate(socket), 1),
                "frames_per_s": round(fps, 1),
                "key_to_screen_ms_p50": round(statistics.median(lat), 2) if lat else None,
                "key_to_screen_ms_p99": round(pct(lat, 0.99), 2) if lat else None,
                "key_presses_missed": missed,
                "tui_cpu_pct_of_core": round(100 * (cpu_seconds(tui.proc.pid) - c_tui0) / wall, 1),
                "engine_cpu_pct_of_core": round(100 * (cpu_seconds(engine.pid) - c_eng0) / wall, 1),
                "terminal_bytes_per_s": round((tui.bytes - b0) / wall),
            }
            result["levels"].append(level)

        # Freeze the market and set one last price: the screen must end on it.
        control("pause")
        time.sleep(0.3)
        control("price", exchange="NSE", symbol="RELIANCE", ltp="1111.15")
        got = tui.wait_screen("1111.15", 5.0)
        result["ends_on_latest_price"] = got is not None
        result["latest_price_to_screen_ms"] = round(got * 1000, 1) if got is not None else None

        goals = {
            "fps_goal": opts.fps,
            "key_p99_ms_goal_at_20k": 50.0,
            "tui_cpu_pct_goal_at_5k": 35.0,
            "bytes_per_s_goal_at_1k": 100_000,
        }
        result["goals"] = goals
        by_rate = {lv["ticks_per_s_requested"]: lv for lv in result["levels"]}
        ratios: dict[str, Any] = {}
        if 20000 in by_rate and by_rate[20000]["key_to_screen_ms_p99"] is not None:
            ratios["key_p99_at_20k_vs_goal"] = round(
                by_rate[20000]["key_to_screen_ms_p99"] / 50.0, 3
            )
        if 5000 in by_rate:
            ratios["tui_cpu_at_5k_vs_goal"] = round(by_rate[5000]["tui_cpu_pct_of_core"] / 35.0, 3)
        if 1000 in by_rate:
            ratios["bytes_at_1k_vs_goal"] = round(
                by_rate[1000]["terminal_bytes_per_s"] / 100_000, 3
            )
        ratios["min_fps_vs_goal"] = round(
            min(lv["frames_per_s"] for lv in result["levels"]) / opts.fps, 3
        )
        result["ratios"] = ratios
        tui.send(b"\x11")  # ctrl+q: nothing open, engine not ours → the TUI just leaves
        try:
            tui.proc.wait(10)
            result["tui_exit_code"] = tui.proc.returncode
        except subprocess.TimeoutExpired:
            result["tui_exit_code"] = None
    finally:
        if tui is not None:
            tui.close()
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
