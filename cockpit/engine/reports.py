"""What the venue reports back: order updates and the router's results (an engine room)."""

from __future__ import annotations

from cockpit.domain.execution import (
    NOT_JOURNALED,
    PENDING_APPROVAL,
    UNCERTAIN,
    CancelAll,
    CancelOrder,
    LookupSymbol,
    PlaceOrder,
    QueryBook,
    QueryHistory,
    QueryOrder,
    RouterResult,
    SearchSymbols,
)
from cockpit.domain.execution import ModifyOrder as RouterModify
from cockpit.domain.feed import OrderUpdate
from cockpit.domain.order_updates import UnmappedUpdate, events_from_update
from cockpit.domain.orders import (
    Order,
    OrderAccepted,
    OrderModified,
    OrderRejected,
    OrderStatus,
)
from cockpit.engine.approvals import same_order
from cockpit.engine.base import EngineBase
from cockpit.engine.state import CLOSING_TAGS, NS, venue_ticks


class VenueReports(EngineBase):
    """Order updates and router results (a part of :class:`~cockpit.engine.core.Engine`)."""

    # ------------------------------------------------------------------ venue updates

    def _on_order_update(self, update: OrderUpdate) -> None:
        self.counters["order_updates"] += 1
        cid = self._by_venue.get(update.orderid)
        if cid is None:
            cid = self._adopt_uncertain(update)
        if self.journal is not None:
            self._journal_call(self.journal.order_update, update, cid)
        if cid is None:
            # Its placeorder answer may not be back yet: keep it until the id is known.
            self.counters["unmatched_updates"] += 1
            parked = self._parked.setdefault(update.orderid, [])
            parked.append(update)
            if len(self._parked) > 1000:
                self._parked.pop(next(iter(self._parked)))
            return
        self._apply_update(self.orders[cid], update)

    def _apply_update(self, order: Order, update: OrderUpdate) -> None:
        inst = self.instruments[order.key]
        try:
            events = events_from_update(order, update, inst.tick_size)
        except UnmappedUpdate as exc:
            self.counters["bad_updates"] += 1
            self._alarm("warning", f"{order.key}: {exc}", key=order.key, code="bad_update")
            return
        if order.venue_id is None and update.orderid:
            self._by_venue[update.orderid] = order.cid
        self._apply_events(order, events, source=str(update.source))
        if order.cid in self._cancel_on_ack and order.is_working and order.venue_id is not None:
            self._cancel_on_ack.discard(order.cid)
            self._cancel(order, urgent=True)

    def _adopt_uncertain(self, update: OrderUpdate) -> str | None:
        """An update for an unknown id that is an order whose placement was uncertain or that
        waits for approval (the oldest first).

        Only a broker order placed at or after ours (its own timestamp, less a small slack)
        can be it: an older order of the same shape (a SELL completed earlier that day) is
        never taken for a lost exit. A row without a readable time proves nothing: the order
        stays uncertain and, once not found, counts as not sent (an exit is sent again). An
        order waiting for approval may also be matched by a pushed update (it arrives when
        the broker takes it, after ours).
        """
        if update.orderid in self._by_venue:
            return None
        slack = int(self.options.uncertain_slack_s * NS)
        for cid in [*self._approval, *self._uncertain]:
            order = self.orders[cid]
            inst = self.instruments[order.key]
            if (
                order.venue_id is None
                and (update.placed_ns is not None or cid in self._approval)
                and same_order(order, str(inst.exchange), inst.symbol, update, slack)
            ):
                self._by_venue[update.orderid] = cid
                approved = self._approval.pop(cid, None) is not None
                self._uncertain.pop(cid, None)
                what = "approved and placed" if approved else "found at the broker"
                self._alarm(
                    "info",
                    f"{order.key}: order {cid} {what} as {update.orderid}",
                    key=order.key,
                    code="order_approved" if approved else "order_found",
                )
                return cid
        return self._adopt_withdrawn(update)

    # ------------------------------------------------------------------ router results

    def _on_router_result(self, result: RouterResult) -> None:
        request = result.request
        if result.code == NOT_JOURNALED:
            self.counters["not_sent_journal"] += 1
        if isinstance(request, PlaceOrder):
            self._on_place_result(result, request)
        elif isinstance(request, CancelOrder):
            if not result.ok:
                order = self.orders.get(request.cid)
                if order is not None and order.is_working:
                    self._reduce_cancels.discard(order.cid)  # cancelled again if need be
                    self._venue_refused(order, "cancel", result)
                    # Find out what the order did instead.
                    self.router.submit(QueryOrder(request.cid, request.venue_id))
        elif isinstance(request, RouterModify):
            self._on_modify_result(result, request)
        elif isinstance(request, QueryBook):
            self._on_book(result, request)
        elif isinstance(request, QueryOrder):
            self._on_order_status(result, request)
        elif isinstance(request, CancelAll):
            self._on_cancel_all(result)
        elif isinstance(request, LookupSymbol):
            self._on_lookup(result, request)
        elif isinstance(request, SearchSymbols):
            self._on_search(result, request)
        elif isinstance(request, QueryHistory):
            self._on_history(result, request)

    def _on_place_result(self, result: RouterResult, request: PlaceOrder) -> None:
        order = self.orders.get(request.cid)
        if order is None:
            return
        if result.ok and result.venue_id:
            if result.done_ns and result.sent_ns:
                self._ack_latencies.append(result.done_ns - result.sent_ns)
            self._by_venue[result.venue_id] = order.cid
            self._uncertain.pop(order.cid, None)
            parked = self._parked.pop(result.venue_id, None)
            if parked:
                for update in parked:
                    self._apply_update(order, update)
            elif order.status is OrderStatus.PENDING_NEW:
                status = OrderStatus.TRIGGER_PENDING if order.type.has_trigger else OrderStatus.OPEN
                self._apply_events(
                    order, [OrderAccepted(result.venue_id, self.clock(), status)], source="router"
                )
            elif order.venue_id is None:
                order.venue_id = result.venue_id
            if order.cid in self._cancel_on_ack and order.is_working:
                self._cancel_on_ack.discard(order.cid)
                self._cancel(order, urgent=True)
            return
        if result.code == PENDING_APPROVAL:
            # Queued in OpenAlgo's Action Center: not rejected, not placed yet. It is adopted
            # when it reaches the order book (pushed update or reconciliation).
            self._approval[order.cid] = self.clock()
            if self.journal is not None:
                self._journal_call(self.journal.event, "order_pending_approval", {"cid": order.cid})
            self._publish_order(order)
            closing = order.tag in CLOSING_TAGS
            self._alarm(
                "error" if closing else "warning",
                f"{order.key}: {order.tag} order {order.cid} is pending approval in OpenAlgo's "
                f"Action Center ({(result.error or '').removeprefix('placeorder: ')}): approve it "
                f"there{'; the position stays open until then' if closing else ''}",
                key=order.key,
                code="order_pending_approval",
            )
            return
        if result.code == UNCERTAIN:
            self._uncertain[order.cid] = self.clock()
            self._alarm(
                "error",
                f"{order.key}: {order.tag} order {order.cid}: {result.error}",
                key=order.key,
                code="order_uncertain",
            )
            self.reconcile("uncertain order")
            return
        if result.code == NOT_JOURNALED:
            self._alarm(
                "error",
                f"{order.key}: {order.tag} order {order.cid} {result.error}",
                key=order.key,
                code="not_journaled",
            )
        if result.venue_id:
            # The venue created the order as rejected (and may push its update too).
            venue_id = result.venue_id
            self._by_venue[venue_id] = order.cid
            self._parked.pop(venue_id, None)
        if order.is_working:
            self._apply_events(
                order, [OrderRejected(self.clock(), result.error or result.code)], source="router"
            )

    def _on_modify_result(self, result: RouterResult, request: RouterModify) -> None:
        order = self.orders.get(request.cid)
        if order is None or not order.is_working:
            return
        if not result.ok:
            self._venue_refused(order, "modify", result)
            return
        inst = self.instruments[order.key]
        price = venue_ticks(inst, request.price) if order.type.has_price else None
        trigger = venue_ticks(inst, request.trigger_price) if order.type.has_trigger else None
        qty = request.quantity if request.quantity != order.qty else None
        event = OrderModified(
            self.clock(),
            qty=qty if qty is not None and qty > order.filled_qty else None,
            price_ticks=price if price != order.price_ticks else None,
            trigger_ticks=trigger if trigger != order.trigger_ticks else None,
        )
        if event.qty is None and event.price_ticks is None and event.trigger_ticks is None:
            return
        self._apply_events(order, [event], source="modify")

    def _on_order_status(self, result: RouterResult, request: QueryOrder) -> None:
        order = self.orders.get(request.cid)
        if order is not None and result.ok and isinstance(result.data, OrderUpdate):
            self._apply_update(order, result.data)

    def _on_cancel_all(self, result: RouterResult) -> None:
        if not result.ok:
            self._alarm("error", f"kill switch: cancel-all failed: {result.error}", code="kill")
        # A venue's cancel-all may skip some (OpenAlgo skips trigger-pending stops and still
        # answers success): whatever of ours is still working is cancelled one by one.
        self._cancel_working(None)
