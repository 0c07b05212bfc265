"""Orders moved from the ladder: pick what is on the cursor's row (a working order, the
stop, the target, a scale-out target TP1–TP3 not yet fired), move it by ticks or to the
cursor's price; cancel all buys or all sells.

A working order moves by a modify to the venue (its limit, or its trigger for a stop order;
a stop-limit keeps its offset); the stop and the targets move through the engine's plan (the
broker-side stop follows). A limit moved to where it would fill at once asks first.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

from cockpit.link import protocol as p
from cockpit.ui.entry import marketable
from cockpit.ui.store import is_working

if TYPE_CHECKING:
    from cockpit.ui.app import CockpitApp
    from cockpit.ui.widgets.ladder import Ladder, Pick

ENGINE_TAGS = frozenset({"exit", "flatten", "protective", "partial", "target"})
"""Orders the engine works itself (exits, scale-out targets, partial closes, the broker-side
stop): not moved or cancelled from the ladder (move the stop or target row instead)."""
SENT_FOR_S = 2.0
"""A move just sent counts as done for this long (unless refused): keys pressed faster than
the venue answers add up, and the cursor's row keeps finding what it moved."""


def order_level(order: p.OrderView) -> int | None:
    """The row an order sits on: its limit, else its trigger."""
    return order.price if order.price is not None else order.trigger


def plan_level(plan: p.PlanView | None, kind: str, n: str | None) -> int | None:
    """The row of a plan's part: ``stop``, ``target``, or scale-out target ``tp`` number
    ``n`` (None once fired, or for a plan that fired)."""
    if plan is None or plan.fired:
        return None
    if kind == "stop":
        return plan.stop
    if kind == "target":
        return plan.target
    if kind == "tp":
        return next((t.level for t in plan.targets if str(t.n) == n and not t.fired), None)
    return None


def sent_name(key: str, kind: str, n: str | None = None) -> str:
    """The name a plan move just sent goes by (``stop:KEY``, ``target:KEY``, ``tp2:KEY``)."""
    return f"tp{n}:{key}" if kind == "tp" else f"{kind}:{key}"


