"""Theme files: the shipped ones load; bad ones are reported, not fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.ui.themes import VARIABLES, builtin_theme_dir, load_theme_file, load_themes


def test_shipped_themes_load_with_every_variable() -> None:
    themes, errors = load_themes(builtin_theme_dir())
    assert errors == []
    names = {t.name for t in themes}
    assert {"cockpit-dark", "cockpit-light", "cockpit-colorblind", "cockpit-contrast"} <= names
    for t in themes:
        assert set(t.variables) == set(VARIABLES), t.name


def test_colorblind_theme_does_not_pair_red_with_green() -> None:
    from textual.color import Color

    theme = load_theme_file(builtin_theme_dir() / "cockpit-colorblind.toml")
    for a, b in (("up", "down"), ("bid", "ask")):
        ca, cb = Color.parse(theme.variables[a]), Color.parse(theme.variables[b])
        hues = sorted(round(c.hsl.h * 360) for c in (ca, cb))
        # Red is near 0/360 and green near 120: the pair must not be red-vs-green.
        assert not (hues[0] < 20 and 90 < hues[1] < 150), (a, b, hues)


def test_bad_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text('name = "x"\nprimary = "not-a-colour"\n')
    (tmp_path / "unknown.toml").write_text(
        'name = "y"\nprimary = "#ffffff"\n[variables]\nbogus = "#000"\n'
    )
    (tmp_path / "syntax.toml").write_text("name = \n")
    (tmp_path / "ok.toml").write_text('name = "fine"\nprimary = "#123456"\n')
    themes, errors = load_themes(tmp_path)
    assert [t.name for t in themes] == ["fine"]
    assert len(errors) == 3
    assert any("broken.toml" in e and "primary" in e for e in errors)
    assert any("bogus" in e for e in errors)


def test_missing_file_raises_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nope.toml"):
        load_theme_file(tmp_path / "nope.toml")
