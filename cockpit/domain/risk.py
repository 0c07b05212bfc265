"""Pre-trade risk checks: limits on entries; exits (reduce-only orders) are never refused.

API summary
-----------
- :class:`RiskLimits` (frozen, every limit optional): ``max_order_qty``, ``max_position_qty``
  (absolute net per symbol after the order), ``max_notional`` (money of one order),
  ``max_position_notional`` (money of the position after the order, per symbol),
  ``max_open_orders``, ``price_band_pct`` (a limit/trigger price within this percent of the
  last price), ``max_orders_per_window`` within ``order_window_ns``, ``daily_loss_limit``
  (a positive amount: entries stop once day P&L <= -limit, in each currency apart),
  ``daily_loss_limits`` (per currency, ``(("INR", 5000),)``: named currencies use these,
  the others ``daily_loss_limit``), ``max_tick_age_ns`` (stale-data
  gate), ``kill_on_daily_loss`` (the caller trips its kill switch when
  :func:`daily_loss_reached`). :meth:`RiskLimits.from_mapping` builds it from config values.
- :class:`RiskContext` (filled by the caller at check time): ``now_ns``, ``tick_size``,
  positions by key (signed), ``working_qty`` (signed unfilled entry quantity by key, counted
  towards the position limit), ``open_orders``, last price ticks and last tick time by key,
  ``recent_orders_ns`` (send times of recent orders), ``day_pnl`` (Decimal money) or
  ``day_pnls`` (per currency: never added together), ``halted`` (kill switch).
- :func:`daily_loss_breach` ``(limits, pnls) -> LossBreach | None``: the first currency whose
  day P&L reached its limit; :func:`loss_words` words it.
- :func:`check_entry` ``(request, limits, ctx) -> Refusal | None`` (the first rule that
  refuses) and :func:`refusals` (all of them). Exits are never checked.
- :class:`Refusal` has ``rule`` (a stable id from :class:`Rule`) and ``message`` naming the
  numbers, e.g. ``max_order_qty: quantity 500 exceeds the limit 100``.

The order of the checks: halted, stale data, daily loss, then the order's own numbers
(quantity, position, order notional, position notional, open orders, price band, rate). An
order that only reduces the position (tag ``reduce``) is not held by the daily loss limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from cockpit.domain.orders import OrderRequest
from cockpit.domain.positions import money_text

_NS_PER_S: Final = 1_000_000_000
_INT_LIMITS: Final = frozenset(
    {"max_open_orders", "max_orders_per_window", "order_window_ns", "max_tick_age_ns"}
)


class Rule(StrEnum):
    """Stable ids of the risk rules (used in refusals, config and logs)."""

    HALTED = "halted"
    STALE_DATA = "stale_data"
    DAILY_LOSS = "daily_loss_limit"
    MAX_ORDER_QTY = "max_order_qty"
    MAX_POSITION = "max_position_qty"
    MAX_POSITION_NOTIONAL = "max_position_notional"
    MAX_NOTIONAL = "max_notional"
    MAX_OPEN_ORDERS = "max_open_orders"
    PRICE_BAND = "price_band"
    ORDER_RATE = "order_rate"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an entry was refused."""

    rule: Rule
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Limits on entries; ``None`` switches a rule off."""

    max_order_qty: Decimal | None = None
    max_position_qty: Decimal | None = None
    """Largest absolute net position per symbol the order may lead to."""
    max_notional: Decimal | None = None
    """Largest value (price x quantity, money) of one order."""
    max_position_notional: Decimal | None = None
    """Largest value (|position after the order| x price, money) per symbol."""
    max_open_orders: int | None = None
    """Working orders allowed at once (the new one must fit under it)."""
    price_band_pct: Decimal | None = None
    """A limit or trigger price must lie within this percent of the last price."""
    max_orders_per_window: int | None = None
    order_window_ns: int = _NS_PER_S
    daily_loss_limit: Decimal | None = None
    """A positive amount: no new entries once day P&L <= -limit (in each currency apart;
    never a sum of rupees and tethers)."""
    daily_loss_limits: tuple[tuple[str, Decimal], ...] = ()
    """Per currency (``(("INR", Decimal(5000)),)``): a currency named here uses its own
    limit; one not named uses ``daily_loss_limit`` (none when that is None)."""
    max_tick_age_ns: int | None = None
    """No entries while the symbol's last tick is older than this (or absent)."""
    kill_on_daily_loss: bool = False
    """Trip the kill switch (cancel all, flatten all) once ``daily_loss_limit`` is reached
    (the caller acts on it: see :func:`daily_loss_reached`)."""

    def __post_init__(self) -> None:
        for name in (
            "max_order_qty",
            "max_position_qty",
            "max_notional",
            "max_position_notional",
            "price_band_pct",
            "daily_loss_limit",
        ):
            value = getattr(self, name)
            if value is not None:
                value = Decimal(value)
                if not value.is_finite() or value <= 0:
                    raise ValueError(f"risk limit {name} must be > 0, got {value}")
                object.__setattr__(self, name, value)
        named = []
        for currency, amount in self.daily_loss_limits:
            value = Decimal(amount)
            if not value.is_finite() or value <= 0:
                raise ValueError(f"daily loss limit in {currency} must be > 0, got {value}")
            named.append((str(currency).upper(), value))
        object.__setattr__(self, "daily_loss_limits", tuple(sorted(named)))
        for name in ("max_open_orders", "max_orders_per_window", "max_tick_age_ns"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"risk limit {name} must be > 0, got {value}")
        if self.order_window_ns <= 0:
            raise ValueError(f"order_window_ns must be > 0, got {self.order_window_ns}")

    @property
    def has_daily_loss_limit(self) -> bool:
        """Whether any daily loss limit is set (in some currency)."""
        return self.daily_loss_limit is not None or bool(self.daily_loss_limits)

    def daily_loss_limit_in(self, currency: str) -> Decimal | None:
        """The daily loss limit for P&L in ``currency`` (None: not limited)."""
        for named, amount in self.daily_loss_limits:
            if named == currency:
                return amount
        return self.daily_loss_limit

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> RiskLimits:
        """Build from config values (numbers or strings; ``*_s`` seconds accepted).

        Accepts the field names, plus ``order_window_s`` and ``max_tick_age_s`` in seconds.
        Unknown names raise ``ValueError`` (a typo in a risk limit must not pass silently).
        """
        known = set(cls.__dataclass_fields__)
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            if value is None:
                continue
            if name in ("order_window_s", "max_tick_age_s"):
                target = name[:-2] + "_ns"
                kwargs[target] = int(Decimal(str(value)) * _NS_PER_S)
            elif name in known:
                if name == "kill_on_daily_loss":
                    kwargs[name] = _flag(value)
                elif name == "daily_loss_limits":
                    kwargs[name] = tuple(
                        (str(c), Decimal(str(v)))
                        for c, v in (value.items() if isinstance(value, Mapping) else value)
                    )
                elif name in _INT_LIMITS:
                    kwargs[name] = int(value)
                else:
                    kwargs[name] = Decimal(str(value))
            else:
                raise ValueError(f"unknown risk limit {name!r}")
        return cls(**kwargs)


