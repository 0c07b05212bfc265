"""The app's options from the config, and how it reaches the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from cockpit.ui.link import Link
from cockpit.ui.themes import DEFAULT_THEME


@dataclass
class UiOptions:
    """What the app takes from the config (``cockpit.config.Settings``)."""

    fps: int = 30
    theme: str = DEFAULT_THEME
    keymap: dict[str, str] = field(default_factory=dict)
    default_qty: Decimal = Decimal(1)
    qty_step: Decimal = Decimal(1)
    confirm_qty_over: Decimal | None = None
    """Ask before an order of more units than this (``[trading] confirm_qty_over``)."""
    confirm_qty_multiple: Decimal | None = Decimal(10)
    """Ask before an order of more than this many times the default quantity."""
    confirm_value_over: Decimal | None = Decimal(500_000)
    """Ask before an order worth more than this (price × quantity)."""
    stale_after_s: Decimal = Decimal(5)
    """A symbol whose last tick is older than this shows STALE until the engine tells the
    limit its stale-data gate enforces (then that one)."""
    risk_budget: Decimal | None = None
    """Money risked per trade when sizing from risk (``[trading] risk_budget``)."""
    qty_presets: dict[str, list[Decimal]] = field(default_factory=dict)
    """Four quantities per symbol, ``"*"`` for the rest (``[trading.qty_presets]``)."""
    stop_ticks: int | None = 20
    target_ticks: int | None = 40
    trail_ticks: Decimal | None = None
    watchlist: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    """Names of the config's exit-plan templates (``[templates.NAME]``), cycled by ``T``."""
    template_stops: dict[str, int] = field(default_factory=dict)
    """Each template's stop distance in ticks (those that set one): sizing from risk uses it."""
    instrument_templates: dict[str, str] = field(default_factory=dict)
    """The template each instrument's entries use unless one is picked
    (``[instruments."NSE:SBIN"] template``)."""
    journal_path: Path | None = None
    """The profile's journal (the stats screen reads it)."""
    user_theme_dir: Path | None = None
    remember: bool = True
    """Remember the theme picked in the palette (off in tests)."""
    animations: str = "basic"
    toast_rate: int = 3
    """Engine notices shown as toasts in any second at most (``[ui] toasts_per_s``; 0: all)."""
    freeze_after_start: bool = False
    """Once the first snapshot is on screen, move what startup made out of the collector's
    sight (the ``cockpit`` command; off in tests, where apps come and go in one process and
    what one freezes would outlive it)."""

    @classmethod
    def from_settings(cls, settings: Any) -> UiOptions:
        """Build from ``cockpit.config.Settings``."""
        from cockpit import paths

        ui, tr, ex, risk = settings.ui, settings.trading, settings.exits, settings.risk
        values = [v for v in (tr.confirm_value_over, ui.confirm_value_over) if v is not None]
        return cls(
            fps=ui.fps,
            theme=ui.theme,
            keymap=dict(ui.keymap),
            default_qty=tr.default_qty,
            qty_step=tr.qty_step,
            confirm_qty_over=tr.confirm_qty_over,
            confirm_qty_multiple=ui.confirm_qty_multiple,
            confirm_value_over=min(values) if values else None,
            stale_after_s=risk.max_tick_age_s or Decimal(5),
            risk_budget=tr.risk_budget,
            qty_presets={k: list(v) for k, v in tr.qty_presets.items()},
            stop_ticks=ex.stop_ticks,
            target_ticks=ex.target_ticks,
            trail_ticks=ex.trail_distance if ex.trail_kind == "ticks" else None,
            watchlist=list(tr.watchlist),
            templates=sorted(getattr(settings, "templates", {})),
            template_stops={
                name: tpl.stop_ticks
                for name, tpl in getattr(settings, "templates", {}).items()
                if tpl.stop_ticks
            },
            instrument_templates={
                key: inst.template
                for key, inst in getattr(settings, "instruments", {}).items()
                if inst.template
            },
            journal_path=settings.journal_path,
            user_theme_dir=paths.config_dir() / "themes",
            animations=ui.animations,
            toast_rate=ui.toasts_per_s,
        )


class Connector(Protocol):
    """Makes the link to the engine (attaching to a running one or starting it)."""

    started_engine: bool
    """Whether this TUI started the engine (quitting with nothing open then stops it)."""

    def connect(self) -> Link:
        """Attach (starting the engine if none runs). Blocking; runs in a thread.

        Raises:
            Exception: with a message for the user when it cannot.
        """

    def restart(self) -> Link:
        """Start the engine again after it died, and attach."""


class StaticConnector:
    """A connector that hands out one prepared link (tests and offline demos)."""

    def __init__(self, link: Link, *, started_engine: bool = False) -> None:
        self.link = link
        self.started_engine = started_engine

    def connect(self) -> Link:
        """The prepared link."""
        return self.link

    def restart(self) -> Link:
        """The same link again."""
        return self.link
