"""One exit from the decision thread to a venue's socket: what each thread hop costs.

The real engine and SQLite journal with its writer thread (the unit tests' rig), 50 symbols
each long with a 20-tick stop, and the real exit lane (``cockpit/adapters/openalgo/lane.py``)
writing to a venue in another process (a bare HTTP/1.1 responder that stamps
``CLOCK_MONOTONIC`` as each request is whole). Per round, the main thread (the decision
thread) handles one batch of ``--batch`` ordinary ticks with one crash tick in it; the figure
is from the batch taken to the exit received by the venue. Between rounds every thread is
idle and asleep (``--gap-ms``), as between two crashes; ``--busy N`` adds N threads that hold
the GIL half the time (as the feed thread decoding), so a woken thread must wait for it.

The four ways, rounds interleaved (the host's noise falls on each alike):
``writer`` (the journal's writer thread commits and hands the exit to the lane thread),
``inline`` (the writer thread writes it itself: ``ExitLane.inline``), ``here`` (the deciding
thread commits and hands it to the lane thread: ``Writes.urgent_here``), ``here+inline`` (no
other thread on the way: the default).

``--burst``: all 50 symbols crash in one batch; the figure is to the 50th exit at the venue.

    PYTHONPATH=. python3 benchmarks/lab/exit_hops.py [--rounds 400] [--busy 1] [--burst]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import re
import selectors
import socket
import statistics
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from decision_burst import INSTRUMENTS, rig_with_positions  # noqa: E402

from cockpit.adapters.openalgo.lane import ExitLane  # noqa: E402
from cockpit.domain.market import LtpTick  # noqa: E402
from cockpit.link import protocol as p  # noqa: E402

SPEC = p.PlanSpec(stop_ticks=20, target_ticks=None)
WAYS = {"writer": (False, False), "inline": (True, False), "here": (False, True),
        "here+inline": (True, True)}  # fmt: skip
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
_SYMBOL = re.compile(rb'"symbol":"([^"]+)"')


def venue(conn: Any) -> None:
    """Answer every request at once; stamp each as it is whole; stamps back at the end."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    srv.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ)
    sel.register(conn, selectors.EVENT_READ)
    conn.send(srv.getsockname()[1])
    stamps: list[tuple[str, int]] = []
    bufs: dict[socket.socket, bytes] = {}
    while True:
        for key, _ in sel.select():
            if key.fileobj is conn:
                conn.recv()
                conn.send(stamps)
                return
            if key.fileobj is srv:
                peer, _ = srv.accept()
                peer.setblocking(False)
                sel.register(peer, selectors.EVENT_READ)
                bufs[peer] = b""
                continue
            peer = key.fileobj  # type: ignore[assignment]
            data = peer.recv(65536)
            if not data:
                sel.unregister(peer)
                peer.close()
                continue
            buf = bufs[peer] + data
            while (end := buf.find(b"}")) >= 0 and b"\r\n\r\n" in buf[:end]:
                now = time.monotonic_ns()
                m = _SYMBOL.search(buf[: end + 1])
                stamps.append((m.group(1).decode() if m else "?", now))
                buf = buf[end + 1 :]
                peer.send(ANSWER)
            bufs[peer] = buf


def busy(stop: threading.Event) -> None:
    """Hold the GIL about half the time, in slices of ~100 us (a feed thread decoding)."""
    while not stop.is_set():
        t = time.perf_counter() + 0.0001
        while time.perf_counter() < t:
            pass
        time.sleep(0.0001)


