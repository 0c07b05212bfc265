"""Where the trading screen's toasts go: never over the ladder's core (my Buy and Sell orders,
the book's sizes, the price) nor over its marks (last price, entry, stop, target), which a DOM
trader watches while a toast is up. Found in a tmux trial at 80×24: a fill's toasts stood
over the ladder's right side, its marks."""

from __future__ import annotations

from dataclasses import dataclass

from textual.geometry import Region

from cockpit.ui.widgets.ladder_flow import Columns

TOAST_MIN_WIDTH = 30
"""The narrowest room beside the ladder that toasts are put in."""
FLOW_MIN_WIDTH = 20
"""The narrowest run of order-flow columns (traded volume, profile) toasts are put over."""


@dataclass(frozen=True, slots=True)
class Span:
    """Columns ``x`` to ``x + width`` of the screen (toasts keep inside them)."""

    x: int
    width: int


def toast_span(
    screen_width: int,
    ladder: Region,
    inside: Region,
    columns: Columns | None,
    price_width: int,
) -> Span | None:
    """The columns toasts may use beside or over the ladder (its outer ``ladder`` and inner
    ``inside`` regions, its ``columns`` and price width of the last rebuild); None where the
    ladder is not shown or leaves no such room (toasts go where they always do).

    First the room right of the ladder (the depth view, the chart), then the ladder's own
    order-flow columns between its Sell column and its marks (the session's traded volume:
    statistics, no order of mine is drawn there), then the room left of it (the watchlist).
    """
    if not ladder.width or not ladder.height:
        return None
    right = screen_width - ladder.right
    if right >= TOAST_MIN_WIDTH:
        return Span(ladder.right, right)
    if columns is not None and price_width:
        # A space each side: the flow's own leading space and the one before the marks.
        start = inside.x + columns.core(price_width) + 1
        width = columns.flow() - 1
        if width >= FLOW_MIN_WIDTH and start + width <= inside.right:
            return Span(start, width)
    if ladder.x >= TOAST_MIN_WIDTH:
        return Span(0, ladder.x)
    return None
