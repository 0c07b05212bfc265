"""What loading the settings tells the user: invalid values worded per field, and warnings
about the config file (a secret others may read) and the watchlist."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError


def describe_invalid(exc: ValidationError, path: Path | None) -> str:
    """Invalid values, one line per field (never a value: it may be a secret)."""
    where = f" (config file {path}, environment or flags)" if path else ""
    lines = [f"invalid configuration{where}:"]
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        lines.append(f"  {loc}: {err['msg']}")
    return "\n".join(lines)


def describe_unparsable(exc: SettingsError) -> str:
    """A value pydantic-settings could not even parse (JSON in a ``COCKPIT_*`` variable)."""
    text = str(exc)
    field = text.split('field "', 1)[1].split('"', 1)[0] if 'field "' in text else ""
    names = sorted(n for n in os.environ if n.upper().startswith(f"COCKPIT_{field.upper()}__"))
    where = f" ({', '.join(names)})" if field and names else ""
    return (
        f"invalid configuration: cannot parse the {field or 'a'} setting from the "
        f"environment{where}: lists and tables are JSON there, e.g. "
        'COCKPIT_TRADING__WATCHLIST=\'["NSE:INFY", "NSE:SBIN"]\' or '
        'COCKPIT_UI__KEYMAP=\'{"buy_market": "f1"}\''
    )


def watchlist_warnings(keys: list[str]) -> list[str]:
    """Watchlist entries that cannot be an instrument (the engine ignores them): say so."""
    from cockpit.domain.instruments import parse_key

    out: list[str] = []
    seen: set[str] = set()
    for key in keys:
        try:
            parse_key(key)
        except ValueError as exc:
            out.append(f"trading.watchlist: {exc}; it is ignored (e.g. NSE:INFY)")
            continue
        if key in seen:
            out.append(f"trading.watchlist: {key} is listed twice")
        seen.add(key)
    return out


def file_warnings(path: Path, data: Mapping[str, Any]) -> list[str]:
    """A config file that holds a secret and that others may read: say so."""
    raw_venue = data.get("venue")
    venue: Mapping[str, Any] = raw_venue if isinstance(raw_venue, Mapping) else {}
    secrets = [k for k in ("api_key", "kite_api_key", "kite_access_token") if venue.get(k)]
    secrets = ["venue." + k for k in secrets]
    raw_alerts = data.get("alerts")
    if isinstance(raw_alerts, Mapping) and raw_alerts.get("webhook_url"):
        secrets.append("alerts.webhook_url")
    if not secrets:
        return []
    try:
        mode = path.stat().st_mode
    except OSError:
        return []
    if mode & (stat.S_IRGRP | stat.S_IROTH | stat.S_IWGRP | stat.S_IWOTH):
        return [
            f"config file {path} holds {', '.join(secrets)} and is "
            f"readable by other users (mode {stat.S_IMODE(mode):04o}): run chmod 600 {path}, "
            "or move the key to the environment"
        ]
    return []
