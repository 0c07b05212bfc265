"""What the user sees when the configuration or the journal is bad, through the real
``cockpit`` command (issues 16.7, 16.11): a message saying what and how to fix it, never a
traceback, and never a start that silently loses data."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_engine_cli import Env, run_foreground, temp_env
from tests.unit.test_journal_open import journal_with_a_plan

pytest.importorskip("cockpit.engine.core", reason="the engine core is not in this tree yet")


@pytest.fixture
def env() -> Iterator[Env]:
    yield from temp_env("cks")


def assert_message(out: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    text = out.stdout + out.stderr
    assert out.returncode == code, text
    assert "Traceback" not in text, text
    for word in words:
        assert word in text, text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("COCKPIT_TRADING__WATCHLIST", "[NSE:SBIN"),
        ("COCKPIT_UI__KEYMAP", "{buy_market: f1"),
    ],
)
@pytest.mark.parametrize("argv", [["engine", "status"], []])
def test_malformed_json_in_the_environment_is_a_message(
    env: Env, name: str, value: str, argv: list[str]
) -> None:
    env.env[name] = value
    out = env.cli(*argv, timeout=60)
    assert_message(out, 2, "invalid configuration", name, "JSON")


def test_an_absurd_stop_distance_is_refused(env: Env) -> None:
    cfg = env.root / "c.toml"
    cfg.write_text("[exits]\nstop_ticks = 10000000000000000000000000\n")
    out = env.cli("--config", str(cfg), "engine", "status", timeout=60)
    assert_message(out, 2, "exits.stop_ticks", "less than or equal to 10000000")


def test_unknown_watchlist_keys_are_warned_about(env: Env) -> None:
    env.env["COCKPIT_TRADING__WATCHLIST"] = '["NSE:INFY", "XX:FOO", "SBIN", "NSE:NOPE"]'
    proc = run_foreground(env)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "unknown exchange 'XX' in 'XX:FOO'" in err
    assert "expected EXCH:SYMBOL, got 'SBIN'" in err
    assert "NSE:NOPE is not an instrument of this venue" in err
    assert "NSE:INFY" not in err.split("trading.watchlist")[-1].split("\n")[0]
    assert env.wait_gone() == []


def journal_file(env: Env) -> Path:
    return env.root / "data" / "cockpit" / "default.sqlite3"


def test_an_emptied_journal_is_refused_with_the_way_to_start_fresh(env: Env) -> None:
    path = journal_file(env)
    path.parent.mkdir(parents=True)
    journal_with_a_plan(path)
    path.write_bytes(b"")
    out = env.cli("engine", "run", timeout=60)
    assert_message(out, 1, "is empty (0 bytes)", f"mv {path} {path}.empty")
    assert path.stat().st_size == 0
    assert env.wait_gone() == []


def test_a_damaged_journal_is_a_message(env: Env) -> None:
    path = journal_file(env)
    path.parent.mkdir(parents=True)
    journal_with_a_plan(path)
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.seek(size - 4096)
        fh.write(b"\xa5" * 4096)
    out = env.cli("engine", "run", timeout=60)
    assert_message(out, 1, "is damaged")
    assert env.wait_gone() == []
    out = env.cli("journal", "export", timeout=60)
    assert_message(out, 1, "is damaged")


def test_a_read_only_journal_directory_is_a_message(env: Env) -> None:
    ro = env.root / "ro"
    ro.mkdir()
    mounted = False
    if os.geteuid() == 0:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"root cannot mount a read-only tmpfs here: {done.stderr!r}")
        mounted = True
    else:
        ro.chmod(0o555)
    try:
        out = env.cli("--journal", str(ro / "j.sqlite3"), "engine", "run", timeout=60)
        assert_message(out, 1, "cannot write the journal", "--journal")
        assert env.wait_gone() == []
    finally:
        if mounted:
            subprocess.run(["umount", str(ro)], check=True)
        else:
            ro.chmod(0o755)
