"""Settings: a TOML file, the environment and command-line flags (pydantic-settings).

Precedence, highest first: command-line flags (``overrides``), ``COCKPIT_*`` environment
variables (nested with ``__``, e.g. ``COCKPIT_EXITS__STOP_TICKS=12``), the venue's own
variables (``OPENALGO_API_KEY``, ``OPENALGO_HOST``, ``OPENALGO_WS_URL``, ``KITE_API_KEY``,
``KITE_ACCESS_TOKEN``), the TOML file (``config.toml`` in the user config directory, or
``--config``), then the defaults below.

Secrets are :class:`pydantic.SecretStr`: their ``repr``/``str`` show ``**********`` and
:meth:`Settings.redacted` never contains them. A config file that others may read and that
holds a secret gets a warning (:attr:`Settings.warnings`, also logged).
"""

from __future__ import annotations

import argparse
import contextvars
import logging
import os
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from cockpit import paths
from cockpit.config_notes import (
    describe_invalid,
    describe_unparsable,
    file_warnings,
    watchlist_warnings,
)
from cockpit.config_templates import MAX_DISTANCE_TICKS as _MAX_DISTANCE_TICKS
from cockpit.config_templates import (
    InstrumentSettings,
    TemplateSettings,
    check_template_names,
)

log = logging.getLogger(__name__)

_SECTION = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which file/field and why."""


class VenueSettings(BaseModel):
    """Where market data comes from and where orders go."""

    model_config = _SECTION

    broker: Literal["paper", "openalgo"] = "paper"
    """``paper``: the embedded paper exchange (started as a child process); ``openalgo``."""
    host: str | None = None
    """OpenAlgo REST base URL, e.g. ``http://127.0.0.1:5000`` (or ``OPENALGO_HOST``)."""
    ws_url: str | None = None
    """OpenAlgo WebSocket URL, e.g. ``ws://127.0.0.1:8765`` (or ``OPENALGO_WS_URL``)."""
    api_key: SecretStr | None = None
    """OpenAlgo API key (or ``OPENALGO_API_KEY``). Never logged or shown."""
    feed: str | None = None
    """Market data from elsewhere (None: the broker's): ``kite`` | ``binance`` |
    ``binance-futures`` | ``bybit`` | ``bybit:linear`` | ``hyperliquid`` | ``ccxt:EXCHANGE`` |
    ``replay:FILE``."""
    kite_api_key: SecretStr | None = None
    """Kite Connect API key (or ``KITE_API_KEY``)."""
    kite_access_token: SecretStr | None = None
    """Kite Connect access token (or ``KITE_ACCESS_TOKEN``)."""
    order_updates: Literal["push", "poll", "auto"] = "auto"
    """OpenAlgo order updates: ``push`` (WebSocket ``subscribe_orders``), ``poll``
    (``/orderbook`` every second) or ``auto`` (poll if ``subscribe_orders`` is refused)."""
    order_rate: float = Field(default=10.0, gt=0, le=10_000)
    """Order requests per second the router sends an OpenAlgo server at most (a burst of as
    many at once): the server's ``ORDER_RATE_LIMIT``, 10 by default. A gap through more stops
    than this sends the rest at this pace; raise both together. The paper exchange takes
    1,000 a second."""


class FeedSettings(BaseModel):
    """Market data from elsewhere (``--feed``); orders still go to the paper exchange."""

    model_config = _SECTION

    kind: str | None = None
    """As ``venue.feed`` (``--feed`` / ``venue.feed`` take precedence)."""
    url: str | None = None
    """The feed's WebSocket address (default: the venue's public one)."""
    rest_url: str | None = None
    """The venue's REST address (instruments, depth snapshots; default: from ``url``'s host
    when ``url`` is given, else the venue's public one)."""
    symbols: list[str] = Field(default_factory=list)
    """Instruments in the venue's terms: ``BTCUSDT`` (binance, bybit), ``BTC`` (hyperliquid),
    ``BTC/USDT`` (ccxt); ``NSE:INFY=408065[:TICK[:LOT]]`` (kite tokens)."""


