"""UI test fixtures: isolated user dirs, a fixed time zone, helpers to wait on app state, and
one real engine per test module (``engine``; ``fresh`` flattens it at SBIN 800.00 first)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.ui.test_engine_pilot import EngineProc


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


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineProc]:
    """A real engine process on the paper exchange, shared by one test module's tests."""
    from tests.ui.test_engine_pilot import running_engine

    with running_engine() as e:
        yield e


@pytest.fixture
def fresh(engine: EngineProc) -> EngineProc:
    """Each test starts flat and armed at SBIN 800.00."""
    engine.flatten_all()
    engine.price("SBIN", "800.00")
    return engine


async def wait_for(pilot: object, cond: Callable[[], object], limit: float = 5.0) -> None:
    """Pause the pilot until ``cond()`` is truthy (fails after ``limit`` seconds)."""
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {limit}s")
        await pilot.pause(0.02)  # type: ignore[attr-defined]


def showing(app: object, name: str) -> bool:
    """The screen on top is a ``name`` and has mounted: a pushed screen is on top at once, its
    widgets (and its keys' focus) a moment later, under load a frame or more."""
    screen = app.screen  # type: ignore[attr-defined]
    return type(screen).__name__ == name and screen.is_mounted


async def screen_text(
    pilot: object,
    app: object,
    name: str,
    read: Callable[[], str],
    *wanted: str,
    limit: float = 5.0,
) -> str:
    """Wait until the screen on top is a mounted ``name`` and ``read()`` (its widgets' text)
    has every one of ``wanted``; return that text. The screen's type alone is not enough: its
    widgets mount and fill a frame or more later under load. A failure says what was read."""
    from textual.css.query import NoMatches

    deadline = time.monotonic() + limit
    last = ""
    while True:
        if showing(app, name):
            try:
                last = read()
            except NoMatches:  # not composed yet
                last = ""
            if all(w in last for w in wanted):
                return last
        if time.monotonic() > deadline:
            top = type(app.screen).__name__  # type: ignore[attr-defined]
            raise AssertionError(
                f"{name} did not show {wanted!r} within {limit}s (on top: {top}; read {last!r})"
            )
        await pilot.pause(0.02)  # type: ignore[attr-defined]


def tz_is_utc() -> bool:
    """For assertions on rendered clocks."""
    return os.environ.get("TZ") == "UTC"
