"""Property test of paper matching: any sequence of prices and orders keeps the books exact."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.sim.exchange import COMPLETE, WORKING, OrderError, PaperExchange
from cockpit.sim.market import Market
from cockpit.sim.universe import default_listings

NS = 1_800_000_000_000_000_000
KEYS = ["NSE:SBIN", "CRYPTO:BTCUSDT"]

price_move = st.tuples(st.just("price"), st.sampled_from(KEYS), st.integers(-40, 40))
new_order = st.tuples(
    st.just("order"),
    st.sampled_from(KEYS),
    st.sampled_from(["BUY", "SELL"]),
    st.sampled_from(["MARKET", "LIMIT", "SL", "SL-M"]),
    st.integers(1, 400),
    st.integers(-30, 30),
)
cancel = st.tuples(st.just("cancel"), st.integers(0, 50))
ops = st.lists(st.one_of(price_move, new_order, cancel), min_size=5, max_size=60)


def _exchange() -> PaperExchange:
    market = Market(default_listings(), 1, 10)
    return PaperExchange(market)


def _check(ex: PaperExchange, limits: dict[str, int]) -> None:
    for order in ex.orders.values():
        assert 0 <= order.filled <= order.steps
        assert (order.status == COMPLETE) == (order.filled == order.steps)
        in_book = order in ex.working.get(order.state.key, [])
        assert in_book == (order.status in WORKING)
    cash = Fraction(0)
    nets: dict[tuple[str, str], int] = {}
    for trade in ex.trades:
        order = trade.order
        key = (order.state.key, order.product)
        nets[key] = nets.get(key, 0) + order.side * trade.steps
        cash -= ex._money(order.state, order.side * trade.price * trade.steps)
        if order.pricetype == "LIMIT":
            assert (trade.price - limits[order.orderid]) * order.side <= 0
    for key, pos in ex.positions.items():
        assert pos.net == nets.get(key, 0)
    marked = sum(
        (ex._money(p.state, p.state.ltp * p.net) for p in ex.positions.values()), Fraction(0)
    )
    assert ex.realized() + ex.unrealized() == cash + marked
    assert ex.available() == Fraction(ex.capital) + ex.realized() - ex.margin_used()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_books_stay_exact(steps: list[tuple[object, ...]]) -> None:
    ex = _exchange()
    limits: dict[str, int] = {}
    for op in steps:
        if op[0] == "price":
            _, key, move = op
            state = ex.market.states[str(key)]
            state.set_price(max(2, state.ltp + int(move)), NS)  # type: ignore[call-overload]
            ex.on_tick(state)
        elif op[0] == "order":
            _, key, action, pricetype, lots, offset = op
            state = ex.market.states[str(key)]
            ref = state.ltp + int(offset)  # type: ignore[call-overload]
            price = state.px(ref) if pricetype in ("LIMIT", "SL") else Decimal(0)
            trigger = Decimal(0)
            if pricetype in ("SL", "SL-M"):
                trigger = price if pricetype == "SL" else state.px(ref)
            try:
                order = ex.build(
                    strategy="p",
                    exchange=state.exchange,
                    symbol=state.symbol,
                    action=str(action),
                    quantity=state.inst.lot_size * int(lots),  # type: ignore[call-overload]
                    pricetype=str(pricetype),
                    product="MIS",
                    price=price,
                    trigger_price=trigger,
                )
            except OrderError:
                continue
            try:
                ex.place(order)
            except OrderError:
                continue
            if order.pricetype in ("LIMIT", "SL"):
                limits[order.orderid] = order.price
        else:
            working = [o for orders in ex.working.values() for o in orders]
            if working:
                ex.cancel(working[int(op[1]) % len(working)].orderid)  # type: ignore[call-overload]
        _check(ex, limits)