@dataclass(slots=True)
class RiskContext:
    """What the caller knows at check time."""

    now_ns: int
    tick_size: Decimal
    """Tick size of the request's instrument (for notional and band)."""
    positions: Mapping[str, Decimal] = field(default_factory=dict)
    """Net signed position by key."""
    open_orders: int = 0
    """Working orders now (not counting the new one)."""
    working_qty: Mapping[str, Decimal] = field(default_factory=dict)
    """Signed unfilled quantity of working ENTRY orders by key (counted towards the
    position limit, so a burst of orders cannot pass it before any fills)."""
    last_ticks: Mapping[str, int] = field(default_factory=dict)
    """Last price by key, in ticks."""
    last_tick_ns: Mapping[str, int] = field(default_factory=dict)
    """When the last tick of each key arrived (receive time, ns)."""
    recent_orders_ns: Sequence[int] = ()
    """Send times of recent orders (older ones than the window are ignored)."""
    day_pnl: Decimal = Decimal(0)
    """The day's P&L in the one currency (used when ``day_pnls`` is empty)."""
    day_pnls: Mapping[str, Decimal] = field(default_factory=dict)
    """The day's P&L per currency (each checked against its own limit)."""
    halted: bool = False
    """The kill switch: no entries at all."""
    currency: str | None = None
    """The request's instrument's currency (``""``: not known; None: not told)."""