class PathSettings(BaseModel):
    """File locations; unset means the platform's per-user directories."""

    model_config = _SECTION

    journal: Path | None = None
    """Journal SQLite file (default ``<user data dir>/<profile>.sqlite3``)."""
    socket: Path | None = None
    """Engine socket (default ``<user runtime dir>/cockpit/<profile>.sock``)."""


class JumpLimitSettings(BaseModel):
    """One instrument's jump-guard limit (``[exits.jump_guard.instruments."NSE:SBIN"]``)."""

    model_config = _SECTION

    max_jump_pct: Decimal | None = Field(default=None, gt=0, le=1000)
    """Percent of the price beyond the recent range (None: the guard's default)."""
    min_jump_ticks: int | None = Field(default=None, ge=1, le=1_000_000)
    """Moves of fewer ticks are never held (None: the guard's default)."""
    enabled: bool | None = None
    """False turns the guard off for this instrument (None: the guard's setting)."""


class JumpGuardSettings(BaseModel):
    """A print far outside the recent range is held until a second print confirms it: it
    raises an alarm and never fires an exit on its own (``cockpit/domain/guard.py``)."""

    model_config = _SECTION

    enabled: bool = True
    """On by default; exits then act on a jump one print later."""
    max_jump_pct: Decimal = Field(default=Decimal(5), gt=0, le=1000)
    """A print further than this percent of the price beyond the recent range is held."""
    min_jump_ticks: int = Field(default=20, ge=1, le=1_000_000)
    """Moves of fewer ticks than this are never held."""
    window: int = Field(default=50, ge=1, le=10_000)
    """How many recent accepted prints make the range."""
    instruments: dict[str, JumpLimitSettings] = Field(default_factory=dict)
    """Per-instrument overrides keyed ``EXCH:SYMBOL``."""

    def limit_for(self, key: str) -> Any:
        """The ``cockpit.domain.guard.JumpLimit`` of instrument ``key``, or None (guard off)."""
        from cockpit.domain.guard import JumpLimit

        own = self.instruments.get(key)
        enabled = self.enabled if own is None or own.enabled is None else own.enabled
        if not enabled:
            return None
        pct = own.max_jump_pct if own is not None and own.max_jump_pct is not None else None
        ticks = own.min_jump_ticks if own is not None and own.min_jump_ticks is not None else None
        return JumpLimit(
            max_jump_pct=pct if pct is not None else self.max_jump_pct,
            min_jump_ticks=ticks if ticks is not None else self.min_jump_ticks,
            window=self.window,
        )


class ExitSettings(BaseModel):
    """Defaults of the exit plan attached to every entry."""

    model_config = _SECTION

    stop_ticks: int | None = Field(default=20, ge=1, le=_MAX_DISTANCE_TICKS)
    """Stop distance from the fill in ticks (None: no stop; at most 10,000,000)."""
    target_ticks: int | None = Field(default=40, ge=1, le=_MAX_DISTANCE_TICKS)
    """Target distance from the fill in ticks (None: no target; at most 10,000,000)."""
    trail_kind: Literal["ticks", "points", "percent"] = "ticks"
    """Unit of :attr:`trail_distance`."""
    trail_distance: Decimal | None = Field(default=None, gt=0, le=_MAX_DISTANCE_TICKS)
    """Trailing distance (None: no trailing stop until the user turns it on)."""
    trail_default_distance: Decimal = Field(default=Decimal(10), gt=0, le=_MAX_DISTANCE_TICKS)
    """Distance used when trailing is toggled on with none set."""
    breakeven_after: int | None = Field(default=None, ge=1, le=_MAX_DISTANCE_TICKS)
    """Move the stop to entry once price is this many ticks in favour (None: never)."""
    time_stop_s: float | None = Field(default=None, gt=0)
    """Close the position after this many seconds (None: never)."""
    exit_order_type: Literal["market", "limit"] = "market"
    """How an exit is sent: a market order, or a marketable limit ``exit_offset_ticks`` away."""
    exit_offset_ticks: int = Field(default=2, ge=0, le=_MAX_DISTANCE_TICKS)
    """Ticks through the touch for a limit exit."""
    protective_stop: bool = False
    """Also keep a broker-side SL-M order at the stop (survives the engine dying)."""
    protective_throttle_s: float = Field(default=1.0, ge=0)
    """At most one modify of the broker-side stop per this many seconds."""
    jump_guard: JumpGuardSettings = Field(default_factory=JumpGuardSettings)
    """Hold a print far outside the recent range until a second print confirms it."""


