"""LineGrid renders a row as one Strip, the same cells and styles as Textual's own steps."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.strip import Strip

from cockpit.ui.widgets.grid import Line, LineGrid, cell

ROWS: list[Line] = [
    ("", (cell("RELIANCE", 10, "g--a", left=True), cell("1285.85", 9, "g--b"), cell("12", 4))),
    ("g--row", (cell("INFY", 6, "g--a", left=True), cell("1.2K", 6, "g--a"))),  # same style
    ("", (cell("▲ wide 株式", 14, "g--b"), cell("x", 3))),  # a wide character
    ("g--row", (cell("far too long for the grid " * 3, 70, "g--a"),)),  # cut at the width
    ("", ()),
    ("", (cell("plain", 6, "g--none"), cell("too", 4))),  # a class with no rule: one style
]


class Grid(LineGrid):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"g--a", "g--b", "g--row", "g--none"}
    DEFAULT_CSS = """
    Grid .g--a { color: red; }
    Grid .g--b { color: green; text-style: bold; }
    Grid .g--row { background: blue; }
    """

    def rebuild(self) -> None:
        self.set_lines(list(ROWS))


class GridApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Grid()


def textual_steps(grid: Grid, line: Line, width: int) -> Strip:
    """The row as Textual's own steps render it (what the grid did before)."""
    from rich.segment import Segment

    row_cls, cells = line
    segments = [Segment(t, grid._combined(row_cls, c)) for t, c in cells]
    return Strip(segments).adjust_cell_length(width, grid._combined(row_cls, "")).simplify()


async def test_a_row_is_one_strip_equal_to_textuals_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    app = GridApp()
    async with app.run_test(size=(60, 8)):
        grid = app.query_one(Grid)
        grid.rebuild()
        width = grid.size.width
        made = 0
        init = Strip.__init__

        def counting(self: Strip, *args: Any, **kwargs: Any) -> None:
            nonlocal made
            made += 1
            init(self, *args, **kwargs)

        assert len(grid.render_line(5)) == 1  # the cells and the padding: one style, one segment
        for y, line in enumerate(ROWS[:3] + ROWS[4:]):
            want = textual_steps(grid, line, width)
            grid._strips.clear()
            monkeypatch.setattr(Strip, "__init__", counting)
            made = 0
            got = grid.render_line(ROWS.index(line))
            monkeypatch.setattr(Strip, "__init__", init)
            assert made == 1, f"row {y}: {made} strips made"
            assert got.cell_length == width
            assert list(got) == list(want), f"row {y}"
        grid._strips.clear()
        cut = grid.render_line(3)  # longer than the width: cut (a second strip, rarely)
        assert list(cut) == list(textual_steps(grid, ROWS[3], width))
        assert cut.cell_length == width
