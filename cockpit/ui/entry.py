"""Order entry for the app: what each entry key sends, and when it asks first.

Every order the trader did not type in full (a key, the ladder's cursor, the ticket) is
described in words before it goes: side, quantity, symbol, type and price
(``SELL 76 NSE:RELIANCE LIMIT 1300.85``). It asks before sending when the order is large
(a multiple of the default quantity, or an order value), when a limit would fill at once
(a buy at or above the ask, a sell at or below the bid), and when its price is off the
ladder's screen.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from cockpit.link import protocol as p
from cockpit.ui.fmt import fmt_qty
from cockpit.ui.store import Store

if TYPE_CHECKING:
    from cockpit.ui.app import CockpitApp


def entry_price(store: Store, cmd: p.PlaceEntry) -> int | None:
    """The price (ticks) an entry is expected to trade at: its limit, the side of the book it
    joins, the market's side for a market order; None if unknown."""
    q = store.quotes.get(cmd.key)
    if cmd.price is not None:
        return cmd.price
    if q is None:
        return None
    if cmd.join == "bid":
        return q.bid if q.bid is not None else q.ltp
    if cmd.join == "ask":
        return q.ask if q.ask is not None else q.ltp
    if cmd.order_type in ("SL", "SL-M") and cmd.trigger is not None:
        return cmd.trigger
    best = q.ask if cmd.side == "BUY" else q.bid
    return best if best is not None else q.ltp


def units(store: Store, cmd: p.PlaceEntry) -> Decimal:
    """The order's quantity in units (lots times the lot size)."""
    if cmd.qty is not None:
        return Decimal(cmd.qty)
    inst = store.instruments.get(cmd.key)
    return Decimal(cmd.lots or 0) * (inst.lot_size if inst is not None else 1)


def describe(store: Store, cmd: p.PlaceEntry) -> str:
    """``SELL 76 NSE:RELIANCE LIMIT 1300.85`` (``MARKET ~800.05``, ``LIMIT 799.95 (bid)``)."""
    amount = fmt_qty(cmd.qty) if cmd.qty is not None else f"{cmd.lots} lot(s)"
    if cmd.qty is None:
        amount += f" ({fmt_qty(units(store, cmd))})"
    price = entry_price(store, cmd)
    shown = store.fmt_price(cmd.key, price) if price is not None else "?"
    if cmd.order_type == "MARKET":
        where = f"~{shown}"
    elif cmd.join:
        where = f"{shown} ({cmd.join})"
    else:
        where = shown
    if cmd.order_type in ("SL", "SL-M") and cmd.trigger is not None:
        trig = store.fmt_price(cmd.key, cmd.trigger)
        where = f"trigger {trig}" if cmd.order_type == "SL-M" else f"{where} trigger {trig}"
    return f"{cmd.side} {amount} {cmd.key} {cmd.order_type} {where}"


COMMAND_WORDS = {
    "flatten": "flatten",
    "kill": "kill switch",
    "cancel": "cancel",
    "reverse": "reverse",
    "move_stop": "stop move",
    "move_target": "target move",
    "set_trail": "trail",
    "toggle_trail": "trail on/off",
    "breakeven": "stop to breakeven",
    "detach": "detach the plan of",
    "attach": "attach a plan to",
    "arm": "arm / disarm",
}
"""What a refusal or a read-only notice calls a command (by its tag), never its class name."""


def describe_command(store: Store, cmd: Any) -> str:
    """What the trader asked for, in words: an entry in full, ``close 50% of NSE:SBIN``,
    ``amend BUY NSE:SBIN c1-3 to 801.00``, ``stop move NSE:SBIN``."""
    if isinstance(cmd, p.PlaceEntry):
        return describe(store, cmd)
    if isinstance(cmd, p.ClosePart):
        return f"close {cmd.percent}% of {cmd.key}"
    if isinstance(cmd, p.ModifyOrder):
        o = store.orders.get(cmd.cid)
        key = o.key if o is not None else ""
        what = f"amend {o.side} {key} {cmd.cid}" if o is not None else f"amend {cmd.cid}"
        if cmd.price is not None:
            what += f" to {store.fmt_price(key, cmd.price)}"
        if cmd.trigger is not None:
            what += f" trigger {store.fmt_price(key, cmd.trigger)}"
        if cmd.qty is not None:
            what += f" qty {fmt_qty(cmd.qty)}"
        return what
    if isinstance(cmd, p.Subscribe | p.Unsubscribe):
        keys = ", ".join(cmd.keys)
        if isinstance(cmd, p.Subscribe):
            return f"add {keys} to the watchlist"
        return f"remove {keys} from the watchlist"
    tag = str(type(cmd).__struct_config__.tag)
    words = COMMAND_WORDS.get(tag, tag.replace("_", " "))
    symbol = getattr(cmd, "key", None)
    return f"{words} {symbol}" if symbol else words


