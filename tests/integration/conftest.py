"""Fixtures shared by the integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private XDG runtime/data/config/state dirs (0700) under ``tmp_path`` for this test."""
    for name in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        d = tmp_path / name.lower()
        d.mkdir(mode=0o700)
        monkeypatch.setenv(name, str(d))
    return tmp_path
