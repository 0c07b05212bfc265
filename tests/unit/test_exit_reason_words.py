"""The README names the exit reasons with the words `cockpit journal stats` and the trades
export write (a plan's reason, a closing order's kind)."""

from __future__ import annotations

import re
from pathlib import Path

from cockpit.domain.exit_decision import ExitReason
from cockpit.journal.stats import _TAG_REASONS

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_reasons() -> set[str]:
    text = " ".join(README.read_text(encoding="utf-8").split())
    found = re.search(r"The reason is the exit plan's where it fired \((.*?)\), else the", text)
    assert found, "the README's exit reason sentence"
    words = set(re.findall(r"`([^`]+)`", found.group(0)))
    rest = text[found.end() : found.end() + 400]
    kinds = re.search(r"closing order's kind \((.*?)\)", rest)
    assert kinds, "the README's closing order kinds"
    return words | set(re.findall(r"`([^`]+)`", kinds.group(1)))


def test_the_readme_names_every_exit_reason_the_journal_writes() -> None:
    written = {str(r) for r in ExitReason} | set(_TAG_REASONS.values())
    assert written <= _readme_reasons()


def test_the_readme_names_no_exit_reason_the_journal_never_writes() -> None:
    written = {str(r) for r in ExitReason} | set(_TAG_REASONS.values())
    written |= {f"TP{n}" for n in (1, 2, 3)} | {"target", "partial", "external"}
    assert _readme_reasons() <= written