def _flag(value: Any) -> bool:
    """A config boolean (``true``/``false`` text accepted)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off", ""):
            return False
        raise ValueError(f"not a boolean: {value!r}")
    return bool(value)


def daily_loss_reached(limits: RiskLimits, day_pnl: Decimal) -> bool:
    """Whether day P&L (one currency) has reached the daily loss limit (False when none)."""
    return limits.daily_loss_limit is not None and day_pnl <= -limits.daily_loss_limit


@dataclass(frozen=True, slots=True)
class LossBreach:
    """A currency whose day P&L reached its daily loss limit."""

    currency: str
    """``""`` when the book has one currency and the limit names none (worded as before)."""
    pnl: Decimal
    limit: Decimal

    @property
    def words(self) -> str:
        """``day P&L USDT -110.00 reached the loss limit USDT 100.00``."""
        return loss_words(self.pnl, self.limit, self.currency)


def daily_loss_breach(limits: RiskLimits, pnls: Mapping[str, Decimal]) -> LossBreach | None:
    """The first currency (by name) whose day P&L in ``pnls`` reached its own limit, or None.
    Currencies are never added together or converted; the words name the currency unless the
    book has one and the limit names none (as it always read)."""
    named = bool(limits.daily_loss_limits) or len(pnls) > 1
    for currency in sorted(pnls):
        limit = limits.daily_loss_limit_in(currency)
        pnl = pnls[currency]
        if limit is not None and pnl <= -limit:
            return LossBreach(currency if named else "", pnl, limit)
    return None


def loss_words(day_pnl: Decimal, limit: Decimal | None, currency: str = "") -> str:
    """``day P&L -1,005.00 reached the loss limit 1,000.00`` (money, not raw Decimals; with
    ``currency``: ``day P&L USDT -110.00 ...``): the lock alert, the kill alarm, the status
    bar's lock and an entry's refusal say the same."""
    unit = f"{currency} " if currency else ""
    limit_text = money_text(limit or Decimal(0), sign=False, currency=currency)
    pnl_text = money_text(day_pnl, currency=currency)
    return f"day P&L {unit}{pnl_text} reached the loss limit {unit}{limit_text}"


def _fmt(value: Decimal) -> str:
    """Decimal as plain text (no exponent)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _money(value: Decimal) -> str:
    """Money in a refusal as everywhere else: ``1,600.10``."""
    return money_text(value, sign=False)


def _price(tick_size: Decimal, ticks: int) -> str:
    """A price with its tick size's places: ``800.00`` at 0.05."""
    return format(tick_size * ticks, "f")


