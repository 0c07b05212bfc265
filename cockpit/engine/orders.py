"""Orders: submission (journaled, then routed), venue updates, fills, positions, router results."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any

import msgspec

from cockpit.domain.execution import (
    NOT_JOURNALED,
    CancelOrder,
    PlaceOrder,
    RouterResult,
)
from cockpit.domain.execution import (
    ModifyOrder as RouterModify,
)
from cockpit.domain.instruments import currency_of, parse_key
from cockpit.domain.market import DepthTick, LtpTick, QuoteTick, TradeTick
from cockpit.domain.orders import (
    Order,
    OrderError,
    OrderFilled,
    OrderRequest,
    OrderStatus,
    OrderSubmitted,
    Side,
)
from cockpit.domain.positions import to_money
from cockpit.engine.base import EngineBase
from cockpit.engine.messages import qty_text
from cockpit.engine.restore import JournalBatch
from cockpit.engine.state import (
    CLOSING_TAGS,
    NS,
    STRAY_TAGS,
    ZERO,
    local_day_start_ns,
)
from cockpit.engine.views import (
    order_view,
    ticks_to_money,
)
from cockpit.link import protocol

log = logging.getLogger(__name__)

PENDING_APPROVAL_STATUS = "pending approval"
"""An order's status on screen while it waits in OpenAlgo's Action Center."""
MARKET_DATA = frozenset({LtpTick, QuoteTick, DepthTick, TradeTick})
NOT_JOURNALED_TEXT = "not sent: the journal cannot write"
RISK_REDUCING_TAGS = frozenset({*CLOSING_TAGS, "partial", "protective", "target", "reduce"})
"""Orders sent even when their own journal commit failed: they only reduce a position (an
entry, or a reverse, which opens the other side, is not sent; a manual ``reduce`` order is
never larger than the position and is cancelled before it could open the other side)."""
EXITS_PER_COMMIT = 16
"""Requests held for one commit, at most, once an exit is among them (``_handle_together``)."""


class OrderFlow(EngineBase):
    """Orders and fills (a part of :class:`~cockpit.engine.core.Engine`)."""

    # ================================================================== orders

    def _new_cid(self) -> str:
        self._cid_n += 1
        return f"{self._cid_prefix}{self._cid_n}"

    def _submit(self, request: OrderRequest, *, urgent: bool, cid: str | None = None) -> Order:
        """Create the order, journal it, hand it to the router, publish it (``cid``: the id
        it was held under, for an MIT entry)."""
        now = self.clock()
        order = Order.from_request(cid or self._new_cid(), request, now)
        self.orders[order.cid] = order
        self._add_working(order)
        self._journal_order(order)
        order.apply(OrderSubmitted(now))
        self._route(self._place_request(order, urgent=urgent))
        self._publish_order(order)
        return order

    def _place_request(self, order: Order, *, urgent: bool) -> PlaceOrder:
        inst = self.instruments[order.key]
        return PlaceOrder(
            order.cid,
            str(inst.exchange),
            inst.symbol,
            str(order.side),
            order.qty,
            str(order.type),
            str(order.product),
            inst.price(order.price_ticks) if order.price_ticks is not None else ZERO,
            inst.price(order.trigger_ticks) if order.trigger_ticks is not None else ZERO,
            urgent=urgent,
        )

    def _cancel(self, order: Order, *, urgent: bool = False) -> bool:
        if order.venue_id is None and order.cid in self._approval:
            self._withdraw_approval(order)
            return False
        if order.venue_id is None:
            # Not acknowledged yet: cancel once the id is known.
            order.reason = order.reason or "cancel requested"
            self._cancel_on_ack.add(order.cid)
            return False
        self._route(CancelOrder(order.cid, order.venue_id, urgent=urgent))
        return True

    def _route(self, request: Any) -> None:
        """Hand ``request`` to the router, or hold it until the journal batch commits."""
        if self._held is not None:
            self._held.append(request)
        else:
            self._send([request])

    def _send(self, requests: list[Any], *, began: bool = True) -> None:
        """Hand ``requests`` to the router once what was journaled before them is committed:
        now, or on the journal's writer thread after its commit (``cockpit.journal.writer``);
        ``began``: False when the batch's BEGIN failed (its records are not known written)."""
        if not requests:
            return
        submit = self.router.submit
        journal = self.journal
        if journal is None:
            for request in requests:
                submit(request)
            return
        # Decided here (the decision thread owns the orders); the callback runs after the commit.
        opening = [not self._reduces_risk(request) for request in requests]
        put = self.inbound.put

        def send() -> None:
            ok = began and journal.committed
            for request, opens in zip(requests, opening, strict=True):
                if ok or not opens:
                    submit(request)  # an exit, a cancel, a protective stop: never held back
                else:
                    put(RouterResult(request, False, NOT_JOURNALED, NOT_JOURNALED_TEXT))

        journal.after_commit(send, urgent=sum(r.urgent for r in requests))

    def _reduces_risk(self, request: Any) -> bool:
        """Whether ``request`` may go even though its journal records failed to commit: all
        but the placing or the modifying of an order that opens or adds to a position (an
        entry, a reverse: a modify could raise its quantity or bring it to the market)."""
        if not isinstance(request, PlaceOrder | RouterModify):
            return True
        order = self.orders.get(request.cid)
        return order is not None and order.tag in RISK_REDUCING_TAGS

    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        """One journal commit for everything written inside; router requests wait for it.

        Nested uses join the outermost one. Requests handed to ``_route`` inside are held and
        handed to the router right after the commit (on the journal's writer thread, when it
        has one), so everything is journaled before it is acted on. A handler that fails still
        commits what it wrote and sends what it decided; a commit that fails is alarmed and the
        requests that reduce a position still go (the broker is the truth: an exit is never
        held back by a full disk); an entry is not sent but rejected (``_reduces_risk``), and
        entries are refused meanwhile.
        """
        if self._held is not None:
            yield
            return
        held: list[Any] = []
        self._held = held
        error: BaseException | None = None
        try:
            with JournalBatch(self) if self.journal is not None else contextlib.nullcontext() as tx:
                try:
                    yield
                except Exception as exc:
                    error = exc
                finally:  # inside: the requests ship with their statements, one group
                    self._held = None
                    self._send(held, began=tx is None or tx.began)
        finally:
            self._held = None
        if error is not None:
            raise error

    def _handle_together(self, items: list[Any], step: Callable[[int], None] | None = None) -> None:
        """Handle what arrived together, in order, journaled in one commit; but exits decided
        on the way wait neither for what is not market data (answers, fills, commands: up to
        0.3 ms each) nor for more than ``EXITS_PER_COMMIT`` other exits: what was written so
        far is committed, the exits handed to the router, then the next items are handled.
        A gap through 50 stops: a few commits, and the router writes the first exits while
        the next are decided (a commit per exit would double the deciding's CPU)."""
        i, n = 0, len(items)
        while i < n:
            with self._batch():
                held = self._held
                assert held is not None
                while i < n:
                    if step is None:
                        self.handle(items[i])
                    else:
                        step(i)  # the batch being folded (engine/fold.py)
                    i += 1
                    if (
                        held
                        and i < n
                        and (type(items[i]) not in MARKET_DATA or len(held) >= EXITS_PER_COMMIT)
                        and any(request.urgent for request in held)
                    ):
                        break

    def _modify(
        self,
        order: Order,
        *,
        price: int | None = None,
        trigger: int | None = None,
        qty: Decimal | None = None,
    ) -> None:
        inst = self.instruments[order.key]
        new_price = price if price is not None else order.price_ticks
        new_trigger = trigger if trigger is not None else order.trigger_ticks
        self._route(
            RouterModify(
                order.cid,
                order.venue_id or "",
                str(inst.exchange),
                inst.symbol,
                str(order.side),
                qty if qty is not None else order.qty,
                str(order.type),
                str(order.product),
                inst.price(new_price) if new_price is not None else ZERO,
                inst.price(new_trigger) if new_trigger is not None else ZERO,
                urgent=order.tag == "protective",
            )
        )

    def _publish_order(self, order: Order) -> None:
        self.publisher.event(protocol.OrderEvent(self._next_seq(), self._order_view(order)))

    def _order_view(self, order: Order) -> protocol.OrderView:
        view = order_view(order, self.instruments[order.key].tick_size)
        if order.cid in self._approval and order.status is OrderStatus.PENDING_NEW:
            view = msgspec.structs.replace(view, status=PENDING_APPROVAL_STATUS)
        return view

    def _apply_events(self, order: Order, events: list[Any], *, source: str) -> None:
        """Apply events to ``order``; fills move the position; final states trigger follow-up."""
        if not events:
            return
        was_final = order.status.is_final
        for event in events:
            try:
                order.apply(event)
            except OrderError as exc:
                self.counters["bad_updates"] += 1
                self._alarm(
                    "warning", f"{order.key}: order {order.cid}: {exc} ({source})", key=order.key
                )
                continue
            if isinstance(event, OrderFilled):
                self._on_fill(order, event)
        self._journal_order(order)
        self._publish_order(order)
        if order.status.is_final and not was_final:
            self._order_final(order)

    def _on_fill(self, order: Order, event: OrderFilled) -> None:
        key = order.key
        inst = self.instruments[key]
        self._products[key] = order.product
        before = self.portfolio.get(key)
        qty_before = before.qty if before is not None else Decimal(0)
        self.portfolio.apply_fill(
            key, inst.tick_size, order.side, event.fill_qty, event.price_ticks, event.ts_ns
        )
        fill = protocol.FillView(
            cid=order.cid,
            key=key,
            side=str(order.side),
            qty=event.fill_qty,
            price=ticks_to_money(event.price_ticks, inst.tick_size),
            ts_ns=event.ts_ns,
            venue_id=order.venue_id,
        )
        self.fills.append(fill)
        self.day_book.apply_fill(key, inst.tick_size, order.side, event.fill_qty, event.price_ticks)
        pos = self.portfolio.position(key, inst.tick_size)
        self._excursion_fill(key, event.price_ticks, qty_before, pos.qty, event.ts_ns)
        if self.journal is not None:
            self._journal_call(self.journal.fill, fill)
            self._journal_call(self.journal.position, key, pos.to_state())
        self.publisher.event(protocol.FillEvent(self._next_seq(), fill))
        if self.alerts:
            what = f"{fill.side} {qty_text(fill.qty)} {key} at {inst.format_money(fill.price)}"
            self._alert_event("fill", key, f"Fill: {key}", what)
        self.publisher.event(protocol.PositionEvent(self._next_seq(), self._position_view(pos)))
        if order.tag == "target":
            self._leg_fill(order, event.fill_qty)
        self._sync_plan(key, order, event.ts_ns)
        closer = self._closers.get(key)
        if pos.qty == 0:
            if closer is not None and (closer.cid is None or closer.cid == order.cid):
                del self._closers[key]
            self._cancel_strays(key, order)
        else:
            self._trim_reducing(key, pos.qty)
        if pos.qty != 0 and (
            closer is not None
            and closer.cid is not None
            and closer.cid != order.cid
            and (pos.qty > 0) == (self.orders[closer.cid].side is Side.BUY)
        ):
            # Another fill turned the position to the closing order's side: it would reverse.
            self._alarm(
                "error",
                f"{key}: position is {pos.qty} while closing order {closer.cid} is working",
                key=key,
                code="overfill",
            )

    # ------------------------------------------------------------------ the day's P&L

    def _day_pnls(self) -> dict[str, Decimal]:
        """The day's P&L per currency, never adding rupees to tethers: realized from today's
        fills (the journal's, then live ones) plus unrealized on the positions the broker
        holds, at the marks; every currency with a position or a fill today (``""``: one not
        known)."""
        now = self.clock()
        if now - self._day_start_ns >= 86_400 * NS:
            self._new_day(now)
        currency = self._currency_of
        realized = self.day_book.pnl_by(currency, realized=True)
        unrealized = self.portfolio.pnl_by(currency, realized=False)
        return {
            name: to_money(realized.get(name, 0) + unrealized.get(name, 0))
            for name in sorted(realized.keys() | unrealized.keys())
        }

    def _currency_of(self, key: str) -> str:
        """``key``'s currency; for a symbol not looked up (a fill journaled today on one no
        longer followed) its exchange's and symbol's (a rupee loss booked as unknown was
        under no limit, or a second one)."""
        inst = self.instruments.get(key)
        if inst is not None:
            return inst.currency
        try:
            return currency_of(*parse_key(key))
        except ValueError:
            return ""

    def _new_day(self, now: int) -> None:
        """Local midnight passed: today's realized starts at zero (open quantities carry)."""
        self._day_start_ns = local_day_start_ns(now)
        for pos in self.day_book:
            pos.realized = 0

    def _restore_day(self, fills: list[protocol.FillView]) -> None:
        """Replay today's journaled fills into the day book (and the recent-fills list)."""
        for fill in fills:
            if fill.ts_ns < self._day_start_ns:
                continue
            inst = self.instruments.get(fill.key)
            tick = inst.tick_size if inst is not None else Decimal("0.01")
            try:
                side = Side(fill.side)
                ticks = Fraction(fill.price) / Fraction(tick)
                price_ticks: int | Fraction = ticks.numerator if ticks.denominator == 1 else ticks
                self.day_book.apply_fill(fill.key, tick, side, fill.qty, price_ticks)
            except (ValueError, ArithmeticError, TypeError) as exc:
                self.counters["bad_updates"] += 1
                log.warning(
                    "journal fill %s %s not counted in the day's P&L: %s", fill.key, fill.cid, exc
                )
                continue
            self.fills.append(fill)

    def _cancel_strays(self, key: str, filled: Order) -> None:
        """Flat: a working closing/protective/reducing order of ``key`` would open a new
        position."""
        for order in self._working_of(key):
            if order.is_working and order.cid != filled.cid and order.tag in STRAY_TAGS:
                if order.tag == "reduce":
                    self._cancel_reducing(order, "the position is flat")
                else:
                    self._cancel(order, urgent=True)
        self._trim_reducing_touch(key, ZERO, ZERO)

    def _trim_reducing(self, key: str, held: Decimal) -> None:
        """After a fill that left a position: the working reducing orders of ``key`` may
        together sell at most what it holds (oldest first); any beyond, or on the side of the
        position (it turned), is cancelled: it would open the other side."""
        room = abs(held)
        cancelling = self._reduce_cancels
        for order in self._working_of(key):
            if not order.is_working or order.tag != "reduce" or order.cid in cancelling:
                continue  # (one being cancelled already takes no room)
            if (held > 0) is (order.side is Side.BUY):
                self._cancel_reducing(order, f"the position turned to {held}")
            elif order.remaining_qty > room:
                self._cancel_reducing(order, f"it is larger than the position ({held})")
            else:
                room -= order.remaining_qty
        self._trim_reducing_touch(key, held, room)

    def _cancel_reducing(self, order: Order, why: str) -> None:
        """Cancel a reducing order that would open the other side, and say so: once while
        the venue has not answered (the next fills find it still working)."""
        if order.cid in self._reduce_cancels:
            return
        self._reduce_cancels.add(order.cid)
        self._cancel(order, urgent=True)
        self._alarm(
            "warning",
            f"{order.key}: reducing order {order.cid} ({order.side} {order.remaining_qty})"
            f" cancelled: {why}; it would have opened the other side",
            key=order.key,
            code="reduce_cancelled",
        )

    def _order_final(self, order: Order) -> None:
        self._drop_working(order)
        self._recent_final.append(order.cid)
        self._uncertain.pop(order.cid, None)
        self._approval.pop(order.cid, None)
        self._cancel_on_ack.discard(order.cid)
        self._reduce_cancels.discard(order.cid)
        if order.tag in CLOSING_TAGS:
            self._closing_done(order)
        elif order.tag == "target":
            self._leg_final(order)
        elif order.status is OrderStatus.REJECTED:
            self._alarm(
                "warning",
                f"{order.key}: {order.tag} order {order.cid} rejected: {order.reason}",
                key=order.key,
                code="order_rejected",
            )
        if order.tag == "protective":
            for slot in self.plans.values():
                if slot.protective_cid == order.cid:
                    slot.protective_cid = None
        if order.filled_qty == 0:
            self._entry_specs.pop(order.cid, None)
        self._trim_orders()

    def _trim_orders(self) -> None:
        limit = self.options.recent_orders * 4
        if len(self.orders) <= limit + limit // 4:
            return  # trimmed in steps: each trim walks the orders, not every fill
        keep = set(self._recent_final)
        for cid, order in list(self.orders.items()):
            if len(self.orders) <= limit:
                break
            if order.status.is_final and cid not in keep:
                del self.orders[cid]
                if order.venue_id is not None:
                    self._by_venue.pop(order.venue_id, None)
                self._entry_specs.pop(cid, None)
