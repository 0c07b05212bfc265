"""``python3 -m cockpit`` runs the command line, as ``cockpit`` does (it failed with "No
module named cockpit.__main__")."""

from __future__ import annotations

import subprocess
import sys


def test_python_dash_m_cockpit_is_the_cockpit_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cockpit", "engine", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "start" in out.stdout
    assert "status" in out.stdout
