"""How a fired alert reaches the trader at the terminal: the bell and a desktop notification.

The notification is sent as both escape sequences terminals use for it: OSC 9 (the iTerm2
style) and OSC 777 ``notify`` (the rxvt-unicode style). A terminal that knows neither ignores
both; they work over SSH. Inside tmux ($TMUX set) each is wrapped in tmux's passthrough
(``ESC P tmux; ... ESC \\``; tmux 3.3+ needs ``set -g allow-passthrough on``), while the bell
goes to tmux itself (its ``bell-action`` / ``visual-bell`` apply).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Final, cast

from cockpit.link.protocol import AddAlert, AlertFired

if TYPE_CHECKING:
    from textual.app import App

    from cockpit.ui.app import CockpitApp

BEL: Final = "\x07"
ESC: Final = "\x1b"
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_TEXT: Final = 200


def _clean(text: str, *, field: bool = False) -> str:
    """Text safe inside an OSC string: no control characters (an ESC or BEL would end or
    break the sequence), and for OSC 777 fields no ``;`` (its separator)."""
    text = _CONTROL.sub(" ", text)[:MAX_TEXT]
    return text.replace(";", ",") if field else text


def passthrough(seq: str) -> str:
    """``seq`` wrapped for tmux's passthrough (every ESC inside doubled)."""
    return f"{ESC}Ptmux;{seq.replace(ESC, ESC + ESC)}{ESC}\\"


def notification(title: str, text: str, *, tmux: bool) -> str:
    """The bell and the desktop notification escape sequences for one alert."""
    osc9 = f"{ESC}]9;{_clean(title)}: {_clean(text)}{BEL}"
    osc777 = f"{ESC}]777;notify;{_clean(title, field=True)};{_clean(text, field=True)}{BEL}"
    if tmux:
        return BEL + passthrough(osc9) + passthrough(osc777)
    return BEL + osc9 + osc777


class TerminalNotifier:
    """Writes a fired alert's bell and notification to the app's terminal."""

    def __init__(self, app: App[Any], *, tmux: bool | None = None) -> None:
        self.app = app
        self.tmux = bool(os.environ.get("TMUX")) if tmux is None else tmux
        self.written: list[str] = []
        """Every sequence written (what a headless test can see)."""

    def ring(self, fired: AlertFired) -> None:
        """The bell and the notification for ``fired``."""
        seq = notification(fired.title, fired.text, tmux=self.tmux)
        self.written.append(seq)
        driver = getattr(self.app, "_driver", None)
        if driver is not None and not self.app.is_headless:
            driver.write(seq)
            driver.flush()


class AlertActions:
    """The app's alert keys and its bell (mixed into :class:`~cockpit.ui.app.CockpitApp`)."""

    @property
    def _capp(self) -> CockpitApp:
        return cast("CockpitApp", self)

    def ring_fired(self) -> None:
        """Ring and notify for every alert the engine fired since the last call."""
        app = self._capp
        store = app.store
        if not store.fired:
            return
        for fired in store.fired:
            app._notifier.ring(fired)
        store.fired.clear()

    def action_alert_at_cursor(self) -> None:
        """A price alert at the ladder cursor (fires once, as the price reaches it)."""
        app = self._capp
        ladder = getattr(app.screen, "ladder", None)
        key = app.selected
        if key is None or ladder is None or ladder.key != key or ladder.cursor is None:
            app.notify("no ladder cursor to set an alert at", title="Alert", severity="warning")
            return
        price = int(ladder.cursor)
        app.send(lambda i: AddAlert(id=i, kind="price", key=key, price=price))

    def action_alerts_screen(self) -> None:
        """Open (or close) the alerts list."""
        from cockpit.ui.screens.alerts import AlertsScreen

        app = self._capp
        if isinstance(app.screen, AlertsScreen):
            app.pop_screen()
        else:
            app.push_screen(AlertsScreen())
