"""Attach to the profile's engine, starting a detached one first if none runs.

What ``cockpit`` (the TUI) does before it opens its screen, and what ``cockpit engine start``
does: the engine is spawned as ``python -m cockpit.cli engine run`` in its own session (the
environment is inherited, so secrets never appear on a command line), then reached over its
socket like any viewer.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Final, NamedTuple

from cockpit import paths
from cockpit.config import Settings
from cockpit.link.client import EngineClient
from cockpit.link.protocol import Welcome

START_TIMEOUT_S: Final = 45.0
ALREADY_RUNNING_EXIT: Final = 4
"""``cockpit engine run``'s exit status when another engine holds the profile: a start that
lost a race with another start (two TUIs restarting, two `cockpit` at once) attaches to it."""


def forwarded_flags(args: argparse.Namespace) -> list[str]:
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


class Started(NamedTuple):
    """What :func:`spawn_and_wait` reached."""

    client: EngineClient
    """A read-only client of the profile's engine."""
    ours: bool
    """True: the engine this call spawned; False: another start's, which won the race."""


def spawn_and_wait(
    settings: Settings, flags: list[str], timeout: float = START_TIMEOUT_S
) -> Started:
    """Spawn a detached engine and return a read-only client once the profile's engine answers.

    When another start wins the race for the profile (our engine exits with
    :data:`ALREADY_RUNNING_EXIT`), the engine that won is waited for and reached instead.

    Raises:
        StartFailed: it exited at start, or no engine answered within ``timeout``.
    """
    from cockpit.link.client import ClientError, EngineClient

    log_file = paths.log_path(settings.profile)
    try:
        since = log_file.stat().st_size  # the tail shown is this start's lines only
    except OSError:
        since = 0
    proc = spawn_engine(settings, flags)
    lost_race = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = None if lost_race else proc.poll()
        if code == ALREADY_RUNNING_EXIT:
            lost_race = True  # another start's engine holds the profile: reach that one
        elif code is not None:
            raise StartFailed(
                f"the engine exited at start (code {code}); last lines of "
                f"{log_file}:\n{log_tail(log_file, since=since)}"
            )
        try:
            client = EngineClient.connect(
                settings.profile,
                path=settings.socket_path,
                client="engine-start",
                read_only=True,
                timeout=2.0,
                showing=[],  # a probe: no books or volume at price in its snapshot
            )
        except ClientError:
            time.sleep(0.1)
            continue
        return Started(client, client.welcome.engine_pid == proc.pid)
    if lost_race:
        raise StartFailed(
            f"another start holds profile {settings.profile} but its engine did not answer "
            f"within {timeout:.0f}s; see {log_file}"
        )
    raise StartFailed(f"no answer within {timeout:.0f}s (pid {proc.pid}); see {log_file}")


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
    showing: list[str] | None = None,
) -> Attached:
    """The module's attach: the engine is started with the venue flags of ``args``.
    ``showing``: what the viewer draws in full from the start (``Hello.showing``).

    Raises:
        EngineNotRunning: none runs and ``start`` is False.
        StartFailed: the engine could not be started.
        ClientError: any other connection problem (e.g. VersionMismatch).
    """
    from cockpit.link.client import EngineClient, EngineNotRunning

    def connect() -> EngineClient:
        return EngineClient.connect(
            settings.profile,
            path=settings.socket_path,
            client=client,
            read_only=read_only,
            showing=showing,
        )

    started = False
    try:
        c = connect()
    except EngineNotRunning:
        if not start:
            raise
        flags = forwarded_flags(args) if args else _profile_flags(settings)
        spawned = spawn_and_wait(settings, flags)
        spawned.client.close()
        started = spawned.ours  # False: another start's engine won the race; attach to it
        c = connect()
    return Attached(c, started, None if started else settings_notice(settings, c.welcome))


def _profile_flags(settings: Settings) -> list[str]:
    out = ["--profile", settings.profile]
    if settings.paths.journal:
        out += ["--journal", str(settings.paths.journal)]
    if settings.source:
        out += ["--config", str(settings.source)]
    return out


def log_tail(path: Path, lines: int = 15, since: int = 0) -> str:
    """The last ``lines`` lines of ``path``, of what was written past byte ``since`` (all of
    it when the file is now shorter: it was rotated at start)."""
    try:
        with path.open("rb") as f:
            if f.seek(0, os.SEEK_END) >= since:
                f.seek(since)
            else:
                f.seek(0)
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join("  " + line for line in text.splitlines()[-lines:])
