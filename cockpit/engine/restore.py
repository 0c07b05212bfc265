"""Restore from the journal at start; journal writes (a failure is alarmed, never raised)."""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

from cockpit.domain.execution import LookupSymbol, RouterResult
from cockpit.domain.exits import (
    ExitPlan,
    PlanError,
)
from cockpit.domain.instruments import Instrument
from cockpit.domain.orders import (
    Order,
    OrderStatus,
    OrderType,
    Product,
    Side,
)
from cockpit.domain.positions import Position
from cockpit.engine.base import EngineBase
from cockpit.engine.state import (
    CLOSING_TAGS,
    JOURNAL_PROBE_NS,
    Closer,
    PlanSlot,
    fraction_of,
    status_of,
)
from cockpit.engine.views import (
    position_view,
)
from cockpit.link import protocol

log = logging.getLogger(__name__)


class Journaling(EngineBase):
    """Restore and journal writes (a part of :class:`~cockpit.engine.core.Engine`)."""

    # ================================================================== journal & helpers

    def _restore(self) -> None:
        if self.journal is None:
            return
        try:
            recovery = self.journal.recover(since_ns=self._day_start_ns)
        except Exception as exc:
            self._alarm("error", f"journal recovery failed: {exc}", code="journal")
            return
        now = self.clock()
        self._restore_day(list(recovery.fills))
        for key, state in recovery.positions.items():
            inst = self.instruments.get(key)
            if inst is None:
                continue
            try:
                self.portfolio.add(Position.from_state(state))
            except (KeyError, ValueError, TypeError) as exc:
                self._alarm("warning", f"{key}: cannot restore position: {exc}", key=key)
        self._restore_final_orders()
        for record in recovery.open_orders:
            if record.key not in self.instruments:
                continue
            order = order_from(record)
            self.orders[order.cid] = order
            if order.status.is_working:
                self._add_working(order)
            if order.venue_id:
                self._by_venue[order.venue_id] = order.cid
            elif order.status is OrderStatus.PENDING_NEW:
                self._uncertain[order.cid] = now
        self._restore_held()
        restored = []
        for key, state in recovery.plans.items():
            if key not in self.instruments:
                continue
            try:
                plan = ExitPlan.from_state(state)
            except (PlanError, KeyError, ValueError) as exc:
                self._alarm("error", f"{key}: cannot restore exit plan: {exc}", key=key)
                continue
            slot = PlanSlot(
                key, plan, last_stop=plan.stop, seen_stop=plan.stop, journaled_version=plan.version
            )
            self.plans[key] = slot
            self._plan_due.add(key)
            restored.append(key)
            if plan.fired:
                # It fired before the crash; make sure the exit happens (once).
                self._closers.setdefault(key, Closer(key, str(plan.decision.reason)))  # type: ignore[union-attr]
        for key in list(self._closers):
            closer = self._closers[key]
            working = [
                o
                for o in self.orders.values()
                if o.key == key and o.is_working and o.tag in CLOSING_TAGS
            ]
            if working:
                closer.cid = working[-1].cid
            else:
                closer.retry_at_ns = now  # send after reconciliation confirms the position
        if restored:
            self._alarm("info", f"restored exit plans: {', '.join(restored)}", code="restored")
        self._alarm_unrestored(recovery)

    def _alarm_unrestored(self, recovery: Any) -> None:
        """In words: what the journal holds of a symbol this engine has no instrument for
        (not restored: unmanaged), and the symbols restored from the journal's tick and lot
        because the broker did not answer their lookup."""
        held: dict[str, list[str]] = {}
        for key, state in recovery.positions.items():
            qty = str(state.get("qty", "0"))
            with contextlib.suppress(ArithmeticError, ValueError):
                if key not in self.instruments and Decimal(qty) != 0:
                    held.setdefault(key, []).append(f"position {qty}")
        for key in recovery.plans:
            if key not in self.instruments:
                held.setdefault(key, []).append("exit plan")
        for record in recovery.open_orders:
            if record.key not in self.instruments:
                held.setdefault(record.key, []).append(f"order {record.cid}")
        for key, what in sorted(held.items()):
            self._alarm(
                "error",
                f"{key}: UNMANAGED: {', '.join(what)} not restored: the instrument is unknown "
                "(the broker did not answer its lookup); check it at the broker",
                key=key,
                code="unmanaged",
            )
        rebuilt = [k for k in self.options.from_journal if k in self.instruments]
        if rebuilt:
            self._alarm(
                "warning",
                f"the broker did not answer the lookup of {', '.join(rebuilt)}: tick and lot "
                "taken from the journal; positions and exit plans restored and managed",
                code="from_journal",
            )

    def _confirm_from_journal(self) -> None:
        """The broker answers (its books came): ask it about the instruments rebuilt from the
        journal at start, to confirm their tick and lot (:meth:`_on_confirm`)."""
        for key in self.options.from_journal:
            inst = self.instruments.get(key)
            if inst is None:
                continue
            self._lookup_token += 1
            self._confirming.add(self._lookup_token)
            self.router.submit(
                LookupSymbol(inst.symbol, str(inst.exchange), token=self._lookup_token)
            )

    def _on_confirm(self, result: RouterResult, request: LookupSymbol) -> None:
        """The broker's answer about an instrument rebuilt from the journal. The same tick
        and lot: said, nothing changes. Different ones: an error alarm; the engine keeps the
        journal's (its plan's prices are ticks of that size) until the trader acts."""
        self._confirming.discard(request.token)
        key = f"{request.exchange}:{request.symbol}"
        ours = self.instruments.get(key)
        theirs = result.data if result.ok and isinstance(result.data, Instrument) else None
        if ours is None:
            return
        if theirs is None or theirs.key != key:
            self._alarm(
                "warning",
                f"{key}: the broker still does not describe it ({result.error or 'not found'}):"
                " tick and lot stay the journal's",
                key=key,
                code="from_journal",
            )
        elif (theirs.tick_size, theirs.lot_size) == (ours.tick_size, ours.lot_size):
            self._alarm(
                "info",
                f"{key}: the broker confirms the journal's tick {ours.tick_size} and lot "
                f"{ours.lot_size}",
                key=key,
                code="from_journal",
            )
        else:
            self._alarm(
                "error",
                f"{key}: the broker now gives tick {theirs.tick_size} and lot "
                f"{theirs.lot_size}, the journal had {ours.tick_size} and {ours.lot_size}: "
                "its plan's levels are kept in the journal's ticks; check them, or close it",
                key=key,
                code="from_journal",
            )

    def _restore_final_orders(self) -> None:
        """The day's orders that ended, as the recent orders a viewer gets on attach. They are
        history, kept apart from ``orders``: no venue update is matched to them and they take
        no part in reconciliation (an exit filled just before a crash is not "in flight")."""
        assert self.journal is not None
        try:
            records = self.journal.final_orders(self._day_start_ns, self.options.recent_orders)
        except Exception as exc:
            self._alarm("error", f"journal recovery failed: {exc}", code="journal")
            return
        for record in records:
            if record.key not in self.instruments:
                continue
            try:
                order = order_from(record)
            except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
                log.warning("cannot restore order %s: %s", record.cid, exc)
                continue
            if order.status.is_final:
                self._earlier_final[order.cid] = order
                self._recent_final.append(order.cid)

    def _restore_held(self) -> None:
        """What the engine held that no venue knows: MIT entries waiting for their level, and
        orders queued for approval in OpenAlgo's Action Center (they stay pending, matched
        when they reach the order book, instead of counting as lost placements)."""
        assert self.journal is not None
        try:
            events = self.journal.events_of(
                "mit_held",
                "mit_gone",
                "order_pending_approval",
                "order_approval_withdrawn",
                "order_withdrawn_adopted",
            )
        except Exception as exc:
            self._alarm("error", f"journal recovery failed: {exc}", code="journal")
            return
        for kind, body in events:
            if kind != "order_pending_approval":
                continue
            order = self.orders.get(str(body.get("cid")))
            if order is not None and order.status is OrderStatus.PENDING_NEW and not order.venue_id:
                self._uncertain.pop(order.cid, None)
                self._approval[order.cid] = order.created_ns
        self._restore_withdrawn(events)
        held = self._restore_touch(events)
        if held:
            self._alarm("info", f"holding MIT entries again: {', '.join(held)}", code="restored")

    def _journal_plan(self, slot: PlanSlot, change: str) -> None:
        slot.journaled_version = slot.plan.version
        slot.journaled_ns = self.clock()
        if self.journal is not None:
            self._journal_call(self.journal.plan, slot.key, slot.plan.to_state(), change)

    def _journal_order(self, order: Order) -> None:
        if self.journal is not None:
            self._journal_call(self.journal.order, order)

    def _journal_call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            self._journal_failed(exc)
            return None

    def _journal_failed(self, exc: Exception) -> None:
        """A journal write failed: alarm it (once an outage: every batch fails while the disk
        is full, and an alarm each buried the fills and exits in the message log); entries are
        refused until a write succeeds."""
        self.counters["errors"] += 1
        self.counters["journal_errors"] += 1
        log.error("journal write failed: %s", exc)
        was_ok, self.journal_ok = self.journal_ok, False
        self._next_journal_probe_ns = self.clock() + JOURNAL_PROBE_NS
        if not was_ok:
            return  # already alarmed; the status bar says LOCKED journal
        self.publisher.event(
            protocol.Alarm(
                self._next_seq(),
                "error",
                f"journal write failed: {exc}; exits still go, entries refused until it writes",
                code="journal",
            )
        )

    def _probe_journal(self, now: int) -> None:
        """(Timer) alarm what the journal's writer thread failed to commit; after a failed
        write, try one write now and then; entries resume once it goes through."""
        journal = self.journal
        if journal is None:
            return
        for exc in journal.take_failures():
            self._journal_failed(exc)
        if self.journal_ok or now < self._next_journal_probe_ns:
            return
        self._next_journal_probe_ns = now + JOURNAL_PROBE_NS
        try:
            with journal.transaction():
                journal.event("journal_probe", {"ts_ns": now}, now)
            journal.flush()
            failures = journal.take_failures()
            if failures:
                raise failures[-1]
        except Exception as exc:
            log.warning("journal still failing: %s", exc)
            return
        self.journal_ok = True
        self._journal_again()
        self._alarm("info", "journal writes again: entries allowed", code="journal_ok")

    def _journal_again(self) -> None:
        """The journal writes again: write each open plan and every position as the engine
        holds it now, and end the plans it holds open that the engine no longer has. A plan
        counts as journaled when its write is handed over, so a stop the trail moved during
        the outage stayed at its old level in the journal (a restart would have restored it
        looser); a plan detached or closed meanwhile stayed open there (a restart restored a
        stop the trader removed), and a position closed meanwhile stayed open; the fills it
        lacks are written (a restart replays today's into the day's P&L and its loss limit)."""
        journal = self.journal
        assert journal is not None
        gone = self._journal_call(journal.open_plan_keys) or []
        since = self._day_start_ns
        have = self._journal_call(journal.fills, since)
        with self._batch():
            if have is not None:  # fills made in the outage: today's P&L is replayed from them
                held = Counter((f.cid, f.ts_ns, f.qty, f.price) for f in have)
                for fill in self.fills:
                    seen = (fill.cid, fill.ts_ns, fill.qty, fill.price)
                    if fill.ts_ns < since:
                        continue
                    if held[seen] > 0:
                        held[seen] -= 1
                    else:
                        self._journal_call(journal.fill, fill)
            for key in gone:
                if key not in self.plans:
                    self._journal_call(journal.plan_removed, key, "journal back")
            for slot in self.plans.values():
                self._journal_plan(slot, "journal back")
            for pos in self.portfolio:  # flat ones too: one closed in the outage
                self._journal_call(journal.position, pos.key, pos.to_state())

    def _alarm(self, level: str, message: str, *, key: str | None = None, code: str = "") -> None:
        log.log(logging.ERROR if level == "error" else logging.WARNING, "%s: %s", code, message)
        self.publisher.event(protocol.Alarm(self._next_seq(), level, message, key, code))

    def _position_view(self, pos: Position | None) -> protocol.PositionView:
        assert pos is not None
        mark = self.portfolio.mark(pos.key)
        return position_view(pos, mark if isinstance(mark, int) else None)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq


class JournalBatch:
    """``Journal.transaction()`` for the engine: a failed BEGIN/COMMIT is alarmed, not raised."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.cm: contextlib.AbstractContextManager[Any] | None = None

    @property
    def began(self) -> bool:
        """Whether the transaction began (False: BEGIN failed, nothing written inside is
        known to be committed: only what reduces a position may go, see ``OrderFlow._send``)."""
        return self.cm is not None

    def __enter__(self) -> JournalBatch:
        try:
            cm = self.engine.journal.transaction()
            cm.__enter__()
            self.cm = cm
        except Exception as exc:
            self.engine._journal_failed(exc)
        return self

    def __exit__(self, et: Any, ev: Any, tb: Any) -> Literal[False]:
        if self.cm is None:
            return False
        try:
            self.cm.__exit__(et, ev, tb)
        except Exception as exc:
            if et is None:
                self.engine._journal_failed(exc)
        return False


def order_from(record: Any) -> Order:
    """A domain order from its journal record (``cockpit.journal.OrderRecord``).

    Raises:
        ValueError, KeyError, TypeError: not a readable record.
    """
    return Order(
        cid=record.cid,
        key=record.key,
        side=Side(record.side),
        type=OrderType(record.order_type),
        qty=record.qty,
        product=Product(record.product),
        price_ticks=record.price_ticks,
        trigger_ticks=record.trigger_ticks,
        tag=record.tag,
        created_ns=record.created_ns,
        venue_id=record.venue_id,
        status=status_of(record.status),
        filled_qty=record.filled,
        fill_value_ticks=fraction_of(record.state.get("fill_value_ticks")),
        updated_ns=record.updated_ns,
        reason=record.reason,
    )
