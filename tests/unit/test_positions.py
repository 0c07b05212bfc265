"""Positions and P&L: exact identities across adds, partial exits and flips; the portfolio."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.domain.orders import Side
from cockpit.domain.positions import Portfolio, Position, _to_money_fraction, to_money

fills = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(min_value=1, max_value=50),
        st.integers(min_value=1, max_value=5000),
    ),
    min_size=1,
    max_size=40,
)
fractional_fills = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.decimals(min_value="0.001", max_value="3", places=3),
        st.integers(min_value=1, max_value=10**7),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(seq=fills, mark=st.integers(min_value=1, max_value=6000))
def test_pnl_identity_is_exact_at_every_step(seq: list[tuple[Side, int, int]], mark: int) -> None:
    pos = Position("NSE:X", Decimal("0.05"))
    realized_sum = Fraction(0)
    net = 0
    for side, qty, price in seq:
        delta = pos.apply_fill(side, qty, price)
        realized_sum += delta
        net += side.sign * qty
        assert pos.qty == net
        assert pos.realized == realized_sum
        # realized + unrealized == cash flows + qty * mark, exactly
        assert pos.realized + pos.unrealized(mark) == pos.cash_flow + net * mark
        if net == 0:
            assert pos.avg_ticks is None
            assert pos.realized == pos.cash_flow
            assert pos.unrealized(mark) == 0
    # Money is the tick-unit value times the tick size: exact when a finite decimal,
    # otherwise within half a unit of the last kept place.
    total = pos.total(mark) * Fraction(Decimal("0.05"))
    shown = Fraction(to_money(pos.total(mark), Decimal("0.05")))
    if finite_decimal(total):
        assert shown == total
    else:
        assert abs(shown - total) <= Fraction(1, 2 * 10**8)


def finite_decimal(value: Fraction) -> bool:
    """Whether ``value`` has a finite decimal expansion."""
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    return den == 1


@settings(max_examples=200, deadline=None)
@given(seq=fractional_fills, mark=st.integers(min_value=1, max_value=10**7))
def test_identity_holds_with_fractional_quantities(
    seq: list[tuple[Side, Decimal, int]], mark: int
) -> None:
    pos = Position("BINANCE:BTCUSDT", Decimal("0.01"))
    net = Decimal(0)
    for side, qty, price in seq:
        pos.apply_fill(side, qty, price)
        net += side.sign * qty
        assert pos.qty == net
        assert pos.realized + pos.unrealized(mark) == pos.cash_flow + Fraction(net) * mark


@settings(max_examples=200, deadline=None)
@given(seq=fills)
def test_flip_opens_the_remainder_at_the_fill_price(seq: list[tuple[Side, int, int]]) -> None:
    pos = Position("NSE:X")
    for side, qty, price in seq:
        before = pos.qty
        pos.apply_fill(side, qty, price)
        after = pos.qty
        if before != 0 and after != 0 and (before > 0) != (after > 0):
            assert pos.avg_ticks == price
        if before == 0:
            assert pos.avg_ticks == price


def fifo_total(seq: list[tuple[Side, int, int]], mark: int) -> Fraction:
    """Realized + unrealized by FIFO lots: a different method with the same total."""
    lots: list[list[int]] = []  # [signed qty, price]
    realized = Fraction(0)
    for side, qty, price in seq:
        signed = side.sign * qty
        while signed and lots and (lots[0][0] > 0) != (signed > 0):
            lot = lots[0]
            take = min(abs(signed), abs(lot[0]))
            direction = 1 if lot[0] > 0 else -1
            realized += take * (price - lot[1]) * direction
            lot[0] -= direction * take
            signed += direction * take
            if lot[0] == 0:
                lots.pop(0)
        if signed:
            lots.append([signed, price])
    unrealized = sum((Fraction(q * (mark - p)) for q, p in lots), Fraction(0))
    return realized + unrealized


@settings(max_examples=200, deadline=None)
@given(seq=fills, mark=st.integers(min_value=1, max_value=6000))
def test_total_pnl_agrees_with_fifo_accounting(seq: list[tuple[Side, int, int]], mark: int) -> None:
    pos = Position("NSE:X")
    for side, qty, price in seq:
        pos.apply_fill(side, qty, price)
    assert pos.total(mark) == fifo_total(seq, mark)


def test_long_add_partial_exit_and_flip() -> None:
    pos = Position("NSE:SBIN", Decimal("0.05"))
    assert pos.apply_fill(Side.BUY, 10, 16000) == 0  # 800.00
    assert pos.apply_fill(Side.BUY, 10, 16020) == 0  # 801.00
    assert pos.avg_ticks == 16010
    assert pos.avg_price == Decimal("800.50")
    assert pos.unrealized_pnl(16030) == Decimal("20.00")  # 20 ticks x 20 qty x 0.05
    assert pos.apply_fill(Side.SELL, 5, 16030) == 100  # 5 x 20 ticks
    assert pos.realized_pnl == Decimal("5.00")
    assert pos.qty == 15
    realized = pos.apply_fill(Side.SELL, 20, 16000)  # close 15 at -10 ticks, short 5 @ 16000
    assert realized == -150
    assert pos.qty == -5
    assert pos.avg_ticks == 16000
    assert pos.side is Side.SELL
    assert pos.unrealized(15990) == 50
    assert pos.realized_pnl == Decimal("-2.50")


def test_short_then_cover() -> None:
    pos = Position("NSE:X", Decimal("1"))
    pos.apply_fill(Side.SELL, 3, 100)
    pos.apply_fill(Side.SELL, 1, 104)
    assert pos.avg_ticks == 101
    assert pos.unrealized(99) == 8
    assert pos.apply_fill(Side.BUY, 4, 95) == 24
    assert pos.is_flat
    assert pos.side is None
    assert pos.avg_price is None


def test_non_terminating_average_is_exact_inside_and_rounded_only_for_display() -> None:
    pos = Position("NSE:X", Decimal("0.05"))
    pos.apply_fill(Side.BUY, 1, 100)
    pos.apply_fill(Side.BUY, 2, 101)
    assert pos.avg_ticks == Fraction(302, 3)
    assert pos.apply_fill(Side.SELL, 1, 102) == Fraction(4, 3)
    assert pos.realized_pnl == Decimal("0.06666667")
    pos.apply_fill(Side.SELL, 2, 102)
    assert pos.realized == 4  # once flat, everything is a finite decimal again
    assert pos.realized_pnl == Decimal("0.20")


def test_bad_fill_and_state_round_trip() -> None:
    pos = Position("NSE:X", Decimal("0.05"))
    with pytest.raises(ValueError, match="quantity"):
        pos.apply_fill(Side.BUY, 0, 100)
    pos.apply_fill(Side.BUY, 1, 100)
    pos.apply_fill(Side.BUY, 2, 101)
    pos.apply_fill(Side.SELL, 1, 102)
    copy = Position.from_state(pos.to_state())
    assert copy == pos
    assert copy.apply_fill(Side.SELL, 5, 90) == pos.apply_fill(Side.SELL, 5, 90)


def test_opened_position_from_the_broker() -> None:
    pos = Position.opened("NSE:X", Decimal("0.05"), -25, 16000)
    assert pos.qty == -25
    assert pos.avg_ticks == 16000
    assert pos.realized + pos.unrealized(15990) == pos.cash_flow + Fraction(pos.qty) * 15990


def test_to_money() -> None:
    assert to_money(Fraction(7), Decimal("0.05")) == Decimal("0.35")
    assert to_money(Fraction(1, 3)) == Decimal("0.33333333")
    assert to_money(Fraction(-2, 3)) == Decimal("-0.66666667")
    assert to_money(Fraction(10**30 + 1, 4)) == Decimal("250000000000000000000000000000.25")


def test_portfolio_day_pnl_across_instruments() -> None:
    book = Portfolio()
    book.apply_fill("NSE:A", Decimal("0.05"), Side.BUY, 10, 2000)
    book.apply_fill("NSE:A", Decimal("0.05"), Side.SELL, 4, 2010)  # +40 ticks = 2.00
    book.apply_fill("BINANCE:BTC", Decimal("0.01"), Side.SELL, Decimal("0.5"), 100000)
    assert book.realized_pnl() == Decimal("2.00")
    assert set(book.unmarked) == {"NSE:A", "BINANCE:BTC"}
    assert book.unrealized_pnl() == 0
    book.update_mark("NSE:A", 2020)  # 6 x 20 ticks x 0.05 = 6.00
    book.update_mark("BINANCE:BTC", 99000)  # 0.5 x 1000 x 0.01 = 5.00
    assert book.unmarked == []
    assert book.unrealized_pnl() == Decimal("11.00")
    assert book.day_pnl() == Decimal("13.00")
    assert len(book) == 2
    assert "NSE:A" in book
    assert [p.key for p in book.open_positions] == ["NSE:A", "BINANCE:BTC"]
    book.apply_fill("NSE:A", Decimal("0.05"), Side.SELL, 6, 2020)
    assert book.day_pnl() == Decimal("13.00")  # realized now, same total
    assert book.mark("NSE:A") == 2020


@settings(max_examples=100, deadline=None)
@given(
    a=fills,
    b=fills,
    mark_a=st.integers(1, 6000),
    mark_b=st.integers(1, 6000),
    c_price=st.fractions(min_value=1, max_value=5000, max_denominator=7),
    c_qty=st.sampled_from([Decimal("0.5"), Decimal("3"), Decimal("0.125")]),
    mark_c=st.integers(1, 6000),
)
def test_portfolio_day_pnl_is_the_exact_sum(
    a: list[tuple[Side, int, int]],
    b: list[tuple[Side, int, int]],
    mark_a: int,
    mark_b: int,
    c_price: Fraction,
    c_qty: Decimal,
    mark_c: int,
) -> None:
    book = Portfolio()
    for side, qty, price in a:
        book.apply_fill("NSE:A", Decimal("0.05"), side, qty, price)
    for side, qty, price in b:
        book.apply_fill("NSE:B", Decimal("0.25"), side, qty, price)
    # Same tick size as A (summed together), a fractional quantity, an off-grid average.
    book.apply_fill("NSE:C", Decimal("0.05"), Side.BUY, c_qty, c_price)
    book.update_mark("NSE:A", mark_a)
    book.update_mark("NSE:B", mark_b)
    book.update_mark("NSE:C", mark_c)
    pa, pb, pc = book.get("NSE:A"), book.get("NSE:B"), book.get("NSE:C")
    assert pa is not None
    assert pb is not None
    assert pc is not None
    exact = (
        (pa.cash_flow + Fraction(pa.qty) * mark_a) * Fraction(1, 20)
        + (pb.cash_flow + Fraction(pb.qty) * mark_b) * Fraction(1, 4)
        + (pc.cash_flow + Fraction(pc.qty) * mark_c) * Fraction(1, 20)
    )
    assert book.realized_exact() + book.unrealized_exact() == exact
    assert book.day_pnl() == to_money(exact)


@settings(max_examples=100, deadline=None)
@given(
    seq=st.lists(
        st.tuples(
            st.sampled_from([Side.BUY, Side.SELL]),
            st.integers(min_value=1, max_value=20),
            st.fractions(min_value=1, max_value=5000, max_denominator=7),
        ),
        min_size=1,
        max_size=30,
    ),
    mark=st.integers(min_value=1, max_value=6000),
)
def test_identity_holds_with_off_grid_fill_prices(
    seq: list[tuple[Side, int, Fraction]], mark: int
) -> None:
    """Fill prices derived from a venue's averages may be Fractions of ticks."""
    pos = Position("NSE:X", Decimal("0.05"))
    for side, qty, price in seq:
        pos.apply_fill(side, qty, price)
        assert pos.realized + pos.unrealized(mark) == pos.cash_flow + Fraction(pos.qty) * mark


