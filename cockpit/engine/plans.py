"""Exit plans: attach, tick, fire; one closer per symbol and its retries; the protective stop."""

from __future__ import annotations

import logging
from decimal import Decimal

from cockpit.domain.exits import (
    ExitDecision,
    ExitPlan,
    Trail,
    TrailKind,
    entry_level,
)
from cockpit.domain.orders import (
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Product,
    Side,
)
from cockpit.domain.positions import Position
from cockpit.domain.scaleout import TargetLeg, TargetSpec, resolve_targets
from cockpit.engine.base import EngineBase
from cockpit.engine.state import (
    NS,
    PART_TAGS,
    ZERO,
    Closer,
    PlanSlot,
    describe_change,
    spec_value,
    stop_source_word,
)
from cockpit.engine.views import (
    plan_view,
)
from cockpit.link import protocol

log = logging.getLogger(__name__)


class ExitPlanning(EngineBase):
    """Exit plans, closers, protective stop (a part of :class:`~cockpit.engine.core.Engine`)."""

    # ================================================================== exit plans

    def _plan_tick(self, slot: PlanSlot, ltp: int, ts_ns: int) -> None:
        plan = slot.plan
        version = plan.version
        decision = plan.on_tick(ltp, ts_ns)
        while decision is not None and decision.leg is not None:
            self._fire_leg(slot, decision)  # then the next target this price reached, if any
            decision = plan.on_tick(ltp, ts_ns)
        if decision is not None:
            self._fire(slot, decision)
            return
        if plan.version != version:
            self._plan_moved(slot, ts_ns)

    def _plan_moved(self, slot: PlanSlot, ts_ns: int) -> None:
        """The trail ratcheted or breakeven kicked in on a tick."""
        plan = slot.plan
        self._plan_due.add(slot.key)  # the timer publishes, journals, syncs what waits
        if plan.stop != slot.seen_stop:
            slot.seen_stop = plan.stop
            slot.protective_dirty = slot.protective_cid is not None
        if ts_ns - slot.journaled_ns >= self.options.journal_trail_every_s * NS:
            with self._batch():  # in order with the writes kept for other items
                self._journal_plan(slot, "trail")
        interval = int(self.options.plan_event_interval_s * NS)
        if interval and ts_ns - slot.event_ns < interval:
            slot.event_pending = True  # published by the timer, with the latest state
        else:
            self._publish_moved(slot, ts_ns)
        if slot.protective_dirty:
            with self._batch():
                self._sync_protective(slot, ts_ns)

    def _publish_moved(self, slot: PlanSlot, ts_ns: int) -> None:
        plan = slot.plan
        change = ""
        if plan.stop != slot.last_stop:
            inst = self.instruments[slot.key]
            old = "-" if slot.last_stop is None else inst.format_price(slot.last_stop)
            new = "-" if plan.stop is None else inst.format_price(plan.stop)
            change = f"stop {old} → {new} ({stop_source_word(plan)})"
            slot.last_stop = plan.stop
        slot.event_ns = ts_ns
        slot.event_pending = False
        self._plan_event(slot.key, plan, change)

    def _plan_event(
        self, key: str, plan: ExitPlan, change: str, cid: str | None = None, removed: bool = False
    ) -> None:
        """Tell viewers about plan ``key`` (``cid``: its exit order in flight, shown with it)."""
        self.publisher.event(
            protocol.PlanEvent(self._next_seq(), plan_view(key, plan, cid), removed, change)
        )

    def _fire(self, slot: PlanSlot, decision: ExitDecision) -> None:
        """A plan decided to exit: journal it, send exactly one exit order, tell viewers.

        The plan's fired state and the exit order are journaled in ONE commit; the exit order
        (then the protective stop's cancel) is handed to the router right after that commit,
        before anything is published.
        """
        self.counters["exits"] += 1
        key = slot.key
        with self._batch():
            self._journal_plan(slot, f"fired: {decision.reason}")
            closer = self._start_close(key, str(decision.reason), from_plan=True)
            self._cancel_protective(slot)
            # A target's limit may never fill now: cancelled, the closer sells its part too.
            for order in self._working_of(key):
                if order.tag == "target" and order.type.has_price:
                    self._cancel(order, urgent=True)
        cid = closer.cid if closer is not None else None
        slot.exit_cid = cid
        if closer is None:
            self._alarm("warning", f"{key}: plan fired but there is no position", key=key)
            self._remove_plan(key, "no position")
            return
        price = decision.price_ticks
        if price is None:  # a time stop decided by the clock: the last price
            price = self._syms[key].ltp or 0
        self.publisher.event(
            protocol.ExitFired(
                self._next_seq(),
                key=key,
                reason=str(decision.reason),
                level=decision.level_ticks,
                price=price,
                cid=cid or "",
            )
        )
        if self.alerts:
            fmt = self.instruments[key].format_price
            self._alert_event(
                "exit", key, f"Exit fired: {key}", f"{decision.reason} at {fmt(price)}"
            )
        self._plan_event(key, slot.plan, f"fired: {decision.reason}", cid)

    def _fire_leg(self, slot: PlanSlot, decision: ExitDecision) -> None:
        """A scale-out target was reached: journal it with its exit order (one commit), send
        that order for the target's quantity, tell viewers. The plan goes on."""
        self.counters["exits"] += 1
        key = slot.key
        leg = slot.plan.legs[(decision.leg or 1) - 1]
        pos = self.portfolio.get(key)
        side, free = self._free_qty(key, pos)
        with self._batch():
            if free <= 0:
                slot.plan.leg_done(leg)
                self._journal_plan(slot, f"TP{leg.n}: nothing left to sell")
                return
            # Never more than other partial exits in flight leave (a partial close meanwhile).
            leg.qty = min(decision.qty, free)
            request = self._exit_request(key, side, leg.qty, "target")
            order = self._submit(request, urgent=True)
            leg.cid = order.cid
            self._journal_plan(slot, f"fired: TP{leg.n}")
        self.publisher.event(
            protocol.ExitFired(
                self._next_seq(),
                key=key,
                reason=f"tp{leg.n}",
                level=decision.level_ticks,
                price=decision.price_ticks or 0,
                cid=order.cid,
            )
        )
        self._plan_event(key, slot.plan, f"TP{leg.n}", slot.exit_cid)

    def _leg_fill(self, order: Order, qty: Decimal) -> None:
        """(A fill) count a target's exit fill on its plan; breakeven after TP1 if asked."""
        slot = self.plans.get(order.key)
        leg = slot.plan.leg_of(order.cid) if slot is not None else None
        if slot is None or leg is None:
            return
        change = slot.plan.leg_filled(leg, qty)
        text = describe_change(self.instruments[order.key], change) or f"TP{leg.n} filled"
        self._journal_plan(slot, text)
        if change.changed:
            slot.last_stop = slot.seen_stop = slot.plan.stop
            slot.protective_dirty = slot.protective_cid is not None
            self._plan_due.add(order.key)
            self._plan_event(order.key, slot.plan, text, slot.exit_cid)

    def _leg_final(self, order: Order) -> None:
        """A target's exit order is final: what it did not fill is the plan's again."""
        slot = self.plans.get(order.key)
        leg = slot.plan.leg_of(order.cid) if slot is not None else None
        if slot is None or leg is None:
            return  # the plan is gone (flatten, kill switch, closed): nothing to hand back
        slot.plan.leg_done(leg)
        self._journal_plan(slot, f"TP{leg.n} {order.status}")
        rejected = order.status is OrderStatus.REJECTED
        if order.status is OrderStatus.COMPLETE or not (rejected or slot.plan.active):
            return  # filled, or cancelled by the plan's own exit (which closes the rest)
        rest = (
            "stays with the plan's stop and target" if slot.plan.active else "is closed by the exit"
        )
        self._alarm(
            "warning",
            f"{order.key}: target order {order.cid} {order.status} "
            f"({order.reason or 'no reason'}) with {order.qty - order.filled_qty} unfilled: "
            f"that quantity {rest}",
            key=order.key,
            code="target_failed",
        )

    def _new_plan(
        self, key: str, pos: Position, spec: protocol.PlanSpec | None, ts_ns: int
    ) -> PlanSlot | None:
        """An exit plan for the open position ``pos`` from ``spec`` and the config defaults."""
        if spec is not None and spec.none:
            return None
        inst = self.instruments[key]
        ex = self.config.exits
        side = Side.BUY if pos.qty > 0 else Side.SELL
        sign = side.sign
        avg = pos.avg_ticks
        assert avg is not None
        # An off-grid average rounds against the position, so a breakeven stop never locks
        # in a loss (a long at 800.0333 has its breakeven at 800.05, not 800.00).
        entry = entry_level(side, avg)
        stop_ticks = spec_value(spec, "stop_ticks", ex.stop_ticks)
        target_ticks = spec_value(spec, "target_ticks", ex.target_ticks)
        trail: Trail | None = None
        if spec is not None and spec.trail is not None:
            trail = Trail(TrailKind(spec.trail.kind), spec.trail.distance)
        elif ex.trail_distance is not None:
            trail = Trail(TrailKind(ex.trail_kind), Decimal(ex.trail_distance))
        breakeven = spec_value(spec, "breakeven_after", ex.breakeven_after)
        time_stop_s = spec_value(spec, "time_stop_s", ex.time_stop_s)
        sym = self._syms.get(key)
        last = sym.ltp if sym is not None else None
        stop = entry - sign * stop_ticks if stop_ticks else None
        target = entry + sign * target_ticks if target_ticks else None
        legs: list[TargetLeg] = []
        if spec is not None and spec.targets:
            specs = [TargetSpec(t.ticks, t.qty, t.pct) for t in spec.targets]
            legs, target = resolve_targets(specs, sign, entry, abs(pos.qty), inst.lot_size)
        if stop is not None and stop <= 0:
            stop = None
        if target is not None and target <= 0:
            target = None
        legs = [leg for leg in legs if leg.level > 0]
        plan = ExitPlan(
            side,
            abs(pos.qty),
            entry,
            stop=stop,
            target=target,
            trail=trail,
            breakeven_after=breakeven,
            time_stop_ns=ts_ns + int(time_stop_s * NS) if time_stop_s else None,
            created_ns=ts_ns,
            tick_size=inst.tick_size,
            best_ticks=None if last is None or (last - entry) * sign <= 0 else last,
            legs=legs,
            breakeven_after_tp1=bool(spec is not None and spec.breakeven_after_tp1),
        )
        slot = PlanSlot(key, plan, last_stop=plan.stop, seen_stop=plan.stop)
        self.plans[key] = slot
        self._plan_due.add(key)
        self._journal_plan(slot, "attached")
        self._plan_event(key, plan, "attached")
        self._place_protective(slot)
        if last is not None and self.reconciled:
            # Evaluate it at the current price now (a fill beyond the stop exits at once).
            self._plan_tick(slot, last, ts_ns)
        return slot

    def _remove_plan(self, key: str, why: str) -> None:
        slot = self.plans.pop(key, None)
        if slot is None:
            return
        plan = slot.plan
        if plan.active:
            plan.detach()
        self._cancel_protective(slot)
        if self.journal is not None:
            self._journal_call(self.journal.plan_removed, key, why)
        self._plan_event(key, plan, why, slot.exit_cid, removed=True)

    def _sync_plan(self, key: str, order: Order, ts_ns: int) -> None:
        """After a fill: attach, resize, flip or remove the plan to match the position."""
        pos = self.portfolio.get(key)
        qty = pos.qty if pos is not None else ZERO
        slot = self.plans.get(key)
        if qty == 0:
            if slot is not None:
                self._remove_plan(key, "position closed")
            return
        assert pos is not None
        side = Side.BUY if qty > 0 else Side.SELL
        if slot is not None and slot.plan.side is not side:
            self._remove_plan(key, "position reversed")
            slot = None
        if slot is not None:
            plan = slot.plan
            if plan.active and plan.qty != abs(qty):
                # An add moves the average entry (breakeven measures from it, rounded
                # against the position); a partial exit leaves it as it was.
                change = plan.resize(abs(qty), pos.avg_ticks)
                if change.changed:
                    self._journal_plan(slot, f"resize {abs(qty)}")
                    self._plan_event(key, plan, f"qty {abs(qty)}")
                    self._resize_protective(slot)
            return
        if order.tag in ("entry", "reverse") and order.cid in self._entry_specs:
            self._new_plan(key, pos, self._entry_specs[order.cid], ts_ns)

    # ================================================================== closing (exit/flatten)

    def _start_close(
        self,
        key: str,
        reason: str,
        *,
        from_plan: bool = False,
    ) -> Closer | None:
        """Send (or keep) the one closing order of ``key``. Never double-sells."""
        closer = self._closers.get(key)
        if closer is not None and closer.cid is not None and self.orders[closer.cid].is_working:
            return closer  # already closing; do not send another
        pos = self.portfolio.get(key)
        if pos is None or pos.qty == 0:
            if closer is not None:
                del self._closers[key]
            return None
        if closer is None:
            closer = self._closers[key] = Closer(key, reason)
        self._send_close(closer, pos, from_plan=from_plan)
        return closer

    def _exit_request(
        self, key: str, side: Side, qty: Decimal, tag: str, *, limit_ok: bool = True
    ) -> OrderRequest:
        """An exit of ``qty``: market, or a marketable limit (``exits.exit_order_type``)."""
        order_type = OrderType.MARKET
        price: int | None = None
        if self.config.exits.exit_order_type == "limit" and limit_ok:
            sym = self._syms[key]
            offset = self.config.exits.exit_offset_ticks
            touch = (sym.bid if side is Side.SELL else sym.ask) or sym.ltp
            if touch is not None:
                price = touch - offset if side is Side.SELL else touch + offset
                if price > 0:
                    order_type = OrderType.LIMIT
                else:
                    price = None
        return OrderRequest(
            key,
            side,
            qty,
            order_type,
            self._products.get(key, Product.MIS),
            price_ticks=price,
            tag=tag,
        )

    def _free_qty(self, key: str, pos: Position | None) -> tuple[Side, Decimal]:
        """The exit side of ``pos`` and how much of it no working target order or partial
        close will sell already (0 without a position)."""
        if pos is None or pos.qty == 0:
            return Side.SELL, ZERO
        side = Side.SELL if pos.qty > 0 else Side.BUY
        committed = sum(
            (
                o.remaining_qty
                for o in self._working_of(key)
                if o.tag in PART_TAGS and o.side is side
            ),
            ZERO,
        )
        return side, abs(pos.qty) - committed

    def _close_request(
        self, key: str, pos: Position, reason: str, *, attempts: int, from_plan: bool
    ) -> OrderRequest | None:
        """The order that closes ``pos``: market, or a marketable limit on the first try.

        What the plan's target orders and partial closes still working will sell is left to
        them (never sold twice); None when they cover the whole position (the closer looks
        again later).
        """
        side, qty = self._free_qty(key, pos)
        if qty <= 0:
            return None
        tag = "exit" if from_plan or reason not in ("flatten", "kill") else "flatten"
        return self._exit_request(key, side, qty, tag, limit_ok=attempts == 0)

    def _send_close(
        self,
        closer: Closer,
        pos: Position,
        *,
        from_plan: bool,
    ) -> None:
        request = self._close_request(
            closer.key, pos, closer.reason, attempts=closer.attempts, from_plan=from_plan
        )
        closer.chasing = False
        if request is None:  # target orders cover it: look again once they are done
            closer.cid = None
            closer.retry_at_ns = self.clock() + int(self.options.retry_backoff_s[0] * NS)
            return
        order = self._submit(request, urgent=True)
        closer.cid = order.cid
        closer.retry_at_ns = 0
        closer.sent_ns = self.clock()

    def _closing_done(self, order: Order) -> None:
        """A closing order reached a final state: finished, continue, or retry."""
        closer = self._closers.get(order.key)
        if closer is None or closer.cid != order.cid:
            return
        pos = self.portfolio.get(order.key)
        if pos is None or pos.qty == 0:
            del self._closers[order.key]
            return
        if order.status is OrderStatus.COMPLETE:
            # Filled, yet not flat (the position grew meanwhile): close the rest.
            self._send_close(closer, pos, from_plan=closer.reason not in ("flatten", "kill"))
            return
        closer.cid = None
        closer.attempts += 1
        self.counters["exit_retries"] += 1
        backoff = self.options.retry_backoff_s
        delay = 0.0 if closer.chasing else backoff[min(closer.attempts - 1, len(backoff) - 1)]
        closer.retry_at_ns = self.clock() + int(delay * NS)
        if closer.chasing:
            closer.chasing = False
            self._alarm(
                "warning",
                f"{order.key}: limit exit {order.cid} did not fill; sending it at market",
                key=order.key,
                code="exit_chase",
            )
            self._retry_closers(closer.retry_at_ns)
            return
        self._alarm(
            "error",
            f"{order.key}: exit order {order.cid} {order.status}: {order.reason or 'no reason'};"
            f" retry {closer.attempts} in {delay:g}s for {abs(pos.qty)}",
            key=order.key,
            code="exit_retry",
        )

    def _retry_closers(self, now: int) -> None:
        if not self.reconciled:
            return
        limit_ns = int(self.options.exit_limit_timeout_s * NS)
        for closer in list(self._closers.values()):
            if closer.cid is not None and not closer.chasing:
                order = self.orders.get(closer.cid)
                if (
                    order is not None
                    and order.type is OrderType.LIMIT
                    and order.is_working
                    and now - closer.sent_ns >= limit_ns
                ):
                    # The marketable limit did not fill: cancel it; the retry goes at market.
                    closer.chasing = True
                    self._cancel(order, urgent=True)
                continue
            if closer.cid is None and closer.retry_at_ns and now >= closer.retry_at_ns:
                pos = self.portfolio.get(closer.key)
                if pos is None or pos.qty == 0:
                    del self._closers[closer.key]
                    continue
                self._send_close(closer, pos, from_plan=closer.reason not in ("flatten", "kill"))
                slot = self.plans.get(closer.key)
                if slot is not None and slot.plan.fired:
                    slot.exit_cid = closer.cid
                    self._plan_event(
                        closer.key, slot.plan, f"exit retry {closer.attempts}", closer.cid
                    )

    # ================================================================== protective stop

    def _protective_enabled(self) -> bool:
        return self.config.exits.protective_stop

    def _place_protective(self, slot: PlanSlot) -> None:
        if not self._protective_enabled() or slot.plan.stop is None:
            return
        plan = slot.plan
        request = OrderRequest(
            slot.key,
            plan.exit_side,
            plan.qty,
            OrderType.SL_M,
            self._products.get(slot.key, Product.MIS),
            trigger_ticks=self._protective_level(plan),
            tag="protective",
        )
        order = self._submit(request, urgent=False)
        slot.protective_cid = order.cid
        slot.protective_sent_ns = self.clock()
        slot.protective_dirty = False

    def _sync_protective(self, slot: PlanSlot, now: int) -> None:
        """Move the broker-side stop to the plan's stop, at most once per throttle period."""
        cid = slot.protective_cid
        if cid is None or not slot.protective_dirty:
            return
        order = self.orders.get(cid)
        if order is None or not order.is_working or order.venue_id is None:
            return
        throttle = self.config.exits.protective_throttle_s
        if now - slot.protective_sent_ns < throttle * NS:
            return
        if slot.plan.stop is None:
            return
        stop = self._protective_level(slot.plan)
        if stop == order.trigger_ticks:
            slot.protective_dirty = False
            return
        self._modify(order, trigger=stop, qty=slot.plan.qty)
        slot.protective_sent_ns = now
        slot.protective_dirty = False

    def _protective_level(self, plan: ExitPlan) -> int:
        assert plan.stop is not None
        level = plan.stop - plan.sign * self.options.protective_offset_ticks
        return max(1, level)

    def _resize_protective(self, slot: PlanSlot) -> None:
        cid = slot.protective_cid
        if cid is None:
            return
        order = self.orders.get(cid)
        if order is not None and order.is_working and order.venue_id is not None:
            self._modify(order, qty=slot.plan.qty)

    def _cancel_protective(self, slot: PlanSlot) -> None:
        cid = slot.protective_cid
        slot.protective_cid = None
        if cid is None:
            return
        order = self.orders.get(cid)
        if order is not None and order.is_working:
            self._cancel(order, urgent=True)
