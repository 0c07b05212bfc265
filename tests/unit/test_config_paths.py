"""Per-profile paths and the private runtime directory."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cockpit import paths


def test_paths_follow_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert paths.socket_path("p") == tmp_path / "run" / "cockpit" / "p.sock"
    assert paths.pid_path("p") == tmp_path / "run" / "cockpit" / "p.pid"
    assert paths.journal_path("p") == tmp_path / "data" / "cockpit" / "p.sqlite3"
    assert paths.config_file() == tmp_path / "cfg" / "cockpit" / "config.toml"
    assert paths.log_path("p") == tmp_path / "state" / "cockpit" / "log" / "engine-p.log"


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "x" * 65, "sp ace"])
def test_bad_profile_names_are_refused(bad: str) -> None:
    with pytest.raises(paths.BadProfile):
        paths.socket_path(bad)


def test_private_dir_is_0700_and_symlinks_refused(tmp_path: Path) -> None:
    d = tmp_path / "a" / "cockpit"
    paths.ensure_private_dir(d)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    d.chmod(0o755)
    paths.ensure_private_dir(d)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    link = tmp_path / "link"
    link.symlink_to(d)
    with pytest.raises(PermissionError, match="symlink"):
        paths.ensure_private_dir(link)


def test_child_env_puts_the_package_on_pythonpath(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = paths.child_env({"X": "1"})
    root = str(Path(paths.__file__).resolve().parents[1])
    assert env["PYTHONPATH"].split(":")[:2] == [root, "/elsewhere"]
    assert env["X"] == "1"
