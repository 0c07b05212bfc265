"""Keys first on screen too: paint what a key's action changed as it returns (see paint_now)."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widget import Widget


def paint_now(screen: Screen[Any]) -> None:
    """Keys first on screen too: paint what an action changed as it returns.

    Textual paints on a frame clock (``[ui] fps``): a widget that changed tells its screen
    through a message, and the screen paints at the clock's next tick. While the market keeps
    the clock busy that tick is up to a frame away (33 ms at 30 fps), on top of the key's own
    handling: measured at 3,000 symbols, key-to-screen p50 went from 10 to 28 ms once the
    watchlist drew every frame it had something for. Here the changed widgets go to their
    screen at once and it paints now, as the clock would; the clock paces everything else.
    Only repaints: an action that changed a layout or styles (a pane shown or hidden) is left
    to the clock, which does those steps in order. Relies on Textual's own names for these
    steps (8.x); where they are missing, it does nothing and the clock paints as before.
    """
    dirty = getattr(screen, "_dirty_widgets", None)
    paint = getattr(screen, "_on_timer_update", None)
    if dirty is None or paint is None or not screen.is_current:
        return
    changed = []
    for widget in screen.walk_children(Widget):
        if _pending(widget):
            return  # a layout or style change on its way: the clock paints it whole
        if getattr(widget, "_repaint_required", False) and widget.display:
            changed.append(widget)
    for widget in changed:
        widget._repaint_required = False  # noqa: SLF001 - as Textual's _check_refresh
        dirty.add(widget)
    if dirty:
        paint()


def _pending(widget: Widget) -> bool:
    """Whether a widget's layout, scroll or style change has not reached its screen yet (the
    screen's own pending layout is done by the paint, as the clock's tick would)."""
    return any(
        getattr(widget, name, False)
        for name in ("_layout_required", "_scroll_required", "_refresh_styles_required")
    )