PositiveMoney = Annotated[Decimal, Field(gt=0)]


class RiskSettings(BaseModel):
    """Pre-trade limits (None: no limit). Mapped onto ``cockpit.domain.risk``'s limits."""

    model_config = _SECTION

    max_order_qty: Decimal | None = Field(default=Decimal(100_000), gt=0)
    """Largest quantity of one order (fat-finger guard, on by default; raise it, or None)."""
    max_order_value: Decimal | None = Field(default=Decimal(5_000_000), gt=0)
    """Largest notional (price × quantity) of one order, in the instrument's currency
    (on by default; raise it, or None)."""
    max_position_qty: Decimal | None = Field(default=None, gt=0)
    """Largest absolute position per symbol."""
    max_position_value: Decimal | None = Field(default=None, gt=0)
    """Largest absolute notional per symbol."""
    max_open_orders: int | None = Field(default=None, ge=1)
    """Most working orders at once."""
    max_orders_per_minute: int | None = Field(default=None, ge=1)
    """Order-rate limit (entries and modifies; exits are never blocked)."""
    max_daily_loss: PositiveMoney | dict[str, PositiveMoney] | None = None
    """Realized + unrealized loss for the day at which entries are refused. A number applies
    in each currency apart (the one currency of most books, as always); a table names the
    currencies, ``{ INR = 5000, USDT = 50 }``, and a currency not in it is shown but not
    limited (a symbol whose currency is not known takes no entries under a table). Rupees
    and tethers are never added together or converted."""
    max_price_deviation_pct: Decimal | None = Field(default=None, gt=0)
    """A limit price further than this from the last price is refused (fat finger)."""
    kill_on_daily_loss: bool = False
    """Trip the kill switch (flatten everything) when ``max_daily_loss`` is reached."""
    max_tick_age_s: Decimal | None = Field(default=Decimal(5), gt=0)
    """No entry while the symbol's last tick is older than this many seconds, or while its
    exchange's feed arrives more than this behind the exchange (``engine.feed_lag``) (stale-data
    gate; on by default, None switches it off; exits are never blocked). Entries are refused
    anyway while the feed itself is not live."""

    def to_domain(self) -> Any:
        """``cockpit.domain.risk.RiskLimits`` for these settings: the ONE mapping of every
        ``[risk]`` setting onto the domain's limits (the names differ)."""
        from cockpit.domain.risk import RiskLimits

        per_minute = self.max_orders_per_minute
        age = self.max_tick_age_s
        loss = self.max_daily_loss
        return RiskLimits(
            max_order_qty=self.max_order_qty,
            max_position_qty=self.max_position_qty,
            max_notional=self.max_order_value,
            max_position_notional=self.max_position_value,
            max_open_orders=self.max_open_orders,
            price_band_pct=self.max_price_deviation_pct,
            max_orders_per_window=per_minute,
            order_window_ns=60_000_000_000 if per_minute is not None else 1_000_000_000,
            daily_loss_limit=loss if not isinstance(loss, dict) else None,
            daily_loss_limits=tuple(loss.items()) if isinstance(loss, dict) else (),
            kill_on_daily_loss=self.kill_on_daily_loss,
            max_tick_age_ns=None if age is None else max(1, int(age * 1_000_000_000)),
        )


QtyPresets = Annotated[list[Annotated[Decimal, Field(gt=0)]], Field(min_length=1, max_length=4)]


