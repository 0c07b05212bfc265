"""When a screen may touch its widgets.

A screen pushed is on top at once, but composes and mounts a moment later, in its own task.
Until then it has no widgets; and if the app starts closing (ctrl+q, the lost-engine dialog's
quit, the session's end) or the screen is taken off before that, Textual mounts none of them.
A screen that looked one up then (its ``on_mount``, or a batch or a new selection redrawing it
first) raised NoMatches or AttributeError, and the app closed with a traceback: under load, an
engine stop put up its dialog as the app closed, and the dialog's ``on_mount`` crashed it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from textual.screen import ModalScreen, Screen

S = TypeVar("S", bound=Screen[Any])
P = ParamSpec("P")


def wanted(screen: Screen[Any]) -> bool:
    """The screen is in the app's stack and the app is not closing."""
    return screen.is_attached and screen in screen.app.screen_stack


def drawn(screen: Screen[Any]) -> bool:
    """The screen is mounted (its widgets with it) and wanted: a batch or a selection may
    redraw it. Before its mount it is skipped: its ``on_mount`` draws everything."""
    return screen.is_mounted and wanted(screen)


def seen_screens(stack: Sequence[Screen[Any]]) -> list[Screen[Any]]:
    """The screens on view: the top one and, under a modal one (a dialog, the order ticket),
    the screen it lets show through, and so on down to the first full screen. These follow
    the market; one fully covered catches up when it is back on top."""
    seen: list[Screen[Any]] = []
    for screen in reversed(stack):
        seen.append(screen)
        if not isinstance(screen, ModalScreen):
            break
    return seen


def when_wanted(
    handler: Callable[Concatenate[S, P], None],
) -> Callable[Concatenate[S, P], None]:
    """A handler that looks up the screen's widgets (``on_mount``, ``on_screen_resume``) runs
    only while the screen is wanted (a screen pushed as the app closes, or taken off first,
    has none to look up; its resume still comes)."""

    @functools.wraps(handler)
    def run(self: S, /, *args: P.args, **kwargs: P.kwargs) -> None:
        if wanted(self):
            handler(self, *args, **kwargs)

    return run
