"""Reconciliation with the broker's orderbook and positionbook."""

from __future__ import annotations

import logging
from decimal import Decimal

from cockpit.domain.execution import (
    QueryBook,
    QueryOrder,
    RouterResult,
)
from cockpit.domain.orders import (
    OrderRejected,
    OrderStatus,
)
from cockpit.domain.positions import Position
from cockpit.engine.base import EngineBase
from cockpit.engine.state import (
    NS,
    ZERO,
    ReconRound,
)
from cockpit.link import protocol

log = logging.getLogger(__name__)


class Reconciliation(EngineBase):
    """Reconciliation (a part of :class:`~cockpit.engine.core.Engine`)."""

    # ================================================================== reconciliation

    def reconcile(self, why: str) -> int:
        """Ask the broker for its orderbook and positionbook; compare when both are back."""
        self._recon_token += 1
        token = self._recon_token
        self._recon[token] = ReconRound(token, why)
        self.router.submit(QueryBook("orderbook", token=token))
        self.router.submit(QueryBook("positionbook", token=token))
        self._next_recon_ns = self.clock() + int(self.options.reconcile_interval_s * NS)
        return token

    def _on_book(self, result: RouterResult, request: QueryBook) -> None:
        recon = self._recon.get(request.token)
        if recon is None:
            return
        if not result.ok:
            recon.failed.append(f"{request.book}: {result.error}")
        elif request.book == "orderbook":
            recon.orders = result.data
        elif request.book == "positionbook":
            recon.positions = result.data
        recon.pending -= 1
        if recon.pending > 0:
            return
        del self._recon[request.token]
        self._reconcile_done(recon)

    def _reconcile_done(self, recon: ReconRound) -> None:
        if recon.failed:
            self._alarm(
                "error",
                f"reconciliation ({recon.why}) failed: {'; '.join(recon.failed)}",
                code="reconcile_failed",
            )
            if not self.reconciled:
                # Try again shortly: entries stay refused until the books are known.
                self._next_recon_ns = self.clock() + 2 * NS
            return
        first = not self.reconciled
        now = self.clock()
        # 1. Orders: bring ours up to date (missed updates), flag unknown working ones.
        broker_working: list[str] = []
        for update in recon.orders or ():
            cid = self._by_venue.get(update.orderid)
            if cid is None:
                cid = self._adopt_uncertain(update)
            if cid is not None:
                order = self.orders[cid]
                if order.is_working:
                    if update.status == "complete" and update.average_price == 0:
                        self.router.submit(QueryOrder(cid, update.orderid))
                    else:
                        self._apply_update(order, update)
            elif update.status in ("open", "trigger pending"):
                broker_working.append(
                    f"{update.key} {update.action} {update.quantity} #{update.orderid}"
                )
        # Uncertain orders not found at the broker by now were not placed.
        for cid, since in list(self._uncertain.items()):
            if now - since >= self.options.uncertain_wait_s * NS:
                order = self.orders[cid]
                del self._uncertain[cid]
                self._apply_events(
                    order,
                    [OrderRejected(now, "not found at the broker after an uncertain placement")],
                    source="reconcile",
                )
        if broker_working:
            self._alarm(
                "warning",
                f"reconcile ({recon.why}): broker has working orders the engine does not know: "
                + ", ".join(broker_working[:10]),
                code="reconcile_mismatch",
            )
        # 2. Positions.
        broker: dict[str, Decimal] = {}
        averages: dict[str, Decimal] = {}
        for report in recon.positions or ():
            key, qty, avg = report.key, report.qty, report.average_price
            broker[key] = broker.get(key, ZERO) + qty
            if qty != 0:
                averages[key] = avg
        mismatches: list[str] = []
        keys = set(broker) | {pos.key for pos in self.portfolio if pos.qty != 0}
        for key in sorted(keys):
            theirs = broker.get(key, ZERO)
            pos = self.portfolio.get(key)
            ours = pos.qty if pos is not None else ZERO
            if theirs == ours:
                continue
            if self._in_flight(key):
                continue  # the books may not agree yet
            inst = self.instruments.get(key)
            if first and ours == 0 and inst is not None and averages.get(key):
                # A fresh engine learns the positions it finds (and says so).
                self._alarm(
                    "info",
                    f"{key}: position {theirs} @ {averages[key]} found at the broker (unmanaged)",
                    key=key,
                    code="position_adopted",
                )
                self._take_position(key, theirs, inst.snap(averages[key]).ticks)
                continue
            mismatches.append(f"{key}: engine {ours}, broker {theirs}")
            if first and inst is not None:
                # At start the broker is the truth (loudly): never exit a position that is
                # not there, nor more than is there.
                avg = averages.get(key) or (pos.avg_price if pos is not None else None)
                self._take_position(key, theirs, inst.snap(avg).ticks if avg else 1)
        if mismatches:
            self._alarm(
                "error",
                f"reconcile ({recon.why}): positions differ: " + "; ".join(mismatches),
                code="reconcile_mismatch",
            )
        if self.journal is not None:
            self._journal_call(
                self.journal.event,
                "reconcile",
                {"why": recon.why, "mismatches": mismatches, "unknown_orders": broker_working},
            )
        if first:
            self.reconciled = True
            for key, slot in list(self.plans.items()):
                pos = self.portfolio.get(key)
                if pos is None or pos.qty == 0:
                    self._remove_plan(key, "no position at the broker")
                elif slot.plan.active and slot.plan.qty != abs(pos.qty):
                    slot.plan.resize(abs(pos.qty))
                    self._journal_plan(slot, "resized at start")
            # Plans did not act while the books were unknown: judge them at the last price now
            # (a stop crossed meanwhile exits at once).
            for key, slot in list(self.plans.items()):
                ltp = self._syms[key].ltp
                if ltp is not None and slot.plan.active:
                    self._plan_tick(slot, ltp, now)
            self._touch_reconciled()  # and held MIT entries touched meanwhile go out
            self._confirm_from_journal()  # instruments the broker did not answer for at start
            self._retry_closers(now)
            self._publish_status()

    def _take_position(self, key: str, qty: Decimal, avg_ticks: int) -> None:
        """(First reconciliation) the broker's position becomes ours; viewers are told."""
        self.portfolio.add(Position.opened(key, self.instruments[key].tick_size, qty, avg_ticks))
        pos = self.portfolio.get(key)
        self.publisher.event(protocol.PositionEvent(self._next_seq(), self._position_view(pos)))

    def _in_flight(self, key: str) -> bool:
        """An exit, a placement or an order that just ended on ``key``."""
        if key in self._closers:
            return True
        now = self.clock()
        for order in self.orders.values():
            if order.key == key and (
                order.status is OrderStatus.PENDING_NEW
                or (order.status.is_final and now - order.updated_ns < 2 * NS)
            ):
                return True
        return False
