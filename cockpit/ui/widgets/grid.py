"""LineGrid: a Line API widget that caches one strip per row and repaints only changed rows.

Subclasses compute their rows as plain tuples (hashable, comparable) and hand them to
:meth:`LineGrid.set_lines`; rows equal to what is on screen cost nothing, changed rows are
re-rendered and only their regions are refreshed (``refresh(Region)``). No DataTable.
"""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

Cell = tuple[str, str]
"""``(text, component classes)``: classes are space-separated names from COMPONENT_CLASSES."""
Line = tuple[str, tuple[Cell, ...]]
"""``(row classes, cells)``."""

BLANK_LINE: Line = ("", ())

QUIET_S = 0.04
"""A capped rebuild waits this long past its gap for a batch to do it (one frame at 30 fps
and a little): only in a quiet market does its own timer run it."""


def cell(text: str, width: int, cls: str = "", *, left: bool = False) -> Cell:
    """A cell padded (or cut) to ``width`` cells, right-aligned unless ``left``."""
    if len(text) > width:
        text = text[: max(0, width - 1)] + "…" if width > 1 else text[:width]
    return (text.ljust(width) if left else text.rjust(width), cls)


def changed_span(old: Line | None, new: Line | None, width: int) -> tuple[int, int]:
    """The columns ``[x0, x1)`` where two renderings of a row differ (the whole row if the
    row style differs). Only that span is repainted: fewer bytes to the terminal."""
    if old is None or new is None or old[0] != new[0]:
        return 0, width
    a, b = old[1], new[1]
    x = 0
    i = 0
    n = min(len(a), len(b))
    while i < n and a[i] == b[i]:
        x += len(a[i][0])
        i += 1
    x0 = x
    end_a = sum(len(t) for t, _ in a)
    end_b = sum(len(t) for t, _ in b)
    if end_a != end_b:
        return min(x0, width), width
    j = 0
    xe = end_a
    while j < n - i and a[len(a) - 1 - j] == b[len(b) - 1 - j]:
        xe -= len(a[len(a) - 1 - j][0])
        j += 1
    x0 = min(x0, width)
    x1 = min(max(xe, x0 + 1), width)
    return (x0, x1) if x1 > x0 else (0, width)


