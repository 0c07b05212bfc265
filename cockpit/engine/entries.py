"""Entry commands (market, limit, stop, market-if-touched; reverse), the risk gate's context,
and the MIT entries the engine holds until the last price touches their level.

A venue has stop orders (SL, SL-M) but no market-if-touched: the engine keeps an MIT entry
itself (shown to viewers as a ``trigger_pending`` order of type ``MIT``) and, on the first
price at or through its level, sends it at market under the same client id, after the entry
gates and the risk checks pass again. The plan attaches on its fill as for any entry. A held
entry is journaled (``mit_held``) until it goes out or is dropped (``mit_gone``): a restarted
engine holds it again (one from a previous day expires), and disarming, the kill switch or a
cancel drops it for good. A held-again entry whose level the first price after the restart has
already reached or passed is not sent (that price came while nobody watched: a market order now
would trade blind): it expires with a warning (``mit_passed``), to be placed again if still wanted.
A feed outage is judged the same way: after a feed leaves ``live`` (a reconnect), or when a
symbol's price comes after a silence longer than the stale-data limit, the first price decides.
A price that comes before the broker's books are known (a restart's reconciliation) is seen as
any other but sends nothing: an entry it touched goes out when the books are known, judged at
the last price then (as the exit plans are).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from cockpit.domain.exits import PlanError
from cockpit.domain.instruments import InvalidQuantity
from cockpit.domain.orders import OrderRequest, OrderType, Product, Side
from cockpit.engine.base import EngineBase
from cockpit.engine.feed_lag import behind_words
from cockpit.engine.risk_gate import GateContext
from cockpit.engine.state import PART_TAGS, ZERO
from cockpit.engine.templates import plan_spec_for
from cockpit.link import protocol


def trigger_side_error(
    side: Side, kind: str, trigger: int | None, last: int | None, price: int | None
) -> str:
    """Why a stop (``SL``/``SL-M``) or ``MIT`` entry's trigger is on the wrong side ("" if
    not): a buy stop triggers above the last price and a buy MIT below it (a sell mirrored);
    a stop-limit buy's limit is at or above its trigger."""
    if trigger is None or last is None:
        return ""
    sign = side.sign
    if kind == "MIT":
        if (trigger - last) * sign >= 0:
            where = "below" if sign > 0 else "above"
            return f"a {side} MIT triggers {where} the last price (use a stop for the other side)"
        return ""
    if (trigger - last) * sign <= 0:
        where = "above" if sign > 0 else "below"
        return f"a {side} stop triggers {where} the last price (use a limit or MIT instead)"
    if kind == "SL" and price is not None and (price - trigger) * sign < 0:
        where = "at or above" if sign > 0 else "at or below"
        return f"a {side} stop-limit's limit must be {where} its trigger"
    return ""


PASSED_WHILE_DOWN = "not sent: its level was reached while the engine was down"
"""Why a held MIT expires when the first price after a restart is at or through its level."""
PASSED_WHILE_BLIND = "not sent: its level was reached while the feed was down or silent"
"""Why a held MIT expires when the first price after a feed outage is at or through its level."""


@dataclass(slots=True)
class HeldTouch:
    """An MIT entry waiting for its level."""

    cid: str
    request: OrderRequest
    """The market entry it becomes."""
    level: int
    spec: protocol.PlanSpec | None
    created_ns: int
    unseen: str = ""
    """Why no price was seen since it was held (held again after a restart, or a feed
    outage): the first one decides whether its level was passed meanwhile ("" when seen)."""
    seen_ns: int = 0
    """When it last saw a price of its symbol (0: not yet): a longer silence than the
    stale-data limit before the next one is an outage too."""


