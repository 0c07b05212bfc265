"""The account's books as OpenAlgo's sandbox answers them: orders, trades, positions, funds."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from cockpit.sim.orders import COMPLETE, OPEN, REJECTED, TRIGGER_PENDING, Order, _dec

if TYPE_CHECKING:
    from cockpit.sim.orders import Position, Trade


class Books:
    """The read side of :class:`~cockpit.sim.exchange.PaperExchange` (mixed into it)."""

    orders: dict[str, Order]
    trades: list[Trade]
    positions: dict[tuple[str, str], Position]
    capital: Decimal
    accept_pending_quantity: bool

    if TYPE_CHECKING:

        def _money(self, state: Any, tick_steps: Fraction | int) -> Fraction: ...
        def _price_out(self, state: Any, ticks: Fraction | int) -> Decimal: ...
        def get_order(self, orderid: str) -> Order: ...
        def margin_used(self) -> Fraction: ...
        def realized(self) -> Fraction: ...
        def unrealized(self) -> Fraction: ...

    def order_row(self, order: Order) -> dict[str, Any]:
        """An orderbook row in the sandbox's shape."""
        state = order.state
        return {
            "action": order.action,
            "symbol": state.symbol,
            "exchange": state.exchange,
            "orderid": order.orderid,
            "product": order.product,
            "quantity": state.qty(order.steps),
            "price": state.px(order.price),
            "pricetype": order.pricetype,
            "order_status": order.status,
            "trigger_price": state.px(order.trigger),
            "timestamp": order.timestamp,
            "average_price": self._price_out(state, order.avg()),
            "filled_quantity": state.qty(order.filled),
            "pending_quantity": state.qty(order.pending),
            "rejection_reason": order.rejection_reason,
            "strategy": order.strategy,
        }

    def order_status(self, orderid: str) -> dict[str, Any]:
        """The orderstatus ``data`` (sandbox keys plus ``pricetype`` for live-shaped clients)."""
        row = self.order_row(self.get_order(orderid))
        row["price_type"] = row["pricetype"]
        return row

    def order_update(self, order: Order) -> dict[str, Any]:
        """The ``order_update`` push for ``order``'s current state.

        As the server: ``pending_quantity`` is 0 in the accept event (nothing filled yet),
        unless :attr:`accept_pending_quantity`.
        """
        state = order.state
        pending = order.pending
        if not order.filled and not self.accept_pending_quantity:
            pending = 0
        return {
            "type": "order_update",
            "user_id": "paper",
            "mode": "analyze",
            "broker": "sandbox",
            "orderid": order.orderid,
            "symbol": state.symbol,
            "exchange": state.exchange,
            "action": order.action,
            "quantity": state.qty(order.steps),
            "price": state.px(order.price),
            "trigger_price": state.px(order.trigger),
            "pricetype": order.pricetype,
            "product": order.product,
            "order_status": order.status,
            "filled_quantity": state.qty(order.filled),
            "pending_quantity": state.qty(pending),
            "average_price": self._price_out(state, order.avg()),
            "rejection_reason": order.rejection_reason,
            "strategy": order.strategy,
            "timestamp": order.timestamp,
        }

    def orderbook(self) -> dict[str, Any]:
        """The orderbook ``data``: rows newest first and statistics."""
        rows = [self.order_row(o) for o in reversed(self.orders.values())]
        stats = {
            "total_buy_orders": sum(1 for o in self.orders.values() if o.action == "BUY"),
            "total_sell_orders": sum(1 for o in self.orders.values() if o.action == "SELL"),
            "total_completed_orders": sum(1 for o in self.orders.values() if o.status == COMPLETE),
            "total_open_orders": sum(1 for o in self.orders.values() if o.status == OPEN),
            "total_rejected_orders": sum(1 for o in self.orders.values() if o.status == REJECTED),
            "total_trigger_pending_orders": sum(
                1 for o in self.orders.values() if o.status == TRIGGER_PENDING
            ),
        }
        return {"orders": rows, "statistics": stats}

    def tradebook(self) -> list[dict[str, Any]]:
        """One row per fill, newest first."""
        rows = []
        for trade in reversed(self.trades):
            order, state = trade.order, trade.order.state
            value = self._money(state, trade.price * trade.steps)
            rows.append(
                {
                    "symbol": state.symbol,
                    "exchange": state.exchange,
                    "product": order.product,
                    "action": order.action,
                    "quantity": state.qty(trade.steps),
                    "average_price": state.px(trade.price),
                    "price": state.px(trade.price),
                    "trade_value": _dec(value),
                    "orderid": order.orderid,
                    "tradeid": trade.tradeid,
                    "strategy": order.strategy,
                    "timestamp": trade.timestamp,
                }
            )
        return rows

    def positionbook(self) -> tuple[list[dict[str, Any]], Decimal]:
        """Position rows (closed ones stay with quantity 0) and the total P&L."""
        rows = []
        total = Fraction(0)
        for pos in self.positions.values():
            state = pos.state
            unreal = self._money(state, pos.unrealized())
            real = self._money(state, pos.realized)
            invested = self._money(state, pos.avg * abs(pos.net))
            pct = unreal / invested * 100 if invested else Fraction(0)
            total += unreal + real
            rows.append(
                {
                    "symbol": state.symbol,
                    "exchange": state.exchange,
                    "product": pos.product,
                    "quantity": state.qty(pos.net),
                    "average_price": self._price_out(state, pos.avg),
                    "ltp": state.px(state.ltp),
                    "pnl": _dec(unreal + real),
                    "pnlpercent": _dec(pct),
                    "unrealized_pnl": _dec(unreal),
                    "today_realized_pnl": _dec(real),
                    "total_pnl_today": _dec(unreal + real),
                    "lot_size": state.inst.lot_size,
                }
            )
        return rows, _dec(total)

    def open_quantity(self, exchange: str, symbol: str, product: str) -> int | Decimal:
        """Net quantity of one position (0 if none)."""
        pos = self.positions.get((f"{exchange}:{symbol}", product))
        if pos is None:
            return 0
        return pos.state.qty(pos.net)

    def holdings(self) -> dict[str, Any]:
        """CNC long positions, shown as holdings at once (no T+1 wait)."""
        rows = []
        inv = val = Fraction(0)
        for pos in self.positions.values():
            if pos.product != "CNC" or pos.net <= 0:
                continue
            state = pos.state
            cost = self._money(state, pos.avg * pos.net)
            now = self._money(state, state.ltp * pos.net)
            inv += cost
            val += now
            rows.append(
                {
                    "symbol": state.symbol,
                    "exchange": state.exchange,
                    "product": "CNC",
                    "quantity": state.qty(pos.net),
                    "average_price": self._price_out(state, pos.avg),
                    "ltp": state.px(state.ltp),
                    "pnl": _dec(now - cost),
                    "pnlpercent": _dec((now - cost) / cost * 100 if cost else 0),
                }
            )
        pnl = val - inv
        return {
            "holdings": rows,
            "statistics": {
                "totalholdingvalue": _dec(val),
                "totalinvvalue": _dec(inv),
                "totalprofitandloss": _dec(pnl),
                "totalpnlpercentage": _dec(pnl / inv * 100 if inv else 0),
            },
        }

    def funds(self) -> dict[str, Any]:
        """The funds ``data``."""
        used = self.margin_used()
        return {
            "availablecash": _dec(Fraction(self.capital) + self.realized() - used),
            "collateral": Decimal("0.00"),
            "m2munrealized": _dec(self.unrealized()),
            "m2mrealized": _dec(self.realized()),
            "utiliseddebits": _dec(used),
        }
