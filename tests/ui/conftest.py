"""UI test fixtures: isolated user dirs, a fixed time zone, helpers to wait on app state."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads or writes the developer's config, state or sockets; clocks in UTC."""
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        d = tmp_path / var.lower()
        d.mkdir()
        monkeypatch.setenv(var, str(d))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def wait_for(pilot: object, cond: Callable[[], object], limit: float = 5.0) -> None:
    """Pause the pilot until ``cond()`` is truthy (fails after ``limit`` seconds)."""
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {limit}s")
        await pilot.pause(0.02)  # type: ignore[attr-defined]


def tz_is_utc() -> bool:
    """For assertions on rendered clocks."""
    return os.environ.get("TZ") == "UTC"
