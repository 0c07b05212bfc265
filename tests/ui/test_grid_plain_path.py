"""A grid with nothing for Textual's styling step to add hands the compositor its cached rows
(the same picture as Textual's step); any border, padding or opacity goes Textual's way."""

from __future__ import annotations

from typing import ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from cockpit.ui.widgets.grid import Line, LineGrid, cell

ROWS: list[Line] = [
    ("", (cell("RELIANCE", 10, "g--a", left=True), cell("1285.85", 9, "g--b"))),
    ("g--row", (cell("INFY", 6, "g--a", left=True), cell("1.2K", 6))),
    ("", (cell("▲ wide 株式", 14, "g--b"),)),
    ("g--row", (cell("far too long for the grid " * 3, 70, "g--a"),)),
]


class Grid(LineGrid):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"g--a", "g--b", "g--row"}
    DEFAULT_CSS = """
    Grid { height: 6; background: $surface; }
    Grid .g--a { color: red; }
    Grid .g--b { color: green; text-style: bold; }
    Grid .g--row { background: blue; }
    """

    def rebuild(self) -> None:
        self.set_lines(list(ROWS))


class GridApp(App[None]):
    CSS = """
    #bordered { border-left: vkey $panel; }
    #both { border-left: vkey $panel; border-right: vkey red; }
    #boxed { border: round $panel; }
    #padded { padding: 0 1; }
    #faded { opacity: 0.5; }
    """

    def compose(self) -> ComposeResult:
        yield Grid(id="plain")
        yield Grid(id="bordered")
        yield Grid(id="both")
        yield Grid(id="boxed")
        yield Grid(id="padded")
        yield Grid(id="faded")


def segments(strips: list[Strip]) -> list[list[object]]:
    return [list(strip) for strip in strips]


def textual_way(grid: Grid, crop: Region) -> list[Strip]:
    """What Textual's own step hands the compositor for ``crop``."""
    return Widget.render_lines(grid, crop)


@pytest.mark.parametrize("name", ["plain", "bordered", "both"])
async def test_a_plain_grid_hands_its_cached_rows_the_same_picture(name: str) -> None:
    app = GridApp()
    async with app.run_test(size=(50, 50)) as pilot:
        grid = app.query_one(f"#{name}", Grid)
        grid.rebuild()
        width, height = grid.region.size
        assert grid._plain()
        for crop in (Region(0, 0, width, height), Region(3, 1, width - 9, 3)):
            assert segments(grid.render_lines(crop)) == segments(textual_way(grid, crop))
        grid.styles.background = "darkred"  # the borders' background with it
        await pilot.pause()
        crop = Region(0, 0, width, height)
        assert segments(grid.render_lines(crop)) == segments(textual_way(grid, crop))
        strips = grid.render_lines(Region(0, 0, width, height))
        background = grid.background_colors[1]
        sides = grid._sides()
        assert sides is not None
        for y, strip in enumerate(strips):
            row = grid.render_line(y)
            if sides != (None, None):
                row = grid._with_sides(y, row, *sides)
            for line_filter in grid.get_line_filters():
                row = row.apply_filter(line_filter, background)
            assert strip is row  # no new strip per row and frame: the cached one


@pytest.mark.parametrize("name", ["boxed", "padded", "faded"])
async def test_a_grid_with_a_top_border_padding_or_opacity_goes_textuals_way(name: str) -> None:
    app = GridApp()
    async with app.run_test(size=(50, 30)):
        grid = app.query_one(f"#{name}", Grid)
        grid.rebuild()
        assert not grid._plain()
        crop = Region(0, 0, *grid.region.size)
        assert segments(grid.render_lines(crop)) == segments(textual_way(grid, crop))
        assert segments(grid.render_lines(crop)) != segments(
            [grid.render_line(y) for y in range(crop.height)]
        )
