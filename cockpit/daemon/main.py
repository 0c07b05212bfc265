"""``cockpit engine start|stop|status|run``: the profile's engine as a process.

Exit codes: 0 done; 1 failed; 2 bad usage or configuration; 3 no engine running (status,
stop).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from cockpit import paths
from cockpit.config import ConfigError, Settings, load_settings
from cockpit.domain.positions import pnls_text
from cockpit.link.attach import StartFailed, forwarded_flags, settings_notice, spawn_and_wait

if TYPE_CHECKING:
    from cockpit.link.protocol import OrderView, Snapshot, Welcome

NOT_RUNNING: Final = 3
STOP_TIMEOUT_S: Final = 60.0


def run(args: argparse.Namespace) -> int:
    """Entry point of ``cockpit engine``."""
    try:
        settings = load_settings(args=args)
    except ConfigError as exc:
        print(f"cockpit engine: {exc}", file=sys.stderr)
        return 2
    action = args.action
    if action == "run":
        return run_foreground(settings)
    if action == "start":
        return start_detached(settings, args)
    if action == "status":
        return status(settings, as_json=bool(getattr(args, "json", False)))
    if action == "stop":
        return stop(settings, flatten=bool(getattr(args, "flatten", False)))
    print(f"cockpit engine: unknown action {action}", file=sys.stderr)
    return 2


# ---------------------------------------------------------------------- run


def run_foreground(settings: Settings) -> int:
    """Run the engine in this process until SIGTERM/SIGINT or a Shutdown command."""
    from cockpit.daemon.runner import EngineRunner, install_signal_handlers

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per REST call
    for message in settings.warnings:
        print(f"cockpit engine: warning: {message}", file=sys.stderr)
    runner = EngineRunner(settings)
    install_signal_handlers(runner)
    return runner.run()


# ---------------------------------------------------------------------- start


def start_detached(settings: Settings, args: argparse.Namespace) -> int:
    """``cockpit engine start``: spawn a detached engine; return once its socket answers."""
    from cockpit.link.client import ClientError, EngineClient, EngineNotRunning

    try:
        with EngineClient.connect(
            settings.profile, path=settings.socket_path, client="engine-start", read_only=True
        ) as c:
            print(
                f"cockpit engine: already running for profile {settings.profile} "
                f"(pid {c.welcome.engine_pid}, venue {c.welcome.venue})"
            )
            notice = settings_notice(settings, c.welcome)
            if notice:
                print(f"cockpit engine: {notice}", file=sys.stderr)
            return 0
    except EngineNotRunning:
        pass
    except ClientError as exc:
        print(f"cockpit engine: {exc}", file=sys.stderr)
        return 1
    try:
        spawned = spawn_and_wait(settings, forwarded_flags(args))
        with spawned.client as c:
            if not spawned.ours:  # another start won the race: its engine is the one
                print(
                    f"cockpit engine: already running for profile {settings.profile} "
                    f"(pid {c.welcome.engine_pid}, venue {c.welcome.venue})"
                )
                return 0
            print(
                f"cockpit engine: started for profile {settings.profile} "
                f"(pid {c.welcome.engine_pid}, venue {c.welcome.venue})\n"
                f"  socket {settings.socket_path}\n  journal {settings.journal_path}\n"
                f"  log    {paths.log_path(settings.profile)}"
            )
            return 0
    except StartFailed as exc:
        print(f"cockpit engine: {exc}", file=sys.stderr)
        return 1


# ---------------------------------------------------------------------- status


def _fmt_price(ticks: int | None, tick_size: Decimal | None) -> str:
    if ticks is None:
        return "-"
    return str(ticks * tick_size) if tick_size is not None else f"{ticks}t"


def status(settings: Settings, *, as_json: bool = False) -> int:
    """``cockpit engine status [--json]``: venue, feeds, positions, orders, viewers."""
    from cockpit.link.client import ClientError, EngineClient, EngineNotRunning

    try:
        c = EngineClient.connect(
            settings.profile,
            path=settings.socket_path,
            client="engine-status",
            read_only=True,
            showing=[],  # no books or volume maps (at 3,000 symbols they stall the engine)
        )
    except EngineNotRunning:
        if as_json:
            print(json.dumps({"state": "not running", "profile": settings.profile}))
        else:
            print(f"cockpit engine: not running (profile {settings.profile})")
        return NOT_RUNNING
    except ClientError as exc:
        print(f"cockpit engine: {exc}", file=sys.stderr)
        return 1
    with c:
        try:
            snap = c.snapshot(timeout=10)
        except ClientError as exc:
            print(f"cockpit engine: no snapshot from the engine: {exc}", file=sys.stderr)
            return 1
    w = c.welcome
    if as_json:
        print(json.dumps(status_document(w, snap), indent=2))
        return 0
    uptime = max(0, (time.time_ns() - w.started_ns) // 1_000_000_000) if w.started_ns else 0
    ticks = {i.key: i.tick_size for i in snap.instruments}
    print(f"engine   running, pid {w.engine_pid}, profile {w.profile}, up {_duration(uptime)}")
    st = snap.status
    print(
        f"venue    {w.venue}  armed={'yes' if st.armed else 'no'}"
        f"{'  KILL SWITCH' if st.kill_switch else ''}  day P&L {pnls_text(st.day_pnl, st.day_pnls)}"
    )
    if st.lock:
        print(f"locked   {st.lock}: {st.lock_detail}")
    if snap.feeds:
        for f in snap.feeds:
            extra = f" ({f.reason})" if f.reason else ""
            print(f"feed     {f.feed}: {f.state}{extra}, reconnects {f.reconnects}")
    else:
        print("feed     (no status yet)")
    open_positions = [p for p in snap.positions if p.qty != 0]
    print(f"positions {len(open_positions)} open")
    for p in open_positions:
        print(f"  {p.key:<24} {p.qty:>10}  avg {p.avg_price}  unrealized {p.unrealized}")
    working = working_orders(snap.orders)
    print(f"orders   {len(working)} working")
    for o in working:
        price = _fmt_price(o.price, ticks.get(o.key))
        print(f"  {o.cid:<14} {o.key:<20} {o.side} {o.qty} {o.order_type} {price} {o.status}")
    print(f"plans    {len(snap.plans)} active")
    print(f"viewers  {max(0, w.viewers - 1)} attached (besides this status check)")
    print(f"watching {len(snap.watchlist)} symbols")
    return 0


_FINAL_STATES: Final = frozenset({"complete", "rejected", "cancelled"})


def working_orders(orders: list[OrderView]) -> list[OrderView]:
    """The orders that may still fill (a held MIT entry and one pending approval too)."""
    return [o for o in orders if o.status.lower() not in _FINAL_STATES]


def status_document(welcome: Welcome, snap: Snapshot) -> dict[str, Any]:
    """``engine status --json``: the engine's state for scripts (money as strings)."""
    st = snap.status
    return {
        "state": "running",
        "profile": welcome.profile,
        "pid": welcome.engine_pid,
        "venue": welcome.venue,
        "started_ns": welcome.started_ns,
        "armed": st.armed,
        "kill_switch": st.kill_switch,
        "locked": st.lock or None,
        "lock_detail": st.lock_detail or None,
        "day_pnl": str(st.day_pnl),
        **({"day_pnls": {c: str(v) for c, v in st.day_pnls.items()}} if st.day_pnls else {}),
        "feeds": [
            {"feed": f.feed, "state": str(f.state), "reason": f.reason, "reconnects": f.reconnects}
            for f in snap.feeds
        ],
        "positions": sum(1 for p in snap.positions if p.qty != 0),
        "working_orders": len(working_orders(snap.orders)),
        "plans": len(snap.plans),
        "viewers": max(0, welcome.viewers - 1),
        "watchlist": list(snap.watchlist),
    }


