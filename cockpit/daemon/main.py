"""``cockpit engine start|stop|status|run``: the profile's engine as a process.

Exit codes: 0 done; 1 failed; 2 bad usage or configuration; 3 no engine running (status,
stop).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Final, NamedTuple

from cockpit import paths
from cockpit.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from cockpit.link.client import EngineClient
    from cockpit.link.protocol import Welcome

NOT_RUNNING: Final = 3
START_TIMEOUT_S: Final = 45.0
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
        return status(settings)
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


def _forwarded_flags(args: argparse.Namespace) -> list[str]:
    """The venue flags of this command line, to pass on to ``cockpit engine run``."""
    out: list[str] = []
    for flag, name in (
        ("--profile", "profile"),
        ("--config", "config"),
        ("--journal", "journal"),
        ("--broker", "broker"),
        ("--host", "host"),
        ("--ws-url", "ws_url"),
        ("--feed", "feed"),
        ("--url", "url"),
        ("--rest-url", "rest_url"),
        ("--symbols", "symbols"),
        ("--order-updates", "order_updates"),
    ):
        value = getattr(args, name, None)
        if value:
            if name in ("config", "journal"):
                value = str(Path(value).expanduser().resolve())
            elif name == "feed" and str(value).startswith("replay:"):
                value = "replay:" + str(Path(str(value)[7:]).expanduser().resolve())
            out += [flag, str(value)]
    return out


def spawn_engine(settings: Settings, flags: list[str]) -> subprocess.Popen[bytes]:
    """Start ``cockpit engine run`` detached (own session, output to the log file)."""
    log_file = paths.log_path(settings.profile)
    paths.ensure_private_dir(log_file.parent)
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "cockpit.cli", "engine", "run", *flags],
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,
            close_fds=True,
            cwd="/",
            env=paths.child_env(),
        )
    finally:
        os.close(fd)


class StartFailed(RuntimeError):
    """A detached engine could not be started; the message says why (with its log's tail)."""


def spawn_and_wait(
    settings: Settings, flags: list[str], timeout: float = START_TIMEOUT_S
) -> EngineClient:
    """Spawn a detached engine and return a read-only client once its socket answers.

    Raises:
        StartFailed: it exited at start, or did not answer within ``timeout``.
    """
    from cockpit.link.client import ClientError, EngineClient

    proc = spawn_engine(settings, flags)
    log_file = paths.log_path(settings.profile)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise StartFailed(
                f"the engine exited at start (code {code}); last lines of "
                f"{log_file}:\n{_tail(log_file)}"
            )
        try:
            return EngineClient.connect(
                settings.profile,
                path=settings.socket_path,
                client="engine-start",
                read_only=True,
                timeout=2.0,
            )
        except ClientError:
            time.sleep(0.1)
    raise StartFailed(f"no answer within {timeout:.0f}s (pid {proc.pid}); see {log_file}")


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
        with spawn_and_wait(settings, _forwarded_flags(args)) as c:
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


def settings_notice(settings: Settings, welcome: Welcome) -> str | None:
    """A plain warning when the running engine's venue is not the one these settings ask for
    (venue flags apply only when an engine starts)."""
    wanted = settings.venue_label()
    if welcome.venue == wanted:
        return None
    return (
        f"the engine of profile {settings.profile} is already running with venue "
        f"'{welcome.venue}', not '{wanted}': venue settings and flags apply only when an engine "
        "starts (stop it with `cockpit engine stop` to change them)"
    )


class Attached(NamedTuple):
    """What :func:`attach_or_start` did."""

    client: EngineClient
    started: bool
    """True: no engine was running and a detached one was started."""
    notice: str | None
    """A warning to show (the running engine has other venue settings), or None."""


def attach_or_start(
    settings: Settings,
    args: argparse.Namespace | None = None,
    *,
    client: str = "cockpit",
    read_only: bool = False,
    start: bool = True,
) -> Attached:
    """Connect to the profile's engine, starting a detached one first if none runs.

    This is what ``cockpit`` (the TUI) does before it opens its screen. The engine is
    started with the venue flags of ``args`` (the environment is inherited, so secrets
    never appear on a command line).

    Raises:
        EngineNotRunning: none runs and ``start`` is False.
        StartFailed: the engine could not be started.
        ClientError: any other connection problem (e.g. VersionMismatch).
    """
    from cockpit.link.client import EngineClient, EngineNotRunning

    started = False
    try:
        c = EngineClient.connect(
            settings.profile, path=settings.socket_path, client=client, read_only=read_only
        )
    except EngineNotRunning:
        if not start:
            raise
        spawn_and_wait(settings, _forwarded_flags(args) if args else _profile_flags(settings))
        started = True
        c = EngineClient.connect(
            settings.profile, path=settings.socket_path, client=client, read_only=read_only
        )
    return Attached(c, started, None if started else settings_notice(settings, c.welcome))


def _profile_flags(settings: Settings) -> list[str]:
    out = ["--profile", settings.profile]
    if settings.paths.journal:
        out += ["--journal", str(settings.paths.journal)]
    if settings.source:
        out += ["--config", str(settings.source)]
    return out


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join("  " + line for line in text.splitlines()[-lines:])


# ---------------------------------------------------------------------- status


def _fmt_price(ticks: int | None, tick_size: Decimal | None) -> str:
    if ticks is None:
        return "-"
    return str(ticks * tick_size) if tick_size is not None else f"{ticks}t"


def status(settings: Settings) -> int:
    """``cockpit engine status``: venue, feeds, positions, orders, viewers."""
    from cockpit.link.client import ClientError, EngineClient, EngineNotRunning

    try:
        c = EngineClient.connect(
            settings.profile, path=settings.socket_path, client="engine-status", read_only=True
        )
    except EngineNotRunning:
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
    uptime = max(0, (time.time_ns() - w.started_ns) // 1_000_000_000) if w.started_ns else 0
    ticks = {i.key: i.tick_size for i in snap.instruments}
    print(f"engine   running, pid {w.engine_pid}, profile {w.profile}, up {_duration(uptime)}")
    st = snap.status
    print(
        f"venue    {w.venue}  armed={'yes' if st.armed else 'no'}"
        f"{'  KILL SWITCH' if st.kill_switch else ''}  day P&L {st.day_pnl}"
    )
    if st.scheduling:
        print(f"threads  {st.scheduling}")
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
    final = {"complete", "rejected", "cancelled"}
    working = [o for o in snap.orders if o.status.lower() not in final]
    print(f"orders   {len(working)} working")
    for o in working:
        price = _fmt_price(o.price, ticks.get(o.key))
        print(f"  {o.cid:<14} {o.key:<20} {o.side} {o.qty} {o.order_type} {price} {o.status}")
    print(f"plans    {len(snap.plans)} active")
    print(f"viewers  {max(0, w.viewers - 1)} attached (besides this status check)")
    print(f"watching {len(snap.watchlist)} symbols")
    return 0


def _duration(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


# ---------------------------------------------------------------------- stop


def stop(settings: Settings, *, flatten: bool = False) -> int:
    """``cockpit engine stop [--flatten]``: ask the engine to stop and wait until it has."""
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
        deadline = time.monotonic() + STOP_TIMEOUT_S
        with contextlib.suppress(EngineGone):
            while time.monotonic() < deadline:
                c.recv(timeout=0.5)
    while time.monotonic() < deadline and (_alive(pid) or settings.socket_path.exists()):
        time.sleep(0.05)
    if _alive(pid):
        print(
            f"cockpit engine: pid {pid} still running after {STOP_TIMEOUT_S:.0f}s", file=sys.stderr
        )
        return 1
    print("cockpit engine: stopped")
    return 0


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
