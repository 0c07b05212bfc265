"""``cockpit sim``: run the paper exchange in the foreground until SIGTERM or SIGINT."""

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
    )


def _write_ports(path: str, server: SimServer) -> None:
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    payload = {
        "rest_port": server.rest_port,
        "ws_port": server.ws_port,
        "api_key": server.api_key,
        "pid": os.getpid(),
    }
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
    return 0


def run(args: argparse.Namespace) -> int:
    """Entry point of ``cockpit sim``."""
    return asyncio.run(_serve(args))
