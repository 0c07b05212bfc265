"""The base of every dialog: toasts stack up above the dialog, never over its question or
its buttons (at 80×24 a fill's toast stood over the quit dialog's Detach)."""

from __future__ import annotations

from typing import TypeVar

from textual import events, on
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets._toast import ToastRack

R = TypeVar("R")
TOAST_ROWS = 4
"""A toast's height: a title and a line of text in a tall border."""


class Dialog(ModalScreen[R]):
    """A modal screen whose ``#dialog`` box toasts never cover."""

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
        """Toasts stack up from just above the dialog when a toast fits there (older ones go
        off the top); a dialog as tall as the screen keeps them where the stylesheet puts
        them, so the newest stays in sight."""
        try:
            box = self.query_one("#dialog").region
        except NoMatches:
            return
        if not box.height:
            return
        for rack in self.query(ToastRack):
            if box.y >= TOAST_ROWS:
                rack.styles.margin = (0, 0, max(0, self.size.height - box.y), 0)
            else:
                rack.styles.clear_rule("margin")
