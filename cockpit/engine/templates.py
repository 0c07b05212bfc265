"""Exit-plan templates: the plan an entry asks for, merged with the config's template."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from cockpit.domain.exits import PlanError
from cockpit.link import protocol

if TYPE_CHECKING:
    from cockpit.config import Settings


def template_name(config: Settings, key: str, asked: str | None) -> str | None:
    """The template an entry in ``key`` uses: the one it names, else the instrument's."""
    if asked:
        return asked
    inst = config.instruments.get(key)
    return None if inst is None else inst.template


def plan_spec_for(
    config: Settings, key: str, spec: protocol.PlanSpec | None, template: str | None
) -> protocol.PlanSpec | None:
    """``spec`` completed from the template named ``template`` (or the instrument's): a
    field set in ``spec`` wins, a field the template leaves unset takes ``[exits]``'s.

    Raises:
        PlanError: no such template in the config.
    """
    name = template_name(config, key, template)
    if name is None or (spec is not None and spec.none):
        return spec
    templates = config.templates
    tpl = templates.get(name)
    if tpl is None:
        known = ", ".join(sorted(templates)) or "none in the config"
        raise PlanError(f"no plan template {name!r} ({known})")
    base = protocol.PlanSpec(
        stop_ticks=tpl.stop_ticks,
        target_ticks=tpl.target_ticks,
        trail=None
        if tpl.trail_distance is None
        else protocol.TrailView(tpl.trail_kind, tpl.trail_distance),
        breakeven_after=tpl.breakeven_after,
        time_stop_s=tpl.time_stop_s,
        targets=[protocol.TargetSpec(t.ticks, t.qty, t.pct) for t in tpl.targets] or None,
        breakeven_after_tp1=tpl.breakeven_after_tp1 or None,
    )
    if spec is None:
        return base
    own = {
        name: value
        for name in spec.__struct_fields__
        if (value := getattr(spec, name)) is not None and name != "none"
    }
    return msgspec.structs.replace(base, **own)
