"""``cockpit sim``: run the paper exchange in the foreground until SIGTERM or SIGINT.

Its account is kept on disk (:mod:`cockpit.sim.accounts`) in ``--state-dir``; when an engine
starts it (the parent process holds a profile's engine lock) and no ``--state-dir`` is given,
in ``<data dir>/paper/<profile>/``, so the paper position outlives an engine crash.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path

from cockpit.sim.server import SimConfig, SimServer

LEGACY_SWITCHES: tuple[str, ...] = (
    "retry_after_429",
    "cancel_all_trigger_pending",
    "subscribe_snapshot",
    "modify_updates",
    "accept_pending_quantity",
    "numeric_data_mode",
)
"""SimConfig switches back to the paper exchange's older behaviour (``--legacy`` sets all)."""


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """The :class:`SimConfig` the ``sim`` subcommand's flags describe."""
    return SimConfig(
        host=args.host,
        rest_port=args.rest_port,
        ws_port=args.ws_port,
        api_key=args.api_key or os.environ.get("COCKPIT_SIM_API_KEY") or None,
        instruments=list(args.instrument or []),
        rate=args.rate,
        seed=args.seed,
        script=args.script,
        paused=getattr(args, "paused", False),
        auth_timeout=getattr(args, "auth_timeout", 15.0),
        order_rate_limit=getattr(args, "order_rate_limit", 1000),
        api_rate_limit=getattr(args, "api_rate_limit", 1000),
        upstream_port=getattr(args, "upstream_port", None),
        order_updates=not getattr(args, "no_order_updates", False),
        state_dir=state_dir(args),
        retry_after_429=_legacy(args, "retry_after_429"),
        cancel_all_trigger_pending=_legacy(args, "cancel_all_trigger_pending"),
        subscribe_snapshot=_legacy(args, "subscribe_snapshot"),
        modify_updates=_legacy(args, "modify_updates"),
        accept_pending_quantity=_legacy(args, "accept_pending_quantity"),
        numeric_data_mode=_legacy(args, "numeric_data_mode"),
        semi_auto=getattr(args, "semi_auto", False) or getattr(args, "semi_auto_live", False),
        semi_auto_live=getattr(args, "semi_auto_live", False),
        zerodha_order_rows=getattr(args, "zerodha_order_rows", False),
    )


def _legacy(args: argparse.Namespace, name: str) -> bool:
    """One of :data:`LEGACY_SWITCHES`: its own flag, or ``--legacy`` for all of them."""
    return bool(getattr(args, name, False) or getattr(args, "legacy", False))


def engine_profile() -> str | None:
    """The profile whose engine is our parent process (it holds ``<runtime>/<profile>.pid``
    with its pid in it), or None when something else started us."""
    from cockpit import paths

    parent = str(os.getppid())
    try:
        candidates = sorted(paths.runtime_dir().glob("*.pid"))
    except OSError:
        return None
    for pid_file in candidates:
        try:
            with pid_file.open("rb") as fh:
                text = fh.read(32).decode(errors="replace").strip()
        except OSError:
            continue
        if text == parent:
            return pid_file.stem
    return None


def state_dir(args: argparse.Namespace) -> str | None:
    """Where the account is kept: ``--state-dir``; else the parent engine's profile's
    ``<data dir>/paper/<profile>``; None with ``--no-state`` or when run on its own."""
    if getattr(args, "no_state", False):
        return None
    explicit = getattr(args, "state_dir", None)
    if explicit:
        return str(explicit)
    profile = engine_profile()
    if profile is None:
        return None
    from cockpit import paths

    return str(paths.data_dir() / "paper" / profile)


def _write_ports(path: str, server: SimServer) -> None:
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    payload: dict[str, object] = {
        "rest_port": server.rest_port,
        "ws_port": server.ws_port,
        "pid": os.getpid(),
    }
    if not server.config.api_key:
        # A key we generated is how the caller learns it; one it gave us (flag or
        # environment) it knows already, and a file left after a crash must not hold it.
        payload["api_key"] = server.api_key
    if server.upstream is not None:
        payload["upstream_port"] = server.upstream.port
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh)
    os.replace(tmp, target)


async def _serve(args: argparse.Namespace) -> int:
    try:
        server = SimServer(config_from_args(args))
    except (ValueError, OSError) as exc:
        print(f"cockpit sim: {exc}", file=sys.stderr)
        return 2
    try:
        await server.start()
    except OSError as exc:
        print(f"cockpit sim: cannot listen: {exc}", file=sys.stderr)
        await server.stop()
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if args.ports_file:
        _write_ports(args.ports_file, server)
    host = args.host
    if server.store is not None:
        restored = server.restored
        print(
            f"cockpit sim: account kept in {server.store.path} (restored {restored['orders']} "
            f"orders, {restored['trades']} fills, {restored['positions']} open positions)",
            file=sys.stderr,
        )
    print(
        f"cockpit sim: REST http://{host}:{server.rest_port}  WS ws://{host}:{server.ws_port}  "
        f"({len(server.market.states)} instruments, {server.market.rate:g} ticks/s each)",
        file=sys.stderr,
    )
    if not server.config.api_key:
        # The sim is the server: printing the key it generated for itself is how you learn it.
        print(f"cockpit sim: API key {server.api_key}", file=sys.stderr)
    sys.stderr.flush()
    try:
        await stop.wait()
    finally:
        await server.stop()
        if args.ports_file:
            _remove_ports(args.ports_file)
    return 0


def _remove_ports(path: str) -> None:
    """Remove the ports file on the way out (and its directory if it was made for it)."""
    target = Path(path)
    with contextlib.suppress(OSError):
        target.unlink()
    if target.parent.name.startswith(("cockpit-sim-", "sim-")):  # sim-: an engine's child
        with contextlib.suppress(OSError):
            target.parent.rmdir()


def run(args: argparse.Namespace) -> int:
    """Entry point of ``cockpit sim``."""
    return asyncio.run(_serve(args))
