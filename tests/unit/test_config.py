"""Settings: file + environment + flags precedence, validation, secrets never shown."""

from __future__ import annotations

import argparse
import logging
import os
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.cli import build_parser
from cockpit.config import ConfigError, Settings, load_settings

ENV_VARS = [
    "OPENALGO_API_KEY",
    "OPENALGO_HOST",
    "OPENALGO_WS_URL",
    "KITE_API_KEY",
    "KITE_ACCESS_TOKEN",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("COCKPIT_") or name in ENV_VARS:
            monkeypatch.delenv(name)
    for name, sub in (
        ("XDG_CONFIG_HOME", "cfg"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_RUNTIME_DIR", "run"),
        ("XDG_STATE_HOME", "state"),
    ):
        monkeypatch.setenv(name, str(tmp_path / sub))


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_defaults_without_any_file(tmp_path: Path) -> None:
    s = load_settings()
    assert s.profile == "default"
    assert s.venue.broker == "paper"
    assert s.exits.stop_ticks == 20
    assert s.source is None
    assert s.journal_path == tmp_path / "data" / "cockpit" / "default.sqlite3"
    assert s.socket_path == tmp_path / "run" / "cockpit" / "default.sock"


def test_default_file_location_is_read(tmp_path: Path) -> None:
    write(tmp_path / "cfg" / "cockpit" / "config.toml", "[exits]\nstop_ticks = 7\n")
    s = load_settings()
    assert s.exits.stop_ticks == 7
    assert s.source == tmp_path / "cfg" / "cockpit" / "config.toml"


def test_precedence_flags_over_env_over_venue_env_over_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write(
        tmp_path / "c.toml",
        '[venue]\nbroker = "openalgo"\nhost = "http://file:1"\nws_url = "ws://file:2"\n'
        '[exits]\nstop_ticks = 5\ntarget_ticks = 9\n[ui.keymap]\nbuy = "f1"\n',
    )
    monkeypatch.setenv("OPENALGO_HOST", "http://venue-env:1")
    monkeypatch.setenv("OPENALGO_WS_URL", "ws://venue-env:2")
    monkeypatch.setenv("COCKPIT_VENUE__WS_URL", "ws://cockpit-env:2")
    monkeypatch.setenv("COCKPIT_EXITS__STOP_TICKS", "6")
    s = load_settings(cfg, overrides={"exits": {"target_ticks": 11}})
    assert s.venue.broker == "openalgo"  # file
    assert s.venue.host == "http://venue-env:1"  # OPENALGO_HOST beats the file
    assert s.venue.ws_url == "ws://cockpit-env:2"  # COCKPIT_ beats OPENALGO_
    assert s.exits.stop_ticks == 6  # env beats file
    assert s.exits.target_ticks == 11  # flag beats file
    assert s.ui.keymap == {"buy": "f1"}


def test_cli_flags_map_onto_settings(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[venue]\nhost = "http://file:1"\n')
    args = build_parser().parse_args(
        [
            "engine",
            "run",
            "--profile",
            "p2",
            "--config",
            str(cfg),
            "--broker",
            "openalgo",
            "--host",
            "http://flag:1",
            "--journal",
            str(tmp_path / "j.sqlite3"),
            "--feed",
            "binance",
        ]
    )
    s = load_settings(args=args)
    assert s.profile == "p2"
    assert s.venue.broker == "openalgo"
    assert s.venue.host == "http://flag:1"
    assert s.venue.feed == "binance"
    assert s.journal_path == tmp_path / "j.sqlite3"
    assert s.socket_path.name == "p2.sock"


def test_secret_never_in_repr_str_or_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENALGO_API_KEY", "sekrit-123")
    monkeypatch.setenv("KITE_ACCESS_TOKEN", "tok-456")
    s = load_settings()
    assert s.venue.api_key is not None
    assert s.venue.api_key.get_secret_value() == "sekrit-123"
    for text in (repr(s), str(s), repr(s.venue), str(s.redacted()), s.venue_label()):
        assert "sekrit-123" not in text
        assert "tok-456" not in text
    assert s.redacted()["venue"]["api_key"] == "**********"


def test_world_readable_file_with_key_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = write(tmp_path / "c.toml", '[venue]\napi_key = "filekey-789"\n', mode=0o644)
    with caplog.at_level(logging.WARNING):
        s = load_settings(cfg)
    assert len(s.warnings) == 1
    assert "chmod 600" in s.warnings[0]
    assert "filekey-789" not in caplog.text
    assert "readable by other users" in caplog.text
    cfg.chmod(0o600)
    assert load_settings(cfg).warnings == []


def test_world_readable_file_without_key_is_fine(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "[ui]\nfps = 20\n", mode=0o644)
    s = load_settings(cfg)
    assert s.warnings == []
    assert s.ui.fps == 20


def test_invalid_values_name_the_field_not_the_secret(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[venue]\napi_key = 12345678\nbroker = "nyse"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    msg = str(info.value)
    assert "venue.broker" in msg
    assert "venue.api_key" in msg
    assert "12345678" not in msg


def test_unknown_key_and_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="stop_tiks"):
        load_settings(write(tmp_path / "a.toml", "[exits]\nstop_tiks = 3\n"))
    with pytest.raises(ConfigError, match="b.toml"):
        load_settings(write(tmp_path / "b.toml", "[exits\n"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="greater than or equal to 1"):
        load_settings(overrides={"exits": {"stop_ticks": 0}})
    with pytest.raises(ConfigError, match="profile"):
        load_settings(overrides={"profile": "../etc"})


def test_all_sections_round_trip_from_toml(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "c.toml",
        'profile = "swing"\n'
        '[exits]\ntrail_kind = "percent"\ntrail_distance = "0.5"\nbreakeven_after = 8\n'
        'time_stop_s = 300\nexit_order_type = "limit"\nexit_offset_ticks = 3\n'
        "protective_stop = true\nprotective_throttle_s = 2\n"
        '[risk]\nmax_order_qty = 100\nmax_daily_loss = "5000.50"\nmax_open_orders = 4\n'
        "[trading]\ndefault_qty = 25\nqty_step = 25\narmed_at_start = true\n"
        'confirm_qty_over = 500\nwatchlist = ["NSE:INFY", "NSE:TCS"]\n'
        '[ui]\nfps = 15\ntheme = "amber"\nanimations = "none"\n'
        "[engine]\nviewer_hz = 20\nviewer_backlog = 100\n"
        '[sim]\nrate = 50\nseed = 7\ninstruments = ["NSE:ABC:100.05:0.05"]\n',
    )
    s = load_settings(cfg)
    assert s.profile == "swing"
    assert s.exits.trail_distance == Decimal("0.5")
    assert s.exits.exit_order_type == "limit"
    assert s.risk.max_daily_loss == Decimal("5000.50")
    assert s.trading.watchlist == ["NSE:INFY", "NSE:TCS"]
    assert s.trading.armed_at_start is True
    assert s.ui.animations == "none"
    assert s.engine.viewer_hz == 20
    assert s.sim.instruments == ["NSE:ABC:100.05:0.05"]
    assert s.journal_path.name == "swing.sqlite3"


def test_settings_class_is_constructible_directly() -> None:
    assert Settings().venue.broker == "paper"


def test_overrides_from_args_ignores_unset_flags() -> None:
    from cockpit.config import overrides_from_args

    assert overrides_from_args(argparse.Namespace(profile=None, host=None)) == {}


def test_risk_settings_map_onto_domain_limits() -> None:
    s = load_settings(
        overrides={
            "risk": {
                "max_order_qty": 50,
                "max_order_value": "100000",
                "max_orders_per_minute": 30,
                "max_daily_loss": 2500,
            }
        }
    )
    limits = s.risk.to_domain()
    assert limits.max_order_qty == Decimal(50)
    assert limits.max_notional == Decimal(100000)
    assert limits.max_orders_per_window == 30
    assert limits.order_window_ns == 60_000_000_000
    assert limits.daily_loss_limit == Decimal(2500)


def test_jump_guard_is_on_by_default_with_per_instrument_overrides(tmp_path: Path) -> None:
    from cockpit.domain.guard import JumpLimit

    default = load_settings().exits.jump_guard
    assert default.enabled
    assert default.limit_for("NSE:SBIN") == JumpLimit(Decimal(5), 20, 50)
    cfg = write(
        tmp_path / "c.toml",
        "[exits.jump_guard]\nmax_jump_pct = 3\nwindow = 20\n"
        '[exits.jump_guard.instruments."NFO:NIFTYOPT"]\nmax_jump_pct = 40\nmin_jump_ticks = 5\n'
        '[exits.jump_guard.instruments."BINANCE:BTCUSDT"]\nenabled = false\n',
    )
    guard = load_settings(cfg).exits.jump_guard
    assert guard.limit_for("NSE:SBIN") == JumpLimit(Decimal(3), 20, 20)
    assert guard.limit_for("NFO:NIFTYOPT") == JumpLimit(Decimal(40), 5, 20)
    assert guard.limit_for("BINANCE:BTCUSDT") is None
    off = load_settings(overrides={"exits": {"jump_guard": {"enabled": False}}}).exits.jump_guard
    assert off.limit_for("NSE:SBIN") is None


def test_jump_guard_values_are_bounded(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "[exits.jump_guard]\nmax_jump_pct = 0\nwindow = 0\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert "exits.jump_guard.max_jump_pct" in str(info.value)
    assert "exits.jump_guard.window" in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [("COCKPIT_TRADING__WATCHLIST", "[NSE:SBIN"), ("COCKPIT_UI__KEYMAP", "{bad")],
)
def test_malformed_json_in_the_environment_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()


@pytest.mark.parametrize(
    "field", ["stop_ticks", "target_ticks", "breakeven_after", "exit_offset_ticks"]
)
def test_exit_distances_are_bounded(field: str) -> None:
    with pytest.raises(ConfigError, match=f"exits.{field}"):
        load_settings(overrides={"exits": {field: 10**25}})
    assert getattr(load_settings(overrides={"exits": {field: 10**7}}).exits, field) == 10**7


def test_watchlist_entries_that_cannot_be_instruments_are_warned_about() -> None:
    s = load_settings(overrides={"trading": {"watchlist": ["NSE:SBIN", "XX:A", "B", "NSE:SBIN"]}})
    assert s.warnings == [
        "trading.watchlist: unknown exchange 'XX' in 'XX:A'; it is ignored (e.g. NSE:INFY)",
        "trading.watchlist: expected EXCH:SYMBOL, got 'B'; it is ignored (e.g. NSE:INFY)",
        "trading.watchlist: NSE:SBIN is listed twice",
    ]
