"""Paper matching and the account: orders, fills against the simulated book, positions, funds.

Prices are integer ticks and quantities integer steps (lots) throughout; exact rationals
(``Fraction``) hold average prices and P&L until they are turned into Decimals for a
response. Every order state change and every fill is handed to ``notify`` (the WebSocket
hub pushes it as an OpenAlgo ``order_update``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

from cockpit.domain.instruments import InvalidPrice, InvalidQuantity, OffGridPrice
from cockpit.sim.account_orders import AccountOrders
from cockpit.sim.books import Books
from cockpit.sim.market import BOOK_LEVELS, Market, SymbolState
from cockpit.sim.orders import (
    CANCELLED,
    CAPITAL,
    COMPLETE,
    DEFAULT_MAX_QTY,
    OPEN,
    PRICE_BAND,
    REJECTED,
    TRIGGER_PENDING,
    WORKING,
    Order,
    OrderError,
    Position,
    Reply,
    Trade,
    _dec,
    _now_text,
    stop_fill_price,
)
from cockpit.sim.universe import IST

__all__ = [
    "CANCELLED",
    "CAPITAL",
    "COMPLETE",
    "OPEN",
    "REJECTED",
    "TRIGGER_PENDING",
    "WORKING",
    "Order",
    "OrderError",
    "PaperExchange",
    "Position",
    "Trade",
    "_dec",
]


def _leverage(state: SymbolState, product: str) -> int:
    exch = state.exchange
    if exch in ("NFO", "BFO", "MCX", "CDS", "BCD", "NCDEX", "NCO"):
        return 10
    if product == "CNC":
        return 1
    return 5


class PaperExchange(AccountOrders, Books):
    """The account and its matching engine over a :class:`Market`."""

    def __init__(
        self,
        market: Market,
        notify: Callable[[Order], None] | None = None,
        capital: Decimal = CAPITAL,
    ) -> None:
        self.market = market
        self.notify = notify or (lambda order: None)
        self.on_change: Callable[[Order], None] = lambda order: None
        """Called on every order change and before ``notify`` (the account's state file)."""
        self.modify_updates = True
        """Notify after a modify (the real server pushes nothing then)."""
        self.cancel_all_trigger_pending = True
        """``cancel_all`` takes ``trigger pending`` orders too (the real server skips them)."""
        self.accept_pending_quantity = True
        """``order_update`` on accept carries the unfilled quantity (the real server: 0)."""
        self.capital = capital
        self.orders: dict[str, Order] = {}
        self.working: dict[str, list[Order]] = {}
        """Working orders per instrument key."""
        self.trades: list[Trade] = []
        self.positions: dict[tuple[str, str], Position] = {}
        self.reject_queue: dict[str, deque[str]] = {}
        self.unpriced: set[str] = set()
        """Instruments following an upstream feed that has sent no price yet (orders refused)."""
        today = dt.datetime.now(IST).strftime("%y%m%d")
        self._ids = itertools.count(random.Random().randrange(10_000_000, 50_000_000))
        self._prefix = today
        self._trade_ids = itertools.count(1)

    # -- helpers -------------------------------------------------------------------------------

    def _emit(self, order: Order, push: bool = True) -> None:
        """``order`` changed: record it, then push it (unless ``push`` is False)."""
        self.on_change(order)
        if push:
            self.notify(order)

    def restore_ids(self) -> None:
        """Continue order and trade ids after those of a restored account (no reuse)."""
        today = [int(i[6:]) for i in self.orders if i.startswith(self._prefix) and i[6:].isdigit()]
        if today:
            self._ids = itertools.count(max(today) + 1)
        trades = [int(t.tradeid) for t in self.trades if t.tradeid.isdigit()]
        self._trade_ids = itertools.count(max(trades, default=0) + 1)

    def _next_id(self) -> str:
        return f"{self._prefix}{next(self._ids) % 100_000_000:08d}"

    def _money(self, state: SymbolState, tick_steps: Fraction | int) -> Fraction:
        return Fraction(tick_steps) * Fraction(state.inst.tick_size) * Fraction(state.inst.lot_size)

    def _price_out(self, state: SymbolState, ticks: Fraction | int) -> Decimal:
        if isinstance(ticks, int) or ticks.denominator == 1:
            return state.px(int(ticks))
        places = max(state.inst.precision, 2)
        return _dec(ticks * Fraction(state.inst.tick_size), places)

    def position(self, state: SymbolState, product: str) -> Position:
        """The position of ``state`` in ``product`` (created flat if absent)."""
        key = (state.key, product)
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = Position(state, product)
        return pos

    def margin_used(self) -> Fraction:
        """Margin blocked by open positions and working orders."""
        total = Fraction(0)
        for pos in self.positions.values():
            if pos.net:
                notional = self._money(pos.state, pos.avg * abs(pos.net))
                total += notional / _leverage(pos.state, pos.product)
        for orders in self.working.values():
            for order in orders:
                total += self._order_margin(order, order.pending)
        return total

    def _order_margin(self, order: Order, steps: int) -> Fraction:
        pos = self.positions.get((order.state.key, order.product))
        if pos is not None and pos.net and (pos.net > 0) != (order.side > 0):
            steps = max(0, steps - abs(pos.net))  # exits need no margin
        if not steps:
            return Fraction(0)
        ref = max(order.price, order.trigger, order.state.ltp)
        return self._money(order.state, ref * steps) / _leverage(order.state, order.product)

    def realized(self) -> Fraction:
        """Realized P&L of the session, in money."""
        return sum((self._money(p.state, p.realized) for p in self.positions.values()), Fraction(0))

    def unrealized(self) -> Fraction:
        """Open P&L at last prices, in money."""
        return sum(
            (self._money(p.state, p.unrealized()) for p in self.positions.values()), Fraction(0)
        )

    def available(self) -> Fraction:
        """Cash available for new margin."""
        return Fraction(self.capital) + self.realized() - self.margin_used()

    # -- placement -----------------------------------------------------------------------------

    def resolve(self, exchange: str, symbol: str) -> SymbolState:
        """The listed instrument, or an :class:`OrderError` the way OpenAlgo words it."""
        state = self.market.get(exchange, symbol)
        if state is None:
            raise OrderError(f"Symbol {symbol} not found on {exchange}")
        return state

    def _steps(self, state: SymbolState, quantity: Decimal) -> int:
        lot = state.inst.lot_size
        cap = state.listing.freeze_qty or DEFAULT_MAX_QTY
        if quantity > cap:  # before any arithmetic: 1e300 % lot cannot be computed
            raise OrderError(f"Quantity {quantity} exceeds the freeze limit {cap} for {state.key}")
        if quantity > 0 and quantity % lot != 0:
            shown = int(lot) if lot == lot.to_integral_value() else lot
            raise OrderError(f"Quantity must be in multiples of lot size {shown}")
        try:
            qty = state.inst.check_quantity(quantity)
        except (InvalidQuantity, InvalidPrice) as exc:
            raise OrderError(str(exc)) from None
        cap = state.listing.freeze_qty or DEFAULT_MAX_QTY
        if qty > cap:
            raise OrderError(f"Quantity {qty} exceeds the freeze limit {cap} for {state.key}")
        return int(qty / state.inst.lot_size)

    def _ticks(self, state: SymbolState, value: Decimal, what: str) -> int:
        if value > state.px(state.ltp) * 2:  # far out of band: no tick arithmetic on it
            raise OrderError(f"{what} {value} is outside the allowed band for {state.key}")
        try:
            ticks = state.inst.ticks(value)
        except OffGridPrice as exc:
            raise OrderError(
                f"{what} {value} is not a multiple of the tick size {state.inst.tick_size} "
                f"(nearest valid {exc.snapped})"
            ) from None
        except InvalidPrice as exc:
            raise OrderError(str(exc)) from None
        lo = Fraction(state.ltp) * (1 - PRICE_BAND)
        hi = Fraction(state.ltp) * (1 + PRICE_BAND)
        if not lo <= ticks <= hi:
            raise OrderError(
                f"{what} {value} is outside the allowed band "
                f"{self._price_out(state, Fraction(int(lo) + 1))}-"
                f"{self._price_out(state, Fraction(int(hi)))} for {state.key}"
            )
        return ticks

    def build(
        self,
        *,
        strategy: str,
        exchange: str,
        symbol: str,
        action: str,
        quantity: Decimal,
        pricetype: str,
        product: str,
        price: Decimal,
        trigger_price: Decimal,
        disclosed_quantity: int = 0,
    ) -> Order:
        """Validate an order against the instrument and the account (no side effects)."""
        state = self.resolve(exchange, symbol)
        if not state.tradable:
            raise OrderError(
                "Invalid exchange. Must be one of NSE, BSE, NFO, BFO, CDS, BCD, MCX, NCDEX, "
                f"CRYPTO ({state.key} is an index and cannot be traded)"
            )
        if product == "NRML" and exchange in ("NSE", "BSE"):
            raise OrderError(
                f"NRML product not allowed for {exchange} equity segment. "
                "Use CNC for delivery or MIS for intraday."
            )
        if product == "CNC" and exchange in ("NFO", "BFO", "MCX", "CDS", "BCD", "NCDEX", "NCO"):
            raise OrderError(
                f"CNC product not allowed for {exchange} derivatives segment. "
                "Use NRML for carryforward or MIS for intraday."
            )
        steps = self._steps(state, quantity)
        action = action.upper()
        limit = 0
        trigger = 0
        if pricetype in ("LIMIT", "SL"):
            if price <= 0:
                raise OrderError(f"{pricetype} orders require price")
            limit = self._ticks(state, price, "Price")
        if pricetype in ("SL", "SL-M"):
            if trigger_price <= 0:
                raise OrderError(f"{pricetype} orders require trigger_price")
            trigger = self._ticks(state, trigger_price, "Trigger price")
        if pricetype == "SL":
            if action == "BUY" and trigger > limit:
                raise OrderError("BUY SL: the trigger price must not exceed the limit price")
            if action == "SELL" and trigger < limit:
                raise OrderError("SELL SL: the trigger price must not be below the limit price")
        return Order(
            orderid="",
            strategy=strategy,
            state=state,
            action=action,
            pricetype=pricetype,
            product=product,
            steps=steps,
            price=limit if pricetype in ("LIMIT", "SL") else state.ltp,
            trigger=trigger,
            disclosed=disclosed_quantity,
            status=TRIGGER_PENDING if pricetype in ("SL", "SL-M") else OPEN,
        )

    def place(self, order: Order) -> Reply:
        """Accept (or refuse) a built order, then match it against the book at once."""
        order.orderid = self._next_id()
        queue = self.reject_queue.get(order.state.key)
        if queue:
            return self._reject(order, queue.popleft())
        if order.state.key in self.unpriced:
            return self._reject(order, f"{order.state.key}: no market price yet from the feed")
        if order.product == "CNC" and order.side < 0:
            held = self._sellable(order)
            if order.steps > held:
                state = order.state
                if not held:
                    reason = (
                        f"Cannot sell {state.symbol} in CNC. No positions or holdings available. "
                        "CNC (delivery) requires existing shares. Use MIS for intraday short "
                        "selling."
                    )
                else:
                    reason = (
                        f"Cannot sell {state.qty(order.steps)} shares of {state.symbol} in CNC. "
                        f"Only {state.qty(held)} shares available"
                    )
                return self._reject(order, reason)
        need = self._order_margin(order, order.steps)
        avail = self.available()
        if need > avail:
            raise OrderError(
                f"Insufficient funds. Required: ₹{_dec(need)}, Available: ₹{_dec(avail)}, "
                f"Shortage: ₹{_dec(need - avail)}"
            )
        self.orders[order.orderid] = order
        self.working.setdefault(order.state.key, []).append(order)
        self._emit(order)
        self._match(order, arrival=True)
        return 200, {"status": "success", "orderid": order.orderid, "mode": "analyze"}

    def _reject(self, order: Order, reason: str) -> Reply:
        """Record ``order`` as rejected (the sandbox's 400 with an orderid)."""
        order.status = REJECTED
        order.rejection_reason = reason
        self.orders[order.orderid] = order
        self._emit(order)
        return 400, {
            "status": "error",
            "message": reason,
            "orderid": order.orderid,
            "mode": "analyze",
        }

    def _sellable(self, order: Order) -> int:
        """CNC steps that may still be sold: the long position less working CNC sells."""
        pos = self.positions.get((order.state.key, "CNC"))
        held = pos.net if pos is not None and pos.net > 0 else 0
        for other in self.working.get(order.state.key, []):
            if other.product == "CNC" and other.side < 0:
                held -= other.pending
        return max(held, 0)

    # -- matching ------------------------------------------------------------------------------

    def on_tick(self, state: SymbolState) -> None:
        """Check the working orders of ``state`` against its new quote."""
        orders = self.working.get(state.key)
        if orders:
            for order in list(orders):
                self._match(order, arrival=False)

    def _match(self, order: Order, arrival: bool) -> None:
        """Trigger and fill ``order`` as far as the market allows; notify on any change."""
        if order.status not in WORKING:
            return
        state = order.state
        before = (order.status, order.filled)
        if order.status == TRIGGER_PENDING:
            hit = state.ltp >= order.trigger if order.side > 0 else state.ltp <= order.trigger
            if not hit:
                return
            order.triggered = True
            order.status = OPEN
            arrival = True
        if order.pricetype in ("SL", "SL-M"):  # triggered: at the last price, as OpenAlgo
            price = stop_fill_price(order, state.ltp)
            if price is not None:
                self._fill(order, price, order.steps - order.filled)
        elif order.pricetype == "MARKET":
            self._walk(order, None)
        elif arrival:
            self._walk(order, order.price)
        else:
            self._rest(order)
        if order.filled >= order.steps:
            order.status = COMPLETE
            self._unwork(order)
        if (order.status, order.filled) != before:
            self._emit(order)

    def _walk(self, order: Order, limit: int | None) -> None:
        """Take liquidity level by level up to ``limit`` (None: at any price)."""
        state = order.state
        want = order.steps - order.filled
        took = 0
        if order.side > 0:
            qtys, counts, base, sign = state.aq, state.ao, state.ask, 1
        else:
            qtys, counts, base, sign = state.bq, state.bo, state.bid, -1
        if base <= 0:
            base = state.ltp
        last = base
        for i in range(BOOK_LEVELS):
            if took >= want:
                break
            price = base + sign * i
            if price <= 0 or (limit is not None and (price - limit) * sign > 0):
                break
            take = min(qtys[i], want - took)
            self._fill(order, price, take)
            took += take
            last = price
            state._take(qtys, counts, take, i)
        if limit is None and took < want:
            # Past the visible book: the rest fills one tick beyond the last level.
            self._fill(order, max(1, last + sign), want - took)
        # Market impact: sweeping levels pushes the walk's fair value that way.
        swept = abs(last - base)
        if swept:
            state.fair = max(2.0, state.fair + sign * swept * 0.5)

    def _rest(self, order: Order) -> None:
        """A resting limit order fills at its own price once the market reaches it."""
        state = order.state
        limit = order.price
        if order.side > 0:
            if state.ask and state.ask <= limit:
                avail = sum(state.aq[i] for i in range(BOOK_LEVELS) if state.ask + i <= limit)
            elif state.ltp < limit:
                avail = state.ltq
            else:
                return
        else:
            if state.bid and state.bid >= limit:
                avail = sum(state.bq[i] for i in range(BOOK_LEVELS) if state.bid - i >= limit)
            elif state.ltp > limit:
                avail = state.ltq
            else:
                return
        self._fill(order, limit, min(order.steps - order.filled, max(avail, 1)))

    def _fill(self, order: Order, price: int, steps: int) -> None:
        if steps <= 0:
            return
        order.filled += steps
        order.value += price * steps
        trade = Trade(f"{next(self._trade_ids):08d}", order, price, steps, _now_text())
        self.trades.append(trade)
        self.position(order.state, order.product).fill(order.side, price, steps)

    def _unwork(self, order: Order) -> None:
        orders = self.working.get(order.state.key)
        if orders and order in orders:
            orders.remove(order)
            if not orders:
                del self.working[order.state.key]

    # -- changes -------------------------------------------------------------------------------

    def get_order(self, orderid: str) -> Order:
        """The order ``orderid`` or a 404 :class:`OrderError`."""
        order = self.orders.get(orderid)
        if order is None:
            raise OrderError(f"Order {orderid} not found", status=404)
        return order

    def modify(
        self,
        orderid: str,
        *,
        exchange: str,
        symbol: str,
        action: str,
        product: str,
        pricetype: str,
        price: Decimal,
        quantity: Decimal,
        trigger_price: Decimal,
        disclosed_quantity: int,
    ) -> Reply:
        """Change a working order's type, price, trigger or quantity."""
        order = self.get_order(orderid)
        if order.status not in WORKING:
            raise OrderError(f"Cannot modify order in {order.status} status")
        state = order.state
        if (exchange, symbol) != (state.exchange, state.symbol):
            raise OrderError(f"Order {orderid} is for {state.key}, not {exchange}:{symbol}")
        if action.upper() != order.action:
            raise OrderError(f"Order {orderid} is a {order.action} order; action cannot change")
        if product != order.product:
            raise OrderError(f"Order {orderid} is {order.product}; product cannot change")
        new = self.build(
            strategy=order.strategy,
            exchange=exchange,
            symbol=symbol,
            action=action,
            quantity=quantity,
            pricetype=pricetype,
            product=product,
            price=price,
            trigger_price=trigger_price,
            disclosed_quantity=disclosed_quantity,
        )
        if new.steps <= order.filled:
            raise OrderError(
                f"Quantity {quantity} must exceed the filled quantity "
                f"{state.qty(order.filled)} of order {orderid}"
            )
        extra = self._order_margin(new, new.steps - order.filled) - self._order_margin(
            order, order.pending
        )
        if extra > 0 and extra > self.available():
            raise OrderError(f"Insufficient funds to modify order {orderid}")
        order.pricetype = new.pricetype
        order.price = new.price
        order.trigger = new.trigger
        order.steps = new.steps
        order.disclosed = new.disclosed
        if new.pricetype in ("SL", "SL-M") and not order.triggered:
            order.status = TRIGGER_PENDING
        else:
            order.status = OPEN
        order.timestamp = _now_text()
        self._emit(order, push=self.modify_updates)
        self._match(order, arrival=True)
        return 200, {
            "status": "success",
            "orderid": orderid,
            "message": "Order modified successfully",
            "mode": "analyze",
        }

    def cancel(self, orderid: str) -> Reply:
        """Cancel a working order."""
        order = self.get_order(orderid)
        if order.status not in WORKING:
            raise OrderError(f"Cannot cancel order in {order.status} status")
        order.status = CANCELLED
        self._unwork(order)
        self._emit(order)
        return 200, {
            "status": "success",
            "orderid": orderid,
            "message": "Order cancelled successfully",
            "mode": "analyze",
        }
