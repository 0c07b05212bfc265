"""``cockpit`` with no subcommand: attach to the profile's engine (starting one) and run the TUI."""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import sys
from typing import Any

from cockpit.ui.priority import SessionGroup, Spawner, lower_thread


class EngineConnector:
    """Attach to the profile's engine, or start it (detached, so it outlives us) and attach.

    ``prefetch()`` begins that in a thread before Textual is even imported, so starting an
    engine and the paper exchange overlaps the TUI's own start.
    """

    def __init__(self, settings: Any, args: argparse.Namespace) -> None:
        self.settings = settings
        self.args = args
        self.started_engine = False
        self.notes: list[str] = []
        """Things to tell the user once attached."""
        self.read_only = bool(getattr(args, "read_only", False))
        """``--read-only``: attach as a viewer that cannot trade; never start an engine."""
        self.nice: int = settings.ui.nice
        """``[ui] nice``: the TUI runs below the engine (``cockpit/ui/priority.py``)."""
        self.spawner = Spawner()
        """Every attach (which may start the engine) runs on this thread, made before the
        TUI lowers its priority: an engine it starts runs at the normal priority."""
        self.group = SessionGroup()
        self._future: concurrent.futures.Future[Any] | None = None

    def _attach(self) -> Any:
        from cockpit.link.attach import attach_or_start

        attached = attach_or_start(
            self.settings,
            self.args,
            client="cockpit-tui",
            read_only=self.read_only,
            start=not self.read_only,
            showing=[],  # no books or volume at price in the snapshot: said once it is drawn
        )
        self.started_engine = self.started_engine or attached.started
        if attached.notice:
            self.notes.append(attached.notice)
        if self.nice:  # the engine in another session: our session's group yields too
            self.group.lower(self.nice, attached.client.welcome.engine_pid)
        return attached.client

    def prefetch(self) -> None:
        """Start attaching (or starting the engine) in the background now."""
        self._future = self.spawner.submit(self._attach)

    def connect(self) -> Any:
        """Attach; start the engine if none runs. Returns a Link (blocking)."""
        from cockpit.ui.link import ClientLink

        future, self._future = self._future, None
        client = future.result() if future is not None else self.spawner.call(self._attach)
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
    connector = EngineConnector(settings, args)
    connector.prefetch()
    # The screen yields to the engine: this thread and every thread Textual starts from it
    # run at [ui] nice (the engine, started from the connector's own thread, does not).
    lower_thread(settings.ui.nice)
    if connector.read_only:
        from cockpit.link.client import EngineNotRunning

        future = connector._future  # noqa: SLF001 - our own prefetch
        try:
            if future is not None:
                future.result()
        except EngineNotRunning:
            print(
                f"cockpit: no engine runs for profile {settings.profile} "
                "(a read-only viewer never starts one: `cockpit engine start`)",
                file=sys.stderr,
            )
            return 3
        except Exception:  # noqa: BLE001, S110 - the screen says it (connect raises it again)
            pass
    # Textual reads these at import time.
    os.environ.setdefault("TEXTUAL_FPS", str(settings.ui.fps))
    os.environ.setdefault("TEXTUAL_ANIMATIONS", settings.ui.animations)
    from cockpit.ui.app import CockpitApp, UiOptions

    options = UiOptions.from_settings(settings)
    options.freeze_after_start = True
    app = CockpitApp(connector, options)
    try:
        rc = app.run()
    finally:
        connector.group.restore()
        connector.spawner.close()
    return int(rc or 0)
