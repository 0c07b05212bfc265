"""Stop and market-if-touched entries: which side of the market a trigger belongs on, and the
MIT entries the engine holds until the last price touches their level.

A venue has stop orders (SL, SL-M) but no market-if-touched: the engine keeps an MIT entry
itself (shown to viewers as a ``trigger_pending`` order of type ``MIT``) and, on the first
price at or through its level, sends it at market under the same client id, after the entry
gates and the risk checks pass again. The plan attaches on its fill as for any entry. Held
entries live in memory only: a restarted engine does not hold them any more (no position can
come of that), and disarming, the kill switch or a cancel drops them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cockpit.domain.orders import OrderRequest, Side
from cockpit.engine.base import EngineBase
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


@dataclass(slots=True)
class HeldTouch:
    """An MIT entry waiting for its level."""

    cid: str
    request: OrderRequest
    """The market entry it becomes."""
    level: int
    spec: protocol.PlanSpec | None
    created_ns: int


class TouchEntries(EngineBase):
    """MIT entries held by the engine (a part of :class:`~cockpit.engine.core.Engine`)."""

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
        self._touch[held.cid] = held
        if self.journal is not None:
            self._journal_call(
                self.journal.event,
                "mit_held",
                {"cid": held.cid, "key": request.key, "side": str(request.side),
                 "qty": str(request.qty), "level": level},
            )  # fmt: skip
        self.publisher.event(
            protocol.OrderEvent(self._next_seq(), self._touch_view(held, "trigger_pending"))
        )
        return held.cid

    def _touch_tick(self, key: str, price: int) -> None:
        """(Every accepted price of ``key``) send the MIT entries it touched."""
        for held in [h for h in self._touch.values() if h.request.key == key]:
            sign = held.request.side.sign
            if (price - held.level) * sign > 0:
                continue  # a buy MIT waits for the price to come down to its level
            del self._touch[held.cid]
            refusal = self._touch_refusal(held)
            if refusal:
                self._drop_one(held, f"touched but not sent: {refusal}", level="warning")
                continue
            order = self._submit(held.request, urgent=False, cid=held.cid)
            self._entry_specs[order.cid] = held.spec

    def _touch_refusal(self, held: HeldTouch) -> str:
        if self.kill_switch or not self.armed:
            return "trading is disarmed"
        if not self.journal_ok:
            return "the journal cannot write"
        if not self._feed_ok():
            return "the feed is not live"
        refusal = self._risk.check(
            self._gate_context(held.request.key), held.request, confirmed=True
        )
        return "" if refusal is None else refusal[1]

    def _drop_touch(self, key: str | None, why: str) -> int:
        """Drop the held MIT entries of ``key`` (or all); how many."""
        dropped = [h for h in self._touch.values() if key is None or h.request.key == key]
        for held in dropped:
            del self._touch[held.cid]
            self._drop_one(held, why)
        return len(dropped)

    def _drop_one(self, held: HeldTouch, why: str, *, level: str = "") -> None:
        self.publisher.event(
            protocol.OrderEvent(self._next_seq(), self._touch_view(held, "cancelled", why))
        )
        if level:
            self._alarm(level, f"{held.request.key}: MIT {held.cid} {why}", key=held.request.key)
