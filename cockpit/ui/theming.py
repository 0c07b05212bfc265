"""The app's themes: the built-in and the user's theme files loaded, the one picked (or
remembered) applied, and the app's colour variables by meaning."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from cockpit.ui.themes import (
    DEFAULT_THEME,
    VARIABLES,
    builtin_theme_dir,
    load_themes,
    remember_theme,
    remembered_theme,
)

if TYPE_CHECKING:
    from cockpit.ui.app import CockpitApp


class ThemeMixin:
    """Theme loading and the semantic colour variables (mixed into :class:`CockpitApp`)."""

    @property
    def _themed(self) -> CockpitApp:
        """This object as the app it is mixed into (typed)."""
        return cast("CockpitApp", self)

    def _load_themes(self) -> None:
        app = self._themed
        dirs = [builtin_theme_dir()]
        if app.options.user_theme_dir is not None:
            dirs.append(app.options.user_theme_dir)
        themes, app._theme_errors = load_themes(*dirs)
        for theme in themes:
            app.register_theme(theme)
        wanted = (remembered_theme() if app.options.remember else None) or app.options.theme
        if wanted not in app.available_themes:
            app._theme_errors.append(f"unknown theme {wanted!r}; using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME
        if wanted in app.available_themes:
            app.theme = wanted

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """App variables by meaning, defaulting to the theme's semantic colours."""
        t = self._themed.current_theme
        up = t.success or t.primary
        down = t.error or t.primary
        return {
            "bid": t.primary,
            "ask": down,
            "up": up,
            "down": down,
            "flash-up": up,
            "flash-down": down,
            "stop-line": down,
            "target-line": up,
            "entry-line": t.panel or t.primary,
            "ltp-line": t.accent or t.primary,
            "mine": t.accent or t.primary,
            "cursor": t.secondary or t.primary,
            "armed": down,
            "disarmed": t.panel or t.primary,
            "muted": t.foreground or t.primary,
        } | {k: v for k, v in t.variables.items() if k in VARIABLES}

    def watch_theme(self, theme: str) -> None:
        """Remember the theme picked (palette), if allowed."""
        app = self._themed
        if app.options.remember and app.is_running:
            remember_theme(theme)
