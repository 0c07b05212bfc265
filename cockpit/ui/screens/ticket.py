"""The order ticket (side, qty, type, price, trigger, product, stop, target, trail) and amend."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from cockpit.link.protocol import ModifyOrder, OrderView, PlaceEntry, PlanSpec, TrailView
from cockpit.ui.fmt import fmt_money, fmt_qty
from cockpit.ui.numbers import NumberError, parse_positive, parse_whole_ticks
from cockpit.ui.screens.dialog import Dialog
from cockpit.ui.screens.lifecycle import when_wanted
from cockpit.ui.sizing import RiskSize, risk_size
from cockpit.ui.store import Store

if TYPE_CHECKING:
    from cockpit.ui.options import UiOptions
    from cockpit.ui.store import Changes


COMPACT_BELOW = 46
"""Terminal rows under which the ticket's fields are one line each (a full-height ticket
needs about 45)."""


class TicketError(ValueError):
    """A field that does not validate (message says which and why)."""


def parse_price(store: Store, key: str, text: str, what: str) -> int | None:
    """A price typed by the user, exactly on the tick grid, as ticks (None if blank)."""
    if not text.strip():
        return None
    try:
        value = parse_positive(text)
    except NumberError as exc:
        raise TicketError(f"{what}: {exc}") from None
    tick = store.tick_size(key)
    ticks, rem = divmod(value, tick)
    if rem:
        lo = ticks * tick
        raise TicketError(f"{what}: not on the {tick} grid (try {lo} or {lo + tick})")
    return int(ticks)


def parse_qty(store: Store, key: str, text: str) -> Decimal:
    """A positive quantity, a multiple of the lot size."""
    try:
        qty = parse_positive(text)
    except NumberError as exc:
        raise TicketError(f"qty: {exc}") from None
    inst = store.instruments.get(key)
    if inst is not None and qty % inst.lot_size:
        raise TicketError(f"qty: must be a multiple of the lot size {fmt_qty(inst.lot_size)}")
    return qty


def parse_ticks(text: str, what: str) -> int | None:
    """A whole number of ticks (None if blank)."""
    if not text.strip():
        return None
    try:
        return parse_whole_ticks(text)
    except NumberError as exc:
        raise TicketError(f"{what}: {exc}") from None


@dataclass(frozen=True)
class RiskPreview:
    """Money at the stop, reward at the target, their ratio, and the quantity the risk
    budget buys at that stop."""

    risk: Decimal | None
    reward: Decimal | None
    budget: Decimal | None = None
    """The risk budget per trade (``Z``), if one is set."""
    sized: RiskSize | None = None
    """What the budget buys at the stop (None: no stop, or less than a lot)."""

    def line(self) -> str:
        """One line for the ticket."""
        parts = []
        parts.append(f"risk at stop {self.risk:,.2f}" if self.risk is not None else "no stop")
        parts.append(
            f"reward at target {self.reward:,.2f}" if self.reward is not None else "no target"
        )
        if self.risk and self.reward is not None:
            parts.append(f"R:R 1:{self.reward / self.risk:.2f}")
        if self.budget is not None and self.risk is not None:
            budget = fmt_money(self.budget, sign=False)
            if self.sized is None:
                parts.append(f"risk {budget} buys under a lot")
            else:
                parts.append(f"risk {budget} → qty {fmt_qty(self.sized.units)}")
        return " · ".join(parts)


def risk_preview(
    store: Store,
    key: str,
    qty: Decimal,
    stop: int | None,
    target: int | None,
    budget: Decimal | None = None,
) -> RiskPreview:
    """Risk and reward of ``qty`` with a stop/target ``stop``/``target`` ticks from the fill,
    and the quantity ``budget`` buys at that stop."""
    ts = store.tick_size(key)
    inst = store.instruments.get(key)
    sized = (
        risk_size(budget, stop, ts, inst.lot_size)
        if budget is not None and stop is not None and inst is not None
        else None
    )
    return RiskPreview(
        None if stop is None else stop * ts * qty,
        None if target is None else target * ts * qty,
        budget,
        sized,
    )


_C = TypeVar("_C", PlaceEntry, ModifyOrder)


class _Ticket(Dialog[_C | None]):
    """A dialog that dismisses with its command on enter / ctrl+s / Send, or None on cancel."""

    def _command(self) -> _C | None:
        """The command the form describes, or None (with the error shown) if it is invalid."""
        raise NotImplementedError

    def action_submit(self) -> None:
        """Send if valid."""
        cmd = self._command()
        if cmd is not None:
            self.dismiss(cmd)

    def action_cancel(self) -> None:
        """Close without sending."""
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "send":
            self.action_submit()
        else:
            self.dismiss(None)


class OrderTicket(_Ticket[PlaceEntry]):
    """A full order ticket with validation and a one-line risk preview."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="ticket.cancel"),
        Binding("ctrl+s", "submit", "Send", id="ticket.send"),
    ]

    def __init__(self, store: Store, key: str, qty: Decimal, options: UiOptions) -> None:
        super().__init__(classes="dialog")
        self.store = store
        self.key = key
        self.qty = qty
        self.options = options
        self.plan_template: str | None = None
        """The exit-plan template the entry asks for (the app's ``T``); its fields start empty
        (the template decides; a value typed in wins)."""

    def compose(self) -> ComposeResult:
        """The form."""
        o = self.options
        q = self.store.quotes.get(self.key)
        price = self.store.fmt_price(self.key, q.ltp) if q else ""
        price = "" if price == "?" else price  # (instrument unknown)
        # Under 46 rows (80×24, 120×40) every field is one line, so fields, preview and Send fit.
        c = self.app.size.height < COMPACT_BELOW
        self.plan_template = getattr(self.app, "active_template", None)
        tpl = self.plan_template
        with Vertical(id="dialog", classes="ticket compact" if c else "ticket"):
            title = f"Order ticket — {self.key}" + (f" · template {tpl}" if tpl else "")
            yield Label(title, id="dialog-title")
            with VerticalScroll(id="ticket-form"), Grid(id="ticket-grid"):
                yield Label("Symbol")
                yield Input(self.key, id="t-symbol", compact=c)
                yield Label("Side")
                yield Select(
                    [("BUY", "BUY"), ("SELL", "SELL")],
                    value="BUY",
                    allow_blank=False,
                    id="t-side",
                    compact=c,
                )
                yield Label("Qty")
                yield Input(fmt_qty(self.qty).replace(",", ""), id="t-qty", compact=c)
                yield Label("Type")
                yield Select(
                    [(t, t) for t in ("MARKET", "LIMIT", "SL", "SL-M")],
                    value="MARKET",
                    allow_blank=False,
                    id="t-type",
                    compact=c,
                )
                yield Label("Price")
                yield Input(price, id="t-price", compact=c)
                yield Label("Trigger")
                yield Input("", id="t-trigger", compact=c)
                yield Label("Product")
                yield Select(
                    [(x, x) for x in ("MIS", "CNC", "NRML")],
                    value="MIS",
                    allow_blank=False,
                    id="t-product",
                    compact=c,
                )
                yield Label("Stop (ticks)")
                yield Input("" if tpl else str(o.stop_ticks or ""), id="t-stop", compact=c)
                yield Label("Target (ticks)")
                yield Input("" if tpl else str(o.target_ticks or ""), id="t-target", compact=c)
                yield Label("Trail (ticks)")
                yield Input(
                    fmt_qty(o.trail_ticks) if o.trail_ticks and not tpl else "",
                    id="t-trail",
                    compact=c,
                )
            yield Static("", id="t-preview")
            yield Static("", id="t-error", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button("Send (ctrl+s)", id="send", variant="primary", compact=c)
                yield Button("Cancel (esc)", id="cancel", compact=c)

    @when_wanted
    def on_mount(self) -> None:
        """Focus quantity and show the preview."""
        self.query_one("#t-qty", Input).focus()
        self._validate()

    def _val(self, wid: str) -> str:
        return self.query_one(f"#{wid}", Input).value

    def build(self) -> PlaceEntry:
        """The PlaceEntry the form describes (id 0; the app assigns it).

        Raises:
            TicketError: a field is invalid.
        """
        key = self._val("t-symbol").strip().upper()
        if key not in self.store.instruments:
            raise TicketError(f"symbol: {key!r} is not known (add it with /)")
        side = str(self.query_one("#t-side", Select).value)
        otype = str(self.query_one("#t-type", Select).value)
        product = str(self.query_one("#t-product", Select).value)
        qty = parse_qty(self.store, key, self._val("t-qty"))
        price = (
            parse_price(self.store, key, self._val("t-price"), "price")
            if otype in ("LIMIT", "SL")
            else None
        )
        trigger = (
            parse_price(self.store, key, self._val("t-trigger"), "trigger")
            if otype in ("SL", "SL-M")
            else None
        )
        if otype in ("LIMIT", "SL") and price is None:
            raise TicketError(f"price: required for {otype}")
        if otype in ("SL", "SL-M") and trigger is None:
            raise TicketError(f"trigger: required for {otype}")
        stop = parse_ticks(self._val("t-stop"), "stop")
        target = parse_ticks(self._val("t-target"), "target")
        trail_t = parse_ticks(self._val("t-trail"), "trail")
        plan = PlanSpec(
            stop_ticks=stop,
            target_ticks=target,
            trail=TrailView("ticks", Decimal(trail_t)) if trail_t else None,
            none=stop is None and target is None and trail_t is None and not self.plan_template,
        )
        inst = self.store.instruments[key]
        amount: dict[str, object] = (
            {"lots": int(qty / inst.lot_size)} if inst.lot_size > 1 else {"qty": qty}
        )
        return PlaceEntry(
            id=0,
            key=key,
            side=side,
            order_type=otype,
            price=price,
            trigger=trigger,
            product=product,
            plan=plan,
            template=self.plan_template,
            **amount,  # type: ignore[arg-type]
        )

    def _validate(self) -> PlaceEntry | None:
        err = self.query_one("#t-error", Static)
        preview = self.query_one("#t-preview", Static)
        try:
            cmd = self.build()
        except TicketError as exc:
            err.update(str(exc))
            preview.update("")
            return None
        err.update("")
        qty = parse_qty(self.store, cmd.key, self._val("t-qty"))
        plan = cmd.plan or PlanSpec()
        from cockpit.ui.entry import order_value

        value = order_value(self.store, cmd)
        worth = f"value {value:,.2f} · " if value is not None else ""
        budget = getattr(self.app, "risk_budget", None)
        risk = risk_preview(self.store, cmd.key, qty, plan.stop_ticks, plan.target_ticks, budget)
        preview.update(worth + risk.line())
        return cmd

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        self._validate()

    def refresh_view(self, changes: Changes) -> None:
        """The engine sent changes: the preview follows the market (a market order's value
        is at the ask or the bid of now)."""
        key = self._val("t-symbol").strip().upper()
        if changes.everything or key in changes.quotes:
            self._validate()

    def _command(self) -> PlaceEntry | None:
        return self._validate()


class AmendTicket(_Ticket[ModifyOrder]):
    """Amend a working order's price, quantity or trigger."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="amend.cancel")
    ]

    def __init__(self, store: Store, order: OrderView) -> None:
        super().__init__(classes="dialog")
        self.store = store
        self.order = order

    def compose(self) -> ComposeResult:
        """Price, qty, trigger."""
        o, s = self.order, self.store
        with Vertical(id="dialog", classes="ticket"):
            yield Label(f"Amend {o.side} {o.order_type} {o.key} ({o.cid})", id="dialog-title")
            with Grid(id="ticket-grid"):
                yield Label("Qty")
                yield Input(fmt_qty(o.qty).replace(",", ""), id="a-qty")
                # Only the fields the order has: a limit no trigger, a stop-market no price
                # (typed there anyway, the engine refused the amend).
                yield Label("Price")
                yield Input(
                    s.fmt_price(o.key, o.price),
                    id="a-price",
                    disabled=o.order_type not in ("LIMIT", "SL"),
                )
                yield Label("Trigger")
                yield Input(
                    s.fmt_price(o.key, o.trigger),
                    id="a-trigger",
                    disabled=o.order_type not in ("SL", "SL-M"),
                )
            yield Static("", id="t-error")
            with Horizontal(id="dialog-buttons"):
                yield Button("Amend (enter)", id="send", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    @when_wanted
    def on_mount(self) -> None:
        """Focus the price (a stop-market's trigger)."""
        price = self.query_one("#a-price", Input)
        (self.query_one("#a-trigger", Input) if price.disabled else price).focus()

    def _command(self) -> ModifyOrder | None:
        o, s = self.order, self.store
        try:
            qty = parse_qty(s, o.key, self.query_one("#a-qty", Input).value)
            price = parse_price(s, o.key, self.query_one("#a-price", Input).value, "price")
            trigger = parse_price(s, o.key, self.query_one("#a-trigger", Input).value, "trigger")
        except TicketError as exc:
            self.query_one("#t-error", Static).update(str(exc))
            return None
        return ModifyOrder(
            id=0,
            cid=o.cid,
            qty=qty if qty != o.qty else None,
            price=price if price != o.price else None,
            trigger=trigger if trigger != o.trigger else None,
        )
