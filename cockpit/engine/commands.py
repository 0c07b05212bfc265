"""Viewer commands: entries, plan management, exits, kill switch, subscriptions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cockpit.domain.execution import (
    CancelAll,
    LookupSymbol,
    RouterResult,
    SearchSymbols,
)
from cockpit.domain.exits import (
    ExitPlan,
    PlanError,
    Trail,
    TrailKind,
)
from cockpit.domain.instruments import (
    Instrument,
    InvalidQuantity,
    parse_key,
)
from cockpit.domain.market import DepthTick
from cockpit.domain.orders import (
    OrderRequest,
    Product,
    Side,
    check_price_ticks,
)
from cockpit.engine.base import EngineBase
from cockpit.engine.state import (
    CLOSING_TAGS,
    NS,
    ZERO,
    PendingLookup,
    describe_change,
)
from cockpit.engine.templates import plan_spec_for
from cockpit.engine.views import (
    instrument_view,
    plan_view,
)
from cockpit.link import protocol
from cockpit.link.bus import (
    SnapshotRequest,
    ViewerCommand,
)
from cockpit.link.snapshots import SnapshotDraft, VolumeMap

log = logging.getLogger(__name__)


class ViewerCommands(EngineBase):
    """Viewer commands (a part of :class:`~cockpit.engine.core.Engine`)."""

    # ================================================================== viewer commands

    def _on_snapshot_request(self, request: SnapshotRequest) -> None:
        # what it says it shows, or every symbol in full until it says; its books and volume
        # at price are built by the viewer server, off this thread (link/snapshots.py)
        self.screen.attached(request.conn_id, request.showing)
        self.publisher.reply(request.conn_id, self.snapshot_draft(request.showing))

    def _instrument_view(self, key: str, inst: Instrument) -> protocol.InstrumentView:
        """The view of instrument ``key``, built once per instrument object."""
        sym = self._syms.get(key)
        if sym is None:
            return instrument_view(inst)
        cached = sym.inst_view
        if cached is None or cached[0] is not inst:
            cached = sym.inst_view = (inst, instrument_view(inst))
        return cached[1]

    def snapshot(self, showing: frozenset[str] | None = None) -> protocol.Snapshot:
        """Everything a viewer needs on attach (:meth:`snapshot_draft`, built whole here)."""
        return self.snapshot_draft(showing).finish()

    def snapshot_draft(self, showing: frozenset[str] | None = None) -> SnapshotDraft:
        """Everything a viewer needs on attach: every quote, and the books and volume at price
        of the symbols in ``showing`` (None: of every symbol; the others go out whole as
        the viewer shows them). Those books and maps are lent, not built: a few
        milliseconds at 3,000 symbols, whatever their levels (see ``link/snapshots.py``)."""
        syms = self._syms
        full = (
            syms.items()
            if showing is None
            else [(k, s) for k in sorted(showing) if (s := syms.get(k)) is not None]
        )
        working = list(self.working.values())
        known = (self.orders.get(c) or self._earlier_final.get(c) for c in self._recent_final)
        recent = [o for o in known if o is not None]
        orders = working + recent[-50:]
        # parallel lists, not a tuple per symbol: few objects made, no collection due
        books: list[protocol.BookView | DepthTick] = []
        book_insts: list[Instrument] = []
        keys: list[str] = []
        totals: list[VolumeMap] = []
        bought: list[VolumeMap] = []
        for key, s in full:
            depth = s.depth
            if depth is not None:  # its book not built yet: built from the (immutable) tick
                books.append(depth)
                book_insts.append(s.inst)
            elif (book := s.book) is not None:
                books.append(book)
                book_insts.append(s.inst)
            if s.vap:
                s.vap_lent = True  # changed from now on only in a copy (market.py: own_vap)
                keys.append(key)
                totals.append(s.vap)
                bought.append(s.bought)
        quote = self._quote_view
        base = protocol.Snapshot(
            seq=self._seq,
            instruments=[self._instrument_view(k, i) for k, i in self.instruments.items()],
            quotes=[
                s.view if s.view_count == s.count and s.view is not None else quote(s)
                for s in syms.values()
                if s.count
            ],
            books=[],
            positions=[self._position_view(pos) for pos in self.portfolio],
            plans=[plan_view(k, s.plan, s.exit_cid) for k, s in self.plans.items()],
            orders=[self._order_view(o) for o in orders]
            + [self._touch_view(h, "trigger_pending") for h in self._touch.values()],
            fills=list(self.fills),
            feeds=list(self.feeds.values()),
            status=self._status_view(),
            watchlist=list(self.watchlist),
            messages=list(self.message_log.messages),
            alerts=list(self.alerts.values()),
            watchlists=self.watchlist_views(),
            active_watchlist=self.active_watchlist,
        )
        return SnapshotDraft(base, books, book_insts, (keys, totals, bought))

    def _on_command(self, item: ViewerCommand) -> None:
        cmd = item.command
        self.counters["commands"] += 1
        row = None
        if self.journal is not None:
            row = self._journal_call(self.journal.command, item.conn_id, cmd)
        handler = getattr(self, f"_cmd_{type(cmd).__name__}", None)
        answer: protocol.Msg | None
        if handler is None:
            answer = protocol.Refused(cmd.id, "unsupported", f"{type(cmd).__name__} not supported")
        else:
            try:
                answer = handler(item.conn_id, cmd)
            except (PlanError, InvalidQuantity, ValueError, ArithmeticError) as exc:
                answer = protocol.Refused(cmd.id, "invalid", str(exc) or type(exc).__name__)
        if answer is None:
            return  # answered once the venue has replied (lookups, searches)
        if row is not None and self.journal is not None:
            if isinstance(answer, protocol.Refused):
                outcome, message = f"refused:{answer.rule}", answer.message
            else:
                outcome, message = "ack", getattr(answer, "message", "")
            self._journal_call(self.journal.command_outcome, row, outcome, message)
        self.publisher.reply(item.conn_id, answer)

    # -- plan management --------------------------------------------------------------------

    def _plan_action(self, cmd: Any, action: Callable[[ExitPlan], Any], what: str) -> protocol.Msg:
        slot = self.plans.get(cmd.key)
        if slot is None:
            return protocol.Refused(cmd.id, "no_plan", f"{cmd.key}: no exit plan")
        try:
            change = action(slot.plan)
        except PlanError as exc:
            return protocol.Refused(cmd.id, "plan", str(exc))
        text = describe_change(self.instruments[cmd.key], change) or what
        slot.last_stop = slot.seen_stop = slot.plan.stop
        slot.event_pending = False
        self._journal_plan(slot, text)
        self.publisher.event(
            protocol.PlanEvent(
                self._next_seq(), plan_view(cmd.key, slot.plan, slot.exit_cid), change=text
            )
        )
        slot.protective_dirty = True
        self._plan_due.add(cmd.key)  # a new time stop, or what the sync leaves to the timer
        self._sync_protective(slot, self.clock() + 10**15)
        return protocol.Ack(cmd.id, text)

    def _level(self, plan: ExitPlan, current: int | None, cmd: Any) -> int | None:
        if cmd.to is not None:
            return int(cmd.to)
        if cmd.delta is None:
            raise PlanError("give a delta or a level")
        if current is None:
            raise PlanError("no level to move")
        return current + int(cmd.delta)

    def _cmd_MoveStop(self, conn_id: int, cmd: protocol.MoveStop) -> protocol.Msg:  # noqa: N802
        return self._plan_action(
            cmd, lambda plan: plan.move_stop(self._level(plan, plan.stop, cmd)), "stop moved"
        )

    def _cmd_MoveTarget(self, conn_id: int, cmd: protocol.MoveTarget) -> protocol.Msg:  # noqa: N802
        if cmd.leg is not None:

            def move_leg(plan: ExitPlan) -> Any:
                leg = next((leg for leg in plan.legs if leg.n == cmd.leg), None)
                level = self._level(plan, leg.level if leg is not None else None, cmd)
                assert level is not None
                return plan.move_leg(cmd.leg or 0, level)

            return self._plan_action(cmd, move_leg, f"TP{cmd.leg} moved")
        return self._plan_action(
            cmd, lambda plan: plan.move_target(self._level(plan, plan.target, cmd)), "target moved"
        )

    def _cmd_SetTrail(self, conn_id: int, cmd: protocol.SetTrail) -> protocol.Msg:  # noqa: N802
        trail = None if cmd.trail is None else Trail(TrailKind(cmd.trail.kind), cmd.trail.distance)
        return self._plan_action(cmd, lambda plan: plan.set_trail(trail), "trail set")

    def _cmd_ToggleTrail(self, conn_id: int, cmd: protocol.ToggleTrail) -> protocol.Msg:  # noqa: N802
        def toggle(plan: ExitPlan) -> Any:
            if plan.trail is None:
                ex = self.config.exits
                return plan.set_trail(
                    Trail(TrailKind(ex.trail_kind), Decimal(ex.trail_default_distance))
                )
            return plan.toggle_trail()

        return self._plan_action(cmd, toggle, "trail toggled")

    def _cmd_ToBreakeven(self, conn_id: int, cmd: protocol.ToBreakeven) -> protocol.Msg:  # noqa: N802
        return self._plan_action(cmd, lambda plan: plan.to_breakeven(), "stop to breakeven")

    def _cmd_DetachPlan(self, conn_id: int, cmd: protocol.DetachPlan) -> protocol.Msg:  # noqa: N802
        if cmd.key not in self.plans:
            return protocol.Refused(cmd.id, "no_plan", f"{cmd.key}: no exit plan")
        self._remove_plan(cmd.key, "detached")
        return protocol.Ack(cmd.id, f"{cmd.key}: plan detached; the position is unmanaged")

    def _cmd_AttachPlan(self, conn_id: int, cmd: protocol.AttachPlan) -> protocol.Msg:  # noqa: N802
        pos = self.portfolio.get(cmd.key)
        if pos is None or pos.qty == 0:
            return protocol.Refused(cmd.id, "no_position", f"{cmd.key}: no position to protect")
        if cmd.key in self._closers:
            return protocol.Refused(cmd.id, "closing", f"{cmd.key}: an exit is in flight")
        spec = plan_spec_for(self.config, cmd.key, cmd.plan, cmd.template)
        if cmd.key in self.plans:
            self._remove_plan(cmd.key, "replaced")
        slot = self._new_plan(cmd.key, pos, spec, self.clock())
        if slot is None:
            return protocol.Ack(cmd.id, f"{cmd.key}: no plan (none requested)")
        return protocol.Ack(cmd.id, f"{cmd.key}: plan attached")

    # -- exits -----------------------------------------------------------------------------

    def _cmd_Flatten(self, conn_id: int, cmd: protocol.Flatten) -> protocol.Msg:  # noqa: N802
        if cmd.key not in self.instruments:
            return protocol.Refused(
                cmd.id, "unknown_symbol", f"{cmd.key} is not a known instrument"
            )
        cancelled = self._cancel_working(cmd.key)
        if cmd.key in self.plans:
            self._remove_plan(cmd.key, "flatten")
        closer = self._start_close(cmd.key, "flatten")
        what = "closing" if closer is not None else "no position"
        return protocol.Ack(
            cmd.id,
            f"{cmd.key}: {cancelled} order(s) cancelled, {what}",
            cid=closer.cid if closer else None,
        )

    def _cmd_ClosePart(self, conn_id: int, cmd: protocol.ClosePart) -> protocol.Msg:  # noqa: N802
        pos = self.portfolio.get(cmd.key)
        if pos is None or pos.qty == 0:
            return protocol.Refused(cmd.id, "no_position", f"{cmd.key}: no position to close")
        if not 0 < cmd.percent < 100:
            return protocol.Refused(cmd.id, "invalid", "a part is between 0 and 100 percent")
        if cmd.key in self._closers:
            return protocol.Refused(cmd.id, "closing", f"{cmd.key}: an exit is already in flight")
        in_flight = sum(
            (
                o.remaining_qty
                for o in self.working.values()
                if o.key == cmd.key and o.tag == "partial" and o.is_working
            ),
            Decimal(0),
        )
        lot = self.instruments[cmd.key].lot_size
        qty = (abs(pos.qty) - in_flight) * cmd.percent / 100 // lot * lot
        if qty <= 0:
            return protocol.Refused(
                cmd.id, "quantity", f"{cmd.key}: {cmd.percent}% of the position is under a lot"
            )
        side = Side.SELL if pos.qty > 0 else Side.BUY
        request = OrderRequest(
            cmd.key, side, qty, product=self._products.get(cmd.key, Product.MIS), tag="partial"
        )
        order = self._submit(request, urgent=True)
        return protocol.Ack(cmd.id, f"{cmd.key}: closing {qty} ({cmd.percent}%)", cid=order.cid)

    def _cancel_working(self, key: str | None) -> int:
        """Cancel working orders of ``key`` (or all), except closing orders in flight, and
        drop held MIT entries."""
        count = self._drop_touch(key, "cancelled")
        for order in list(self.working.values()):
            if (
                order.is_working
                and (key is None or order.key == key)
                and order.tag not in CLOSING_TAGS
            ):
                if order.cid not in self._reduce_cancels:  # (its cancel is on its way)
                    self._cancel(order, urgent=True)
                count += 1
        return count

    def _cmd_KillSwitch(self, conn_id: int, cmd: protocol.KillSwitch) -> protocol.Msg:  # noqa: N802
        already = self.kill_switch
        self.kill_switch = True
        self.armed = False
        self._drop_queued_entries("kill switch")
        now = self.clock()
        if self.journal is not None:
            self._journal_call(
                self.journal.event, "kill_switch", {"conn_id": conn_id, "again": already}
            )
        for key in list(self.plans):
            self._remove_plan(key, "kill switch")
        if not already or self._pending_cancel_all is None:
            self._kill_started_ns = now
            self._pending_cancel_all = now
            if cmd.account_wide:
                self.router.submit(CancelAll(urgent=True, token=now))
        # This cockpit's own orders, one by one (those not yet acknowledged as soon as their
        # ids are known); the flatten follows once they are done (see _flatten_when_cancelled).
        self._cancel_working(None)
        self._flatten_when_cancelled(now)
        self._publish_status()
        self._alarm("warning", "KILL SWITCH: cancelling all orders, flattening all", code="kill")
        open_positions = len(self.portfolio.open_positions)
        return protocol.Ack(cmd.id, f"kill switch: {open_positions} position(s) to flatten")

    def _flatten_when_cancelled(self, now: int) -> None:
        """(Kill switch) flatten once no order of ours but closing ones is working (so a
        protective stop cannot fill beside the exit), or after 2 s at the latest."""
        if self._pending_cancel_all is None:
            return
        cancelling = any(o.is_working and o.tag not in CLOSING_TAGS for o in self.working.values())
        if cancelling and now - self._kill_started_ns <= 2 * NS:
            return
        self._pending_cancel_all = None
        self._flatten_all()

    def _flatten_all(self) -> None:
        for pos in self.portfolio.open_positions:
            self._start_close(pos.key, "kill")

    def _cmd_CancelOrders(self, conn_id: int, cmd: protocol.CancelOrders) -> protocol.Msg:  # noqa: N802
        if cmd.cid is not None and cmd.cid in self._touch:
            held = self._touch.pop(cmd.cid)
            self._drop_one(held, "cancelled")
            return protocol.Ack(cmd.id, f"cancelled MIT {cmd.cid}")
        if cmd.cid is not None:
            order = self.orders.get(cmd.cid)
            if order is None or not order.is_working:
                return protocol.Refused(cmd.id, "no_order", f"no working order {cmd.cid}")
            if order.tag in CLOSING_TAGS:
                return protocol.Refused(cmd.id, "closing", "an exit in flight cannot be cancelled")
            if self._cancel(order, urgent=True) or order.is_working:
                return protocol.Ack(cmd.id, f"cancelling {cmd.cid}")
            return protocol.Ack(cmd.id, f"{order.key}: {cmd.cid} {order.reason}")
        count = self._cancel_working(cmd.key)
        return protocol.Ack(cmd.id, f"cancelling {count} order(s)")

    def _cmd_ModifyOrder(self, conn_id: int, cmd: protocol.ModifyOrder) -> protocol.Msg:  # noqa: N802
        order = self.orders.get(cmd.cid)
        if order is None or not order.is_working:
            return protocol.Refused(cmd.id, "no_order", f"no working order {cmd.cid}")
        if order.venue_id is None:
            return protocol.Refused(cmd.id, "pending", f"{cmd.cid} is not acknowledged yet")
        if cmd.price is not None and not order.type.has_price:
            return protocol.Refused(cmd.id, "price", f"a {order.type} order has no limit price")
        if cmd.trigger is not None and not order.type.has_trigger:
            return protocol.Refused(cmd.id, "price", f"a {order.type} order has no trigger")
        check_price_ticks(order.key, "price", cmd.price)
        check_price_ticks(order.key, "trigger", cmd.trigger)
        if cmd.qty is not None:
            self.instruments[order.key].check_quantity(cmd.qty)
            if cmd.qty <= order.filled_qty:
                return protocol.Refused(
                    cmd.id, "quantity", "new quantity is not above the filled one"
                )
            held = self.portfolio.get(order.key)
            room = abs(held.qty) if held is not None else ZERO
            if order.tag == "reduce" and cmd.qty - order.filled_qty > room:
                return protocol.Refused(
                    cmd.id,
                    "quantity",
                    f"a reducing order may not sell more than the position ({room})",
                )
        self._modify(order, price=cmd.price, trigger=cmd.trigger, qty=cmd.qty)
        return protocol.Ack(cmd.id, f"modifying {cmd.cid}")

    # -- misc ------------------------------------------------------------------------------

    def _cmd_SetArmed(self, conn_id: int, cmd: protocol.SetArmed) -> protocol.Msg:  # noqa: N802
        self.armed = cmd.armed
        if cmd.armed:
            self.kill_switch = False
        else:
            self._drop_queued_entries("disarmed")
        self._publish_status()
        return protocol.Ack(cmd.id, "armed" if cmd.armed else "disarmed")

    def _cmd_Subscribe(self, conn_id: int, cmd: protocol.Subscribe) -> protocol.Msg | None:  # noqa: N802
        unknown: list[str] = []
        for key in cmd.keys:
            if key in self.instruments:
                continue
            try:
                parse_key(key)
            except ValueError as exc:
                return protocol.Refused(cmd.id, "unknown_symbol", str(exc))
            unknown.append(key)
        if not unknown:
            return self._finish_subscribe(cmd, [], [])
        # Ask the venue about the instruments we do not know; answer when all are back.
        self._lookup_token += 1
        token = self._lookup_token
        self._lookups[token] = PendingLookup(conn_id, cmd, set(unknown))
        for key in unknown:
            exchange, symbol = parse_key(key)
            self.router.submit(LookupSymbol(symbol, str(exchange), token=token))
        return None

    def _on_lookup(self, result: RouterResult, request: LookupSymbol) -> None:
        if request.token in self._confirming:
            self._on_confirm(result, request)
            return
        pending = self._lookups.get(request.token)
        if pending is None:
            return
        key = f"{request.exchange}:{request.symbol}"
        pending.waiting.discard(key)
        inst = result.data if result.ok and isinstance(result.data, Instrument) else None
        if inst is None or inst.key != key:
            pending.failed.append(f"{key} ({result.error or 'not found'})")
        else:
            self._add_instrument(inst)
            if self.journal is not None:
                self._journal_call(self.journal.instrument, inst.key, inst.tick_size, inst.lot_size)
            pending.found.append(inst)
        if pending.waiting:
            return
        del self._lookups[request.token]
        answer = self._finish_subscribe(pending.cmd, pending.found, pending.failed)
        self.publisher.reply(pending.conn_id, answer)

    def _finish_subscribe(
        self, cmd: protocol.Subscribe, found: list[Instrument], failed: list[str]
    ) -> protocol.Msg:
        new = [k for k in cmd.keys if k in self.instruments and k not in self.watchlist]
        if failed and cmd.id == 0:  # the restored list's symbols, asked at start: no one waits
            self._alarm(
                "warning",
                f"watchlist: {', '.join(failed)}: kept in the list, asked again at the next start",
                code="watchlist",
            )
        if not new and failed:
            return protocol.Refused(cmd.id, "unknown_symbol", f"not found: {', '.join(failed)}")
        if new:
            self.watchlist.extend(new)
            self._watchlist_changed()
            if self.feed is not None:
                self.feed.subscribe(new, self.options.feed_mode)
            self.publisher.event(
                protocol.WatchlistChanged(
                    self._next_seq(),
                    list(self.watchlist),
                    [instrument_view(i) for i in found],
                )
            )
        message = f"{len(new)} symbol(s) added"
        if failed:
            message += f"; not found: {', '.join(failed)}"
        return protocol.Ack(cmd.id, message)

    def _cmd_Search(self, conn_id: int, cmd: protocol.Search) -> protocol.Msg | None:  # noqa: N802
        if not cmd.query.strip():
            return protocol.Refused(cmd.id, "invalid", "empty search")
        self._lookup_token += 1
        token = self._lookup_token
        self._searches[token] = (conn_id, cmd)
        exchange = cmd.exchange.upper() if cmd.exchange else None
        self.router.submit(SearchSymbols(cmd.query.strip(), exchange, token=token))
        return None

    def _on_search(self, result: RouterResult, request: SearchSymbols) -> None:
        pending = self._searches.pop(request.token, None)
        if pending is None:
            return
        conn_id, cmd = pending
        query = cmd.query.strip().upper()
        local = {
            i.key: instrument_view(i)
            for i in self.instruments.values()
            if (query in i.symbol.upper() or query in i.name.upper())
            and (cmd.exchange is None or str(i.exchange) == cmd.exchange.upper())
        }
        found = result.data if result.ok and isinstance(result.data, list) else []
        for inst in found:
            if isinstance(inst, Instrument) and inst.key not in local:
                local[inst.key] = instrument_view(inst)
        hits = list(local.values())[:100]
        self.publisher.reply(conn_id, protocol.SearchResult(cmd.id, hits))
        note = "" if result.ok else f" (venue search failed: {result.error}; local matches only)"
        self.publisher.reply(conn_id, protocol.Ack(cmd.id, f"{len(hits)} result(s){note}"))

    def _cmd_Ping(self, conn_id: int, cmd: protocol.Ping) -> protocol.Msg:  # noqa: N802
        self.publisher.reply(conn_id, protocol.Pong(cmd.id, self.clock()))
        return protocol.Ack(cmd.id)

    def _cmd_Shutdown(self, conn_id: int, cmd: protocol.Shutdown) -> protocol.Msg:  # noqa: N802
        open_positions = self.portfolio.open_positions
        working = list(self.working.values())
        if (open_positions or working) and not cmd.flatten:
            return protocol.Refused(
                cmd.id,
                "open_positions",
                f"{len(open_positions)} position(s) and {len(working)} working order(s) open",
            )
        if cmd.flatten and (open_positions or working):
            self._cmd_KillSwitch(conn_id, protocol.KillSwitch(cmd.id))
            self._shutdown_when_flat = True
            return protocol.Ack(cmd.id, "flattening, then stopping")
        self.shutdown_requested.set()
        return protocol.Ack(cmd.id, "stopping")