# -- the integer fast path against the Fraction-only reference ------------------------------
# (money: the Fraction path ``_to_money_fraction``, which every non-int amount still takes)


class _RefPosition:
    """The Fraction-only average-cost accounting as it was before the integer fast path."""

    def __init__(self) -> None:
        self.qty = Decimal(0)
        self.cost_ticks = Fraction(0)
        self.realized = Fraction(0)
        self.buy_qty = Decimal(0)
        self.sell_qty = Decimal(0)
        self.buy_value = Fraction(0)
        self.sell_value = Fraction(0)

    @staticmethod
    def _dec(value: Fraction) -> Decimal:
        if value.denominator == 1:
            return Decimal(value.numerator)
        return _to_money_fraction(value, 1)

    def apply_fill(self, side: Side, qty: Decimal, price_ticks: Fraction | int) -> Fraction:
        amount = Decimal(qty)
        price = Fraction(price_ticks)
        q = Fraction(amount)
        sign = side.sign
        if side is Side.BUY:
            self.buy_qty += amount
            self.buy_value += q * price
        else:
            self.sell_qty += amount
            self.sell_value += q * price
        realized = Fraction(0)
        held = Fraction(self.qty)
        if held != 0 and (held > 0) != (sign > 0):
            closing = min(q, abs(held))
            avg = self.cost_ticks / held
            position_sign = 1 if held > 0 else -1
            realized = closing * (price - avg) * position_sign
            self.realized += realized
            self.cost_ticks -= avg * closing * position_sign
            self.qty += Decimal(sign) * self._dec(closing)
            q -= closing
            if self.qty == 0:
                self.cost_ticks = Fraction(0)
        if q > 0:
            self.qty += Decimal(sign) * self._dec(q)
            self.cost_ticks += sign * q * price
        return realized


