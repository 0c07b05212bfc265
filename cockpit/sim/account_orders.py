"""Orders over the account rather than one order: cancel all, close every position, and
the smart order (whatever order takes a position to a target size)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cockpit.sim.orders import TRIGGER_PENDING, Order, OrderError, Position, Reply

if TYPE_CHECKING:
    from cockpit.sim.market import SymbolState


class AccountOrders:
    """Mixed into :class:`~cockpit.sim.exchange.PaperExchange`: built on its single-order
    ``place``, ``build`` and ``cancel``."""

    working: dict[str, list[Order]]
    positions: dict[tuple[str, str], Position]
    cancel_all_trigger_pending: bool

    if TYPE_CHECKING:
        build: Callable[..., Order]

        def place(self, order: Order) -> Reply: ...
        def cancel(self, orderid: str) -> Reply: ...
        def resolve(self, exchange: str, symbol: str) -> SymbolState: ...
        def position(self, state: SymbolState, product: str) -> Position: ...

    def cancel_all(self) -> Reply:
        """Cancel every working order (skipping ``trigger pending`` ones as the server does,
        unless :attr:`cancel_all_trigger_pending`)."""
        done: list[str] = []
        for orders in list(self.working.values()):
            for order in list(orders):
                if order.status == TRIGGER_PENDING and not self.cancel_all_trigger_pending:
                    continue
                self.cancel(order.orderid)
                done.append(order.orderid)
        if not done:
            return 200, {
                "status": "success",
                "message": "No open orders to cancel",
                "canceled_orders": [],
                "failed_cancellations": [],
                "mode": "analyze",
            }
        return 200, {
            "status": "success",
            "canceled_orders": done,
            "failed_cancellations": [],
            "message": f"Canceled {len(done)} orders. Failed to cancel 0 orders.",
            "mode": "analyze",
        }

    def _market(
        self, state: SymbolState, product: str, steps: int, side: int, strategy: str
    ) -> Reply:
        order = Order(
            orderid="",
            strategy=strategy,
            state=state,
            action="BUY" if side > 0 else "SELL",
            pricetype="MARKET",
            product=product,
            steps=steps,
            price=state.ltp,
            trigger=0,
        )
        return self.place(order)

    def close_all(self, strategy: str) -> Reply:
        """Square off every open position at market."""
        closed = failed = 0
        for pos in list(self.positions.values()):
            if not pos.net:
                continue
            status, _ = self._market(
                pos.state, pos.product, abs(pos.net), -1 if pos.net > 0 else 1, strategy
            )
            if status == 200:
                closed += 1
            else:
                failed += 1
        message = f"Closed {closed} positions" if closed or failed else "No open positions to close"
        return 200, {
            "status": "success",
            "message": message,
            "closed_positions": closed,
            "failed_closures": failed,
            "mode": "analyze",
        }

    def smart(self, *, position_size: Decimal, **params: Any) -> Reply:
        """Place whatever order takes the position to ``position_size`` (OpenAlgo semantics)."""
        state = self.resolve(params["exchange"], params["symbol"])
        lot = state.inst.lot_size
        target = position_size
        if target % lot != 0:
            raise OrderError(f"Position size {target} is not a multiple of the lot size {lot}")
        current = state.qty(self.position(state, params["product"]).net)
        quantity: Decimal = params["quantity"]
        if target == 0 and current == 0 and quantity != 0:
            order = self.build(**params)
            return self.place(order)
        if target == current:
            return 200, {
                "status": "success",
                "message": "Positions Already Matched. No Action needed.",
                "mode": "analyze",
            }
        delta = Decimal(target) - Decimal(current)
        params = dict(params)
        params["action"] = "BUY" if delta > 0 else "SELL"
        params["quantity"] = abs(delta)
        return self.place(self.build(**params))