class LadderOrderMixin:
    """The ladder's order keys (mixed into :class:`CockpitApp`)."""

    _sent_levels: dict[str, tuple[int | None, int | None, float]]
    """Moves just sent: order cid (or ``stop:KEY`` / ``target:KEY``) → (price, trigger, when)."""
    _moves_out: dict[str, tuple[int | None, int | None, float]]
    """The last modify sent per order: cid → (price, trigger, when)."""
    _moves_held: dict[str, tuple[int | None, int | None]]
    """A modify waiting for the one before it to show: cid → (price, trigger)."""

    @property
    def _app(self) -> CockpitApp:
        """This object as the app it is mixed into (typed)."""
        return cast("CockpitApp", self)

    def _ladder(self) -> Ladder | None:
        app = self._app
        ladder = getattr(app.screen, "ladder", None)
        if ladder is None or ladder.key is None or ladder.key != app.selected:
            return None
        return cast("Ladder", ladder)

    def _sent(self, name: str) -> tuple[int | None, int | None] | None:
        """The levels of a move just sent (None: none, or the engine has shown it since)."""
        sent = self._app._sent_levels.get(name)
        if sent is None or time.monotonic() - sent[2] >= SENT_FOR_S:
            return None
        return sent[0], sent[1]

    def forget_move(self, cmd: p.ModifyOrder | p.MoveStop | p.MoveTarget) -> None:
        """A move was refused: what it moved is where the engine says it is."""
        if isinstance(cmd, p.ModifyOrder):
            name = cmd.cid
            self._app._moves_out.pop(cmd.cid, None)
        elif isinstance(cmd, p.MoveTarget) and cmd.leg is not None:
            name = sent_name(cmd.key, "tp", str(cmd.leg))
        else:
            name = sent_name(cmd.key, "stop" if isinstance(cmd, p.MoveStop) else "target")
        self._app._sent_levels.pop(name, None)

    def levels_of(self, key: str, what: Pick) -> tuple[int | None, int | None]:
        """(price, trigger) of what is picked, as last sent if a move is on its way; a plan's
        stop or targets as the price."""
        app = self._app
        kind, cid = what
        if kind == "order":
            order = app.store.orders.get(cid or "")
            if order is None or not is_working(order):
                return None, None
            return app._sent(order.cid) or (order.price, order.trigger)
        level = plan_level(app.store.plans.get(key), kind, cid)
        if level is None:
            return None, None
        return app._sent(sent_name(key, kind, cid)) or (level, None)

    def level_of(self, key: str, what: Pick) -> int | None:
        """The row of what is picked (where it is going, if a move is on its way)."""
        price, trigger = self._app.levels_of(key, what)
        return price if price is not None else trigger

    def movable_at(self, key: str, level: int) -> list[Pick]:
        """What can be moved on the row ``level``: my working orders, the stop, the target,
        the scale-out targets not yet fired."""
        app = self._app
        picks: list[Pick] = [
            ("order", o.cid)
            for o in app.store.orders.values()
            if o.key == key and is_working(o) and o.tag not in ENGINE_TAGS
        ]
        picks += [("stop", None), ("target", None)]
        plan = app.store.plans.get(key)
        if plan is not None:
            picks += [("tp", str(t.n)) for t in plan.targets if not t.fired]
        return [what for what in picks if app.level_of(key, what) == level]

    def action_pick(self) -> None:
        """Pick what is on the cursor's row (again: the next thing on that row)."""
        app = self._app
        ladder = self._ladder()
        if ladder is None or ladder.cursor is None:
            return
        here = app.movable_at(ladder.key or "", ladder.cursor)
        if not here:
            ladder.pick = None
            app.log_message("warning", "Pick", "nothing of yours on the cursor's row")
        elif ladder.pick in here:
            ladder.pick = here[(here.index(ladder.pick) + 1) % len(here)]
        else:
            ladder.pick = here[0]
        ladder.rebuild()

    def _target(self, ladder: Ladder) -> Pick | None:
        key = ladder.key or ""
        if ladder.pick is not None and self._app.level_of(key, ladder.pick) is not None:
            return ladder.pick
        if ladder.cursor is None:
            return None
        here = self._app.movable_at(key, ladder.cursor)
        return here[0] if here else None

    def action_order_move(self, delta: int) -> None:
        """Move the picked order (or the one on the cursor's row) by ``delta`` ticks."""
        app = self._app
        ladder = self._ladder()
        if ladder is None:
            return
        what = app._target(ladder)
        if what is None:
            app.log_message("warning", "Move", "no order, stop or target on the cursor's row")
            return
        if ladder.pick is None and ladder.cursor is not None:
            ladder.cursor += delta  # the cursor stays on the row it moves
            ladder.cursor_moved = True
            ladder.rebuild()
        app._move(ladder, what, delta=delta)

    def action_order_to_cursor(self) -> None:
        """Move the picked order, stop or target to the cursor's price."""
        app = self._app
        ladder = self._ladder()
        if ladder is None or ladder.cursor is None:
            return
        if ladder.pick is None or app.level_of(ladder.key or "", ladder.pick) is None:
            app.log_message("warning", "Move", "pick an order, the stop or the target first (v)")
            return
        app._move(ladder, ladder.pick, to=ladder.cursor)

    def _move(
        self, ladder: Ladder, what: Pick, *, delta: int | None = None, to: int | None = None
    ) -> None:
        app = self._app
        key = ladder.key or ""
        kind, cid = what
        price, trigger = app.levels_of(key, what)
        base = price if price is not None else trigger
        if base is None:
            return
        step = (to - base) if to is not None else (delta or 0)
        new_price = price + step if price is not None else None
        new_trigger = trigger + step if trigger is not None else None
        if step == 0 or min(x for x in (new_price, new_trigger) if x is not None) <= 0:
            return
        if kind in ("stop", "target", "tp"):
            app._sent_levels[sent_name(key, kind, cid)] = (new_price, None, time.monotonic())
            if kind == "stop":
                app.send(lambda i: p.MoveStop(id=i, key=key, delta=step))
            elif kind == "tp":
                leg = int(cid or 0)
                app.send(lambda i: p.MoveTarget(id=i, key=key, delta=step, leg=leg))
            else:
                app.send(lambda i: p.MoveTarget(id=i, key=key, delta=step))
            return
        order = app.store.orders.get(cid or "")
        if order is None:
            return
        cid = order.cid
        app._sent_levels[cid] = (new_price, new_trigger, time.monotonic())

        def send() -> None:
            app.send_move(cid, new_price, new_trigger)

        probe = p.PlaceEntry(
            id=0, key=key, side=order.side, order_type=order.order_type, price=new_price
        )
        why = marketable(app.store, probe)
        if why is None:
            send()
            return
        from cockpit.ui.screens.modals import ConfirmScreen

        def done(ok: bool | None) -> None:
            if ok:
                send()
            else:
                app._sent_levels.pop(cid, None)

        shown = app.store.fmt_price(key, new_price or 0)
        text = f"Move {order.side} {order.cid} to {shown}\n{why}.\nMove it?"
        app.push_screen(ConfirmScreen("Check this move", text, confirm="Move", danger=True), done)

    def send_move(self, cid: str, price: int | None, trigger: int | None) -> None:
        """Modify ``cid`` to these levels; held while the modify before it has not shown yet
        (two modifies of one order in flight can reach the venue in either order)."""
        app = self._app
        out = app._moves_out.get(cid)
        order = app.store.orders.get(cid)
        if (
            out is not None
            and order is not None
            and (order.price, order.trigger) != (out[0], out[1])
            and time.monotonic() - out[2] < SENT_FOR_S
        ):
            app._moves_held[cid] = (price, trigger)
            app.set_timer(SENT_FOR_S, app.flush_moves)
            return
        app._moves_held.pop(cid, None)
        app._moves_out[cid] = (price, trigger, time.monotonic())
        app.send(lambda i: p.ModifyOrder(id=i, cid=cid, price=price, trigger=trigger))

    def flush_moves(self) -> None:
        """Send each held move once the one before it shows (or after ``SENT_FOR_S``)."""
        app = self._app
        for cid, (price, trigger) in list(app._moves_held.items()):
            order = app.store.orders.get(cid)
            out = app._moves_out.get(cid)
            if order is None or not is_working(order):
                del app._moves_held[cid]
            elif (
                out is None
                or (order.price, order.trigger) == (out[0], out[1])
                or time.monotonic() - out[2] >= SENT_FOR_S
            ):
                del app._moves_held[cid]
                app.send_move(cid, price, trigger)

    def action_cancel_side(self, side: str) -> None:
        """Cancel every working buy (or sell) of the selected symbol (not the engine's exits
        or its broker-side stop)."""
        app = self._app
        key = app.selected
        if key is None:
            return
        cids = [
            o.cid
            for o in app.store.orders.values()
            if o.key == key and o.side == side and is_working(o) and o.tag not in ENGINE_TAGS
        ]
        if not cids:
            app.log_message("warning", f"Cancel {side.lower()}s", f"{key}: none working")
        for cid in cids:
            app.send(lambda i, c=cid: p.CancelOrders(id=i, cid=c))  # type: ignore[misc]