class TradingSettings(BaseModel):
    """Order entry."""

    model_config = _SECTION

    default_qty: Decimal = Field(default=Decimal(1), gt=0)
    """Quantity of a new order (in lots where the instrument has lots > 1)."""
    qty_step: Decimal = Field(default=Decimal(1), gt=0)
    """Step of the quantity up/down keys."""
    armed_at_start: bool = False
    """Whether entry keys work right after start (exits always work)."""
    confirm_qty_over: Decimal | None = Field(default=None, gt=0)
    """Ask for confirmation of an order larger than this quantity."""
    confirm_value_over: Decimal | None = Field(default=None, gt=0)
    """Ask for confirmation of an order with a larger notional than this."""
    watchlist: list[str] = Field(default_factory=list)
    """Symbols (``EXCH:SYMBOL``) subscribed at start."""
    risk_budget: Decimal | None = Field(default=None, gt=0)
    """Money risked per trade when sizing from risk (``R``): quantity = budget ÷ (stop
    distance × tick value), rounded down to the lot size. Adjustable in the TUI (``Z``)."""
    qty_presets: dict[str, QtyPresets] = Field(default_factory=dict)
    """Four quantities on ``f5``-``f8`` (lots where the instrument has lots), per
    symbol (``"NSE:SBIN" = [10, 50, 100, 500]``), ``"*"`` for every other symbol."""


class UiSettings(BaseModel):
    """The terminal UI."""

    model_config = _SECTION

    fps: int = Field(default=30, ge=1, le=120)
    """Screen updates per second at most."""
    theme: str = "cockpit-dark"
    """Theme name (built in, or from ``themes/*.toml``)."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Binding id → keys (comma-separated), e.g. ``{buy_market = "f1"}``."""
    animations: Literal["none", "basic", "full"] = "basic"
    """Textual animation level."""
    nice: int = Field(default=3, ge=0, le=19)
    """Niceness of the TUI process: the screen yields the CPU to the engine, whose exits
    would otherwise wait behind its rendering on a small host; 3, not 10, so that keys
    still show at once on a saturated host (README: the A/B figures; 0: leave it alone;
    ``cockpit/ui/priority.py``)."""
    toasts_per_s: int = Field(default=3, ge=0, le=100)
    """Engine notices (fills, exits, alarms) shown as toasts in any second at most; the rest
    show as one summary at the second's end, each in the message log; errors always show
    (0: every notice is a toast; ``cockpit/ui/toast_pace.py``)."""
    confirm_qty_multiple: Decimal | None = Field(default=Decimal(10), gt=0)
    """Fat finger: ask before an order of more than this many times the default quantity."""
    confirm_value_over: Decimal | None = Field(default=Decimal(500_000), gt=0)
    """Fat finger: ask before an order worth more than this (price × quantity; the lower of
    this and ``[trading] confirm_value_over`` applies)."""


class EngineSettings(BaseModel):
    """The engine's viewer server."""

    model_config = _SECTION

    viewer_hz: float = Field(default=30.0, gt=0, le=120)
    """Market batches per second per viewer at most."""
    viewer_backlog: int = Field(default=5000, ge=10)
    """Events pending for one viewer beyond which it is dropped (it resyncs on reconnect)."""
    switch_interval_us: int = Field(default=500, ge=0, le=100_000)
    """The engine process's GIL switch interval (``sys.setswitchinterval``), microseconds:
    how long a busy thread (the feed) may keep the decision thread or the router waiting.
    Python's default is 5000; 0 leaves it alone (``benchmarks/bench_exit_latency.py``)."""
    journal_writer: bool = True
    """Journal commits on their own thread (``cockpit/journal/writer.py``): the decision thread
    queues a batch's records and the exits that wait for them, and goes on deciding while
    SQLite commits; an exit still leaves only after its records are committed. False: the
    decision thread commits (``benchmarks/bench_exit_latency.py --writer-ab``)."""
    log_max_kb: int = Field(default=10_240, ge=0)
    """A detached engine's log file (``cockpit engine start``) is rotated past this size,
    KiB (0: never): renamed ``.1``, older parts shifted (``cockpit/daemon/logfile.py``)."""
    log_keep: int = Field(default=5, ge=1, le=100)
    """Rotated parts of the engine log kept (``.1`` newest to ``.<log_keep>``)."""


