"""Themes: ``themes/*.toml`` validated by pydantic and turned into Textual Themes.

Files ship inside the package (``cockpit/themes`` is the top-level ``themes/`` directory, see
pyproject.toml) and more may be dropped into ``<user config dir>/themes``. App variables are
named by meaning (``bid``, ``ask``, ``up``, ``down``, ``stop-line``, ``target-line``,
``entry-line`` ...); a bad file is reported, never fatal.
"""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from textual.color import Color, ColorParseError
from textual.theme import Theme

DEFAULT_THEME: Final = "cockpit-dark"

VARIABLES: Final = (
    "bid",
    "ask",
    "up",
    "down",
    "flash-up",
    "flash-down",
    "stop-line",
    "target-line",
    "entry-line",
    "ltp-line",
    "mine",
    "cursor",
    "armed",
    "disarmed",
    "muted",
)
"""The app variables every theme may set (TCSS uses ``$bid`` etc.)."""


def _check_colour(value: str) -> str:
    try:
        Color.parse(value)
    except ColorParseError as exc:
        raise ValueError(f"not a colour: {value!r}") from exc
    return value


class ThemeFile(BaseModel):
    """One ``themes/*.toml`` file."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    """Theme name as shown in the palette and set in config (``ui.theme``)."""
    dark: bool = True
    primary: str
    secondary: str | None = None
    accent: str | None = None
    warning: str | None = None
    error: str | None = None
    success: str | None = None
    foreground: str | None = None
    background: str | None = None
    surface: str | None = None
    panel: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)
    """App variables by meaning (see ``VARIABLES``)."""

    @field_validator(
        "primary",
        "secondary",
        "accent",
        "warning",
        "error",
        "success",
        "foreground",
        "background",
        "surface",
        "panel",
    )
    @classmethod
    def _colour(cls, value: str | None) -> str | None:
        return None if value is None else _check_colour(value)

    @field_validator("variables")
    @classmethod
    def _vars(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(VARIABLES))
        if unknown:
            raise ValueError(f"unknown variables {unknown}; known: {', '.join(VARIABLES)}")
        for v in value.values():
            _check_colour(v)
        return value

    def to_textual_theme(self) -> Theme:
        """The Textual Theme."""
        return Theme(
            name=self.name,
            primary=self.primary,
            secondary=self.secondary,
            accent=self.accent,
            warning=self.warning,
            error=self.error,
            success=self.success,
            foreground=self.foreground,
            background=self.background,
            surface=self.surface,
            panel=self.panel,
            dark=self.dark,
            variables=dict(self.variables),
        )


def builtin_theme_dir() -> Path:
    """The themes shipped with the package."""
    return Path(str(resources.files("cockpit") / "themes"))


def load_theme_file(path: Path) -> Theme:
    """Parse and validate one file.

    Raises:
        ValueError: unreadable TOML or invalid content (message names the file).
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return ThemeFile.model_validate(data).to_textual_theme()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path.name}: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"{path.name}: {problems}") from None


def load_themes(*dirs: Path) -> tuple[list[Theme], list[str]]:
    """Every valid theme in ``dirs`` (later directories override earlier names) and the errors."""
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    for d in dirs:
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ValueError as exc:
                errors.append(str(exc))
                continue
            themes[theme.name] = theme
    return list(themes.values()), errors


# ---------------------------------------------------------------------- remembered choice


def _state_file() -> Path:
    from cockpit import paths

    return paths.state_dir() / "ui.json"


def remembered_theme() -> str | None:
    """The theme last picked in the palette, if any."""
    try:
        data = json.loads(_state_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = data.get("theme") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def remember_theme(name: str) -> None:
    """Persist the theme choice (best effort)."""
    path = _state_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        data["theme"] = name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass
