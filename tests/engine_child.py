"""How tests run ``cockpit engine run`` as a child process: private XDG dirs, clean env, argv."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cockpit.sim import SimHandle

REPO = Path(__file__).resolve().parents[1]


def child_env(root: Path, **extra: str) -> dict[str, str]:
    """This process's environment without COCKPIT_/OPENALGO_/KITE_ settings, XDG dirs under
    ``root`` (run, data, cfg, state), PYTHONPATH at the repository, then ``extra``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("COCKPIT_", "OPENALGO_", "KITE_"))
    }
    env.update(
        XDG_RUNTIME_DIR=str(root / "run"),
        XDG_DATA_HOME=str(root / "data"),
        XDG_CONFIG_HOME=str(root / "cfg"),
        XDG_STATE_HOME=str(root / "state"),
        PYTHONPATH=str(REPO),
    )
    env.update(extra)
    return env


def engine_run_argv(sim: SimHandle, *more: str) -> list[str]:
    """``cockpit engine run`` with the OpenAlgo broker pointed at the paper exchange ``sim``."""
    return [
        sys.executable,
        "-m",
        "cockpit.cli",
        "engine",
        "run",
        "--broker",
        "openalgo",
        "--host",
        sim.rest_url,
        "--ws-url",
        sim.ws_url,
        *more,
    ]