def refusals(request: OrderRequest, limits: RiskLimits, ctx: RiskContext) -> list[Refusal]:
    """Every rule the entry ``request`` breaks, in the documented order."""
    out: list[Refusal] = []
    key = request.key
    if ctx.halted:
        out.append(Refusal(Rule.HALTED, "halted: the kill switch is on; entries are blocked"))
    if limits.max_tick_age_ns is not None:
        seen = ctx.last_tick_ns.get(key)
        limit_s = _fmt(Decimal(limits.max_tick_age_ns) / _NS_PER_S)
        if seen is None:
            out.append(Refusal(Rule.STALE_DATA, f"stale_data: no tick for {key} yet"))
        elif ctx.now_ns - seen > limits.max_tick_age_ns:
            age = _fmt((Decimal(ctx.now_ns - seen) / _NS_PER_S).quantize(Decimal("0.001")))
            out.append(
                Refusal(
                    Rule.STALE_DATA,
                    f"stale_data: last tick for {key} is {age} s old, over the limit {limit_s} s",
                )
            )
    if limits.has_daily_loss_limit and request.tag != "reduce":  # it lowers the loss at risk
        breach = daily_loss_breach(limits, ctx.day_pnls or {"": ctx.day_pnl})
        if breach is not None:
            out.append(Refusal(Rule.DAILY_LOSS, f"daily_loss_limit: {breach.words}"))
        elif ctx.currency == "" and limits.daily_loss_limit_in("") is None:
            # a table of limits cannot name a currency nobody knows: its loss had no limit
            names = ", ".join(name for name, _ in limits.daily_loss_limits)
            out.append(
                Refusal(
                    Rule.DAILY_LOSS,
                    f"daily_loss_limit: the currency of {key} is not known, and [risk] "
                    f"max_daily_loss limits only {names}: no entries in it (a plain number "
                    "limits every currency)",
                )
            )
    qty = request.qty
    if limits.max_order_qty is not None and qty > limits.max_order_qty:
        out.append(
            Refusal(
                Rule.MAX_ORDER_QTY,
                f"max_order_qty: quantity {_fmt(qty)} exceeds the limit "
                f"{_fmt(limits.max_order_qty)}",
            )
        )
    if limits.max_position_qty is not None:
        held = Decimal(ctx.positions.get(key, Decimal(0)))
        working = Decimal(ctx.working_qty.get(key, Decimal(0)))
        exposure = held + working
        after = exposure + request.side.sign * qty
        if abs(after) > limits.max_position_qty and abs(after) > abs(exposure):
            pending = f", working {_fmt(working)}" if working else ""
            out.append(
                Refusal(
                    Rule.MAX_POSITION,
                    f"max_position_qty: position in {key} would be {_fmt(after)} "
                    f"(now {_fmt(held)}{pending}), over the limit {_fmt(limits.max_position_qty)}",
                )
            )
    last = ctx.last_ticks.get(key)
    if limits.max_notional is not None:
        price_ticks = request.price_ticks or request.trigger_ticks or last
        if price_ticks is None:
            out.append(
                Refusal(
                    Rule.MAX_NOTIONAL,
                    f"max_notional: no price for {key} to value the order against the limit "
                    f"{_money(limits.max_notional)}",
                )
            )
        else:
            notional = ctx.tick_size * price_ticks * qty
            if notional > limits.max_notional:
                out.append(
                    Refusal(
                        Rule.MAX_NOTIONAL,
                        f"max_notional: order value {_money(notional)} "
                        f"({_fmt(qty)} x {_price(ctx.tick_size, price_ticks)}) exceeds the "
                        f"limit {_money(limits.max_notional)}",
                    )
                )
    if limits.max_position_notional is not None:
        price_ticks = request.price_ticks or request.trigger_ticks or last
        held = Decimal(ctx.positions.get(key, Decimal(0)))
        exposure = held + Decimal(ctx.working_qty.get(key, Decimal(0)))
        after = exposure + request.side.sign * qty
        if abs(after) > abs(exposure):
            limit = _money(limits.max_position_notional)
            if price_ticks is None:
                out.append(
                    Refusal(
                        Rule.MAX_POSITION_NOTIONAL,
                        f"max_position_notional: no price for {key} to value the position "
                        f"against the limit {limit}",
                    )
                )
            else:
                value = abs(after) * ctx.tick_size * price_ticks
                if value > limits.max_position_notional:
                    out.append(
                        Refusal(
                            Rule.MAX_POSITION_NOTIONAL,
                            f"max_position_notional: position in {key} would be worth "
                            f"{_money(value)} ({_fmt(after)} x {_price(ctx.tick_size, price_ticks)}"
                            f"), over the limit {limit}",
                        )
                    )
    if limits.max_open_orders is not None and ctx.open_orders + 1 > limits.max_open_orders:
        out.append(
            Refusal(
                Rule.MAX_OPEN_ORDERS,
                f"max_open_orders: {ctx.open_orders} orders are working; the limit is "
                f"{limits.max_open_orders}",
            )
        )
    if limits.price_band_pct is not None:
        out.extend(_band(request, limits.price_band_pct, last, ctx.tick_size))
    if limits.max_orders_per_window is not None:
        start = ctx.now_ns - limits.order_window_ns
        count = sum(1 for ts in ctx.recent_orders_ns if ts > start)
        if count >= limits.max_orders_per_window:
            window = _fmt(Decimal(limits.order_window_ns) / _NS_PER_S)
            out.append(
                Refusal(
                    Rule.ORDER_RATE,
                    f"order_rate: {count} orders in the last {window} s; the limit is "
                    f"{limits.max_orders_per_window}",
                )
            )
    return out


def _band(
    request: OrderRequest, pct: Decimal, last: int | None, tick_size: Decimal
) -> list[Refusal]:
    prices = [
        (name, ticks)
        for name, ticks in (("limit", request.price_ticks), ("trigger", request.trigger_ticks))
        if ticks is not None
    ]
    if not prices:
        return []
    if last is None:
        return [
            Refusal(
                Rule.PRICE_BAND,
                f"price_band: no last price for {request.key} to check the "
                f"{prices[0][0]} price against",
            )
        ]
    out = []
    for name, ticks in prices:
        # |price - last| / last * 100 > pct, in exact integer-tick arithmetic.
        if abs(ticks - last) * 100 > pct * last:
            off = (Decimal(abs(ticks - last)) * 100 / last).quantize(Decimal("0.01"))
            out.append(
                Refusal(
                    Rule.PRICE_BAND,
                    f"price_band: {name} price {_price(tick_size, ticks)} is {_fmt(off)}% "
                    f"from the last price {_price(tick_size, last)}, outside the band "
                    f"{_fmt(pct)}%",
                )
            )
    return out


def check_entry(request: OrderRequest, limits: RiskLimits, ctx: RiskContext) -> Refusal | None:
    """The first rule that refuses the entry ``request``, or ``None`` if it may go."""
    found = refusals(request, limits, ctx)
    return found[0] if found else None