class AlertSettings(BaseModel):
    """Alerts the engine sends beyond the screens: an HTTP webhook (ntfy, a Telegram bot...)."""

    model_config = _SECTION

    webhook_url: SecretStr | None = None
    """POSTed to on every alert that fires (it may hold a token: never logged or shown),
    e.g. ``https://ntfy.sh/my-topic`` or
    ``https://api.telegram.org/bot<TOKEN>/sendMessage?chat_id=<ID>``."""
    webhook_format: Literal["text", "json", "telegram"] = "text"
    """``text``: the message as the body with a ``Title`` header (ntfy); ``json``:
    ``{"title", "text", "kind", "key", "alert_id", "ts_ns"}``; ``telegram``: ``{"text"}``."""
    webhook_retries: int = Field(default=5, ge=0, le=20)
    """Retries of a failed delivery (backoff 1, 2, 4... s, at most 60 s apart)."""
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)


class SimSettings(BaseModel):
    """The embedded paper exchange."""

    model_config = _SECTION

    rate: float = Field(default=10.0, gt=0)
    """Ticks per second per symbol."""
    seed: int | None = None
    """Random seed for a reproducible price path."""
    instruments: list[str] = Field(default_factory=list)
    """``EXCH:SYMBOL:PRICE[:TICK]`` entries (empty: the simulator's own universe)."""
    nice: int = Field(default=10, ge=0, le=19)
    """Niceness of the paper exchange the engine starts (below the engine: a venue is
    elsewhere in real life and never takes the engine's CPU)."""


_CONFIG_FILE: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "cockpit_config_file", default=None
)

_VENUE_ENV = {
    "OPENALGO_API_KEY": "api_key",
    "OPENALGO_HOST": "host",
    "OPENALGO_WS_URL": "ws_url",
    "KITE_API_KEY": "kite_api_key",
    "KITE_ACCESS_TOKEN": "kite_access_token",
}


