"""The core never imports Textual (DESIGN.md §2): checked in a fresh interpreter."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import cockpit

CORE = ["domain", "adapters", "engine", "link", "daemon", "journal", "sim"]


def _modules(package: str) -> list[str]:
    module = __import__(f"cockpit.{package}", fromlist=["_"])
    names = [module.__name__]
    for info in pkgutil.walk_packages(module.__path__, prefix=f"{module.__name__}."):
        names.append(info.name)
    return names


@pytest.mark.parametrize("package", CORE)
def test_core_package_does_not_import_textual(package: str) -> None:
    modules = _modules(package)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"cockpit.{package} imported {result.stdout.strip()}"


def test_boundary_check_would_catch_textual() -> None:
    """The check itself can fail: importing the UI package's app pulls Textual in."""
    code = "import sys, textual\nprint('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "True"
    assert cockpit.__version__
