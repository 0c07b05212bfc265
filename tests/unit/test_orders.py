"""Orders: every transition of the table (valid and invalid), fills, and venue-update mapping."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.domain.feed import OrderUpdate
from cockpit.domain.order_updates import UnmappedUpdate, events_from_update
from cockpit.domain.orders import (
    InvalidModification,
    InvalidTransition,
    Order,
    OrderAccepted,
    OrderCancelled,
    OrderEvent,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderSubmitted,
    OrderTriggered,
    OrderType,
    OverFill,
    Product,
    Side,
    TickPrice,
    allowed_events,
)

TICK = Decimal("0.05")
S = OrderStatus


def sample_event(kind: type) -> OrderEvent:
    """One instance of each event type (a partial fill for OrderFilled)."""
    return {
        OrderSubmitted: OrderSubmitted(1),
        OrderAccepted: OrderAccepted("V1", 2),
        OrderTriggered: OrderTriggered(3),
        OrderFilled: OrderFilled(Decimal(4), 16000, 4),
        OrderModified: OrderModified(5, price_ticks=16010),
        OrderCancelled: OrderCancelled(6, "user"),
        OrderRejected: OrderRejected(7, "margin"),
    }[kind]


def order_in(status: OrderStatus) -> Order:
    """A 10-lot SL order driven into ``status`` through real events."""
    order = Order("c1", "NSE:SBIN", Side.BUY, OrderType.SL, Decimal(10), price_ticks=16010,
                  trigger_ticks=16000)  # fmt: skip
    steps: dict[OrderStatus, list[OrderEvent]] = {
        S.PENDING_NEW: [],
        S.OPEN: [OrderAccepted("V1", 1)],
        S.TRIGGER_PENDING: [OrderAccepted("V1", 1, S.TRIGGER_PENDING)],
        S.PARTIALLY_FILLED: [OrderAccepted("V1", 1), OrderFilled(Decimal(3), 16000, 2)],
        S.COMPLETE: [OrderAccepted("V1", 1), OrderFilled(Decimal(10), 16000, 2)],
        S.REJECTED: [OrderRejected(1, "margin")],
        S.CANCELLED: [OrderAccepted("V1", 1), OrderCancelled(2)],
    }
    for event in steps[status]:
        order.apply(event)
    assert order.status is status
    return order


EXPECTED = {
    (S.PENDING_NEW, OrderSubmitted): S.PENDING_NEW,
    (S.PENDING_NEW, OrderAccepted): S.OPEN,
    (S.PENDING_NEW, OrderFilled): S.PARTIALLY_FILLED,
    (S.PENDING_NEW, OrderCancelled): S.CANCELLED,
    (S.PENDING_NEW, OrderRejected): S.REJECTED,
    (S.OPEN, OrderFilled): S.PARTIALLY_FILLED,
    (S.OPEN, OrderModified): S.OPEN,
    (S.OPEN, OrderCancelled): S.CANCELLED,
    (S.OPEN, OrderRejected): S.REJECTED,
    (S.TRIGGER_PENDING, OrderTriggered): S.OPEN,
    (S.TRIGGER_PENDING, OrderFilled): S.PARTIALLY_FILLED,
    (S.TRIGGER_PENDING, OrderModified): S.TRIGGER_PENDING,
    (S.TRIGGER_PENDING, OrderCancelled): S.CANCELLED,
    (S.TRIGGER_PENDING, OrderRejected): S.REJECTED,
    (S.PARTIALLY_FILLED, OrderFilled): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, OrderModified): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, OrderCancelled): S.CANCELLED,
}
EVENT_TYPES = [
    OrderSubmitted,
    OrderAccepted,
    OrderTriggered,
    OrderFilled,
    OrderModified,
    OrderCancelled,
    OrderRejected,
]


@pytest.mark.parametrize("status", list(OrderStatus))
@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_every_transition(status: OrderStatus, kind: type) -> None:
    order = order_in(status)
    event = sample_event(kind)
    expected = EXPECTED.get((status, kind))
    assert (kind in allowed_events(status)) == (expected is not None)
    if expected is None:
        before = (order.status, order.filled_qty, len(order.history))
        with pytest.raises(InvalidTransition) as info:
            order.apply(event)
        assert str(status) in str(info.value)
        assert "invalid transition from" in str(info.value)
        assert (order.status, order.filled_qty, len(order.history)) == before
    else:
        assert order.apply(event) is expected
        assert order.history[-1] is event
        assert order.updated_ns == event.ts_ns


def test_final_statuses_and_working() -> None:
    for status in OrderStatus:
        assert status.is_final != status.is_working
        assert status.is_final == (not allowed_events(status))
    assert {s for s in OrderStatus if s.is_final} == {S.COMPLETE, S.REJECTED, S.CANCELLED}


def test_side_and_types() -> None:
    assert Side.BUY.sign == 1
    assert Side.SELL.sign == -1
    assert Side.BUY.opposite is Side.SELL
    assert Side.SELL.opposite is Side.BUY
    assert Side.parse(" sell ") is Side.SELL
    assert Side.parse("b") is Side.BUY
    with pytest.raises(ValueError, match="not a side"):
        Side.parse("hold")
    assert OrderType("SL-M") is OrderType.SL_M
    assert OrderType.SL.has_price
    assert OrderType.SL.has_trigger
    assert not OrderType.SL_M.has_price
    assert not OrderType.MARKET.has_trigger
    assert Product("NRML") is Product.NRML


def test_partial_then_complete_with_exact_average() -> None:
    order = order_in(S.OPEN)
    assert order.apply(OrderFilled(Decimal(3), 16000, 5)) is S.PARTIALLY_FILLED
    assert order.remaining_qty == 7
    assert order.apply(OrderFilled(Decimal(4), 16001, 6)) is S.PARTIALLY_FILLED
    assert order.apply(OrderFilled(Decimal(3), Fraction(32003, 2), 7)) is S.COMPLETE
    assert order.filled_qty == 10
    assert order.avg_fill_ticks == (3 * 16000 + 4 * 16001 + 3 * Fraction(32003, 2)) / 10
    assert order.remaining_qty == 0


def test_overfill_raises_and_leaves_the_order_unchanged() -> None:
    order = order_in(S.PARTIALLY_FILLED)
    with pytest.raises(OverFill, match="over the order quantity 10"):
        order.apply(OrderFilled(Decimal(8), 16000, 9))
    assert order.filled_qty == 3
    assert order.status is S.PARTIALLY_FILLED


def test_modify_rules() -> None:
    order = order_in(S.PARTIALLY_FILLED)
    order.apply(OrderModified(8, qty=Decimal(6), price_ticks=16020, trigger_ticks=16015))
    assert (order.qty, order.price_ticks, order.trigger_ticks) == (6, 16020, 16015)
    with pytest.raises(InvalidModification, match="filled quantity 3"):
        order.apply(OrderModified(9, qty=Decimal(3)))
    with pytest.raises(InvalidModification):
        order.apply(OrderModified(9, price_ticks=0))


def test_submitted_only_once_and_accepted_status_checked() -> None:
    order = order_in(S.PENDING_NEW)
    order.apply(OrderSubmitted(5))
    assert order.submitted_ns == 5
    with pytest.raises(InvalidTransition):
        order.apply(OrderSubmitted(6))
    with pytest.raises(ValueError, match="open or trigger_pending"):
        OrderAccepted("V", 1, S.COMPLETE)
    with pytest.raises(ValueError, match="> 0"):
        OrderFilled(Decimal(0), 1, 1)


def test_request_validation_and_from_request() -> None:
    with pytest.raises(ValueError, match="needs a price"):
        OrderRequest("NSE:X", Side.BUY, Decimal(1), OrderType.LIMIT)
    with pytest.raises(ValueError, match="needs a trigger"):
        OrderRequest("NSE:X", Side.BUY, Decimal(1), OrderType.SL_M)
    with pytest.raises(ValueError, match="quantity"):
        OrderRequest("NSE:X", Side.BUY, Decimal(0))
    with pytest.raises(ValueError, match="price_ticks"):
        OrderRequest("NSE:X", Side.BUY, Decimal(1), OrderType.LIMIT, price_ticks=-1)
    req = OrderRequest(
        "NSE:X", Side.SELL, Decimal(5), OrderType.SL, Product.NRML, 990, 995, tag="protective"
    )
    order = Order.from_request("c9", req, 42)
    assert order.status is S.PENDING_NEW
    assert (order.cid, order.key, order.side, order.type, order.product) == (
        "c9",
        "NSE:X",
        Side.SELL,
        OrderType.SL,
        Product.NRML,
    )
    assert (order.qty, order.price_ticks, order.trigger_ticks, order.tag) == (
        5,
        990,
        995,
        "protective",
    )
    assert order.created_ns == 42
    assert order.avg_fill_ticks is None


# -- following venue updates -------------------------------------------------------------------


def update(status: str, **fields: object) -> OrderUpdate:
    """An OpenAlgo order update for the 10-lot limit buy of :func:`limit_order`."""
    base: dict[str, object] = {
        "orderid": "V1",
        "exchange": "NSE",
        "symbol": "SBIN",
        "action": "BUY",
        "status": status,
        "recv_ns": 100,
        "quantity": Decimal(10),
        "price": Decimal("800.50"),
        "pricetype": "LIMIT",
    }
    base.update(fields)
    return OrderUpdate(**base)  # type: ignore[arg-type]


def limit_order() -> Order:
    """A pending 10-lot limit buy at 800.50 (16010 ticks of 0.05)."""
    return Order("c1", "NSE:SBIN", Side.BUY, OrderType.LIMIT, Decimal(10), price_ticks=16010)


def follow(order: Order, upd: OrderUpdate) -> list[OrderEvent]:
    """Map and apply; return the events."""
    events = events_from_update(order, upd, TICK)
    for event in events:
        order.apply(event)
    return events


def test_update_open_accepts_once() -> None:
    order = limit_order()
    events = follow(order, update("open"))
    assert events == [OrderAccepted("V1", 100, S.OPEN)]
    assert order.venue_id == "V1"
    assert follow(order, update("open")) == []


def test_update_partial_fills_then_complete_from_cumulative_averages() -> None:
    order = limit_order()
    follow(order, update("open"))
    events = follow(order, update("open", filled_qty=Decimal(4), average_price=Decimal("800.40")))
    assert events == [OrderFilled(Decimal(4), 16008, 100)]
    assert order.status is S.PARTIALLY_FILLED
    assert (
        follow(order, update("open", filled_qty=Decimal(4), average_price=Decimal("800.40"))) == []
    )
    events = follow(
        order, update("complete", filled_qty=Decimal(10), average_price=Decimal("800.58"))
    )
    # 10 x 800.58 - 4 x 800.40 = 4804.20 for 6 -> 800.70 = 16014 ticks
    assert events == [OrderFilled(Decimal(6), 16014, 100)]
    assert order.status is S.COMPLETE
    assert order.avg_fill_ticks == Fraction(Decimal("800.58")) / Fraction(TICK)  # exact
    assert follow(order, update("complete", filled_qty=Decimal(10))) == []


def test_update_complete_before_any_ack() -> None:
    order = limit_order()
    events = follow(
        order, update("complete", filled_qty=Decimal(10), average_price=Decimal("800.35"))
    )
    assert events == [OrderAccepted("V1", 100), OrderFilled(Decimal(10), 16007, 100)]
    assert order.status is S.COMPLETE


def test_update_complete_without_quantities_uses_the_order_price() -> None:
    order = limit_order()
    follow(order, update("open"))
    events = follow(order, update("complete", quantity=Decimal(0)))
    assert events == [OrderFilled(Decimal(10), 16010, 100)]


def test_update_off_grid_average_gives_an_exact_fraction() -> None:
    order = limit_order()
    follow(order, update("open"))
    events = follow(
        order, update("complete", filled_qty=Decimal(10), average_price=Decimal("800.333"))
    )
    assert events == [OrderFilled(Decimal(10), Fraction(800333, 50), 100)]


def test_stale_update_after_a_newer_one_is_ignored() -> None:
    order = limit_order()
    follow(order, update("open", filled_qty=Decimal(6), average_price=Decimal("800.50")))
    assert (
        follow(order, update("open", filled_qty=Decimal(2), average_price=Decimal("800.50"))) == []
    )
    assert follow(order, update("open")) == []
    assert order.filled_qty == 6


def test_update_rejected_and_cancelled() -> None:
    order = limit_order()
    events = follow(order, update("rejected", rejection_reason="insufficient margin"))
    assert events == [OrderAccepted("V1", 100), OrderRejected(100, "insufficient margin")]
    assert order.reason == "insufficient margin"
    assert follow(order, update("rejected")) == []
    other = limit_order()
    follow(other, update("open"))
    # A cancel that carries a partial fill: the fill first, then the cancel.
    events = follow(
        other, update("cancelled", filled_qty=Decimal(3), average_price=Decimal("800.50"))
    )
    assert events == [OrderFilled(Decimal(3), 16010, 100), OrderCancelled(100, "cancelled")]
    assert other.status is S.CANCELLED
    assert follow(other, update("cancelled")) == []


def test_update_trigger_pending_then_triggered_then_filled() -> None:
    order = Order("c2", "NSE:SBIN", Side.SELL, OrderType.SL_M, Decimal(5), trigger_ticks=15900)
    upd = update("trigger pending", quantity=Decimal(5), price=Decimal(0),
                 trigger_price=Decimal("795.00"), action="SELL")  # fmt: skip
    assert follow(order, upd) == [OrderAccepted("V1", 100, S.TRIGGER_PENDING)]
    assert follow(order, upd) == []
    opened = update("open", quantity=Decimal(5), price=Decimal(0), trigger_price=Decimal("795.00"))
    assert follow(order, opened) == [OrderTriggered(100)]
    assert order.status is S.OPEN
    done = update("complete", quantity=Decimal(5), filled_qty=Decimal(5),
                  average_price=Decimal("794.90"), trigger_price=Decimal("795.00"))  # fmt: skip
    assert follow(order, done) == [OrderFilled(Decimal(5), 15898, 100)]


def test_update_carries_a_venue_side_modification() -> None:
    order = limit_order()
    follow(order, update("open"))
    events = follow(order, update("open", quantity=Decimal(12), price=Decimal("801.00")))
    assert events == [OrderModified(100, qty=Decimal(12), price_ticks=16020)]
    assert (order.qty, order.price_ticks) == (12, 16020)
    assert follow(order, update("open", quantity=Decimal(12), price=Decimal("801.00"))) == []


def test_update_unknown_and_transient_statuses() -> None:
    order = limit_order()
    assert events_from_update(order, update("validation pending"), TICK) == []
    with pytest.raises(UnmappedUpdate, match="unknown venue status"):
        events_from_update(order, update("exploded"), TICK)
    follow(order, update("open"))
    market = Order("c3", "NSE:SBIN", Side.BUY, OrderType.MARKET, Decimal(1))
    filled = update("complete", quantity=Decimal(1), price=Decimal(0))
    with pytest.raises(UnmappedUpdate, match="no price"):
        events_from_update(market, filled, TICK)


updates = st.lists(
    st.tuples(
        st.sampled_from(["open", "trigger pending", "complete", "cancelled", "rejected", "open"]),
        st.integers(min_value=0, max_value=10),
        st.integers(min_value=15990, max_value=16030),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(seq=updates, kind=st.sampled_from([OrderType.LIMIT, OrderType.SL, OrderType.SL_M]))
def test_following_any_update_sequence_never_breaks_the_order(
    seq: list[tuple[str, int, int]], kind: OrderType
) -> None:
    """Arbitrary (duplicated, reordered) updates map to legal events; replays are no-ops."""
    order = Order(
        "c1",
        "NSE:SBIN",
        Side.BUY,
        kind,
        Decimal(10),
        price_ticks=16010 if kind.has_price else None,
        trigger_ticks=16000 if kind.has_trigger else None,
    )
    for status, filled, avg in seq:
        upd = update(
            status,
            filled_qty=Decimal(filled),
            average_price=TICK * avg,
            trigger_price=Decimal("800.00") if kind.has_trigger else Decimal(0),
            price=Decimal("800.50") if kind.has_price else Decimal(0),
        )
        before = order.filled_qty
        was_final = order.status.is_final
        events = follow(order, upd)  # must never raise
        assert order.filled_qty >= before
        assert order.filled_qty <= order.qty
        assert follow(order, upd) == []  # the same update again changes nothing
        if was_final:
            assert events == []
        if status == "complete" and not was_final:
            assert order.filled_qty == max(before, Decimal(filled) or Decimal(10))


# -- exact integers on the fill path, against the Fraction-only reference ---------------------


def _same(value: object, reference: Fraction) -> None:
    """Equal, and an int exactly when whole (a Fraction only for a value that is not)."""
    assert value == reference
    assert type(value) is (int if reference.denominator == 1 else Fraction), (value, reference)


fill_sequences = st.lists(
    st.tuples(
        st.one_of(
            st.integers(min_value=1, max_value=20).map(Decimal),
            st.decimals(min_value="0.001", max_value="3", places=3),
            st.just(Decimal("2.00")),
        ),
        st.one_of(
            st.integers(min_value=1, max_value=10**6),
            st.fractions(min_value=1, max_value=10**4, max_denominator=12),
        ),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(seq=fill_sequences)
def test_fill_value_and_average_equal_the_fraction_reference(
    seq: list[tuple[Decimal, int | Fraction]],
) -> None:
    total = sum((q for q, _ in seq), Decimal(0))
    order = Order("c1", "NSE:X", Side.BUY, OrderType.MARKET, total)
    value = Fraction(0)
    filled = Decimal(0)
    for ts, (qty, price) in enumerate(seq):
        order.apply(OrderFilled(qty, price, ts))
        value += Fraction(qty) * Fraction(price)
        filled += qty
        _same(order.fill_value_ticks, value)
        _same(order.avg_fill_ticks, value / Fraction(filled))
    assert order.status is S.COMPLETE


def _ref_fill_price(order: Order, average: Decimal, target: Decimal) -> TickPrice:
    """The Fraction-only fill price of a cumulative update, as before the integer path."""
    total = Fraction(average) / Fraction(TICK) * Fraction(target)
    price = (total - Fraction(order.fill_value_ticks)) / Fraction(target - order.filled_qty)
    if price > 0:
        return price.numerator if price.denominator == 1 else price
    assert order.price_ticks is not None
    return order.price_ticks


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.one_of(
                st.integers(min_value=1, max_value=10).map(Decimal),
                st.decimals(min_value="0.01", max_value="2", places=2),
            ),
            st.one_of(
                st.integers(min_value=15000, max_value=17000).map(lambda t: t * TICK),
                st.decimals(min_value="700", max_value="900", places=3),
            ),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_fill_price_from_averages_equals_the_fraction_reference(
    steps: list[tuple[Decimal, Decimal]],
) -> None:
    order = Order("c1", "NSE:SBIN", Side.BUY, OrderType.LIMIT, Decimal(1000), price_ticks=16010)
    follow(order, update("open", quantity=Decimal(1000)))
    target = Decimal(0)
    for more, average in steps:
        target += more
        expected = _ref_fill_price(order, average, target)
        events = follow(
            order,
            update("open", quantity=Decimal(1000), filled_qty=target, average_price=average),
        )
        assert len(events) == 1
        event = events[0]
        assert isinstance(event, OrderFilled)
        _same(event.price_ticks, Fraction(expected))
        assert event.fill_qty == more


@settings(max_examples=300, deadline=None)
@given(
    price=st.decimals(min_value="0.0001", max_value="100000", places=4),
    tick=st.sampled_from([TICK, Decimal("0.01"), Decimal("0.0025"), Decimal(1), Decimal("0.5")]),
)
def test_to_ticks_equals_the_fraction_reference(price: Decimal, tick: Decimal) -> None:
    from cockpit.domain.order_updates import _to_ticks

    _same(_to_ticks(price, tick), Fraction(price) / Fraction(tick))


def test_exact_and_ratio() -> None:
    from cockpit.domain.orders import exact, ratio

    assert type(ratio(6, 3)) is int
    assert ratio(6, 3) == 2
    assert ratio(-7, 2) == Fraction(-7, 2)
    assert ratio(6, -4) == Fraction(-3, 2)
    assert ratio(5, 1) == 5
    assert type(exact(Decimal("800.00"))) is int
    assert exact(Decimal("800.05")) == Fraction(16001, 20)
    assert type(exact(Fraction(8, 4))) is int
    assert exact("-302/3") == Fraction(-302, 3)
    assert type(exact("32000/2")) is int
    assert type(exact(True)) is int
    with pytest.raises(TypeError):
        exact(1.5)  # type: ignore[arg-type]
