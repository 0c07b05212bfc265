"""Positions and P&L: exact average-cost accounting per instrument, and a portfolio of them.

API summary
-----------
- :class:`Position` ``(key, tick_size)``: net signed ``qty`` (Decimal), exact average price
  ``avg_ticks`` (exact ticks, ``None`` when flat), realized P&L.
  ``apply_fill(side, qty, price_ticks) -> Exact`` returns the realized delta; long, short,
  adds, partial exits and flips through zero (the remainder opens at the fill price) are all
  handled. ``unrealized(mark_ticks)`` and ``realized`` are exact amounts in *tick-units*
  (ticks x quantity); ``*_pnl`` / ``money()`` give Decimal money (x ``tick_size``).
- The identity ``realized + unrealized(mark) == cash_flow + qty * mark`` holds EXACTLY at
  every step (``cash_flow`` = sell value - buy value, in tick-units).
- :class:`Portfolio`: positions by instrument key, marks (last prices) by key,
  ``apply_fill(...)``, ``update_mark(key, ticks)``, ``realized_pnl()``,
  ``unrealized_pnl()``, ``day_pnl()`` (realized + unrealized at the marks, Decimal money).

Money: internally every amount is exact (:data:`~cockpit.domain.orders.Exact`: an ``int``
when whole, which is the usual case and never builds a Fraction; a ``Fraction`` otherwise),
so nothing is ever rounded. Realized P&L of a partial exit against a non-terminating average
(e.g. 302/3 ticks) is not a finite decimal; :func:`to_money` then rounds half-even to
``MONEY_PLACES`` places at the edge, for display.
Everything that is a finite decimal (every P&L once flat, cash flows) is presented exactly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Any, Final

from cockpit.domain.orders import Exact, Side, TickPrice, exact, num_den, ratio

MONEY_PLACES: Final = 8
"""Decimal places kept when an exact P&L is not a finite decimal (display only)."""


def _money_sum(by_tick: Mapping[Decimal, int | Fraction]) -> Fraction:
    """Tick-unit sums per tick size, as one exact money Fraction."""
    total = Fraction(0)
    for tick_size, ticks in by_tick.items():
        if ticks:
            total += Fraction(tick_size) * ticks
    return total


@functools.lru_cache(maxsize=1024)
def _fraction(tick_size: Decimal | Fraction | int) -> Fraction:
    """``Fraction(tick_size)``, kept: a tick size is one of a few values, converted per fill."""
    return Fraction(tick_size)


@functools.lru_cache(maxsize=1024)
def _scaled(tick_size: Decimal | int) -> tuple[int, int] | None:
    """``tick_size`` as ``(coefficient, exponent)`` with ``tick = coefficient * 10**exponent``.

    ``None`` for a value that has no such form (NaN, infinity): those take the slow path.
    """
    if isinstance(tick_size, int):
        return tick_size, 0
    sign, digits, exponent = tick_size.as_tuple()
    if not isinstance(exponent, int):
        return None
    coefficient = int("".join(map(str, digits))) if digits else 0
    return (-coefficient if sign else coefficient), exponent


def to_money(value: Exact, tick_size: Decimal | Fraction | int = 1) -> Decimal:
    """``value`` tick-units as Decimal money: exact when finite, else rounded half-even.

    A whole amount comes back with exponent 0 (``Decimal('800')``), any other finite amount
    as its shortest exact decimal (``Decimal('800.05')``, ``Decimal('800.5')``).
    """
    if type(value) is int and (type(tick_size) is int or isinstance(tick_size, Decimal)):
        # The usual case, in integers: value * coefficient * 10**exponent, trailing zeros of
        # the fractional part dropped (what the exact quotient of the slow path gives).
        scaled = _scaled(tick_size)
        if scaled is not None:
            num = value * scaled[0]
            exponent = scaled[1]
            if exponent >= 0:
                return Decimal(num * 10**exponent)
            while exponent < 0 and num % 10 == 0:
                num //= 10
                exponent += 1
            if exponent == 0:
                return Decimal(num)
            return Decimal(f"{num}E{exponent}")
    return _to_money_fraction(value, tick_size)


def _to_money_fraction(value: Exact, tick_size: Decimal | Fraction | int) -> Decimal:
    """:func:`to_money` over Fractions: any value, any tick size."""
    money = value * _fraction(tick_size)
    num, den = money.numerator, money.denominator
    if den == 1:
        return Decimal(num)  # a whole amount: exact as it is
    rest = den
    while rest % 2 == 0:
        rest //= 2
    while rest % 5 == 0:
        rest //= 5
    with localcontext() as ctx:
        # Enough digits for the exact quotient of a finite decimal (<= num digits + log2 den).
        ctx.prec = len(str(abs(num))) + den.bit_length() + MONEY_PLACES + 5
        quotient = Decimal(num) / Decimal(den)
        if rest == 1:
            return quotient
        return quotient.quantize(Decimal(1).scaleb(-MONEY_PLACES), rounding=ROUND_HALF_EVEN)


_TWO_PLACES: Final = frozenset(
    {"", "INR", "USD", "EUR", "GBP", "USDT", "USDC", "FDUSD", "TUSD", "BUSD", "DAI", "TRY", "BRL"}
)
"""Currencies read to two places (a fiat or a dollar stablecoin); a coin reads to eight."""


def money_text(value: Decimal, *, sign: bool = True, currency: str = "") -> str:
    """Money as a trader reads it: two places, thousands separated, signed by default
    (``-1,005.00``); what every screen, alert and message shows. In a coin (``BTC``, a pair's
    quote asset that is not a fiat or a dollar stablecoin) up to eight places, at least two
    (``+0.00105``): two would read a day's gain in bitcoin as ``+0.00``."""
    if currency.upper() in _TWO_PLACES:
        q = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return f"{q:+,.2f}" if sign else f"{q:,.2f}"
    q = value.quantize(Decimal("1e-8"), rounding=ROUND_HALF_UP)
    exponent = q.normalize().as_tuple().exponent
    places = max(2, -exponent) if q and isinstance(exponent, int) else 2
    return f"{q:+,.{places}f}" if sign else f"{q:,.{places}f}"


