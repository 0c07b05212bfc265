"""``cockpit`` with no subcommand: attach to the profile's engine (starting one) and run the TUI."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any

ENGINE_START_TIMEOUT = 30.0


def _engine_flags(args: argparse.Namespace) -> list[str]:
    """The venue flags of this command line, to hand to ``cockpit engine start``."""
    out: list[str] = []
    get = vars(args).get
    for flag, name in (
        ("--profile", "profile"),
        ("--config", "config"),
        ("--journal", "journal"),
        ("--broker", "broker"),
        ("--host", "host"),
        ("--ws-url", "ws_url"),
        ("--feed", "feed"),
    ):
        value = get(name)
        if value:
            out += [flag, str(value)]
    return out


class EngineConnector:
    """Attach to the profile's engine, or start it (detached) and attach."""

    def __init__(self, settings: Any, args: argparse.Namespace) -> None:
        self.settings = settings
        self.args = args
        self.started_engine = False
        self.notes: list[str] = []
        """Things to tell the user once attached."""

    def _connect_once(self) -> Any:
        from cockpit.engine.client import EngineClient

        return EngineClient.connect(
            self.settings.profile, path=self.settings.socket_path, client="cockpit-tui"
        )

    def _start_engine(self) -> None:
        # Venue flags belong to the subcommand in our CLI: they go after "engine start".
        cmd = [sys.executable, "-m", "cockpit.cli", "engine", "start", *_engine_flags(self.args)]
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=ENGINE_START_TIMEOUT,
            check=False,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise RuntimeError("`cockpit engine start` failed: " + " | ".join(tail))

    def connect(self) -> Any:
        """Attach; start the engine if none runs. Returns a Link."""
        from cockpit.engine.client import EngineNotRunning
        from cockpit.ui.link import ClientLink

        try:
            client = self._connect_once()
        except EngineNotRunning:
            self._start_engine()
            self.started_engine = True
            deadline = time.monotonic() + ENGINE_START_TIMEOUT
            while True:
                try:
                    client = self._connect_once()
                    break
                except EngineNotRunning:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        else:
            given = [f for f in ("broker", "host", "ws_url", "feed") if vars(self.args).get(f)]
            if given:
                self.notes.append(
                    f"attached to the running engine (venue {client.welcome.venue}); the flags "
                    f"{', '.join('--' + g.replace('_', '-') for g in given)} apply only when an "
                    "engine is started — stop it first (`cockpit engine stop`) to change them"
                )
        return ClientLink(client)

    def restart(self) -> Any:
        """After the engine died: start it again and attach."""
        return self.connect()


def run(args: argparse.Namespace) -> int:
    """Entry point of the bare ``cockpit`` command."""
    from cockpit.config import ConfigError, load_settings

    try:
        settings = load_settings(args=args)
    except ConfigError as exc:
        print(f"cockpit: {exc}", file=sys.stderr)
        return 2
    # Textual reads these at import time.
    os.environ.setdefault("TEXTUAL_FPS", str(settings.ui.fps))
    os.environ.setdefault("TEXTUAL_ANIMATIONS", settings.ui.animations)
    from cockpit.ui.app import CockpitApp, UiOptions

    connector = EngineConnector(settings, args)
    app = CockpitApp(connector, UiOptions.from_settings(settings))
    rc = app.run()
    return int(rc or 0)