def burst_round(rig: Any, journal: Any) -> None:
    """Fill the 50 exits, buy every symbol again (with its plan)."""
    sells = [r for r in rig.places() if r.action == "SELL"][-len(INSTRUMENTS) :]
    for req in sells:
        rig.fill(req, rig.accept(req), "997.50")
    for inst in INSTRUMENTS:
        rig.tick(inst, "1000.00")
        rig.command(p.PlaceEntry, key=inst.key, side="BUY", qty=Decimal(1), plan=SPEC)
    journal.flush()
    for entry in rig.places()[-len(INSTRUMENTS) :]:
        rig.fill(entry, rig.accept(entry), "1000.00")
    journal.flush()
    assert len(rig.engine.plans) == len(INSTRUMENTS)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=400)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--busy", type=int, default=1, help="threads holding the GIL half the time")
    ap.add_argument("--gap-ms", type=float, default=5.0, help="idle time between rounds")
    ap.add_argument("--burst", action="store_true", help="all 50 symbols crash in one batch")
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    here, there = ctx.Pipe()
    proc = ctx.Process(target=venue, args=(there,), daemon=True)
    proc.start()
    port = here.recv()
    outcomes: list[Any] = []
    lane = ExitLane(
        f"http://127.0.0.1:{port}",
        5.0,
        lambda r: ("api/v1/placeorder", b'{"symbol":"%s","action":"SELL"}' % r.symbol.encode()),
        lambda: 0.0,
        lambda r, outcome, *_: outcomes.append((r.symbol, outcome)),
    )
    lane.start()
    stop = threading.Event()
    threads = [threading.Thread(target=busy, args=(stop,), daemon=True) for _ in range(args.busy)]
    taken: dict[str, list[tuple[str, int, int]]] = {way: [] for way in WAYS}
    with tempfile.TemporaryDirectory() as tmp:
        rig = rig_with_positions(Path(tmp), writer=True)
        engine, journal = rig.engine, rig.engine.journal
        assert journal is not None
        record = rig.router.submit

        def submit(request: Any) -> None:
            record(request)
            if getattr(request, "urgent", False) and request.action == "SELL":
                lane.submit(request)

        rig.router.submit = submit  # type: ignore[method-assign]
        for t in threads:
            t.start()
        try:
            for n in range(args.rounds):
                way = list(WAYS)[n % len(WAYS)]
                lane.inline, journal.urgent_here = WAYS[way]  # type: ignore[attr-defined]
                crashed = INSTRUMENTS[n % len(INSTRUMENTS)]
                others = [i for i in INSTRUMENTS if i is not crashed]
                rig.clock.now += 1_000_000
                at = rig.clock.now
                items: list[Any] = [
                    LtpTick(at, "NSE", others[k % len(others)].symbol, Decimal("1000.05"))
                    for k in range(args.batch)
                ]
                items.insert(args.batch // 2, LtpTick(at, "NSE", crashed.symbol, Decimal("997.50")))
                if args.burst:
                    items = [LtpTick(at, "NSE", i.symbol, Decimal("997.50")) for i in INSTRUMENTS]
                t0 = time.monotonic_ns()
                engine.handle_items(items)
                t1 = time.monotonic_ns()
                taken[way].append((crashed.symbol, t0, t1))
                journal.flush()
                if args.burst:
                    burst_round(rig, journal)
                    time.sleep(args.gap_ms / 1000)
                    continue
                exit_req = rig.places()[-1]
                rig.fill(exit_req, rig.accept(exit_req), "997.50")
                rig.tick(crashed, "1000.00")
                rig.command(p.PlaceEntry, key=crashed.key, side="BUY", qty=Decimal(1), plan=SPEC)
                journal.flush()  # the entry reaches the router on the writer thread
                entry = rig.places()[-1]
                rig.fill(entry, rig.accept(entry), "1000.00")
                journal.flush()
                assert crashed.key in engine.plans
                time.sleep(args.gap_ms / 1000)
        finally:
            stop.set()
            time.sleep(0.2)
            lane.stop()
            journal.close()
    here.send("stop")
    stamps = here.recv()
    proc.join(5)
    out: dict[str, Any] = {"benchmark": "exit_hops", "rounds": args.rounds, "busy": args.busy}
    arrivals: dict[str, list[int]] = {}
    for sym, t in stamps:
        arrivals.setdefault(sym, []).append(t)
    for way, rounds in taken.items():
        to_venue, handled = [], []
        for sym, t0, t1 in rounds:
            if args.burst:  # the 50th exit of the round at the venue
                firsts = [min((a for a in v if a >= t0), default=None) for v in arrivals.values()]
                t = max(firsts) if None not in firsts else None
            else:
                t = next((a for a in arrivals.get(sym, []) if a >= t0), None)
            if t is not None:
                to_venue.append((t - t0) / 1000)
            handled.append((t1 - t0) / 1000)
        q = statistics.quantiles(to_venue, n=100)
        out[way] = {
            "n": len(to_venue),
            "to_venue_us": {"p50": round(q[49], 1), "p90": round(q[89], 1), "p99": round(q[98], 1)},
            "batch_handled_us_p50": round(statistics.median(handled), 1),
        }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
