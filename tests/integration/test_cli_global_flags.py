"""Issue 15.7: every subcommand honours the global flags, through the real ``cockpit`` command.

``cockpit --profile X engine stop --flatten`` acted on the default profile: the subcommand's
own ``--profile`` default overrode the global flag. With a second profile's engine side by
side, that stops (and flattens) the wrong account.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.test_engine_cli import Env, temp_env

pytest.importorskip("cockpit.engine.core", reason="the engine core is not in this tree yet")


@pytest.fixture
def env() -> Iterator[Env]:
    yield from temp_env("ckp")


def test_global_profile_reaches_engine_start_status_and_stop_flatten(env: Env) -> None:
    out = env.cli("engine", "start")
    assert out.returncode == 0, out.stderr
    assert "started for profile default" in out.stdout
    out = env.cli("--profile", "alt", "engine", "start")
    assert out.returncode == 0, out.stderr
    assert "started for profile alt" in out.stdout, out.stdout
    assert (env.root / "run" / "cockpit" / "alt.sock").exists()

    out = env.cli("--profile", "alt", "engine", "status")
    assert out.returncode == 0, out.stderr
    assert "profile alt" in out.stdout

    out = env.cli("--profile", "alt", "engine", "stop", "--flatten")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "stopped" in out.stdout
    assert env.cli("--profile", "alt", "engine", "status").returncode == 3
    still = env.cli("engine", "status")
    assert still.returncode == 0, "the default profile's engine was stopped instead"
    assert "profile default" in still.stdout

    # The subcommand's own flag still works, and wins over nothing.
    out = env.cli("engine", "stop", "--profile", "default")
    assert out.returncode == 0, out.stdout + out.stderr
    assert env.wait_gone() == []


def test_global_profile_and_journal_reach_journal_export(env: Env) -> None:
    out = env.cli("--profile", "alt", "journal", "export")
    assert out.returncode == 1
    assert "alt.sqlite3" in out.stderr, out.stderr
    out = env.cli("--journal", str(env.root / "elsewhere.sqlite3"), "journal", "export")
    assert out.returncode == 1
    assert "elsewhere.sqlite3" in out.stderr, out.stderr