def _same(value: object, reference: Fraction) -> None:
    """Equal, and an int exactly when whole (a Fraction only for a value that is not)."""
    assert value == reference
    if reference.denominator == 1:
        assert type(value) is int, (value, reference)
    else:
        assert type(value) is Fraction, (value, reference)


mixed_fills = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.one_of(
            st.integers(min_value=1, max_value=50).map(Decimal),
            st.decimals(min_value="0.001", max_value="5", places=3),
            st.sampled_from([Decimal("2.0"), Decimal("0.50"), Decimal("1E+1")]),
        ),
        st.one_of(
            st.integers(min_value=1, max_value=10**6),
            st.fractions(min_value=1, max_value=10**4, max_denominator=12),
        ),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(
    seq=mixed_fills,
    mark=st.one_of(
        st.integers(min_value=1, max_value=10**6),
        st.fractions(min_value=1, max_value=10**4, max_denominator=9),
    ),
    tick=st.sampled_from([Decimal("0.05"), Decimal("0.01"), Decimal(1), Decimal("0.0001")]),
)
def test_exact_ints_equal_the_fraction_reference(
    seq: list[tuple[Side, Decimal, int | Fraction]], mark: int | Fraction, tick: Decimal
) -> None:
    """Whole and fractional quantities, on- and off-grid prices: the same values as the
    Fraction-only computation, ints whenever whole, and the same journal state."""
    pos = Position("NSE:X", tick)
    ref = _RefPosition()
    for side, qty, price in seq:
        _same(pos.apply_fill(side, qty, price), ref.apply_fill(side, qty, price))
        assert str(pos.qty) == str(ref.qty)
        assert str(pos.buy_qty) == str(ref.buy_qty)
        assert str(pos.sell_qty) == str(ref.sell_qty)
        _same(pos.cost_ticks, ref.cost_ticks)
        _same(pos.realized, ref.realized)
        _same(pos.buy_value, ref.buy_value)
        _same(pos.sell_value, ref.sell_value)
        _same(pos.cash_flow, ref.sell_value - ref.buy_value)
        if ref.qty == 0:
            assert pos.avg_ticks is None
            _same(pos.unrealized(mark), Fraction(0))
        else:
            ref_avg = ref.cost_ticks / Fraction(ref.qty)
            _same(pos.avg_ticks, ref_avg)  # an off-grid average stays exact
            assert str(pos.avg_price) == str(_to_money_fraction(ref_avg, tick))
            ref_unrealized = Fraction(ref.qty) * Fraction(mark) - ref.cost_ticks
            _same(pos.unrealized(mark), ref_unrealized)
            _same(pos.total(mark), ref.realized + ref_unrealized)
            assert str(pos.unrealized_pnl(mark)) == str(_to_money_fraction(ref_unrealized, tick))
        assert str(pos.realized_pnl) == str(_to_money_fraction(ref.realized, tick))
        state = pos.to_state()
        for name in ("cost_ticks", "realized", "buy_value", "sell_value"):
            assert state[name] == str(getattr(ref, name))  # the journal form is unchanged
        restored = Position.from_state(state)
        assert restored == pos
        _same(restored.cost_ticks, ref.cost_ticks)