class LineGrid(Widget):
    """Base of the live grids: one cached :class:`Strip` per row, region refreshes."""

    COMPONENT_CLASSES: ClassVar[set[str]] = set()
    max_hz: float | None = None
    """Cap of market-driven redraws per second (:meth:`rebuild_soon`); None: every batch."""

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:  # noqa: A002
        super().__init__(name=name, id=id, classes=classes)
        self._lines: list[Line] = []
        self._strips: dict[int, Strip] = {}
        self._strip_width = -1
        self._strip_style: Style | None = None
        self._style_cache: dict[tuple[str, str], Style] = {}
        self._style_dirty = False
        self.rows_rendered = 0
        """How many rows were re-rendered (for tests and benchmarks)."""
        self._last_rebuild = 0.0
        self._soon: asyncio.TimerHandle | None = None
        self._sides_key: object = None
        self._side_segments: tuple[Segment | None, Segment | None] = (None, None)
        self._sided: dict[int, tuple[Strip, Strip]] = {}
        """Rows between their side borders: ``y`` -> (the row's strip, with its borders)."""

    # ------------------------------------------------------------------ content

    def set_lines(self, lines: list[Line]) -> int:
        """Replace the content; refresh only rows that differ. Returns how many changed."""
        old = self._lines
        width = self.size.width
        changed = 0
        n = max(len(old), len(lines))
        for y in range(n):
            new_line = lines[y] if y < len(lines) else None
            old_line = old[y] if y < len(old) else None
            if new_line != old_line:
                self._strips.pop(y, None)
                changed += 1
                if width:
                    x0, x1 = changed_span(old_line, new_line, width)
                    self.refresh(Region(x0, y, x1 - x0, 1))
        self._lines = lines
        if len(lines) != len(old) and self.styles.height is not None and self.styles.height.is_auto:
            self.refresh(layout=True)  # as tall as its rows (the positions pane at 100-139)
        return changed

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """As many rows as it has (``height: auto``)."""
        return len(self._lines)

    def lines(self) -> list[Line]:
        """The rows as last set."""
        return self._lines

    def text_of(self, y: int) -> str:
        """Plain text of row ``y`` (for tests)."""
        if y >= len(self._lines):
            return ""
        return "".join(t for t, _ in self._lines[y][1])

    def invalidate(self) -> None:
        """Drop every cached strip and style and repaint (theme or size change)."""
        self._strips.clear()
        self._style_cache.clear()
        self._strip_style = None
        self.refresh()

    def on_mount(self) -> None:
        """Cached strips carry colours: drop them when the theme changes."""
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.invalidate())

    def on_resize(self) -> None:
        """Rows are re-rendered at the new width."""
        self._strips.clear()
        self.rebuild()

    def rebuild(self) -> None:
        """Recompute every row from the state (subclasses)."""

    def rebuild_soon(self) -> None:
        """Rebuild, at most ``max_hz`` times a second (None: now). For market-driven
        redraws that the eye does not need at the full frame rate.

        Called as a batch is applied: if the grid's gap since its last rebuild has passed,
        it rebuilds now, so it is painted in the batch's frame with the other widgets. Else
        the next batch after the gap does it; a timer set for a frame after the gap does it
        only if no batch comes (a quiet market). Rebuilt on its own timer instead, each
        capped grid was painted in a frame of its own, between the batches': 2-3 screen
        updates per batch, each a walk of the compositor, and more frames than batches.

        The pending rebuild is an asyncio ``call_later``, not a Textual ``set_timer``: a
        one-shot Textual timer is silently dropped when the event loop reaches its first
        check later than its delay (its skip logic; another thread holding the GIL or a GC
        pause is enough for a delay of a few ms). ``_soon`` then stayed set, and the grid
        never redrew for the market again."""
        if self.max_hz is None:
            self._rebuild_now()
            return
        wait = self._last_rebuild + self.min_gap() - time.monotonic()
        if wait <= 0:
            if self._soon is not None:
                self._soon.cancel()
            self._rebuild_now()
        elif self._soon is None:
            loop = asyncio.get_running_loop()
            self._soon = loop.call_later(wait + QUIET_S, self.call_next, self._rebuild_now)

    def min_gap(self) -> float:
        """Seconds a market-driven rebuild waits after the last one (``1 / max_hz``; a grid
        may pace itself by the rows it last repainted instead)."""
        return 1.0 / self.max_hz if self.max_hz else 0.0

    def on_unmount(self) -> None:
        """Drop a pending rebuild with the grid."""
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None

    def _rebuild_now(self) -> None:
        self._soon = None
        self._last_rebuild = time.monotonic()
        self.rebuild()

    # ------------------------------------------------------------------ rendering

    def _style(self, classes: str) -> Style:
        if not classes:
            return Style()
        return self.get_component_rich_style(*classes.split(), partial=True)

    def _combined(self, row_cls: str, cls: str) -> Style:
        """Base + row classes + cell classes, cached until the styles change. Equal styles
        are one object (a row's cells are joined by identity, not by comparing styles)."""
        key = (row_cls, cls)
        style = self._style_cache.get(key)
        if style is None:
            style = self._base_style()
            if row_cls:
                style = style + self._style(row_cls)
            if cls:
                style = style + self._style(cls)
            same = next((s for s in self._style_cache.values() if s == style), None)
            style = self._style_cache[key] = style if same is None else same
        return style

    def _base_style(self) -> Style:
        if self._strip_style is None:
            self._strip_style = self.rich_style
        return self._strip_style

    def notify_style_update(self) -> None:
        """CSS or theme changed: recompute styles at the next render (strips re-render only
        if the widget's base style actually changed, or on a theme switch)."""
        super().notify_style_update()
        self._style_dirty = True

    def render_lines(self, crop: Region) -> list[Strip]:
        """The cached rows as they are, when Textual's styling step has nothing to add but
        side borders.

        Textual's step (its ``StylesCache``) draws borders, padding, outline, tint, opacity
        and hatch around a Line API widget's rows, and makes a new strip of each changed row
        (then the app's line filters a third). A grid with none of those but a left or right
        border gets its cached rows to the compositor unchanged (the same segments: the same
        picture), between the border segments Textual drew for it, filtered and cropped as
        Textual does; the filter's result stays cached on the row's strip until the row
        changes. Anything else goes Textual's way."""
        sides = self._sides()
        if sides is None:
            return super().render_lines(crop)
        render_line = self.render_line
        left, right = sides
        if left is None and right is None:
            strips = [render_line(y) for y in crop.line_range]
        else:
            sided = self._with_sides
            strips = [sided(y, render_line(y), left, right) for y in crop.line_range]
        filters = self.get_line_filters()
        if filters:
            background = self.background_colors[1]
            for line_filter in filters:
                strips = [strip.apply_filter(line_filter, background) for strip in strips]
        x1, x2 = crop.column_span
        if x1 or x2 != self.region.width:
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips

    def _plain(self) -> bool:
        """Nothing for Textual's styling step to add but side borders: no padding, top or
        bottom border, outline, tint, hatch, text opacity, opacity, border title or hovered
        link."""
        styles = self.styles
        gutter = styles.gutter
        if (
            gutter.top
            or gutter.bottom
            or any(styles.padding)
            or styles.tint.a
            or styles.text_opacity != 1.0
            or self._border_title is not None
            or self._border_subtitle is not None
            or (styles.has_rule("hatch") and styles.hatch != "none")
            or any(edge for edge, _ in styles.outline)
            or (self.auto_links and self.hover_style._link_id)
            or self.opacity != 1.0
        ):
            return False
        size, region = self.size, self.region
        return size.height == region.height and size.width + gutter.width == region.width

    def _sides(self) -> tuple[Segment | None, Segment | None] | None:
        """The left and right border segments (None: no border that side), as Textual's step
        draws them for this grid; None if the rows must go Textual's way."""
        if not self._plain():
            return None
        border = self.styles.border
        if not border.left[0] and not border.right[0]:
            return None, None
        key = (self.background_colors, border, self.region.width)
        if key != self._sides_key:
            self._sides_key = key
            self._sided.clear()
            self._side_segments = self._drawn_sides(border.left[0] != "", border.right[0] != "")
        return self._side_segments

    def _drawn_sides(self, left: bool, right: bool) -> tuple[Segment | None, Segment | None]:
        """The side borders of a row as Textual's own step draws it (without line filters:
        they are applied to the whole row after)."""
        app = self.app
        base_background, background = self.background_colors
        strip = self._styles_cache.render(
            self.styles,
            self.region.size,
            base_background,
            background,
            self.render_line,
            (),
            None,
            None,
            content_size=self.size,
            padding=self.styles.padding,
            crop=Region(0, 0, self.region.width, 1),
            opacity=1.0,
            ansi_theme=app.ansi_theme,
            native_ansi=app.native_ansi_color,
        )[0]
        segments = list(strip)
        return (segments[0] if left else None), (segments[-1] if right else None)

    def _with_sides(self, y: int, row: Strip, left: Segment | None, right: Segment | None) -> Strip:
        """Row ``y`` between its side borders, cached while the row's strip is the same."""
        done = self._sided.get(y)
        if done is not None and done[0] is row:
            return done[1]
        segments = list(row)
        if left is not None:
            segments.insert(0, left)
        if right is not None:
            segments.append(right)
        strip = Strip(segments, self.region.width)
        self._sided[y] = (row, strip)
        return strip

    def render_line(self, y: int) -> Strip:
        """One row from the cache, rendered on a miss."""
        width = self.size.width
        if self._style_dirty:
            self._style_dirty = False
            self._style_cache.clear()
            old, self._strip_style = self._strip_style, None
            if self._base_style() != old:
                self._strips.clear()
        if width != self._strip_width:
            self._strips.clear()
            self._strip_width = width
        strip = self._strips.get(y)
        if strip is not None:
            return strip
        if y >= len(self._lines):
            strip = Strip.blank(width, self._base_style())
        else:
            strip = self._render_row(self._lines[y], width)
            self.rows_rendered += 1
        self._strips[y] = strip
        return strip

    def _render_row(self, line: Line, width: int) -> Strip:
        """One row as ONE strip: cells of the same style joined, padded to ``width`` with the
        row's style. (``Strip(...).adjust_cell_length(...).simplify()`` made three strips a
        row, each with seven caches of its own: a fifth of the TUI's rendering time.)"""
        row_cls, cells = line
        combined = self._combined
        texts: list[str] = []
        segments: list[Segment] = []
        style: Style | None = None
        length = 0
        for text, cls in cells:
            cell_style = combined(row_cls, cls)
            length += len(text) if text.isascii() else cell_len(text)
            if texts and cell_style is not style:
                segments.append(Segment("".join(texts), style))
                texts = []
            texts.append(text)
            style = cell_style
        if texts:
            segments.append(Segment("".join(texts), style))
        if length > width:
            return Strip(segments, length).crop(0, width)
        if length < width:
            pad = combined(row_cls, "")
            if segments and pad is style:
                segments[-1] = Segment(segments[-1].text + " " * (width - length), style)
            else:
                segments.append(Segment(" " * (width - length), pad))
        return Strip(segments, width)
