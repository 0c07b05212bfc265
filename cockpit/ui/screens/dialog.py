"""The base of every dialog: toasts stack up above the dialog, beside it or below it, never over
its question or its buttons (at 80×24 a fill's toast stood over the quit dialog's Detach; at
160×48 over the order ticket, as tall as the screen)."""

from __future__ import annotations

from typing import TypeVar

from textual import events, on
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets._toast import ToastRack

R = TypeVar("R")
TOAST_ROWS = 4
"""A toast's height: a title and a line of text in a tall border."""
TOAST_MIN_WIDTH = 30
"""The narrowest room beside a dialog that toasts are put in."""


class Dialog(ModalScreen[R]):
    """A modal screen whose ``#dialog`` box toasts never cover."""

    DEFAULT_CLASSES = "dialog"
    """Every dialog is centred over the screen it covers, which shows round it (the
    stylesheet's ``ModalScreen.dialog``); one without it sat in the top-left corner."""

    @on(events.ScreenResume)
    @on(events.Resize)
    def _toasts_clear_of_dialog(self) -> None:
        # The screens below show through: their toasts hide (the app shows them again when
        # such a screen is back on top).
        for screen in self.app.screen_stack[:-1]:
            for rack in screen.query(ToastRack):
                rack.display = False
        self.call_after_refresh(self._lift_toasts)

    def _lift_toasts(self) -> None:
        """Toasts go where the dialog leaves room for one: above it (stacking up from just
        above it; older ones go off the top), else beside it on the right (clear of the panes
        below, as the stylesheet keeps them), else in a short band above it at the full width
        (a line each), else below it; a dialog that leaves no such room hides them while it is
        up (each is in the message log, `M`). Nothing ever covers its question or buttons."""
        try:
            box = self.query_one("#dialog").region
        except NoMatches:
            return
        if not box.height:
            return
        width, height = self.size
        above, beside, below = box.y, width - box.right - 1, height - box.bottom
        wide = False
        for rack in self.query(ToastRack):
            styles = rack.styles
            for rule in ("margin", "max_height", "width"):
                styles.clear_rule(rule)
            clear_of_panes = styles.margin.bottom  # the stylesheet's, for this screen size
            if above >= TOAST_ROWS:
                styles.margin = (0, 0, height - above, 0)
            elif beside >= TOAST_MIN_WIDTH:
                styles.margin = (0, 0, clear_of_panes, box.right + 1)
                styles.width = beside
                wide = True
            elif above >= TOAST_ROWS - 1:
                styles.margin = (0, 0, height - above, 0)
                wide = True
            elif below >= TOAST_ROWS:
                styles.margin = (0, 0, 0, 0)
                styles.max_height = below
            else:
                styles.margin = (0, 0, 0, 0)
                styles.max_height = 0
        self.set_class(wide, "-toasts-wide")
