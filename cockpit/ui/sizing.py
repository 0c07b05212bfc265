"""The order quantity from the risk, and the quantity presets.

Sizing from risk (``R``): quantity = risk budget ÷ (stop distance × tick value), rounded
down to the lot size, in exact Decimal arithmetic. The stop distance is the plan's the next
entry gets: the active template's (``T``), else the instrument's template's, if it sets one;
else ``[exits] stop_ticks``. The tick value of one unit is the tick size. The result
becomes the symbol's quantity, shown on the status bar before anything is sent; every
confirmation and risk gate still applies to the order. ``Z`` sets the budget (a count
before it: ``2000Z``; else it asks).

Presets (``f5``-``f8``): four quantities per symbol from ``[trading.qty_presets]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, cast

from cockpit.ui.fmt import fmt_money, fmt_qty
from cockpit.ui.numbers import NumberError, parse_positive

if TYPE_CHECKING:
    from cockpit.ui.app import CockpitApp

DEFAULT_PRESETS = [Decimal(1), Decimal(2), Decimal(5), Decimal(10)]


@dataclass(frozen=True)
class RiskSize:
    """A quantity sized from the risk, with the numbers it came from."""

    count: Decimal
    """Lots where the instrument has lots, else units (as the quantity keys count)."""
    units: Decimal
    risk_per_unit: Decimal
    """Money lost per unit at the stop."""

    @property
    def risk(self) -> Decimal:
        """Money lost at the stop with this quantity (at most the budget)."""
        return self.units * self.risk_per_unit


def risk_size(
    budget: Decimal, stop_ticks: int, tick_size: Decimal, lot_size: Decimal
) -> RiskSize | None:
    """``budget`` ÷ (``stop_ticks`` × tick value), rounded down to the lot; None under a lot.

    >>> risk_size(Decimal(1000), 6, Decimal("0.05"), Decimal(1)).units
    Decimal('3333')
    """
    if budget <= 0 or stop_ticks <= 0 or tick_size <= 0 or lot_size <= 0:
        return None
    per_unit = stop_ticks * tick_size
    lots = budget // (per_unit * lot_size)
    if lots < 1:
        return None
    units = lots * lot_size
    return RiskSize(lots if lot_size > 1 else units, units, per_unit)


class SizingMixin:
    """The sizing and preset keys (mixed into :class:`CockpitApp`)."""

    @property
    def _app(self) -> CockpitApp:
        """This object as the app it is mixed into (typed)."""
        return cast("CockpitApp", self)

    def set_qty(self, key: str, qty: Decimal) -> None:
        """Make ``qty`` the order quantity of ``key`` and show it."""
        app = self._app
        app.qtys[key] = qty
        status = getattr(app.screen, "status", None)
        if status is not None and key == app.selected:
            status.qty = fmt_qty(qty)
            status.rebuild()

    def stop_for(self, key: str) -> tuple[int | None, str]:
        """The stop distance (ticks) an entry in ``key`` risks and where it comes from: with a
        position open, from the last price to its plan's stop (an add joins that plan); else
        the next entry's plan: the active template, else the instrument's, else ``[exits]
        stop_ticks``."""
        store = self._app.store
        plan = store.plans.get(key)
        pos = store.positions.get(key)
        quote = store.quotes.get(key)
        if (
            plan is not None
            and plan.stop is not None
            and pos is not None
            and pos.qty != 0
            and quote is not None
            and quote.ltp is not None
            and quote.ltp != plan.stop
        ):
            return abs(quote.ltp - plan.stop), "the open plan's stop"
        options = self._app.options
        name = self._app.active_template or options.instrument_templates.get(key)
        if name is not None and name in options.template_stops:
            return options.template_stops[name], f"template {name}"
        return options.stop_ticks, "[exits]"

    def action_size_from_risk(self) -> None:
        """The selected symbol's quantity from the risk budget and the stop distance."""
        app = self._app
        key = app.selected
        inst = app.store.instruments.get(key or "")
        if key is None or inst is None:
            return
        budget = app.risk_budget
        stop, source = app.stop_for(key)
        if budget is None or not stop:
            what = "no risk budget: set one with Z" if budget is None else "no stop distance"
            app.log_message("warning", "Size from risk", what)
            return
        size = risk_size(budget, stop, inst.tick_size, inst.lot_size)
        if size is None:
            app.log_message(
                "warning",
                "Size from risk",
                f"{key}: {fmt_money(budget, sign=False)} risks less than one lot "
                f"at a {stop}-tick stop ({source})",
            )
            return
        app.set_qty(key, size.count)
        lots = f" = {fmt_qty(size.count)} lot(s)" if inst.lot_size > 1 else ""
        app.log_message(
            "information",
            "Sized from risk",
            f"{key}: {fmt_money(budget, sign=False)} ÷ ({stop} ticks ({source}) × "
            f"{inst.tick_size}) → "
            f"qty {fmt_qty(size.units)}{lots}, risking {fmt_money(size.risk, sign=False)}",
        )

    def action_set_risk_budget(self, count: int | None = None) -> None:
        """Set the risk budget: the count typed before the key, else asked for."""
        app = self._app
        if count is not None:
            app.risk_budget_set(Decimal(count))
            return
        from cockpit.ui.screens.modals import AskScreen

        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                value = parse_positive(text.replace(",", ""))
            except NumberError as exc:
                app.log_message("error", "Risk budget", f"not an amount: {exc}")
                return
            app.risk_budget_set(value)

        current = fmt_money(app.risk_budget, sign=False) if app.risk_budget else ""
        app.push_screen(AskScreen("Risk budget per trade", current.replace(",", "")), done)

    def risk_budget_set(self, value: Decimal) -> None:
        """Use ``value`` as the risk budget (this session)."""
        app = self._app
        app.risk_budget = value
        status = getattr(app.screen, "status", None)
        if status is not None:
            status.rebuild()
        app.log_message("information", "Risk budget", f"{fmt_money(value, sign=False)} per trade")

    def presets_of(self, key: str) -> list[Decimal]:
        """The four preset quantities of ``key``."""
        presets = self._app.options.qty_presets
        return presets.get(key) or presets.get("*") or DEFAULT_PRESETS

    def action_qty_preset(self, index: int) -> None:
        """The selected symbol's quantity from its preset ``index`` (1 to 4)."""
        app = self._app
        key = app.selected
        if key is None:
            return
        presets = app.presets_of(key)
        if not 1 <= index <= len(presets):
            app.log_message("warning", "Preset", f"{key}: no preset {index}")
            return
        app.set_qty(key, presets[index - 1])
