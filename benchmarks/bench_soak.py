"""Soak: the engine's RSS under a steady feed, with the untrimmed engine as the peer, one run.

Setup (real processes, loopback only): ``cockpit sim`` with ``--symbols`` instruments at
``--rate`` ticks/s each (default 50 x 180 = 9,000 ticks/s), and ``cockpit engine run``
against it (OpenAlgo feed and router, SQLite journal, viewer socket), every symbol on the
watchlist. The engine's RSS (``/proc/<pid>/status`` VmRSS) is sampled every ``--every``
seconds for ``--seconds``; the slope is a least-squares fit over the samples after the first
fifth (warm-up), in MB per minute.

Two phases on the same paper exchange, one after the other:

* ``peer``: the engine with ``COCKPIT_MALLOC_TRIM_S=0`` (as it was before the heap trimmer);
* ``engine``: the engine as shipped (``malloc_trim`` every 30 s on the housekeeping thread).

The ``floor`` is the sim-less baseline of the same interpreter: RSS of ``python -c 'import
cockpit.daemon.runner'`` (what any engine costs before a tick). Prints one JSON object.

Usage::

    python3 benchmarks/bench_soak.py [--seconds 300] [--rate 180] [--symbols 50]

This is a benchmark, not a test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _slope(samples: list[tuple[float, float]]) -> float:
    """Least-squares MB per minute of ``(seconds, MB)`` samples."""
    n = len(samples)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in samples) / n
    my = sum(m for _, m in samples) / n
    den = sum((t - mx) ** 2 for t, _ in samples)
    if den == 0:
        return 0.0
    return sum((t - mx) * (m - my) for t, m in samples) / den * 60


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COCKPIT_", "OPENALGO_"))}
    for name in ("run", "data", "cfg", "state"):
        (root / name).mkdir(exist_ok=True)
    env.update(
        XDG_RUNTIME_DIR=str(root / "run"),
        XDG_DATA_HOME=str(root / "data"),
        XDG_CONFIG_HOME=str(root / "cfg"),
        XDG_STATE_HOME=str(root / "state"),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
    )
    env.update(extra)
    return env


def _start_sim(
    root: Path, symbols: list[str], rate: float
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    ports = root / "sim-ports.json"
    argv = [sys.executable, "-m", "cockpit.cli", "sim", "--rest-port", "0", "--ws-port", "0",
            "--ports-file", str(ports), "--rate", str(rate), "--seed", "1",
            "--no-state"]  # fmt: skip
    for n, key in enumerate(symbols):
        argv += ["--instrument", f"{key}:{500 + n}.00"]
    proc = subprocess.Popen(
        argv, env=_env(root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while True:
        if ports.exists():
            try:
                return proc, json.loads(ports.read_text())
            except ValueError:
                pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the paper exchange did not start")
        time.sleep(0.05)


def _ticks_per_s(root: Path) -> float | None:
    from cockpit.link.client import EngineClient

    try:
        with EngineClient.connect(path=root / "run" / "cockpit" / "default.sock") as c:
            c.snapshot(timeout=5)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                msg = c.recv(timeout=0.5)
                status = getattr(msg, "status", None)
                if status is not None and status.ticks_per_s:
                    return float(status.ticks_per_s)
    except Exception:  # noqa: BLE001 - a figure, not a failure
        return None
    return None


def _phase(
    name: str,
    root: Path,
    sim: dict[str, Any],
    symbols: list[str],
    seconds: float,
    every: float,
    trim: bool,
) -> dict[str, Any]:
    phase_root = root / name
    phase_root.mkdir()
    extra = {
        "OPENALGO_API_KEY": str(sim["api_key"]),
        "COCKPIT_TRADING__WATCHLIST": json.dumps(symbols),
    }
    if not trim:
        extra["COCKPIT_MALLOC_TRIM_S"] = "0"
    argv = [sys.executable, "-m", "cockpit.cli", "engine", "run", "--broker", "openalgo",
            "--host", f"http://127.0.0.1:{sim['rest_port']}",
            "--ws-url", f"ws://127.0.0.1:{sim['ws_port']}",
            "--journal", str(phase_root / "journal.sqlite3")]  # fmt: skip
    log = open(phase_root / "engine.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(argv, env=_env(phase_root, **extra), stdout=log, stderr=log)
    samples: list[tuple[float, float]] = []
    rate = None
    try:
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            if proc.poll() is not None:
                raise SystemExit(f"{name}: the engine exited ({proc.returncode})")
            rss = _rss_mb(proc.pid)
            if rss is not None:
                samples.append((elapsed, rss))
            if rate is None and elapsed > seconds / 2:
                rate = _ticks_per_s(phase_root)
            time.sleep(every)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
    steady = [s for s in samples if s[0] >= seconds / 5]
    return {
        "malloc_trim": trim,
        "rss_start_mb": round(steady[0][1], 1) if steady else None,
        "rss_end_mb": round(samples[-1][1], 1) if samples else None,
        "rss_peak_mb": round(max(m for _, m in samples), 1) if samples else None,
        "slope_mb_per_min": round(_slope(steady), 2),
        "engine_ticks_per_s": rate,
        "samples": len(samples),
    }


def _floor() -> float | None:
    code = (
        "import cockpit.daemon.runner, cockpit.engine.core, cockpit.adapters.openalgo.feed;"
        "print(open('/proc/self/status').read())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                         env=_env(Path(tempfile.mkdtemp(prefix="soakf"))))  # fmt: skip
    for line in out.stdout.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def main() -> None:
    """Run both phases and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="per phase")
    parser.add_argument("--every", type=float, default=5.0, help="RSS sample interval")
    parser.add_argument("--rate", type=float, default=180.0, help="ticks/s per symbol")
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--skip-peer", action="store_true", help="only the shipped engine")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        raise SystemExit("bench_soak reads /proc: Linux only")
    root = Path(tempfile.mkdtemp(prefix="soak", dir="/tmp"))
    symbols = [f"NSE:SOAK{n:02d}" for n in range(args.symbols)]
    sim_proc, sim = _start_sim(root, symbols, args.rate)
    try:
        result: dict[str, Any] = {
            "bench": "soak",
            "seconds_per_phase": args.seconds,
            "offered_ticks_per_s": args.rate * args.symbols,
            "floor_rss_mb (imports only)": _floor(),
        }
        if not args.skip_peer:
            result["peer (no malloc_trim)"] = _phase(
                "peer", root, sim, symbols, args.seconds, args.every, trim=False
            )
        result["engine"] = _phase("engine", root, sim, symbols, args.seconds, args.every, trim=True)
        result["load_avg_1m"] = round(os.getloadavg()[0], 2)
        print(json.dumps(result, indent=1))
    finally:
        sim_proc.terminate()
        sim_proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
