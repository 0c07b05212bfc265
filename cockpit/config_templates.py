"""Settings for exit-plan templates (``[templates.NAME]``) and per-instrument defaults
(``[instruments."EXCH:SYMBOL"]``); part of :mod:`cockpit.config`."""

from __future__ import annotations

from decimal import Decimal
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_SECTION = ConfigDict(extra="forbid", use_attribute_docstrings=True)
MAX_DISTANCE_TICKS: Final = 10_000_000
"""No stop, target or offset is further than this many ticks (BTC at 100,000 on a 0.01 tick is
10,000,000 ticks): a larger value is a typo, and a stop beyond a zero price is no stop."""


class TargetSettings(BaseModel):
    """One scale-out target of a template: ``ticks`` from the fill, exiting ``qty`` or ``pct``
    percent of the position (neither: the rest of it, the final target)."""

    model_config = _SECTION

    ticks: int = Field(ge=1, le=MAX_DISTANCE_TICKS)
    """Distance from the fill in ticks."""
    qty: Decimal | None = Field(default=None, gt=0)
    """Quantity this target exits."""
    pct: Decimal | None = Field(default=None, gt=0, le=100)
    """Share of the position this target exits, percent (rounded down to whole lots)."""


class TemplateSettings(BaseModel):
    """A named exit-plan template (``[templates.scalp]``); unset fields take ``[exits]``'s."""

    model_config = _SECTION

    stop_ticks: int | None = Field(default=None, ge=1, le=MAX_DISTANCE_TICKS)
    """Stop distance from the fill in ticks."""
    target_ticks: int | None = Field(default=None, ge=1, le=MAX_DISTANCE_TICKS)
    """One target for the whole position, in ticks (``targets`` replace it)."""
    targets: list[TargetSettings] = Field(default_factory=list, max_length=3)
    """Up to three scale-out targets, nearest first, e.g.
    ``[{ticks = 10, qty = 5}, {ticks = 20, pct = 50}, {ticks = 40}]``."""
    trail_kind: Literal["ticks", "points", "percent"] = "ticks"
    """Unit of :attr:`trail_distance`."""
    trail_distance: Decimal | None = Field(default=None, gt=0, le=MAX_DISTANCE_TICKS)
    """Trailing distance (None: no trail)."""
    breakeven_after: int | None = Field(default=None, ge=1, le=MAX_DISTANCE_TICKS)
    """Move the stop to breakeven once price is this many ticks in favour."""
    breakeven_after_tp1: bool = False
    """Move the stop to breakeven once TP1's exit fills."""
    time_stop_s: float | None = Field(default=None, gt=0)
    """Close the position after this many seconds."""

    @model_validator(mode="after")
    def _targets_in_order(self) -> TemplateSettings:
        from cockpit.domain.exits import PlanError
        from cockpit.domain.scaleout import TargetSpec, resolve_targets

        try:
            specs = [TargetSpec(t.ticks, t.qty, t.pct) for t in self.targets]
            resolve_targets(specs, 1, 0, Decimal(1), Decimal(1))
        except PlanError as exc:
            raise ValueError(str(exc)) from None
        return self


class InstrumentSettings(BaseModel):
    """Per-instrument defaults (``[instruments."NSE:SBIN"]``)."""

    model_config = _SECTION

    default_qty: Decimal | None = Field(default=None, gt=0)
    """Quantity of a new order for this instrument (None: ``[trading] default_qty``)."""
    template: str | None = None
    """The ``[templates.NAME]`` an entry in this instrument uses unless it names another."""


def check_template_names(
    templates: dict[str, TemplateSettings], instruments: dict[str, InstrumentSettings]
) -> None:
    """Every ``[instruments."KEY"] template`` names a ``[templates.NAME]`` (ValueError)."""
    for key, inst in instruments.items():
        if inst.template is not None and inst.template not in templates:
            known = ", ".join(sorted(templates)) or "none defined"
            raise ValueError(
                f'instruments."{key}".template: no [templates.{inst.template}] ({known})'
            )
