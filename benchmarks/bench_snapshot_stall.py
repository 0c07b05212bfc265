"""What a viewer's snapshot costs the engine: its build, and its encoding for the other threads.

The real engine with ``--symbols`` instruments, each with a depth tick, takes the draft of its
:class:`~cockpit.link.protocol.Snapshot` on the decision thread (``build``: every view built
afresh, A, vs the views of symbols that did not tick since reused, B, with ``--active`` of the
symbols ticking between two snapshots; the books and volume at price are built by the viewer
server, see ``attach``). Then the viewer server's encoding is timed while a
*probe* thread, standing in
for the decision thread waiting on its queue, sleeps 0.5 ms in a loop and records how late it
wakes. A: ``protocol.encode`` (one msgspec call for the whole message: it holds the GIL
throughout); B: ``slices.encode_sliced`` (the long lists ``SLICE`` items per call, the GIL free
to change hands between calls). Rounds alternate A and B in the same run, with the engine's
GIL switch interval. The figure: the probe's worst lateness while each encodes (``probe_late_ms``
p99 and max) and the encode time (``encode_ms``).

``attach``: what a viewer's attach takes the decision thread (``SnapshotRequest`` handled
whole: the snapshot's draft taken and handed to the publisher), every symbol with ``--levels``
volume-at-price levels (3,000 x 146: the 438k levels a 3,000-symbol session had), for a viewer
that says nothing in its hello (a script: every book and map), one that says it shows nothing
yet (the TUI's hello) and one that shows ``--showing`` symbols. Then the server's part, on
its own thread: the draft built into the snapshot and encoded a slice at a time
(``server_ms``), with the probe standing in for the decision thread (``probe_late_ms``).

``other_viewer``: the real viewer server with a TUI attached (its hello shows nothing yet),
a script attaching (every book and map) ``--attaches`` times while a thread standing in for
the decision thread publishes an alarm every millisecond: how long each alarm took to reach
the TUI while the script's snapshot was built and sent (``tui_alarm_ms`` p50/p99/max; the
server built that snapshot on its loop thread before, so the TUI's frames waited for it),
and how long the script's attach took (``script_attach_ms``); ``quiet_``: the same alarms
in a window as long with no attach (the server's 10 ms event poll is their floor).

Usage::

    PYTHONPATH=. python3 benchmarks/bench_snapshot_stall.py [--symbols 3000] [--rounds 20]
        [--active 0.1] [--levels 146] [--showing 40] [--attaches 5]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import functools
import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_engine_ticks import Router  # noqa: E402

from cockpit.config import EngineSettings, Settings  # noqa: E402
from cockpit.domain.instruments import Exchange, Instrument  # noqa: E402
from cockpit.domain.market import DepthTick  # noqa: E402
from cockpit.engine.core import Engine, EngineOptions  # noqa: E402
from cockpit.link.bus import NullPublisher, SnapshotRequest, ViewerGone  # noqa: E402
from cockpit.link.client import EngineClient  # noqa: E402
from cockpit.link.protocol import Alarm, encode  # noqa: E402
from cockpit.link.server import ViewerServer  # noqa: E402
from cockpit.link.slices import SLICE, encode_sliced  # noqa: E402

SLEEP_NS = 500_000


class Probe:
    """A thread that sleeps 0.5 ms in a loop; lateness of each wake-up inside a window."""

    def __init__(self) -> None:
        self.window: list[int] | None = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="probe", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.perf_counter_ns()
            time.sleep(SLEEP_NS / 1e9)
            late = time.perf_counter_ns() - t - SLEEP_NS
            window = self.window
            if window is not None:
                window.append(late)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(2)


def percentile_ms(values: list[float], q: float) -> float:
    v = sorted(values)
    return round(v[min(len(v) - 1, int(q * len(v)))], 3) if v else 0.0


def depth(symbol: str, price: Decimal) -> DepthTick:
    step = Decimal("0.05")
    return DepthTick(
        exchange="NSE",
        symbol=symbol,
        ltp=price,
        recv_ns=time.time_ns(),
        bids=tuple((price - step * j, Decimal(100 + j), 2) for j in range(5)),
        asks=tuple((price + step * (j + 1), Decimal(100 + j), 2) for j in range(5)),
        volume=Decimal(5000),
    )


def builds(engine: Engine, rounds: int, active: float) -> dict[str, float]:
    """Median snapshot build (ms): A every view built afresh, B after ``active`` of the
    symbols ticked since the previous snapshot."""
    syms = list(engine._syms.values())
    n_active = int(len(syms) * active)
    a: list[float] = []
    b: list[float] = []
    for r in range(rounds):
        for s in syms:  # A: nothing reused
            s.view = None
            s.inst_view = None
        t = time.perf_counter_ns()
        engine.snapshot_draft()
        a.append((time.perf_counter_ns() - t) / 1e6)
        for s in syms[r % 7 :: max(1, len(syms) // max(1, n_active))][:n_active]:
            engine.handle(depth(s.inst.symbol, Decimal(1000) + Decimal("0.05") * (r % 3)))
        t = time.perf_counter_ns()
        engine.snapshot_draft()
        b.append((time.perf_counter_ns() - t) / 1e6)
    return {"A_fresh_ms": percentile_ms(a, 0.5), "B_reused_ms": percentile_ms(b, 0.5)}


class Replies(NullPublisher):
    """Keeps the last reply (a snapshot's draft)."""

    last: Any = None

    def reply(self, conn_id: int, msg: Any) -> None:
        self.last = msg


def attach_stall(
    engine: Engine, rounds: int, levels: int, showing: int, probe: Probe
) -> dict[str, Any]:
    """Median and worst ms of the decision thread's handling of one viewer's attach, after
    every symbol got ``levels`` volume levels (set directly: the build is what is timed);
    then the server's part (draft built and encoded) on another thread, with the probe's
    lateness meanwhile."""
    for s in engine._syms.values():
        base = 20_000
        s.vap = {base + j: 5 + j % 7 for j in range(levels)}
        s.bought = {base + j: 2 for j in range(0, levels, 2)}
    keys = list(engine._syms)
    cases: dict[str, frozenset[str] | None] = {
        "says_nothing": None,
        "shows_nothing_yet": frozenset(),
        f"shows_{showing}": frozenset(keys[:showing]),
    }
    out: dict[str, Any] = {"levels": levels * len(keys)}
    conn = 100
    replies = Replies()
    publisher, engine.publisher = engine.publisher, replies
    for label, shown in cases.items():
        spent: list[float] = []
        server: list[float] = []
        late: list[float] = []
        for _ in range(max(3, rounds // 4)):
            conn += 1
            t = time.perf_counter_ns()
            engine.handle(SnapshotRequest(conn, showing=shown))
            spent.append((time.perf_counter_ns() - t) / 1e6)
            engine.screen.gone(conn)
            draft, replies.last = replies.last, None
            window: list[int] = []
            probe.window = window
            time.sleep(0.002)
            t = time.perf_counter_ns()
            draft.frame()  # what the server does on its loop thread
            server.append((time.perf_counter_ns() - t) / 1e6)
            time.sleep(0.002)
            probe.window = None
            late.extend(x / 1e6 for x in window)
            del draft
        out[label] = {
            "ms_median": percentile_ms(spent, 0.5),
            "ms_max": round(max(spent), 3),
            "server_ms_median": percentile_ms(server, 0.5),
            "probe_late_ms_p99": percentile_ms(late, 0.99),
            "probe_late_ms_max": round(max(late), 3) if late else 0.0,
        }
    engine.publisher = publisher
    return out


SCRIPT = """
import sys
from cockpit.link.client import EngineClient
print("ready", flush=True)
sys.stdin.readline()
with EngineClient.connect(path=sys.argv[1], client="script", timeout=30) as c:
    c.snapshot(timeout=30)
    print("snapshot", flush=True)
    sys.stdin.readline()
"""


def other_viewer(engine: Engine, attaches: int) -> dict[str, Any]:
    """A TUI's alarms while a script attaches (the real server; ``engine`` as its core, its
    volume at price as ``attach_stall`` left it)."""
    inbound: queue.SimpleQueue[object] = queue.SimpleQueue()
    path = Path(tempfile.mkdtemp(prefix="ckb", dir="/tmp")) / "run" / "b.sock"
    server = ViewerServer(path, inbound.put, max_backlog=100_000)
    server.start()
    publisher, engine.publisher = engine.publisher, server
    stop = threading.Event()

    def core() -> None:  # the decision thread's part: snapshot drafts for attaching viewers
        while not stop.is_set():
            try:
                item = inbound.get(timeout=0.05)
            except queue.Empty:
                continue
            if isinstance(item, SnapshotRequest | ViewerGone):
                engine.handle(item)

    core_thread = threading.Thread(target=core, name="core", daemon=True)
    core_thread.start()
    got: dict[int, int] = {}

    def on_message(msg: Any) -> None:
        if isinstance(msg, Alarm):
            got[msg.seq] = time.perf_counter_ns()

    tui = EngineClient.connect(path=path, client="tui", showing=[])
    tui.snapshot(timeout=30)
    tui.start(on_message)
    seq = 0

    def alarms_during(action: Callable[[], None]) -> tuple[list[float], int]:
        """Alarms every millisecond while ``action`` runs: their delays to the TUI, and how
        many never arrived."""
        nonlocal seq
        sent: dict[int, int] = {}
        got.clear()
        window = threading.Event()

        def alarms() -> None:
            nonlocal seq
            while not window.is_set():
                seq += 1
                sent[seq] = time.perf_counter_ns()
                server.event(Alarm(seq=seq, level="info", message="fill"))
                time.sleep(0.001)

        pub = threading.Thread(target=alarms, name="alarms", daemon=True)
        pub.start()
        action()
        window.set()
        pub.join(2)
        time.sleep(0.2)  # the last alarms reach the TUI
        delays = [(got[k] - v) / 1e6 for k, v in sent.items() if k in got]
        return delays, len(sent) - len(delays)

    def spawn() -> subprocess.Popen[str]:  # the script in its own process, as a script
        # is (its decode of the snapshot would hold this process's GIL, the TUI's reader's)
        script = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert script.stdout is not None
        assert script.stdout.readline().strip() == "ready"  # imported: not in the window
        return script

    def attach(script: subprocess.Popen[str]) -> None:
        assert script.stdin is not None
        assert script.stdout is not None
        t = time.perf_counter_ns()
        script.stdin.write("go\n")
        script.stdin.flush()
        assert script.stdout.readline().strip() == "snapshot"
        attach_ms.append((time.perf_counter_ns() - t) / 1e6)
        script.stdin.close()
        script.wait(10)

    attach_ms: list[float] = []
    delays: list[float] = []
    quiet: list[float] = []
    lost = 0
    for _ in range(attaches):
        script = spawn()
        d, n = alarms_during(functools.partial(attach, script))
        delays.extend(d)
        lost += n
        time.sleep(0.2)
        d, n = alarms_during(lambda: time.sleep(max(0.05, attach_ms[-1] / 1e3)))
        quiet.extend(d)
        lost += n
    tui.close()
    stop.set()
    core_thread.join(2)
    server.stop()
    engine.publisher = publisher
    return {
        "attaches": attaches,
        "alarms": len(delays),
        "alarms_lost": lost,
        "tui_alarm_ms_p50": percentile_ms(delays, 0.5),
        "tui_alarm_ms_p99": percentile_ms(delays, 0.99),
        "tui_alarm_ms_max": round(max(delays), 3) if delays else 0.0,
        "quiet_tui_alarm_ms_p50": percentile_ms(quiet, 0.5),
        "quiet_tui_alarm_ms_p99": percentile_ms(quiet, 0.99),
        "quiet_tui_alarm_ms_max": round(max(quiet), 3) if quiet else 0.0,
        "script_attach_ms_median": percentile_ms(attach_ms, 0.5),
    }


def engine_with(symbols: int) -> Engine:
    instruments = [Instrument(Exchange.NSE, f"S{i:05d}", Decimal("0.05")) for i in range(symbols)]
    engine = Engine(
        config=Settings(),
        instruments=instruments,
        router=Router(),
        publisher=NullPublisher(),
        options=EngineOptions(),
    )
    engine.reconciled = True
    for inst in instruments:
        engine.handle(depth(inst.symbol, Decimal(1000)))
    return engine


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--active", type=float, default=0.1, help="symbols ticking between builds")
    ap.add_argument("--levels", type=int, default=146, help="volume levels per symbol (attach)")
    ap.add_argument("--showing", type=int, default=40, help="symbols a TUI shows (attach)")
    ap.add_argument("--attaches", type=int, default=5, help="script attaches (other_viewer)")
    args = ap.parse_args()
    switch_us = EngineSettings().switch_interval_us
    if switch_us:
        sys.setswitchinterval(switch_us / 1e6)  # as the engine runs
    engine = engine_with(args.symbols)
    build = builds(engine, args.rounds, args.active)
    snap = engine.snapshot()
    assert encode_sliced(snap) == encode(snap)
    probe = Probe()
    time.sleep(0.05)
    runs: dict[str, dict[str, list[float]]] = {
        "A_whole": {"encode_ms": [], "late_ms": []},
        "B_sliced": {"encode_ms": [], "late_ms": []},
    }
    encoders: dict[str, Any] = {"A_whole": encode, "B_sliced": encode_sliced}
    for _ in range(args.rounds):
        for label, fn in encoders.items():
            window: list[int] = []
            probe.window = window
            time.sleep(0.002)  # the probe is asleep when the encode starts, as a waiting thread
            t = time.perf_counter_ns()
            frame = fn(snap)
            spent = time.perf_counter_ns() - t
            time.sleep(0.002)  # let the probe's last wake-up land in the window
            probe.window = None
            runs[label]["encode_ms"].append(spent / 1e6)
            runs[label]["late_ms"].extend(x / 1e6 for x in window)
            del frame
            time.sleep(0.02)
    attach = attach_stall(engine, args.rounds, args.levels, args.showing, probe)
    probe.stop()
    other = other_viewer(engine, args.attaches)
    out: dict[str, Any] = {
        "benchmark": "snapshot_stall",
        "symbols": args.symbols,
        "slice": SLICE,
        "gil_switch_interval_s": sys.getswitchinterval(),
        "frame_bytes": len(encode(snap)),
        "active": args.active,
        "build": build,
        "attach": attach,
        "other_viewer": other,
    }
    for label, r in runs.items():
        out[label] = {
            "encode_ms_median": percentile_ms(r["encode_ms"], 0.5),
            "probe_late_ms_p99": percentile_ms(r["late_ms"], 0.99),
            "probe_late_ms_max": round(max(r["late_ms"]), 3) if r["late_ms"] else 0.0,
        }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
