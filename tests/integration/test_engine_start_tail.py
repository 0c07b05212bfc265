"""An engine that fails at start says why in its own lines, not an earlier run's.

The restart dialog (engine lost, `r`) shows the start failure with the tail of the engine log;
that tail was the file's last 15 lines, which after a crash are mostly the dead engine's and
the previous start's lines. At 80x24 the dialog showed those and clipped the cause (found in a
tmux trial: "another paper exchange is using ..." was below the screen's edge).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit import paths
from cockpit.config import load_settings
from cockpit.link.attach import StartFailed, spawn_and_wait


def test_a_failed_start_shows_only_the_lines_of_this_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var, sub in (("HOME", "home"), ("XDG_STATE_HOME", "state"), ("XDG_DATA_HOME", "data"),
                     ("XDG_CONFIG_HOME", "config"), ("XDG_RUNTIME_DIR", "run")):  # fmt: skip
        (tmp_path / sub).mkdir(mode=0o700)
        monkeypatch.setenv(var, str(tmp_path / sub))
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk]\nmax_tick_age_s = 'soon'\n")
    settings = load_settings(overrides={"profile": "tail"})
    log_file = paths.log_path("tail")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    old = [f"2026-12-07 07:54:{i:02d} INFO an earlier run's line {i}" for i in range(40)]
    log_file.write_text("\n".join(old) + "\n")
    with pytest.raises(StartFailed) as err:
        spawn_and_wait(settings, ["--profile", "tail", "--config", str(bad)], timeout=60)
    text = str(err.value)
    assert "an earlier run's line" not in text, text
    assert "max_tick_age_s" in text, text  # this start's own reason
