"""``cockpit alert add|list|rm``: the running engine's alerts from the command line.

``add`` takes the words the alerts screen takes (``price NSE:SBIN 802.50``, ``pnl -5000``,
``fill``, ``exit NSE:SBIN``, ``feed``, ``lock``; ``once``; ``-- a note``). Exit codes: 0 done;
1 refused or failed; 2 bad usage; 3 no engine running.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from typing import Final

from cockpit.config import ConfigError, load_settings
from cockpit.link import protocol as p
from cockpit.link.lists import describe, parse_alert

NOT_RUNNING: Final = 3


def run(args: argparse.Namespace) -> int:
    """Entry point of ``cockpit alert``."""
    from cockpit.link.client import ClientError, EngineClient, EngineNotRunning

    try:
        settings = load_settings(args=args)
    except ConfigError as exc:
        print(f"cockpit alert: {exc}", file=sys.stderr)
        return 2
    try:
        client = EngineClient.connect(
            settings.profile,
            path=settings.socket_path,
            client="cockpit-alert",
            showing=[],  # no books or volume maps: it reads alerts and tick sizes
        )
    except EngineNotRunning:
        print(f"cockpit alert: no engine running (profile {settings.profile})", file=sys.stderr)
        return NOT_RUNNING
    except ClientError as exc:
        print(f"cockpit alert: {exc}", file=sys.stderr)
        return 1
    with client:
        try:
            snap = client.snapshot(timeout=10)
            ticks = {i.key: i.tick_size for i in snap.instruments}
            if args.action == "list":
                for line in describe_all(snap.alerts, ticks):
                    print(line)
                return 0
            cmd: p.AddAlert | p.RemoveAlert
            if args.action == "add":
                try:
                    cmd = parse_alert(list(args.words), ticks.get, 1)
                except ValueError as exc:
                    print(f"cockpit alert: {exc}", file=sys.stderr)
                    return 2
            else:
                which = args.words[0] if len(args.words) == 1 else ""
                if which != "all" and not which.isdigit():
                    print("cockpit alert rm: an alert id (see list) or all", file=sys.stderr)
                    return 2
                cmd = p.RemoveAlert(1, None if which == "all" else int(which))
            answer = client.request(cmd, timeout=10)
        except ClientError as exc:
            print(f"cockpit alert: {exc}", file=sys.stderr)
            return 1
    if isinstance(answer, p.Refused):
        print(f"cockpit alert: refused ({answer.rule}): {answer.message}", file=sys.stderr)
        return 1
    print(answer.message)
    return 0


def describe_all(alerts: list[p.AlertView], ticks: dict[str, Decimal]) -> list[str]:
    """One line per alert (``#1    NSE:SBIN at or above 802.50``)."""

    def fmt(key: str, price: int) -> str:
        tick = ticks.get(key)
        return str(price * tick) if tick is not None else f"{price}t"

    return [describe(a, fmt) for a in sorted(alerts, key=lambda a: a.id)] or ["no alerts"]