class _VenueEnvSource(PydanticBaseSettingsSource):
    """The venues' conventional variables (``OPENALGO_API_KEY`` ...) into ``venue``."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        venue = {name: os.environ[env] for env, name in _VENUE_ENV.items() if os.environ.get(env)}
        return {"venue": venue} if venue else {}


class Settings(BaseSettings):
    """Everything configurable. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="COCKPIT_",
        env_nested_delimiter="__",
        extra="forbid",
        use_attribute_docstrings=True,
        nested_model_default_partial_update=True,
    )

    profile: str = "default"
    """Profile name: selects the journal, socket and engine."""
    venue: VenueSettings = Field(default_factory=VenueSettings)
    feed: FeedSettings = Field(default_factory=FeedSettings)
    paths: PathSettings = Field(default_factory=PathSettings)
    exits: ExitSettings = Field(default_factory=ExitSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    trading: TradingSettings = Field(default_factory=TradingSettings)
    ui: UiSettings = Field(default_factory=UiSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    sim: SimSettings = Field(default_factory=SimSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    templates: dict[str, TemplateSettings] = Field(default_factory=dict)
    """Named exit-plan templates (``[templates.scalp]``)."""
    instruments: dict[str, InstrumentSettings] = Field(default_factory=dict)
    """Per-instrument defaults keyed ``EXCH:SYMBOL``."""

    _warnings: list[str] = PrivateAttr(default_factory=list)
    _source: Path | None = PrivateAttr(default=None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags > COCKPIT_* > OPENALGO_*/KITE_* > TOML file > defaults."""
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            _VenueEnvSource(settings_cls),
        ]
        path = _CONFIG_FILE.get()
        if path is not None and path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @model_validator(mode="after")
    def _known_templates(self) -> Settings:
        check_template_names(self.templates, self.instruments)
        return self

    # ------------------------------------------------------------------ derived

    @property
    def warnings(self) -> list[str]:
        """Problems worth telling the user (e.g. a world-readable file holding a key)."""
        return list(self._warnings)

    @property
    def source(self) -> Path | None:
        """The config file that was read, if any."""
        return self._source

    @property
    def journal_path(self) -> Path:
        """The journal file of this profile."""
        return self.paths.journal or paths.journal_path(self.profile)

    @property
    def socket_path(self) -> Path:
        """The engine socket of this profile."""
        return self.paths.socket or paths.socket_path(self.profile)

    def redacted(self) -> dict[str, Any]:
        """A JSON-able dump with every secret replaced by ``**********`` (or None)."""
        data = self.model_dump(mode="json")
        for name in ("api_key", "kite_api_key", "kite_access_token"):
            if data["venue"].get(name) is not None:
                data["venue"][name] = "**********"
        return data

    def venue_label(self) -> str:
        """A short description of the venue for status lines (no secrets)."""
        v = self.venue
        label = "paper" if v.broker == "paper" else f"openalgo {v.host or '?'}"
        feed = v.feed or self.feed.kind
        return f"{label} feed={feed}" if feed else label


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The settings a parsed command line sets (flags left unset are not overrides)."""
    out: dict[str, Any] = {}
    venue: dict[str, Any] = {}
    get = vars(args).get
    if get("profile"):
        out["profile"] = get("profile")
    if journal := get("journal"):
        out["paths"] = {"journal": Path(journal).expanduser()}
    for flag, name in (("broker", "broker"), ("ws_url", "ws_url"), ("feed", "feed")):
        if get(flag):
            venue[name] = get(flag)
    # `cockpit sim` also has --host (a bind address); only venue commands mean a URL by it.
    if get("host") and get("command") != "sim":
        venue["host"] = get("host")
    if get("order_updates"):
        venue["order_updates"] = get("order_updates")
    if venue:
        out["venue"] = venue
    # `cockpit record` has its own --url/--symbols, in the venue's terms.
    if get("command") != "record":
        feed: dict[str, Any] = {}
        for name in ("url", "rest_url"):
            if get(name):
                feed[name] = get(name)
        if get("symbols"):
            feed["symbols"] = [s.strip() for s in str(get("symbols")).split(",") if s.strip()]
        if feed:
            out["feed"] = feed
    return out


def load_settings(
    config_file: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    args: argparse.Namespace | None = None,
) -> Settings:
    """Read the configuration.

    Args:
        config_file: the TOML file; None uses ``--config`` from ``args`` or the default
            ``config.toml`` in the user config directory (a missing default file is fine,
            a missing explicit one is an error).
        overrides: highest-precedence values, nested like the file
            (``{"venue": {"broker": "openalgo"}}``).
        args: a parsed command line; its flags become overrides (see
            :func:`overrides_from_args`).

    Raises:
        ConfigError: unreadable or invalid TOML, unknown keys, bad values (the message names
            the field, never a secret's value).
    """
    explicit = config_file if config_file is not None else (args and vars(args).get("config"))
    path = Path(explicit).expanduser() if explicit else paths.config_file()
    if explicit and not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    merged: dict[str, Any] = overrides_from_args(args) if args is not None else {}
    for key, value in (overrides or {}).items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    if path.is_file():
        try:
            file_data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {path}: {exc}") from exc
    else:
        file_data = {}
    token = _CONFIG_FILE.set(path)
    try:
        settings = Settings(**merged)
    except ValidationError as exc:
        raise ConfigError(describe_invalid(exc, path if path.is_file() else None)) from None
    except SettingsError as exc:  # e.g. malformed JSON in COCKPIT_TRADING__WATCHLIST
        raise ConfigError(describe_unparsable(exc)) from None
    finally:
        _CONFIG_FILE.reset(token)
    try:
        paths.check_profile(settings.profile)
    except paths.BadProfile as exc:
        raise ConfigError(str(exc)) from None
    if path.is_file():
        settings._source = path
        settings._warnings.extend(file_warnings(path, file_data))
    settings._warnings.extend(watchlist_warnings(settings.trading.watchlist))
    for message in settings._warnings:
        log.warning("%s", message)
    return settings
