"""Orders withdrawn from OpenAlgo's Action Center that reach the broker all the same.

An order waiting for approval (semi-auto mode) that the trader cancels in the cockpit is
withdrawn here at once (``_withdraw_approval``). OpenAlgo's API cannot take it out of the
Action Center: its reject and delete routes need the web UI's login session, and an API key
reaches neither. So if it is approved there afterwards, it reaches the broker as a real order.

What the cockpit does then (the safest real behaviour): it recognises the order when it shows
up (pushed update, poll or reconciliation; the same shape match as an approved order), adopts
it under a new client id so it is tracked like any other order — a fill moves the position and
the day's P&L — cancels it at once (the trader's last word on it was to withdraw it) and raises
an error alarm. Where the venue refuses the cancel (OpenAlgo blocks ``cancelorder`` in live
semi-auto mode), the order stays in the orders list, working, with the alarm saying what to do.
The withdrawals are journaled, so an engine restarted in between still knows them.
"""

from __future__ import annotations

from cockpit.domain.execution import SEMI_AUTO_BLOCKED, STRATEGY, RouterResult
from cockpit.domain.feed import OrderUpdate, OrderUpdateSource
from cockpit.domain.orders import Order, OrderCancelled, OrderSubmitted
from cockpit.engine.base import EngineBase
from cockpit.engine.state import NS, local_day_start_ns

WITHDRAWN = "withdrawn from approval: reject it in OpenAlgo's Action Center if it is still there"
"""The reason of an order cancelled while it waited for approval (it never reached the venue)."""
ADOPTED_TAG = "withdrawn"
"""The tag of an order adopted after its withdrawal (it has no bracket, nothing follows a fill)."""
GONE = frozenset({"cancelled", "rejected"})
"""Broker statuses of an order that is over: nothing to take back."""


def same_order(
    order: Order, exchange: str, symbol: str, update: OrderUpdate, slack_ns: int
) -> bool:
    """Whether the broker's ``update`` can be ``order`` of ours that has no venue id yet: the
    same symbol, side, quantity and type, placed at or after ours (less ``slack_ns``), and not
    by another strategy where the venue names it. A row without a readable time proves
    nothing, except a pushed update (it is sent as it happens)."""
    placed = update.placed_ns
    if placed is None and update.source is OrderUpdateSource.PUSHED:
        placed = update.recv_ns
    return (
        placed is not None
        and placed >= order.created_ns - slack_ns
        and exchange == update.exchange
        and symbol == update.symbol
        and str(order.side) == update.action.upper()
        and order.qty == update.quantity
        and (not update.pricetype or update.pricetype.upper() == str(order.type))
        and update.strategy in ("", STRATEGY)
    )


class Approvals(EngineBase):
    """Withdrawn approvals (a part of :class:`~cockpit.engine.core.Engine`)."""

    def _withdraw_approval(self, order: Order) -> None:
        """Cancel an order waiting in OpenAlgo's Action Center (``_cancel`` of one): it never
        reached the venue and the Action Center tells no API client when it is rejected there,
        so it ends here (the journal keeps it ended: a restart does not hold it pending). It is
        kept in mind in case it is approved there anyway."""
        if self.journal is not None:
            self._journal_call(self.journal.event, "order_approval_withdrawn", {"cid": order.cid})
        self._withdrawn[order.cid] = order
        self._apply_events(order, [OrderCancelled(self.clock(), WITHDRAWN)], source="viewer")

    def _venue_refused(self, order: Order, what: str, result: RouterResult) -> None:
        """Say that the venue refused the ``what`` (``cancel`` or ``modify``) of ``order``. In
        OpenAlgo's live semi-auto mode it refuses every one from the API: the order works on
        at the broker unchanged, and only OpenAlgo's own order book can change it."""
        if result.code == SEMI_AUTO_BLOCKED:
            self._alarm(
                "error",
                f"{order.key}: OpenAlgo refuses an API {what} in its semi-auto mode: order "
                f"{order.cid} ({order.venue_id}) still works at the broker; {what} it in "
                "OpenAlgo's order book, or switch OpenAlgo to auto mode",
                key=order.key,
                code=SEMI_AUTO_BLOCKED,
            )
            return
        self._alarm(
            "warning",
            f"{order.key}: {what} of {order.cid} failed: {result.error}",
            key=order.key,
            code=f"{what}_failed",
        )

    def _restore_withdrawn(self, events: list[tuple[str, dict[str, object]]]) -> None:
        """The withdrawals of the day not yet taken back (``order_approval_withdrawn`` less
        ``order_withdrawn_adopted``), from the journal at start."""
        for kind, body in events:
            cid = str(body.get("cid"))
            if kind == "order_withdrawn_adopted":
                self._withdrawn.pop(cid, None)
            elif kind == "order_approval_withdrawn":
                order = self._earlier_final.get(cid) or self.orders.get(cid)
                if order is not None and order.venue_id is None:
                    self._withdrawn[cid] = order

    def _adopt_withdrawn(self, update: OrderUpdate) -> str | None:
        """The broker's order of ``update`` is one the trader withdrew: adopt it under a new
        client id, have it cancelled as soon as it is acknowledged, shout. Returns the new id.

        Another strategy's order at the same account must not be taken for it: the match is
        an approval's (symbol, side, quantity, type, placed after ours) and also the product
        and a limit's price, and only a withdrawal of the same day counts."""
        if update.status in GONE or not self._withdrawn:
            return None
        slack = int(self.options.uncertain_slack_s * NS)
        today = local_day_start_ns(self.clock())
        match = [
            cid
            for cid, order in self._withdrawn.items()
            if order.created_ns >= today  # a withdrawal of the day
            and (inst := self.instruments.get(order.key)) is not None
            and same_order(order, str(inst.exchange), inst.symbol, update, slack)
            and (not update.product or update.product.upper() == str(order.product))
            and (
                not update.price
                or order.price_ticks is None
                or update.price == inst.price(order.price_ticks)
            )
        ]
        if not match:
            return None
        cid = match[0]
        withdrawn = self._withdrawn.pop(cid)
        now = self.clock()
        order = Order(
            cid=self._new_cid(),
            key=withdrawn.key,
            side=withdrawn.side,
            type=withdrawn.type,
            qty=withdrawn.qty,
            product=withdrawn.product,
            price_ticks=withdrawn.price_ticks,
            trigger_ticks=withdrawn.trigger_ticks,
            tag=ADOPTED_TAG,
            created_ns=now,
        )
        order.apply(OrderSubmitted(now))
        self.orders[order.cid] = order
        self._add_working(order)
        self._by_venue[update.orderid] = order.cid
        self._cancel_on_ack.add(order.cid)
        self._journal_order(order)
        if self.journal is not None:
            self._journal_call(
                self.journal.event,
                "order_withdrawn_adopted",
                {"cid": cid, "adopted": order.cid, "venue_id": update.orderid},
            )
        what = (
            "it filled: the position has no exit plan"
            if update.status == "complete"
            else "cancelling it; if the broker refuses, cancel it there"
        )
        self._alarm(
            "error",
            f"{order.key}: order {cid}, withdrawn here, was approved in OpenAlgo's Action Center "
            f"and reached the broker as {update.orderid}, taken back as {order.cid}: {what}",
            key=order.key,
            code="withdrawn_order_at_broker",
        )
        return order.cid
