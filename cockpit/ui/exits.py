"""The keys on a position and its exit plan: flatten, reverse, the kill switch, cancel,
stop and target moves, trail, breakeven, arm."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

from cockpit.link import protocol as p

if TYPE_CHECKING:
    from cockpit.ui.app import CockpitApp

REVERSE_AFTER_RESTART_S = 1.0
"""``r`` also restarts the engine on the lost-engine dialog: another ``r`` this soon after it is
the same tap twice (or a held key), not a reverse; it is not sent."""


class ExitMixin:
    """The position and exit-plan keys (mixed into :class:`CockpitApp`)."""

    @property
    def _app(self) -> CockpitApp:
        """This object as the app it is mixed into (typed)."""
        return cast("CockpitApp", self)

    def action_reverse(self) -> None:
        """Reverse the position."""
        app = self._app
        if time.monotonic() - app.restarted_at < REVERSE_AFTER_RESTART_S:
            app.log_message(
                "warning",
                "Reverse",
                "not sent: r restarted the engine a moment ago; press r again to reverse",
            )
            return
        if app.selected:
            key = app.selected
            app.send(lambda i: p.Reverse(id=i, key=key))

    def action_flatten(self) -> None:
        """Flatten the selected symbol."""
        app = self._app
        if app.selected:
            key = app.selected
            app.send(lambda i: p.Flatten(id=i, key=key))

    def action_close_part(self, percent: int) -> None:
        """Close ``percent`` of the selected position at market (the plan shrinks)."""
        app = self._app
        key = app.selected
        pos = app.store.positions.get(key) if key else None
        if key is None or pos is None or pos.qty == 0:
            app.log_message("warning", f"Close {percent}%", f"{key or 'no symbol'}: no position")
            return
        app.send(lambda i: p.ClosePart(id=i, key=key, percent=percent))

    def action_kill_switch(self) -> None:
        """Cancel every order and flatten every position, after confirmation."""
        from cockpit.ui.screens.modals import ConfirmScreen

        app = self._app

        def done(ok: bool | None) -> None:
            if ok:  # the engine cancels and flattens what is open when it gets it
                app.send(lambda i: p.KillSwitch(id=i))

        def words() -> str:  # counted again on every change while the question is up
            n_pos = len(app.store.open_positions())
            n_ord = len(app.store.working_orders())
            return (
                f"Cancel this cockpit's {n_ord} working order(s) and flatten {n_pos} "
                "position(s)? Other strategies' orders are left alone."
            )

        app.push_screen(
            ConfirmScreen(
                "Kill switch",
                words,
                confirm="KILL",
                danger=True,
            ),
            done,
        )

    def action_cancel_symbol(self) -> None:
        """Cancel the selected symbol's working orders."""
        app = self._app
        if app.selected:
            key = app.selected
            app.send(lambda i: p.CancelOrders(id=i, key=key))

    def action_stop_move(self, delta: int) -> None:
        """Move the stop by ``delta`` ticks."""
        app = self._app
        if app.selected:
            key = app.selected
            app.send(lambda i: p.MoveStop(id=i, key=key, delta=delta))

    def action_target_move(self, delta: int) -> None:
        """Move the target by ``delta`` ticks."""
        app = self._app
        if app.selected:
            key = app.selected
            app.send(lambda i: p.MoveTarget(id=i, key=key, delta=delta))

    def action_toggle_trail(self) -> None:
        """Toggle trailing."""
        app = self._app
        if app.selected:
            key = app.selected
            app.send(lambda i: p.ToggleTrail(id=i, key=key))

    def action_breakeven(self) -> None:
        """Stop to breakeven."""
        app = self._app
        if app.selected:
            key = app.selected
            app.send(lambda i: p.ToBreakeven(id=i, key=key))

    def action_arm(self) -> None:
        """Arm or disarm entries (the engine owns the flag)."""
        app = self._app
        st = app.store.status
        armed = bool(st and st.armed)
        app.send(lambda i: p.SetArmed(id=i, armed=not armed))
