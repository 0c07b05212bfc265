"""Where an exit's time goes, for ``bench_exit_latency.py``: stage stamps and thread CPU.

Stamps (CLOCK_MONOTONIC, shared with the venue process), per exit:

- ``queued``: the feed thread has decoded the crash frame and puts the tick on the engine's
  queue (the bench wraps the feed's sink);
- ``decided``: the decision thread hands the exit to the router (after its journal commit);
- ``sending``: a router worker has taken it and starts the POST (the bench wraps the
  router's transport);
- ``written``: the request is written to the socket (the bench wraps httpcore's network
  backend under httpx, or the exit lane's write): the exit order is on the venue's socket;
- ``venue``: the venue's HTTP server received the request (stamped by the venue).

With ``--deep-stages`` (the engine's methods wrapped: a call more per item) also, between
``queued`` and ``decided``: ``taken`` (the decision thread took the batch holding the crash
tick off the queue), ``begun`` (it starts handling the crash tick), ``fired`` (the plan
decided) and ``commit`` (the journal commit the exit waits for starts); and per crash tick
its batch's length, its place in it and how many items were handled before it.

The split is then ``frame→queued`` (socket read and decode on the feed thread),
``queued→decided`` (the hand-off to the decision thread, the decision and the journal commit),
``decided→sending`` (the hand-off to a router worker or the exit lane), ``sending→written``
(the HTTP client's work and the GIL it waits for), ``written→venue`` (the loopback venue
process waking up to read it: its own scheduling on this host, not the engine's). Thread CPU
comes from ``/proc/self/task/<tid>/stat`` per thread, summed by the thread's name without its
number (``router-urgent-3`` → ``router-urgent``).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any

_TICK_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_SYMBOL = re.compile(rb'"symbol":\s*"([^"]+)"')


class Stamps:
    """Stage stamps of crash ticks and exit requests (each list: (symbol, monotonic ns))."""

    def __init__(self, crash_ltp: Any) -> None:
        self.crash_ltp = crash_ltp
        self.queued: list[tuple[str, int]] = []
        self.sending: list[tuple[str, int]] = []
        self.written: list[tuple[str, int]] = []
        self.taken: list[tuple[str, int]] = []
        self.begun: list[tuple[str, int]] = []
        self.fired: list[tuple[str, int]] = []
        self.commit: list[tuple[str, int]] = []
        self.handled_before: list[int] = []
        self.work: dict[str, list[int]] = {}
        """Wall ns of each run of the decision thread's own periodic work (the timer, the
        screen flush): what a crash tick arriving meanwhile waits for."""
        """Per crash tick begun: how many items of its batch were handled before it."""
        self.batch: list[tuple[int, int]] = []
        """Per crash tick taken: (its batch's length, its place in the batch)."""
        self._started: dict[int, Any] = {}
        self._local = threading.local()

    def clear(self) -> None:
        self.queued.clear()
        self.taken.clear()
        self.begun.clear()
        self.fired.clear()
        self.commit.clear()
        self.handled_before.clear()
        self.work.clear()
        self.batch.clear()
        self.sending.clear()
        self.written.clear()
        self._started.clear()

    def feed_sink(self, put: Callable[[object], None]) -> Callable[[object], None]:
        """The feed's sink: stamps a crash tick as it goes on the engine's queue."""
        crash = self.crash_ltp
        queued = self.queued

        def sink(item: object) -> None:
            if getattr(item, "ltp", None) == crash:
                queued.append((item.symbol, time.monotonic_ns()))  # type: ignore[attr-defined]
            put(item)

        return sink

    def wrap_engine(self, engine: Any) -> None:
        """``--deep-stages``: stamp a crash tick as the decision thread takes its batch off
        the queue (``taken``), starts handling it (``begun``), decides its exit (``fired``)
        and starts the journal commit the exit waits for (``commit``). Wraps the engine's
        own methods (a call more per item: opt in)."""
        from cockpit.engine import restore

        commit = self.commit
        batch_exit = restore.JournalBatch.__exit__

        def exit_stamped(jb: Any, *exc: Any) -> Any:
            held = getattr(jb.engine, "_held", None) or ()
            now = time.monotonic_ns()
            for request in held:
                if getattr(request, "urgent", False) and getattr(request, "action", "") == "SELL":
                    commit.append((request.symbol, now))
            return batch_exit(jb, *exc)

        restore.JournalBatch.__exit__ = exit_stamped  # type: ignore[method-assign]
        crash = self.crash_ltp
        taken, begun, fired, batch = self.taken, self.begun, self.fired, self.batch
        handle_items, handle, fire = engine.handle_items, engine.handle, engine._fire

        count = [0]

        def handle_items_stamped(items: list[Any]) -> None:
            now = time.monotonic_ns()
            count[0] = 0
            for i, item in enumerate(items):
                if getattr(item, "ltp", None) == crash:
                    taken.append((item.symbol, now))
                    batch.append((len(items), i))
            handle_items(items)

        work = self.work

        def handle_stamped(item: Any) -> None:
            if getattr(item, "ltp", None) == crash:
                begun.append((item.symbol, time.monotonic_ns()))
                self.handled_before.append(count[0])
            count[0] += 1
            if type(item).__name__ == "EngineTimer":
                t0 = time.monotonic_ns()
                handle(item)
                work.setdefault("timer", []).append(time.monotonic_ns() - t0)
                return
            handle(item)

        flush = engine.flush_screen

        def flush_stamped() -> None:
            t0 = time.monotonic_ns()
            flush()
            work.setdefault("flush_screen", []).append(time.monotonic_ns() - t0)

        engine.flush_screen = flush_stamped

        def fire_stamped(slot: Any, decision: Any) -> None:
            fired.append((slot.key.split(":", 1)[1], time.monotonic_ns()))
            fire(slot, decision)

        engine.handle_items = handle_items_stamped
        engine.handle = handle_stamped
        engine._fire = fire_stamped

    def wrap_router(self, transport_module: Any, lane_module: Any) -> None:
        """Stamp every exit as the router starts its POST and as its bytes are written, on
        both paths: an httpx worker, the exit lane (before ``router.start``)."""
        sending, written, local = self.sending, self.written, self._local
        stamping = _stamping_backend(local, written)
        httpx_init = transport_module.HttpxTransport.__init__
        httpx_post = transport_module.HttpxTransport.post

        def init(inner: Any, *args: Any, **kwargs: Any) -> None:
            httpx_init(inner, *args, **kwargs)
            pool = inner._client._transport._pool  # httpcore under httpx: stamp its writes
            pool._network_backend = stamping(pool._network_backend)

        def post(inner: Any, path: str, content: bytes) -> Any:
            if path == "placeorder" and b'"SELL"' in content:
                m = _SYMBOL.search(content)
                local.symbol = m.group(1).decode() if m else "?"
                sending.append((local.symbol, time.monotonic_ns()))
            try:
                return httpx_post(inner, path, content)
            finally:
                local.symbol = None

        transport_module.HttpxTransport.__init__ = init
        transport_module.HttpxTransport.post = post
        lane_write = lane_module.ExitLane._write
        started = self._started

        def write(lane: Any, conn: Any) -> None:  # its first call for an exit: "sending"
            job, had = conn.job, conn.wrote
            selling = job is not None and not had and job.action == "SELL"
            if selling and id(job) not in started:
                started[id(job)] = job
                sending.append((job.symbol, time.monotonic_ns()))
            lane_write(lane, conn)
            if selling and conn.wrote:
                written.append((job.symbol, time.monotonic_ns()))

        lane_module.ExitLane._write = write


def _stamping_backend(local: threading.local, written: list[tuple[str, int]]) -> Any:
    """Wraps an httpcore network backend: the first socket write of an exit POST is stamped
    (``written``: the request is on the venue's socket)."""
    import httpcore

    class Stream(httpcore.NetworkStream):
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            symbol = getattr(local, "symbol", None)
            self._inner.write(buffer, timeout)
            if symbol is not None:
                written.append((symbol, time.monotonic_ns()))
                local.symbol = None

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return bytes(self._inner.read(max_bytes, timeout))

        def close(self) -> None:
            self._inner.close()

        def start_tls(self, *args: Any, **kwargs: Any) -> Any:
            return self._inner.start_tls(*args, **kwargs)

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class Backend(httpcore.NetworkBackend):
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def connect_tcp(self, *args: Any, **kwargs: Any) -> Any:
            return Stream(self._inner.connect_tcp(*args, **kwargs))

        def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:
            return Stream(self._inner.connect_unix_socket(*args, **kwargs))

        def sleep(self, seconds: float) -> None:
            self._inner.sleep(seconds)

    return Backend


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's threads, summed by name less its number."""
    out: dict[str, float] = {}
    for thread in threading.enumerate():
        tid = thread.native_id
        if tid is None:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / _TICK_S
        name = _group(thread.name)
        out[name] = out.get(name, 0.0) + seconds
    return out


def thread_waits() -> dict[str, float]:
    """Seconds so far that this process's threads waited on a run queue for a CPU (ready to
    run, no core free: ``/proc/self/task/<tid>/schedstat``), summed by name less its number.
    A thread waiting for the GIL sleeps and is not counted: this is the host's share."""
    out: dict[str, float] = {}
    for thread in threading.enumerate():
        tid = thread.native_id
        if tid is None:
            continue
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                waited = int(f.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            continue
        name = _group(thread.name)
        out[name] = out.get(name, 0.0) + waited
    return out


def process_cpu_s(pid: int | None) -> float:
    """CPU seconds so far of process ``pid`` (all its threads; 0.0 if it cannot be read)."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK_S


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, int]:
    """CPU ms per thread group between two :func:`thread_cpu` readings (0 ms left out)."""
    out = {k: round((v - before.get(k, 0.0)) * 1000) for k, v in after.items()}
    return {k: v for k, v in sorted(out.items(), key=lambda kv: -kv[1]) if v}


def split(
    crashes: list[tuple[str, int]],
    queued: list[tuple[str, int]],
    decided: list[tuple[str, int]],
    sending: list[tuple[str, int]],
    written: list[tuple[str, int]],
    venue: list[tuple[str, int]],
    match_by_crash: Callable[..., dict[tuple[str, int], int]],
    percentiles: Callable[[list[int]], dict[str, Any]],
    deep: list[tuple[str, list[tuple[str, int]]]] | None = None,
) -> dict[str, Any]:
    """Per crash frame, the time from one stage to the next (percentiles per stage); and
    ``top_1pct``: for the exits whose frame → venue is in the slowest 1%, the median of each
    stage (where the late exits' time goes); ``top_1pct_written`` the same for the slowest
    1% by frame → written (the engine's part)."""
    stages = [("frame", None), ("queued", queued)]
    stages += [(name, ev) for name, ev in deep or [] if ev]
    stages += [("decided", decided), ("sending", sending)]
    if written:
        stages.append(("written", written))
    stages.append(("venue", venue))
    at = {name: match_by_crash(crashes, events) for name, events in stages if events is not None}
    out: dict[str, Any] = {}
    names = [name for name, _ in stages]
    by_crash: dict[str, dict[tuple[str, int], int]] = {}
    for a, b in zip(names, names[1:], strict=False):
        spans = by_crash.setdefault(f"{a}_to_{b}", {})
        for crash, t_b in at.get(b, {}).items():
            t_a = 0 if a == "frame" else at.get(a, {}).get(crash)
            if t_a is not None and t_b >= t_a:
                spans[crash] = t_b - t_a
        out[f"{a}_to_{b}"] = percentiles(list(spans.values()))
    out["top_1pct"] = _top(at.get("venue", {}), "venue", by_crash)
    if written:  # the slowest 1% by the engine's own part (the venue's wake-up left out)
        out["top_1pct_written"] = _top(at.get("written", {}), "written", by_crash)
    return out


def _top(
    total: dict[tuple[str, int], int], last: str, by_crash: dict[str, dict[tuple[str, int], int]]
) -> dict[str, Any]:
    """For the exits whose frame → ``last`` is in the slowest 1%: the median of each stage."""
    late = sorted(total, key=lambda c: -total[c])[: max(1, len(total) // 100)] if total else []
    top: dict[str, Any] = {"n": len(late)}
    if late:
        top[f"frame_to_{last}_ms"] = _median_ms([total[c] for c in late])
    for stage, spans in by_crash.items():
        values = [spans[c] for c in late if c in spans]
        if values:
            top[f"{stage}_ms"] = _median_ms(values)
    return top


def _median_ms(values: list[int]) -> float:
    return round(sorted(values)[len(values) // 2] / 1e6, 2)


class CpuSampler:
    """Every thread's CPU clock, read every ``interval`` s by a thread of its own, so the CPU
    each thread spent inside a time window (a burst round) can be told afterwards.

    It reads one clock per thread (a syscall each, under the GIL: a few microseconds every
    ``interval``); it runs only in the scenarios it is asked for.
    """

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.names: list[str] = []
        self.rows: list[tuple[int, list[int]]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        clocks = []
        self.names = []
        for thread in threading.enumerate():
            if thread.ident is None:
                continue
            try:
                clocks.append(time.pthread_getcpuclockid(thread.ident))
            except OSError:
                continue
            self.names.append(_group(thread.name))
        self.rows = []
        self._stop.clear()

        def run() -> None:
            read = time.clock_gettime_ns
            while not self._stop.wait(self.interval):
                now = time.monotonic_ns()
                row = []
                for clock in clocks:
                    try:
                        row.append(read(clock))
                    except OSError:  # the thread ended
                        row.append(row[-1] if row else 0)
                self.rows.append((now, row))

        self._thread = threading.Thread(target=run, name="bench-cpu-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)

    def window(self, t0: int, t1: int) -> dict[str, float]:
        """CPU ms per thread group from the last sample at or before ``t0`` to the first at
        or after ``t1`` (empty if the samples do not cover it)."""
        before = [r for r in self.rows if r[0] <= t0]
        after = [r for r in self.rows if r[0] >= t1]
        if not before or not after:
            return {}
        a, b = before[-1][1], after[0][1]
        out: dict[str, float] = {"window_ms": (after[0][0] - before[-1][0]) / 1e6}
        for name, x, y in zip(self.names, a, b, strict=False):
            out[name] = out.get(name, 0.0) + (y - x) / 1e6
        return out


def _group(name: str) -> str:
    name = re.sub(r" \(.*\)$", "", name)
    return re.sub(r"[-_]?\d+$", "", name) or name


def burst_cpu(
    sampler: CpuSampler, crashes: list[tuple[str, int]], sells: list[tuple[str, int]], n: int
) -> dict[str, float]:
    """Median CPU ms per thread group inside a burst round (first crash frame → its last exit
    at the venue), over the rounds."""
    per: dict[str, list[float]] = {}
    for i in range(0, len(crashes), n):
        r = crashes[i : i + n]
        t0 = r[0][1]
        last = [t for s, t in sells if t0 <= t <= t0 + 500_000_000]
        if len(last) < n:
            continue
        t1 = sorted(last)[n - 1]
        for k, v in sampler.window(t0, t1).items():
            per.setdefault(k, []).append(v)
    return {k: round(sorted(v)[len(v) // 2], 2) for k, v in per.items()}


class GcWatch:
    """The engine process's garbage collections in a scenario: how many per generation and
    the longest pause, wall and CPU (each holds the GIL: every thread, the decision thread
    too, waits; wall over CPU is the collecting thread waiting for a core meanwhile)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, int, int]] = []
        self._start = (0, 0)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = (time.perf_counter_ns(), time.thread_time_ns())
        else:
            wall, cpu = (
                time.perf_counter_ns() - self._start[0],
                time.thread_time_ns() - self._start[1],
            )
            self.pauses.append((info["generation"], wall, cpu))

    def start(self) -> None:
        import gc

        self.pauses = []
        gc.callbacks.append(self._callback)

    def stop(self) -> dict[str, Any]:
        import gc

        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        out: dict[str, Any] = {}
        for gen in (0, 1, 2):
            spans = [(wall, cpu) for g, wall, cpu in self.pauses if g == gen]
            out[f"gen{gen}"] = len(spans)
            out[f"gen{gen}_max_ms"] = round(max(w for w, _ in spans) / 1e6, 2) if spans else 0.0
            out[f"gen{gen}_max_cpu_ms"] = round(max(c for _, c in spans) / 1e6, 2) if spans else 0.0
        return out
