"""The pre-trade risk gate: confirmations, then the domain's rules, on a context."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from cockpit.domain import risk
from cockpit.domain.instruments import Instrument
from cockpit.domain.orders import Order, OrderRequest
from cockpit.domain.positions import money_text
from cockpit.engine.state import ENTRY_TAGS, ZERO

if TYPE_CHECKING:
    from cockpit.config import Settings


@dataclass(frozen=True, slots=True)
class GateContext:
    """What the gate reads of the engine's state for one entry (never the engine itself)."""

    instrument: Instrument
    last_ticks: int | None
    """The symbol's last price (None: none seen yet)."""
    last_recv_ns: int
    now_ns: int
    working: Iterable[Order]
    """Orders that may still fill."""
    open_orders: int
    position_qty: Decimal | None
    day_pnl: Callable[[], Mapping[str, Decimal]]
    """The day's P&L per currency (asked only under a daily loss limit)."""
    halted: bool


class RiskGate:
    """Pre-trade checks: order-size confirmations, then :mod:`cockpit.domain.risk`'s rules."""

    def __init__(self, config: Settings) -> None:
        self._trading = config.trading
        self.limits: risk.RiskLimits = config.risk.to_domain()
        self.recent_orders_ns: deque[int] = deque(maxlen=1000)

    def check(
        self, ctx: GateContext, request: OrderRequest, *, confirmed: bool
    ) -> tuple[str, str] | None:
        """``(rule, message)`` of the first refusal, or None."""
        inst = ctx.instrument
        ref = request.price_ticks or request.trigger_ticks or ctx.last_ticks
        if not confirmed:
            over_qty = self._trading.confirm_qty_over
            if over_qty is not None and request.qty > over_qty:
                return ("confirm", f"quantity {request.qty} is over {over_qty}: confirm it")
            over_value = self._trading.confirm_value_over
            if over_value is not None and ref is not None:
                value = inst.price(ref) * request.qty
                if value > over_value:
                    return (
                        "confirm",
                        f"value {money_text(value, sign=False)} is over "
                        f"{money_text(Decimal(over_value), sign=False)}: confirm it",
                    )
        # The rules read the request's own symbol only, and the day's P&L only under a loss
        # limit: the whole book's P&L or every symbol's price is not needed.
        key = request.key
        working_left = ZERO
        for order in ctx.working:
            if order.key == key and order.tag in ENTRY_TAGS and order.is_working:
                working_left += (order.qty - order.filled_qty) * order.side.sign
        seen = ctx.last_ticks is not None
        rules = risk.RiskContext(
            now_ns=ctx.now_ns,
            tick_size=inst.tick_size,
            positions={key: ctx.position_qty} if ctx.position_qty is not None else {},
            open_orders=ctx.open_orders,
            working_qty={key: working_left} if working_left else {},
            last_ticks={key: ctx.last_ticks} if ctx.last_ticks is not None else {},
            last_tick_ns={key: ctx.last_recv_ns} if seen else {},
            recent_orders_ns=self.recent_orders_ns,
            day_pnls=ctx.day_pnl() if self.limits.has_daily_loss_limit else {},
            halted=ctx.halted,
            currency=inst.currency,
        )
        refusal = risk.check_entry(request, self.limits, rules)
        if refusal is not None:
            return (str(refusal.rule), refusal.message)
        self.recent_orders_ns.append(ctx.now_ns)
        return None


def entry_lock(
    limits: risk.RiskLimits,
    day_pnls: Mapping[str, Decimal],
    *,
    kill_switch: bool,
    journal_ok: bool,
) -> tuple[str, str]:
    """``(rule, words)`` of what refuses every entry now, or ``("", "")``: the kill switch,
    a journal that cannot write, the daily loss limit in any currency (the order the gate
    checks them in)."""
    if kill_switch:
        return ("kill_switch", "kill switch engaged: re-arm to trade")
    if not journal_ok:
        return ("journal", "the journal cannot write: no entries until it can")
    breach = risk.daily_loss_breach(limits, day_pnls)
    if breach is not None:
        return (str(risk.Rule.DAILY_LOSS), breach.words)
    return ("", "")


def stale_limit_s(limits: risk.RiskLimits) -> Decimal | None:
    """The stale-data gate's limit in seconds (None: no such gate)."""
    if limits.max_tick_age_ns is None:
        return None
    return Decimal(limits.max_tick_age_ns) / 1_000_000_000
