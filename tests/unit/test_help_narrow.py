"""The help at 80 columns wraps a sentence the wide table breaks over two lines as one
paragraph: found in a tmux trial, "Asks first … a limit that" / "would fill at once, a price"
/ "off the ladder's screen …" left a short line in the middle of the sentence."""

from __future__ import annotations

import re

from cockpit.ui.screens.modals import narrow_help


def paragraph(text: str, first: str) -> list[str]:
    """The lines from the one starting with ``first`` to the one before the next key row,
    section title or unindented line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(first))
    out = [lines[start]]
    for line in lines[start + 1 :]:
        if not re.match(r"  [a-z(]", line) or re.match(r"  \S.{0,12}?  +\S", line):
            break
        out.append(line)
    return out


def test_a_sentence_is_wrapped_as_one_paragraph() -> None:
    for first in ("Asks first", "[b]Count[/b]"):
        lines = paragraph(narrow_help(width=68), first)
        assert len(lines) >= 2, lines
        shown = [re.sub(r"\[/?b\]|\\(?=\[)", "", line) for line in lines]
        assert all(len(line) > 55 for line in shown[:-1]), shown
        assert all(len(line) <= 68 for line in shown), shown
