"""The TUI runs below the engine's priority, and an engine it starts does not (``[ui] nice``).

The TUI's connector as ``cockpit`` uses it (``cockpit/ui/main.py``), a real detached engine
with its paper exchange in temporary XDG dirs: the connector is made, the calling thread
lowers its priority as ``cockpit`` does, then the engine is started, stopped and started again
(the "restart" of the engine-lost screen). Both engines run at the normal priority.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_engine_cli import Env, temp_env

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")


@pytest.fixture
def env() -> Iterator[Env]:
    yield from temp_env("ckn")


def engine_nice(link: Any) -> int:
    return os.getpriority(os.PRIO_PROCESS, link.client.welcome.engine_pid)


def test_engines_the_tui_starts_run_at_the_normal_priority(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cockpit.config import load_settings
    from cockpit.ui.main import EngineConnector
    from cockpit.ui.priority import lower_thread, read_autogroup, thread_nice

    for name in list(os.environ):
        if name.startswith(("COCKPIT_", "OPENALGO_", "KITE_")):
            monkeypatch.delenv(name)
    for name in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, env.env[name])
    monkeypatch.setenv("PYTHONPATH", env.env["PYTHONPATH"])
    base = thread_nice()
    settings = load_settings(overrides={"ui": {"nice": base + 5}})
    seen: dict[str, Any] = {}

    group_before = read_autogroup()

    def tui() -> None:  # a thread of its own: its nice dies with it
        connector = EngineConnector(settings, argparse.Namespace(read_only=False))
        try:
            connector.prefetch()
            seen["tui"] = lower_thread(settings.ui.nice)
            first = connector.connect()
            seen["first"] = engine_nice(first)
            seen["group"] = read_autogroup()
            first.close()
            stopped = env.cli("engine", "stop")
            seen["stop"] = stopped.returncode, stopped.stderr
            seen["gone"] = env.wait_gone()
            second = connector.restart()
            seen["second"] = engine_nice(second)
            seen["pids"] = first.client.welcome.engine_pid, second.client.welcome.engine_pid
            second.close()
        finally:
            connector.group.restore()
            connector.spawner.close()
            seen["group_after"] = read_autogroup()

    t = threading.Thread(target=tui)
    t.start()
    t.join(120)
    try:
        check(seen, base, group_before)
    finally:
        assert env.cli("engine", "stop").returncode == 0
        assert env.wait_gone() == []


def check(seen: dict[str, Any], base: int, group_before: tuple[str, int] | None) -> None:
    assert seen["tui"] == base + 5
    assert seen["stop"][0] == 0, seen["stop"][1]
    assert seen["gone"] == []
    assert seen["pids"][0] != seen["pids"][1]  # the second is a new engine
    assert seen["first"] == base
    assert seen["second"] == base  # started after the TUI lowered itself, still not niced
    if group_before is not None:  # autogroups: the engine runs in a session of its own
        assert seen["group"] == (group_before[0], max(group_before[1], base + 5))
        assert seen["group_after"] == group_before