def test_whole_amounts_are_ints_and_off_grid_averages_fractions() -> None:
    pos = Position("NSE:X", Decimal("0.05"))
    assert pos.apply_fill(Side.BUY, 2, 100) == 0
    assert pos.apply_fill(Side.BUY, 1, 102) == 0
    assert type(pos.cost_ticks) is int
    assert pos.avg_ticks == Fraction(302, 3)
    assert type(pos.avg_ticks) is Fraction
    realized = pos.apply_fill(Side.SELL, 1, 102)
    assert realized == Fraction(4, 3)
    assert type(pos.cost_ticks) is Fraction  # 2 x 302/3 open
    pos.apply_fill(Side.SELL, 2, 101)
    assert pos.realized == 2  # flat: the cash flow, 304 - 302
    assert type(pos.realized) is int
    assert pos.cost_ticks == 0
    assert type(pos.cost_ticks) is int
    # A half-tick fill price on an even quantity is whole again.
    pos.apply_fill(Side.BUY, 2, Fraction(201, 2))
    assert pos.cost_ticks == 201
    assert type(pos.cost_ticks) is int
    assert pos.avg_ticks == Fraction(201, 2)


def test_from_state_reads_old_fraction_strings() -> None:
    state = Position("NSE:X", Decimal("0.05")).to_state()
    state.update(cost_ticks="32000/2", realized="-7/1", buy_value="3/2", sell_value="0", qty="2")
    pos = Position.from_state(state)
    assert pos.cost_ticks == 16000
    assert type(pos.cost_ticks) is int
    assert pos.realized == -7
    assert type(pos.realized) is int
    assert pos.buy_value == Fraction(3, 2)
    assert pos.sell_value == 0
    assert pos.to_state()["cost_ticks"] == "16000"
    assert pos.avg_ticks == 8000