def pnls_text(total: Decimal, by_currency: Mapping[str, Decimal]) -> str:
    """The day's P&L as text: one figure (``-50.00``), or one per currency when there are
    several (``INR -50.00  USDT +30.00``): never their sum."""
    if not by_currency:
        return money_text(total)
    return "  ".join(
        f"{c or '?'} {money_text(v, currency=c)}" for c, v in sorted(by_currency.items())
    )


@dataclass(slots=True)
class Position:
    """The net position in one instrument with exact average-cost P&L."""

    key: str
    tick_size: Decimal = Decimal(1)
    qty: Decimal = Decimal(0)
    """Net signed quantity: > 0 long, < 0 short."""
    cost_ticks: Exact = 0
    """Signed cost of the open quantity in tick-units (``qty * avg``), exact."""
    realized: Exact = 0
    """Realized P&L in tick-units."""
    buy_qty: Decimal = Decimal(0)
    sell_qty: Decimal = Decimal(0)
    buy_value: Exact = 0
    """Sum of bought quantity x price, tick-units."""
    sell_value: Exact = 0
    fills: int = 0
    last_fill_ns: int = 0

    # -- state -----------------------------------------------------------------------------

    @property
    def is_flat(self) -> bool:
        """No open quantity."""
        return self.qty == 0

    @property
    def side(self) -> Side | None:
        """``BUY`` for a long, ``SELL`` for a short, ``None`` when flat."""
        if self.qty > 0:
            return Side.BUY
        if self.qty < 0:
            return Side.SELL
        return None

    @property
    def avg_ticks(self) -> Exact | None:
        """The exact average open price in ticks (an int when whole, ``None`` when flat)."""
        qn, qd = self.qty.as_integer_ratio()
        if qn == 0:
            return None
        cn, cd = num_den(self.cost_ticks)
        return ratio(cn * qd, cd * qn)

    @property
    def avg_price(self) -> Decimal | None:
        """The average open price as Decimal money (rounded only if not a finite decimal)."""
        avg = self.avg_ticks
        return None if avg is None else to_money(avg, self.tick_size)

    @property
    def cash_flow(self) -> Exact:
        """Sell value minus buy value, tick-units."""
        return _sub(self.sell_value, self.buy_value)

    # -- the mutator -----------------------------------------------------------------------

    def apply_fill(
        self, side: Side, qty: Decimal | int, price_ticks: TickPrice, ts_ns: int = 0
    ) -> Exact:
        """Apply one fill and return the realized P&L it produced (tick-units).

        A fill against the position closes quantity at the average price (realizing
        ``closed * (price - avg) * sign``); whatever is left of the fill opens (or adds to) a
        position on the fill's side at the fill price.

        Computed over integer numerator/denominator pairs with one exact division per
        result, so whole quantities at prices on the grid never build a Fraction.
        """
        amount = Decimal(qty)
        if amount <= 0:
            raise ValueError(f"{self.key}: fill quantity must be > 0, got {amount}")
        an, ad = amount.as_integer_ratio()
        pn, pd = num_den(price_ticks)
        sign = side.sign
        if side is Side.BUY:
            self.buy_qty += amount
            self.buy_value = _add(self.buy_value, an * pn, ad * pd)
        else:
            self.sell_qty += amount
            self.sell_value = _add(self.sell_value, an * pn, ad * pd)
        self.fills += 1
        self.last_fill_ns = ts_ns
        realized: Exact = 0
        rn, rd = an, ad  # what is left of the fill
        hn, hd = self.qty.as_integer_ratio()
        if hn != 0 and (hn > 0) != (sign > 0):
            # Reducing (and maybe flipping): close up to |held| at the average.
            held_abs = abs(hn)
            if an * hd <= held_abs * ad:
                kn, kd = an, ad
            else:
                kn, kd = held_abs, hd
            cn, cd = num_den(self.cost_ticks)
            # closing * (price - cost / held) * sign(held) == closing * (price * held - cost)
            # / |held|; the cost left is cost * (1 - closing / |held|).
            realized = ratio(kn * (pn * hn * cd - cn * pd * hd), kd * pd * cd * held_abs)
            self.realized = _add(self.realized, *num_den(realized))
            self.cost_ticks = ratio(cn * (kd * held_abs - kn * hd), cd * kd * held_abs)
            self.qty += Decimal(sign) * _decimal(kn, kd)
            rn, rd = an * kd - kn * ad, ad * kd
            if self.qty == 0:
                self.cost_ticks = 0
        if rn > 0:
            self.qty += Decimal(sign) * _decimal(rn, rd)
            self.cost_ticks = _add(self.cost_ticks, sign * rn * pn, rd * pd)
        return realized

    # -- valuation -------------------------------------------------------------------------

    def unrealized(self, mark_ticks: TickPrice) -> Exact:
        """Unrealized P&L at ``mark_ticks``, tick-units (``qty * mark - cost``)."""
        qn, qd = self.qty.as_integer_ratio()
        if qn == 0:
            return 0
        mn, md = num_den(mark_ticks)
        cn, cd = num_den(self.cost_ticks)
        return ratio(qn * mn * cd - cn * qd * md, qd * md * cd)

    def total(self, mark_ticks: TickPrice) -> Exact:
        """Realized plus unrealized at ``mark_ticks``, tick-units."""
        return _add(self.realized, *num_den(self.unrealized(mark_ticks)))

    def money(self, tick_units: Exact) -> Decimal:
        """Tick-units of this instrument as Decimal money."""
        return to_money(tick_units, self.tick_size)

    @property
    def realized_pnl(self) -> Decimal:
        """Realized P&L in money."""
        return to_money(self.realized, self.tick_size)

    def unrealized_pnl(self, mark_ticks: TickPrice) -> Decimal:
        """Unrealized P&L at ``mark_ticks`` in money."""
        return to_money(self.unrealized(mark_ticks), self.tick_size)

    # -- persistence -----------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """JSON-safe state (exact amounts as ``"num"`` or ``"num/den"`` strings)."""
        return {
            "key": self.key,
            "tick_size": str(self.tick_size),
            "qty": str(self.qty),
            "cost_ticks": str(self.cost_ticks),
            "realized": str(self.realized),
            "buy_qty": str(self.buy_qty),
            "sell_qty": str(self.sell_qty),
            "buy_value": str(self.buy_value),
            "sell_value": str(self.sell_value),
            "fills": self.fills,
            "last_fill_ns": self.last_fill_ns,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Position:
        """Inverse of :meth:`to_state`."""
        return cls(
            key=state["key"],
            tick_size=Decimal(state["tick_size"]),
            qty=Decimal(state["qty"]),
            cost_ticks=exact(state["cost_ticks"]),
            realized=exact(state["realized"]),
            buy_qty=Decimal(state["buy_qty"]),
            sell_qty=Decimal(state["sell_qty"]),
            buy_value=exact(state["buy_value"]),
            sell_value=exact(state["sell_value"]),
            fills=state["fills"],
            last_fill_ns=state["last_fill_ns"],
        )

    @classmethod
    def opened(
        cls, key: str, tick_size: Decimal, qty: Decimal | int, avg_ticks: TickPrice
    ) -> Position:
        """A position carried in from elsewhere (the broker's position book) at ``avg_ticks``.

        Counted as a fill so that the cash-flow identity keeps holding.
        """
        pos = cls(key, tick_size)
        amount = Decimal(qty)
        if amount != 0:
            pos.apply_fill(Side.BUY if amount > 0 else Side.SELL, abs(amount), avg_ticks)
        return pos


def _decimal(num: int, den: int) -> Decimal:
    """``num / den`` (a quantity that came from Decimals) back to an exact Decimal."""
    if den == 1:
        return Decimal(num)
    q, r = divmod(num, den)
    if not r:
        return Decimal(q)
    return _to_money_fraction(Fraction(num, den), 1)


def _add(value: Exact, num: int, den: int) -> Exact:
    """``value + num / den`` exactly (an int when whole)."""
    if den == 1 and type(value) is int:
        return value + num
    vn, vd = num_den(value)
    return ratio(vn * den + num * vd, vd * den)


def _sub(a: Exact, b: Exact) -> Exact:
    """``a - b`` exactly (an int when whole)."""
    if type(a) is int and type(b) is int:
        return a - b
    an, ad = num_den(a)
    bn, bd = num_den(b)
    return ratio(an * bd - bn * ad, ad * bd)


class Portfolio:
    """Positions by instrument key, with marks and day P&L across them."""

    __slots__ = ("_positions", "_marks")

    def __init__(self) -> None:
        """An empty portfolio."""
        self._positions: dict[str, Position] = {}
        self._marks: dict[str, TickPrice] = {}

    def __iter__(self) -> Iterator[Position]:
        return iter(self._positions.values())

    def __len__(self) -> int:
        return len(self._positions)

    def __contains__(self, key: object) -> bool:
        return key in self._positions

    def get(self, key: str) -> Position | None:
        """The position in ``key``, if any fill ever happened there."""
        return self._positions.get(key)

    def position(self, key: str, tick_size: Decimal) -> Position:
        """The position in ``key``, created flat if needed."""
        pos = self._positions.get(key)
        if pos is None:
            pos = self._positions[key] = Position(key, tick_size)
        return pos

    def add(self, position: Position) -> None:
        """Put a position in (e.g. restored from the journal), replacing any other."""
        self._positions[position.key] = position

    def apply_fill(
        self,
        key: str,
        tick_size: Decimal,
        side: Side,
        qty: Decimal | int,
        price_ticks: TickPrice,
        ts_ns: int = 0,
    ) -> Exact:
        """Apply a fill to the position in ``key``; returns the realized delta (tick-units)."""
        return self.position(key, tick_size).apply_fill(side, qty, price_ticks, ts_ns)

    def update_mark(self, key: str, mark_ticks: TickPrice) -> None:
        """Record the last price of ``key`` (used for unrealized P&L)."""
        self._marks[key] = mark_ticks

    def mark(self, key: str) -> TickPrice | None:
        """The last recorded price of ``key``."""
        return self._marks.get(key)

    @property
    def open_positions(self) -> list[Position]:
        """Positions that are not flat."""
        return [p for p in self._positions.values() if p.qty != 0]

    @property
    def unmarked(self) -> list[str]:
        """Keys with an open position but no mark (their unrealized P&L counts as 0)."""
        return [p.key for p in self._positions.values() if p.qty != 0 and p.key not in self._marks]

    def realized_exact(self) -> Fraction:
        """Realized P&L across positions, exact money."""
        return self._realized(self._positions.values())

    @staticmethod
    def _realized(positions: Iterable[Position]) -> Fraction:
        by_tick: dict[Decimal, int | Fraction] = {}
        for p in positions:
            realized = p.realized
            part: int | Fraction = realized.numerator if realized.denominator == 1 else realized
            if part:
                by_tick[p.tick_size] = by_tick.get(p.tick_size, 0) + part
        return _money_sum(by_tick)

    def unrealized_exact(self) -> Fraction:
        """Unrealized P&L at the marks across positions, exact money.

        Summed per tick size in tick-units, in integers whenever quantity, cost and mark are
        whole (the usual case; Fractions otherwise), and turned into money once per tick
        size: the engine asks for the day's P&L on every entry and a few times a second.
        """
        return self._unrealized(self._positions.values())

    def _unrealized(self, positions: Iterable[Position]) -> Fraction:
        marks = self._marks
        by_tick: dict[Decimal, int | Fraction] = {}
        for p in positions:
            qty = p.qty
            if qty == 0:
                continue
            mark = marks.get(p.key)
            if mark is None:
                continue
            cost = p.cost_ticks
            part: int | Fraction
            if type(mark) is int and cost.denominator == 1 and qty == qty.to_integral_value():
                part = int(qty) * mark - cost.numerator
            else:
                part = p.unrealized(mark)
            by_tick[p.tick_size] = by_tick.get(p.tick_size, 0) + part
        return _money_sum(by_tick)

    def pnl_by(self, group: Callable[[str], str], *, realized: bool) -> dict[str, Fraction]:
        """Realized (or unrealized at the marks) P&L, exact money, summed per ``group`` of
        the position's key (a currency): money in one group is never added to another's."""
        groups: dict[str, list[Position]] = {}
        for p in self._positions.values():
            groups.setdefault(group(p.key), []).append(p)
        total = self._realized if realized else self._unrealized
        return {name: total(members) for name, members in groups.items()}

    def realized_pnl(self) -> Decimal:
        """Realized P&L across positions, Decimal money."""
        return to_money(self.realized_exact())

    def unrealized_pnl(self) -> Decimal:
        """Unrealized P&L at the marks across positions, Decimal money."""
        return to_money(self.unrealized_exact())

    def day_pnl(self) -> Decimal:
        """Realized plus unrealized at the marks, Decimal money (rounded once, at the end)."""
        return to_money(self.realized_exact() + self.unrealized_exact())
