"""Issue 16.12 (engine part): the paper exchange started by the engine gets only what it needs.

A real ``cockpit engine start`` (paper venue) in a private environment holding broker keys and
other secrets: the ``cockpit sim`` child's environment (``/proc/<pid>/environ``) carries none
of them, and its ports file lives in the private runtime directory, not the system temp.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_engine_cli import Env, temp_env

SECRETS = {
    "OPENALGO_API_KEY": "oa-secret-4411",
    "KITE_API_SECRET": "kite-secret-4412",
    "KITE_ACCESS_TOKEN": "kite-token-4413",
    "BINANCE_API_SECRET": "bn-secret-4414",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-4415",
    "COCKPIT_TEST_TOKEN": "ck-secret-4416",
}


@pytest.fixture
def env() -> Iterator[Env]:
    yield from temp_env("cke")


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


def test_the_sim_child_inherits_no_keys_and_keeps_its_ports_file_private(env: Env) -> None:
    env.env.update(SECRETS)
    started = env.cli("engine", "start")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        engine_pid = int(env.pidfile.read_text())
        sims = [pid for pid in env.our_processes() if pid != engine_pid]
        assert len(sims) == 1, sims
        child = _environ(sims[0])
        leaked = sorted(k for k, v in child.items() if v in SECRETS.values() or k in SECRETS)
        assert leaked == []
        assert child.get("COCKPIT_SIM_API_KEY")  # its own key, the one it needs
        argv = Path(f"/proc/{sims[0]}/cmdline").read_bytes().split(b"\0")
        ports_file = Path(os.fsdecode(argv[argv.index(b"--ports-file") + 1]))
        assert ports_file.is_relative_to(env.root / "run"), ports_file
    finally:
        stopped = env.cli("engine", "stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert env.wait_gone() == []