ticks_sizes = st.sampled_from(
    [
        Decimal("0.05"),
        Decimal("0.01"),
        Decimal("0.050"),
        Decimal("0.25"),
        Decimal("0.5"),
        Decimal("0.0001"),
        Decimal("0.00000001"),
        Decimal(1),
        Decimal("1.0"),
        Decimal(5),
        Decimal("1E+1"),
        Decimal("2.5E+2"),
        1,
        7,
    ]
)


@settings(max_examples=500, deadline=None)
@given(
    value=st.one_of(
        st.integers(min_value=-(10**12), max_value=10**12),
        st.integers(min_value=-(10**40), max_value=10**40),
        st.fractions(max_denominator=40),
        st.fractions(max_denominator=10**6),
    ),
    tick=ticks_sizes,
)
def test_to_money_is_digit_for_digit_the_old_result(value: int | Fraction, tick: Decimal) -> None:
    money = to_money(value, tick)
    reference = _to_money_fraction(value, tick)
    assert str(money) == str(reference)
    assert money.as_tuple() == reference.as_tuple()


def test_to_money_shapes() -> None:
    tick = Decimal("0.05")
    assert str(to_money(16000, tick)) == "800"
    assert str(to_money(16001, tick)) == "800.05"
    assert str(to_money(16010, tick)) == "800.5"
    assert str(to_money(-16010, tick)) == "-800.5"
    assert str(to_money(0, tick)) == "0"
    assert str(to_money(3, Decimal("2.5E+2"))) == "750"
    assert str(to_money(Fraction(1, 3), tick)) == "0.01666667"