class Entries(EngineBase):
    """Entries: market, limit, stop and MIT orders, reversals, the risk gate's context and MIT
    entries held by the engine (a part of :class:`~cockpit.engine.core.Engine`)."""

    # -- entry commands --------------------------------------------------------------------------

    def _cmd_PlaceEntry(self, conn_id: int, cmd: protocol.PlaceEntry) -> protocol.Msg:  # noqa: N802
        inst = self.instruments.get(cmd.key)
        if inst is None:
            return protocol.Refused(
                cmd.id, "unknown_symbol", f"{cmd.key} is not a known instrument"
            )
        if not inst.tradable:
            return protocol.Refused(cmd.id, "not_tradable", f"{cmd.key} is an index")
        if self.kill_switch:
            return protocol.Refused(cmd.id, "kill_switch", "kill switch engaged: re-arm to trade")
        if not self.armed:
            return protocol.Refused(cmd.id, "disarmed", "trading is disarmed (arm it to enter)")
        held = self.portfolio.get(cmd.key)
        against = (
            held is not None
            and held.qty != 0
            and (held.qty > 0) is (cmd.side.strip().upper() in ("S", "SELL", "SHORT"))
        )
        if not self.journal_ok and not against:  # (one against it may reduce it: below)
            return protocol.Refused(
                cmd.id, "journal", "the journal cannot write: no entries until it can"
            )
        if not self.reconciled:
            return protocol.Refused(cmd.id, "reconciling", "waiting for the broker's books")
        sym = self._syms[cmd.key]
        if sym.ltp is None:
            return protocol.Refused(cmd.id, "stale", f"{cmd.key}: no price yet")
        if not self._feed_ok():
            bad = ", ".join(f"{n} {s.state}" for n, s in self.feeds.items())
            return protocol.Refused(cmd.id, "stale", f"{cmd.key}: feed not live ({bad})")
        if behind := self._feed_behind(cmd.key):
            return protocol.Refused(cmd.id, "stale", f"{cmd.key}: {behind}")
        side = Side.parse(cmd.side)
        try:
            if cmd.lots is not None:
                qty = inst.check_quantity(inst.lots(cmd.lots))
            elif cmd.qty is not None:
                qty = inst.check_quantity(cmd.qty)
            else:
                return protocol.Refused(cmd.id, "quantity", "no quantity given")
        except (InvalidQuantity, ValueError) as exc:
            return protocol.Refused(cmd.id, "quantity", str(exc))
        try:
            spec = plan_spec_for(self.config, cmd.key, cmd.plan, cmd.template)
        except PlanError as exc:
            return protocol.Refused(cmd.id, "template", str(exc))
        touch = cmd.order_type.upper() == "MIT"
        try:
            order_type = OrderType.MARKET if touch else OrderType(cmd.order_type.upper())
        except ValueError:
            return protocol.Refused(cmd.id, "order_type", f"unknown order type {cmd.order_type!r}")
        price = cmd.price
        if order_type.has_price and cmd.join is not None:
            price = sym.bid if cmd.join == "bid" else sym.ask if cmd.join == "ask" else None
            if price is None:
                return protocol.Refused(cmd.id, "no_quote", f"{cmd.key}: no {cmd.join} to join")
        if order_type.has_price and price is None:
            return protocol.Refused(cmd.id, "price", f"a {order_type} order needs a price")
        if (order_type.has_trigger or touch) and cmd.trigger is None:
            return protocol.Refused(cmd.id, "price", f"a {cmd.order_type} order needs a trigger")
        if order_type.has_trigger or touch:
            wrong = trigger_side_error(side, cmd.order_type.upper(), cmd.trigger, sym.ltp, price)
            if wrong:
                return protocol.Refused(cmd.id, "trigger", f"{cmd.key}: {wrong}")
        try:
            product = Product(cmd.product.upper())
        except ValueError:
            return protocol.Refused(cmd.id, "product", f"unknown product {cmd.product!r}")
        # Against the open position and no larger than it: the order reduces it and never
        # opens the other side (cancelled when the position goes flat by another fill).
        # A held MIT on that side is one too (sent only if it still reduces when touched).
        reducing = against and held is not None and qty <= abs(held.qty)
        if not self.journal_ok and not reducing:  # one that reduces goes, as an exit does
            return protocol.Refused(
                cmd.id, "journal", "the journal cannot write: no entries until it can"
            )
        request = OrderRequest(
            cmd.key,
            side,
            qty,
            order_type,
            product,
            price_ticks=price if order_type.has_price else None,
            trigger_ticks=cmd.trigger if order_type.has_trigger else None,
            tag="reduce" if reducing else "entry",
        )
        refusal = self._risk.check(
            self._gate_context(request.key), request, confirmed=cmd.confirmed
        )
        if refusal is not None:
            return protocol.Refused(cmd.id, refusal[0], refusal[1])
        what = " (reduces the position)" if reducing else ""
        if touch:
            assert cmd.trigger is not None
            cid = self._hold_touch(request, cmd.trigger, None if reducing else spec)
            return protocol.Ack(cmd.id, f"{side} {qty} {cmd.key} MIT{what}", cid=cid)
        order = self._submit(request, urgent=False)
        if not reducing:
            self._entry_specs[order.cid] = spec
        return protocol.Ack(cmd.id, f"{side} {qty} {cmd.key} {order_type}{what}", cid=order.cid)

    def _cmd_Reverse(self, conn_id: int, cmd: protocol.Reverse) -> protocol.Msg:  # noqa: N802
        pos = self.portfolio.get(cmd.key)
        if pos is None or pos.qty == 0:
            return protocol.Refused(cmd.id, "no_position", f"{cmd.key}: no position to reverse")
        if self.kill_switch or not self.armed:
            return protocol.Refused(cmd.id, "disarmed", "trading is disarmed")
        if not self.journal_ok:
            return protocol.Refused(
                cmd.id, "journal", "the journal cannot write: no entries until it can"
            )
        if not self._feed_ok():
            return protocol.Refused(cmd.id, "stale", f"{cmd.key}: feed not live")
        if behind := self._feed_behind(cmd.key):
            return protocol.Refused(cmd.id, "stale", f"{cmd.key}: {behind}")
        if cmd.key in self._closers:
            return protocol.Refused(cmd.id, "closing", f"{cmd.key}: an exit is already in flight")
        if any(o.key == cmd.key and o.tag in PART_TAGS for o in self.working.values()):
            return protocol.Refused(
                cmd.id, "closing", f"{cmd.key}: a partial exit is in flight; reverse after it"
            )
        if any(o.tag == "reverse" and o.is_working for o in self._working_of(cmd.key)):
            # It read the same position: a second one would sell twice it again (long 5 ->
            # short 15 from two presses, or two viewers).
            return protocol.Refused(cmd.id, "closing", f"{cmd.key}: a reverse is already in flight")
        side = Side.SELL if pos.qty > 0 else Side.BUY
        request = OrderRequest(
            cmd.key,
            side,
            abs(pos.qty) * 2,
            product=self._products.get(cmd.key, Product.MIS),
            tag="reverse",
        )
        refusal = self._risk.check(self._gate_context(request.key), request, confirmed=True)
        if refusal is not None:
            return protocol.Refused(cmd.id, refusal[0], refusal[1])
        if cmd.key in self.plans:
            self._remove_plan(cmd.key, "reverse")
        order = self._submit(request, urgent=True)
        self._entry_specs[order.cid] = None
        return protocol.Ack(cmd.id, f"reverse {cmd.key}: {side} {request.qty}", cid=order.cid)

    def _feed_behind(self, key: str) -> str:
        """Why no entry: the feed of ``key``'s exchange is further behind the exchange than
        the stale-data limit (``engine.feed_lag``), in words; ``""``: it is not."""
        limit = self._risk.limits.max_tick_age_ns
        if limit is None:
            return ""
        behind = self._lag.behind_ns(key.split(":", 1)[0])
        return behind_words(behind) if behind > limit else ""

    def _gate_context(self, key: str) -> GateContext:
        """What the risk gate reads for an entry in ``key``."""
        sym = self._syms[key]
        position = self.portfolio.get(key)
        return GateContext(
            instrument=self.instruments[key],
            last_ticks=sym.ltp,
            last_recv_ns=sym.recv_ns,
            now_ns=self.clock(),
            working=self.working.values(),
            open_orders=len(self.working),
            position_qty=position.qty if position is not None else None,
            day_pnl=self._day_pnls,
            halted=self.kill_switch,
        )

    def _drop_queued_entries(self, why: str, *, reducing: bool = True) -> None:
        """Entries still queued at the router never go out (each comes back ``dropped``), nor
        do held MIT entries (``reducing``: the reducing ones too)."""
        self._drop_touch(None, why, reducing=reducing)
        if self.journal is not None:
            self.journal.flush()  # entries waiting for the writer's commit reach the router
        dropped = self.router.drop_queued_entries()
        if dropped:
            self._alarm("warning", f"{why}: {dropped} queued order(s) dropped unsent", code=why)

    # -- held MIT entries ------------------------------------------------------------------

    def _touch_view(self, held: HeldTouch, status: str, reason: str = "") -> protocol.OrderView:
        request = held.request
        return protocol.OrderView(
            cid=held.cid,
            key=request.key,
            side=str(request.side),
            order_type="MIT",
            qty=request.qty,
            status=status,
            ts_ns=self.clock(),
            product=str(request.product),
            trigger=held.level,
            filled=Decimal(0),
            tag=request.tag,
            reason=reason,
        )

    def _hold_touch(self, request: OrderRequest, level: int, spec: protocol.PlanSpec | None) -> str:
        """Hold an MIT entry; its client id (the market order it becomes keeps it)."""
        self._cid_n += 1
        held = HeldTouch(f"{self._cid_prefix}{self._cid_n}", request, level, spec, self.clock())
        held.seen_ns = self._syms[request.key].recv_ns
        self._touch[held.cid] = held
        if self.journal is not None:
            self._journal_call(
                self.journal.event,
                "mit_held",
                {"cid": held.cid, "key": request.key, "side": str(request.side),
                 "qty": str(request.qty), "level": level, "product": str(request.product),
                 "tag": request.tag,
                 "created_ns": held.created_ns,
                 "spec": None if spec is None else msgspec.to_builtins(spec)},
            )  # fmt: skip
        self.publisher.event(
            protocol.OrderEvent(self._next_seq(), self._touch_view(held, "trigger_pending"))
        )
        return held.cid

    def _touch_tick(self, key: str, price: int) -> None:
        """(Every accepted price of ``key``, and the last one at the first reconciliation) send
        the MIT entries it touched. Before the broker's books are known a price is seen but
        sends nothing: a touch then waits for the reconciliation, which judges the last price."""
        now = self._syms[key].recv_ns
        silence = self._risk.limits.max_tick_age_ns
        for held in [h for h in self._touch.values() if h.request.key == key]:
            if held.seen_ns and silence is not None and now - held.seen_ns > silence:
                held.unseen = held.unseen or PASSED_WHILE_BLIND
            held.seen_ns = now
            sign = held.request.side.sign
            if (price - held.level) * sign > 0:
                held.unseen = ""
                continue  # a buy MIT waits for the price to come down to its level
            if held.unseen:
                # Reached while nobody watched: sent now it would trade blind at a price the
                # trader never saw. It expires, said; the trader places it again if still wanted.
                del self._touch[held.cid]
                self._drop_one(held, held.unseen, level="warning", code="mit_passed")
                continue
            if not self.reconciled:
                continue  # touched, watched: sent once the books are known
            del self._touch[held.cid]
            reducing = held.request.tag == "reduce"
            if reducing and not self._still_reduces(held.request):
                self._drop_reducing_touch(held, "the position no longer holds it")
                continue
            refusal = self._touch_refusal(held)
            if refusal:
                self._drop_one(held, f"touched but not sent: {refusal}", level="warning")
                continue
            # Gone before it is sent: a crash in between loses the entry, never doubles it.
            self._journal_touch_gone(held.cid, "sent")
            order = self._submit(held.request, urgent=False, cid=held.cid)
            if not reducing:
                self._entry_specs[order.cid] = held.spec

    def _touch_reconciled(self) -> None:
        """(The first reconciliation) judge the held MIT entries at their symbols' last price:
        one touched while the books were unknown goes out now."""
        for key in {h.request.key for h in self._touch.values()}:
            last = self._syms[key].ltp
            if last is not None:
                self._touch_tick(key, last)

    def _touch_refusal(self, held: HeldTouch) -> str:
        if self.kill_switch or not self.armed:
            return "trading is disarmed"
        if held.request.tag == "reduce":
            return ""  # it lowers the risk: no entry gate holds it back, as none holds an exit
        if not self.journal_ok:
            return "the journal cannot write"
        if not self._feed_ok():
            return "the feed is not live"
        if behind := self._feed_behind(held.request.key):
            return behind
        refusal = self._risk.check(
            self._gate_context(held.request.key), held.request, confirmed=True
        )
        return "" if refusal is None else refusal[1]

    def _touch_feed_lost(self) -> None:
        """A feed left ``live``: the prices it missed are unknown, so the first fresh price of
        each held MIT's symbol decides as after a restart."""
        for held in self._touch.values():
            held.unseen = held.unseen or PASSED_WHILE_BLIND

    def _still_reduces(self, request: OrderRequest) -> bool:
        """Whether the reducing ``request`` still fits against the position, beside the
        working reducing orders of its symbol."""
        pos = self.portfolio.get(request.key)
        if pos is None or pos.qty == 0 or (pos.qty > 0) is (request.side is Side.BUY):
            return False
        working = sum(
            (
                o.remaining_qty
                for o in self._working_of(request.key)
                if o.tag == "reduce" and o.cid not in self._reduce_cancels
            ),
            ZERO,
        )
        return request.qty <= abs(pos.qty) - working

    def _trim_reducing_touch(self, key: str, held: Decimal, room: Decimal) -> None:
        """After a fill of ``key`` (``held`` left, ``room`` of it not yet taken by working
        reducing orders): drop the held reducing MITs that would open the other side."""
        for touch in [h for h in self._touch.values() if h.request.key == key]:
            request = touch.request
            if request.tag != "reduce":
                continue
            if held == 0:
                why = "the position is flat"
            elif (held > 0) is (request.side is Side.BUY):
                why = f"the position turned to {held}"
            elif request.qty > room:
                why = f"it is larger than the position ({held})"
            else:
                room -= request.qty
                continue
            del self._touch[touch.cid]
            self._drop_reducing_touch(touch, why)

    def _drop_reducing_touch(self, held: HeldTouch, why: str) -> None:
        request = held.request
        self._drop_one(
            held,
            f"(reducing, {request.side} {request.qty}) cancelled: {why}; it would have opened"
            " the other side",
            level="warning",
            code="reduce_cancelled",
        )

    def _drop_touch(self, key: str | None, why: str, *, reducing: bool = True) -> int:
        """Drop the held MIT entries of ``key`` (or all; ``reducing``: the reducing ones
        too); how many."""
        dropped = [
            h
            for h in self._touch.values()
            if (key is None or h.request.key == key) and (reducing or h.request.tag != "reduce")
        ]
        for held in dropped:
            del self._touch[held.cid]
            self._drop_one(held, why)
        return len(dropped)

    def _drop_one(self, held: HeldTouch, why: str, *, level: str = "", code: str = "") -> None:
        self._journal_touch_gone(held.cid, why)
        self.publisher.event(
            protocol.OrderEvent(self._next_seq(), self._touch_view(held, "cancelled", why))
        )
        if level:
            key = held.request.key
            self._alarm(level, f"{key}: MIT {held.cid} {why}", key=key, code=code)

    def _journal_touch_gone(self, cid: str, why: str) -> None:
        if self.journal is not None:
            self._journal_call(self.journal.event, "mit_gone", {"cid": cid, "why": why})

    def _restore_touch(self, events: list[tuple[str, dict[str, Any]]]) -> list[str]:
        """Hold again the MIT entries journaled as held and never gone (today's: an older
        one expires, said); their client ids."""
        held: dict[str, dict[str, Any]] = {}
        for kind, body in events:
            if kind == "mit_held":
                held[str(body.get("cid"))] = body
            elif kind == "mit_gone":
                held.pop(str(body.get("cid")), None)
        restored = []
        for cid, body in held.items():
            if str(body.get("key")) not in self.instruments or cid in self.orders:
                continue
            try:
                touch = held_from(cid, body)
            except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
                self._alarm("warning", f"cannot restore MIT entry {cid}: {exc}", code="restore")
                continue
            if touch.created_ns < self._day_start_ns:
                # A previous day's: the trader who placed it is not watching for it today.
                self._journal_touch_gone(cid, "expired")
                self._alarm(
                    "warning",
                    f"{touch.request.key}: MIT {cid} from a previous day is not held again",
                    key=touch.request.key,
                    code="mit_expired",
                )
                continue
            touch.unseen = PASSED_WHILE_DOWN
            self._touch[cid] = touch
            restored.append(cid)
        return restored


def held_from(cid: str, body: dict[str, Any]) -> HeldTouch:
    """A held MIT entry from its ``mit_held`` journal event.

    Raises:
        KeyError, ValueError, TypeError, ArithmeticError: not a readable entry.
    """
    request = OrderRequest(
        str(body["key"]),
        Side(body["side"]),
        Decimal(body["qty"]),
        OrderType.MARKET,
        Product(body.get("product") or "MIS"),
        tag="reduce" if body.get("tag") == "reduce" else "entry",
    )
    spec = body.get("spec")
    return HeldTouch(
        cid,
        request,
        int(body["level"]),
        None if spec is None else msgspec.convert(spec, protocol.PlanSpec),
        int(body["created_ns"]),
    )
