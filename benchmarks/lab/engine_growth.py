"""What grows in a running engine: tracemalloc snapshots of ``cockpit engine run``, diffed.

The paper exchange (``cockpit sim``) with ``--symbols`` instruments at ``--rate`` ticks/s, the
real engine attached to it (started through this script, which turns tracemalloc on in it and
has it dump a snapshot every ``--every`` seconds), and one viewer that reads everything and
says it shows ``--showing`` symbols (as the TUI does). After ``--minutes`` it prints the
engine's RSS over time and the lines whose allocations grew most between the first dump
taken after the warm-up and the last one.

    PYTHONPATH=. python3 benchmarks/lab/engine_growth.py [--symbols 3000] [--rate 3000]
        [--minutes 4] [--every 60] [--top 20] [--vap-cap 150] [--rss-only]

tracemalloc slows the engine down: keep the rate below what it handles without it, or the
inbound queue's backlog is what grows.

``--rss-only``: no tracemalloc (the engine as it runs): its RSS every ``--every`` seconds and
the slope (MB per minute, least squares) over the run's second half -- the flatness probe.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def child(out: Path, every: float, vap_cap: int, argv: list[str]) -> None:
    """Run ``cockpit <argv>`` in this process with tracemalloc on, dumping every ``every`` s
    (``every`` 0: no tracemalloc, no dumps)."""
    import runpy

    if vap_cap:  # every symbol's share of volume levels at once: what grows besides
        from cockpit.engine import market

        market.VAP_LEVELS_BUDGET, market.VAP_LEVELS_MIN = 0, vap_cap
    sys.argv = ["cockpit", *argv]
    if not every:
        runpy.run_module("cockpit.cli", run_name="__main__", alter_sys=True)
        return
    tracemalloc.start(1)

    def dump() -> None:
        n = 0
        while True:
            time.sleep(every)
            snap = tracemalloc.take_snapshot()
            snap.dump(str(out / f"snap-{n:03d}.tm"))
            traced, peak = tracemalloc.get_traced_memory()
            (out / f"snap-{n:03d}.json").write_text(
                json.dumps(
                    {
                        "t": time.time(),
                        "rss_mb": _rss_mb(os.getpid()),
                        "traced_mb": round(traced / 2**20, 1),
                        "peak_mb": round(peak / 2**20, 1),
                    }
                )
            )
            n += 1

    threading.Thread(target=dump, name="tm-dump", daemon=True).start()
    runpy.run_module("cockpit.cli", run_name="__main__", alter_sys=True)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def slope_mb_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(seconds, MB)`` samples, in MB per minute."""
    n = len(samples)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in samples) / n
    mm = sum(m for _, m in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    cov = sum((t - mt) * (m - mm) for t, m in samples)
    return round(60 * cov / var, 2) if var else 0.0


def viewer(socket: Path, keys: list[str], stop: threading.Event, counts: dict[str, int]) -> None:
    """A viewer like the TUI: reads everything, says it shows ``keys``."""
    from cockpit.link.client import EngineClient, EngineGone

    with EngineClient.connect(path=socket, client="growth", read_only=True) as c:
        c.show(keys)
        while not stop.is_set():
            try:
                msg = c.recv(0.5)
            except EngineGone:
                return
            if msg is not None:
                name = type(msg).__name__
                counts[name] = counts.get(name, 0) + 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=3000)
    ap.add_argument("--rate", type=int, default=3000, help="ticks/s over all symbols")
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--every", type=float, default=60.0, help="seconds between dumps")
    ap.add_argument("--showing", type=int, default=40, help="symbols the viewer shows")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument(
        "--vap-cap", type=int, default=0, help="volume levels per symbol (0: the engine's own)"
    )
    ap.add_argument(
        "--rss-only", action="store_true", help="no tracemalloc: RSS samples and their slope"
    )
    ap.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        out, every, vap_cap, *rest = args.child
        child(Path(out), float(every), int(vap_cap), rest)
        return 0

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_ui import start_sim, wait_engine  # noqa: PLC0415
    from pty_term import die_with_parent  # noqa: PLC0415

    root = Path(tempfile.mkdtemp(prefix="growth-"))
    env = dict(os.environ)
    env.update(
        XDG_RUNTIME_DIR=str(root / "run"),
        XDG_DATA_HOME=str(root / "data"),
        XDG_CONFIG_HOME=str(root / "cfg"),
        XDG_STATE_HOME=str(root / "state"),
    )
    key = secrets.token_hex(16)
    procs: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()
    try:
        sim, ports, keys = start_sim(root, env, key, args.symbols, args.rate / args.symbols)
        procs.append(sim)
        dumps = root / "dumps"
        dumps.mkdir()
        eng_env = dict(env, OPENALGO_API_KEY=key, COCKPIT_TRADING__WATCHLIST=json.dumps(keys))
        rest = f"http://127.0.0.1:{ports['rest_port']}"
        argv = ["engine", "run", "--broker", "openalgo", "--host", rest]
        argv += ["--ws-url", f"ws://127.0.0.1:{ports['ws_port']}"]
        elog = open(root / "engine.log", "wb")  # noqa: SIM115
        engine = subprocess.Popen(
            [sys.executable, __file__, "--child", str(dumps)]
            + [str(0 if args.rss_only else args.every), str(args.vap_cap), *argv],
            env=eng_env,
            stdout=elog,
            stderr=elog,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,  # noqa: PLW1509
        )
        procs.append(engine)
        socket = root / "run" / "cockpit" / "default.sock"
        t0 = time.monotonic()
        wait_engine(socket, engine, root / "engine.log", args.symbols)
        print(f"engine ready after {time.monotonic() - t0:.0f} s", file=sys.stderr)
        counts: dict[str, int] = {}
        threading.Thread(
            target=viewer, args=(socket, keys[: args.showing], stop, counts), daemon=True
        ).start()
        if args.rss_only:
            rss_probe(engine.pid, args.minutes, args.every, counts)
            return 0
        time.sleep(60 * args.minutes)
        stop.set()
        files = sorted(dumps.glob("snap-*.tm"))
        dumped = [json.loads(f.with_suffix(".json").read_text()) for f in files]
        print(json.dumps({"dumps": dumped, "viewer_messages": counts}))
        if len(files) >= 3:
            first = tracemalloc.Snapshot.load(str(files[1]))  # the first after the warm-up
            last = tracemalloc.Snapshot.load(str(files[-1]))
            for stat in last.compare_to(first, "lineno")[: args.top]:
                print(stat)
    finally:
        stop.set()
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(root, ignore_errors=True)
    return 0


def rss_probe(pid: int, minutes: float, every: float, counts: dict[str, int]) -> None:
    """The engine's RSS every ``every`` s for ``minutes``; prints the series and the slope of
    its second half."""
    t0 = time.monotonic()
    samples: list[tuple[float, float]] = []
    while (t := time.monotonic() - t0) < 60 * minutes:
        samples.append((round(t, 1), _rss_mb(pid)))
        print(json.dumps({"t_s": samples[-1][0], "engine_rss_mb": samples[-1][1]}), file=sys.stderr)
        time.sleep(every)
    half = [s for s in samples if s[0] >= 30 * minutes]
    out = {
        "engine_rss_mb": samples[-1][1] if samples else 0.0,
        "first_mb": samples[0][1] if samples else 0.0,
        "slope_mb_per_min_second_half": slope_mb_min(half),
        "slope_mb_per_min_all": slope_mb_min(samples),
        "viewer_messages": counts,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    raise SystemExit(main())