def order_value(store: Store, cmd: p.PlaceEntry) -> Decimal | None:
    """Price times quantity in money, at :func:`entry_price` (None if no price is known)."""
    price = entry_price(store, cmd)
    if price is None:
        return None
    return units(store, cmd) * store.price(cmd.key, price)


def marketable(store: Store, cmd: p.PlaceEntry) -> str | None:
    """Why a limit would fill at once (a buy at or above the ask, a sell at or below the bid)."""
    if cmd.order_type != "LIMIT" or cmd.price is None:
        return None
    q = store.quotes.get(cmd.key)
    if q is None:
        return None
    if cmd.side == "BUY" and q.ask is not None and cmd.price >= q.ask:
        return f"it is at or above the ask {store.fmt_price(cmd.key, q.ask)}: it fills at once"
    if cmd.side == "SELL" and q.bid is not None and cmd.price <= q.bid:
        return f"it is at or below the bid {store.fmt_price(cmd.key, q.bid)}: it fills at once"
    return None


def step_qty(qty: Decimal, step: Decimal, direction: int, floor: Decimal) -> Decimal:
    """The next quantity on the ``step`` grid: up to the next multiple, down to the one
    before (1 → 25 → 50 with a step of 25; never below ``floor``)."""
    if direction > 0:
        return (qty // step + 1) * step
    below = (-(-qty // step) - 1) * step
    return below if below >= floor and below > 0 else min(floor, qty)


class EntryMixin:
    """The app's entry keys and their confirmations (mixed into :class:`CockpitApp`)."""

    active_template: str | None = None
    """The exit-plan template sent with the next entries (``T`` cycles it); None: the
    instrument's template from the config, else the plan defaults (the engine decides)."""

    def action_cycle_template(self) -> None:
        """The next of the config's templates for the next entries (after the last: none)."""
        app = self._app
        names = app.options.templates
        if not names:
            app.log_message("warning", "No templates", "no [templates.NAME] in the config")
            return
        i = names.index(self.active_template) + 1 if self.active_template in names else 0
        self.active_template = names[i] if i < len(names) else None
        status = getattr(app.screen, "status", None)
        if status is not None:
            status.rebuild()
        app.log_message("information", "Template", self.active_template or "instrument default")

    @property
    def _app(self) -> CockpitApp:
        """This object as the app it is mixed into (typed)."""
        return cast("CockpitApp", self)

    def _entry_reasons(self, cmd: p.PlaceEntry, *, visible: bool = True) -> list[str]:
        """What makes this entry worth a question (empty: send it)."""
        app = self._app
        o = app.options
        store = app.store
        reasons: list[str] = []
        amount = Decimal(cmd.qty if cmd.qty is not None else cmd.lots or 0)
        u = units(store, cmd)
        if o.confirm_qty_over is not None and u > o.confirm_qty_over:
            reasons.append(f"quantity {fmt_qty(u)} is over {fmt_qty(o.confirm_qty_over)}")
        elif o.confirm_qty_multiple is not None:
            limit = o.confirm_qty_multiple * o.default_qty
            if amount > limit:
                reasons.append(
                    f"quantity {fmt_qty(amount)} is over {fmt_qty(o.confirm_qty_multiple)}× "
                    f"the default {fmt_qty(o.default_qty)}"
                )
        value = order_value(store, cmd)
        if o.confirm_value_over is not None and value is not None and value > o.confirm_value_over:
            reasons.append(f"value {value:,.2f} is over {o.confirm_value_over:,.2f}")
        why = marketable(store, cmd)
        if why:
            reasons.append(why)
        if not visible and cmd.price is not None:
            reasons.append(
                f"the price {store.fmt_price(cmd.key, cmd.price)} is off the ladder's screen"
            )
        return reasons

    def place_entry(
        self,
        key: str,
        side: str,
        order_type: str = "MARKET",
        *,
        visible: bool = True,
        count: int | None = None,
        **kw: Any,
    ) -> None:
        """Send an entry, asking first when it is large, marketable or off-screen.

        ``count``: the quantity typed before the key (``10b``) instead of the symbol's."""
        app = self._app
        inst = app.store.instruments.get(key)
        qty = app.qty_of(key) if count is None else Decimal(count)
        amount: dict[str, Any] = (
            {"lots": int(qty)} if inst is not None and inst.lot_size > 1 else {"qty": qty}
        )
        if self.active_template is not None:
            kw.setdefault("template", self.active_template)
        cmd = p.PlaceEntry(id=0, key=key, side=side, order_type=order_type, **amount, **kw)
        app.submit_entry(cmd, visible=visible)

    def submit_entry(self, cmd: p.PlaceEntry, *, visible: bool = True) -> None:
        """Send ``cmd`` (a fresh id), after a question if :meth:`_entry_reasons` has any."""
        app = self._app
        reasons = [] if cmd.confirmed else app._entry_reasons(cmd, visible=visible)
        if reasons:
            app._confirm_then_send(cmd, "; ".join(reasons))
        else:
            app._send_entry(cmd)

    def _send_entry(self, cmd: p.PlaceEntry) -> None:
        app = self._app
        text = describe(app.store, cmd)
        sent = app.send(lambda i: p.PlaceEntry(**{**_struct_dict(cmd), "id": i}))
        if sent is not None:  # logged once the engine took it; a refusal is logged as one
            app.entry_words[sent] = text

    def _confirm_then_send(self, cmd: p.PlaceEntry, reason: str) -> None:
        app = self._app
        from cockpit.ui.screens.modals import ConfirmScreen

        text = f"{describe(app.store, cmd)}\n{reason}.\nSend it?"
        filled_at_once = marketable(app.store, cmd)

        def done(ok: bool | None) -> None:
            if not ok:
                return
            # The market moved while the question was up: a limit that now fills at once
            # was not what the trader saw and answered; ask about that.
            now = marketable(app.store, cmd)
            if now and not filled_at_once:
                app._confirm_then_send(cmd, f"the market moved: {now}")
                return
            app._send_entry(p.PlaceEntry(**{**_struct_dict(cmd), "confirmed": True}))

        # Cancel has the focus: an enter meant for the ladder does not send it.
        app.push_screen(ConfirmScreen("Check this order", text, confirm="Send", danger=True), done)

    # ------------------------------------------------------------------ keys

    def _ladder_price(self, side: str) -> tuple[int | None, str | None, bool]:
        """(price, join, visible): the ladder cursor's price if the trader moved it."""
        app = self._app
        ladder = getattr(app.screen, "ladder", None)
        if (
            ladder is not None
            and ladder.key == app.selected
            and ladder.cursor_moved
            and ladder.cursor is not None
        ):
            return ladder.cursor, None, ladder.row_of(ladder.cursor) is not None
        return None, "bid" if side == "BUY" else "ask", True

    def action_buy_market(self, count: int | None = None) -> None:
        """Buy at market (``count``: the quantity typed before the key)."""
        app = self._app
        if app.selected:
            app.place_entry(app.selected, "BUY", count=count)

    def action_sell_market(self, count: int | None = None) -> None:
        """Sell at market (``count``: the quantity typed before the key)."""
        app = self._app
        if app.selected:
            app.place_entry(app.selected, "SELL", count=count)

    def action_buy_limit(self, count: int | None = None) -> None:
        """Buy limit at the ladder cursor, or join the best bid."""
        app = self._app
        if app.selected:
            price, join, visible = app._ladder_price("BUY")
            app.place_entry(
                app.selected,
                "BUY",
                "LIMIT",
                price=price,
                join=join,
                visible=visible,
                count=count,
            )

    def action_sell_limit(self, count: int | None = None) -> None:
        """Sell limit at the ladder cursor, or join the best ask."""
        app = self._app
        if app.selected:
            price, join, visible = app._ladder_price("SELL")
            app.place_entry(
                app.selected,
                "SELL",
                "LIMIT",
                price=price,
                join=join,
                visible=visible,
                count=count,
            )

    def action_ladder_limit(self, side: str, price: int, count: int | None = None) -> None:
        """Limit at a ladder price (enter on the ladder; ``count``: the quantity typed before
        it); asks first if it is off-screen."""
        app = self._app
        if app.selected:
            ladder = getattr(app.screen, "ladder", None)
            visible = ladder is None or ladder.row_of(price) is not None
            app.place_entry(app.selected, side, "LIMIT", price=price, visible=visible, count=count)

    def action_ticket(self) -> None:
        """Open the order ticket for the selected symbol."""
        app = self._app
        from cockpit.ui.screens.ticket import OrderTicket

        if app.selected is None:
            return

        def done(cmd: p.PlaceEntry | None) -> None:
            if cmd is not None:
                app.submit_entry(cmd)

        key = app.selected
        inst = app.store.instruments.get(key)
        lot = inst.lot_size if inst is not None and inst.lot_size > 1 else Decimal(1)
        # The ticket's quantity is in units (a multiple of the lot); the keys count lots.
        app.push_screen(OrderTicket(app.store, key, app.qty_of(key) * lot, app.options), done)

    # ------------------------------------------------------------------ quantity

    @property
    def qty(self) -> Decimal:
        """The selected symbol's order quantity."""
        app = self._app
        return app.qty_of(app.selected)

    def qty_of(self, key: str | None) -> Decimal:
        """The order quantity of ``key`` (each symbol keeps its own; the default at first)."""
        app = self._app
        if key is None:
            return app.options.default_qty
        return app.qtys.get(key, app.options.default_qty)

    def action_qty(self, direction: int) -> None:
        """Step the selected symbol's quantity on the step grid."""
        app = self._app
        key = app.selected
        if key is None:
            return
        o = app.options
        app.set_qty(key, step_qty(app.qty_of(key), o.qty_step, direction, o.default_qty))


def _struct_dict(s: Any) -> dict[str, Any]:
    return {f: getattr(s, f) for f in s.__struct_fields__}