def _duration(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


# ---------------------------------------------------------------------- stop


def stop(settings: Settings, *, flatten: bool = False, timeout: float = STOP_TIMEOUT_S) -> int:
    """``cockpit engine stop [--flatten]``: ask the engine to stop and wait until it has.

    Bounded: past ``timeout`` it names the orders still working and the positions still open
    (a flatten the venue does not carry out) and returns 1.
    """
    from cockpit.link.client import ClientError, EngineClient, EngineGone, EngineNotRunning
    from cockpit.link.protocol import Refused, Shutdown

    try:
        c = EngineClient.connect(settings.profile, path=settings.socket_path, client="engine-stop")
    except EngineNotRunning:
        print(f"cockpit engine: not running (profile {settings.profile})")
        return NOT_RUNNING
    except ClientError as exc:
        print(f"cockpit engine: {exc}", file=sys.stderr)
        return 1
    pid = c.welcome.engine_pid
    with c:
        try:
            answer = c.request(Shutdown(id=0, flatten=flatten), timeout=10)
        except ClientError as exc:
            print(f"cockpit engine: no answer to the stop request: {exc}", file=sys.stderr)
            return 1
        if isinstance(answer, Refused):
            hint = "" if flatten else "; use --flatten to close them first"
            print(f"cockpit engine: stop refused: {answer.message}{hint}", file=sys.stderr)
            return 1
        print(f"cockpit engine: {answer.message or 'stopping'} (pid {pid})")
        deadline = time.monotonic() + timeout
        with contextlib.suppress(EngineGone):
            while time.monotonic() < deadline:
                c.recv(timeout=0.5)
    while time.monotonic() < deadline and (_alive(pid) or settings.socket_path.exists()):
        time.sleep(0.05)
    if _alive(pid):
        print(
            f"cockpit engine: pid {pid} still running after {timeout:.0f}s{_still_open(settings)}",
            file=sys.stderr,
        )
        return 1
    print("cockpit engine: stopped")
    return 0


def _still_open(settings: Settings) -> str:
    """What keeps a flattening engine from stopping: its working orders and open positions."""
    from cockpit.link.client import ClientError, EngineClient

    try:
        with EngineClient.connect(
            settings.profile,
            path=settings.socket_path,
            client="engine-stop",
            read_only=True,
            showing=[],
        ) as c:
            snap = c.snapshot(timeout=5)
    except ClientError as exc:
        return f" (its state is not readable: {exc})"
    lines = [
        f"\n  working: {o.key} {o.side} {o.qty} {o.order_type} #{o.venue_id or o.cid} {o.status}"
        for o in working_orders(snap.orders)
    ]
    lines += [f"\n  open:    {pos.key} {pos.qty}" for pos in snap.positions if pos.qty]
    return "; still:" + "".join(lines) if lines else ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (our own child, not yet reaped) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True
