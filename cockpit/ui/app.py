"""The Cockpit Textual app: shows the engine's state and sends its commands from single keys."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Protocol

from textual import on, work
from textual.actions import SkipAction
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import get_current_worker

from cockpit.link import protocol as p
from cockpit.ui.commands import SymbolCommands, account_wide_kill_switch
from cockpit.ui.entry import EntryMixin, describe
from cockpit.ui.link import Link, LinkClosed, Pump
from cockpit.ui.messages import EngineLinkLost, EngineLinkUp, EngineMessagesReceived
from cockpit.ui.store import Changes, Notice, Store
from cockpit.ui.themes import (
    DEFAULT_THEME,
    VARIABLES,
    builtin_theme_dir,
    load_themes,
    remember_theme,
    remembered_theme,
)
from cockpit.ui.widgets.watchlist import Watchlist, rows_in_view

KEYS_FIRST_TURNS = 8
"""Turns of the event loop a market batch waits at most for input ahead of it."""
ENTRY_ACTIONS = frozenset(
    {"buy_market", "sell_market", "buy_limit", "sell_limit", "reverse", "ladder_limit", "ticket"}
)
EXIT_ACTIONS = frozenset(
    {
        "flatten",
        "kill_switch",
        "cancel_symbol",
        "stop_move",
        "target_move",
        "toggle_trail",
        "breakeven",
    }
)

TRADE_ACTIONS = ENTRY_ACTIONS | EXIT_ACTIONS | {"arm"}
"""What a read-only viewer does not offer."""
READ_ONLY_WORDS = "read-only viewer: it cannot trade (run cockpit without --read-only)"


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
    stop_ticks: int | None = 20
    target_ticks: int | None = 40
    trail_ticks: Decimal | None = None
    watchlist: list[str] = field(default_factory=list)
    journal_path: Path | None = None
    """The profile's journal (the stats screen reads it)."""
    user_theme_dir: Path | None = None
    remember: bool = True
    """Remember the theme picked in the palette (off in tests)."""
    animations: str = "basic"
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
            stop_ticks=ex.stop_ticks,
            target_ticks=ex.target_ticks,
            trail_ticks=ex.trail_distance if ex.trail_kind == "ticks" else None,
            watchlist=list(tr.watchlist),
            journal_path=settings.journal_path,
            user_theme_dir=paths.config_dir() / "themes",
            animations=ui.animations,
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


def _b(
    key: str, action: str, desc: str, tip: str, bid: str, *, show: bool = True, **kw: Any
) -> Binding:
    return Binding(key, action, desc, show=show, tooltip=tip, id=bid, **kw)


class CockpitApp(EntryMixin, App[int]):
    """The trading screen's app. The engine decides; this shows and commands."""

    CSS_PATH = "cockpit.tcss"
    COMMANDS = App.COMMANDS | {SymbolCommands}
    TITLE = "Cockpit"
    ENABLE_COMMAND_PALETTE = True
    HORIZONTAL_BREAKPOINTS = [
        (0, "-narrow"),
        (100, "-normal"),
        (140, "-wide"),
        (172, "-xwide"),  # room for the ladder's traded-volume column beside bid/ask
    ]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]

    BINDINGS: ClassVar[list[BindingType]] = [
        _b("b", "buy_market", "Buy", "Buy the selected symbol at market", "buy_market"),
        _b("s", "sell_market", "Sell", "Sell the selected symbol at market", "sell_market"),
        _b(
            "B",
            "buy_limit",
            "Buy lmt",
            "Buy limit at the ladder cursor (or join the bid)",
            "buy_limit",
        ),
        _b(
            "S",
            "sell_limit",
            "Sell lmt",
            "Sell limit at the ladder cursor (or join the ask)",
            "sell_limit",
        ),
        _b(
            "f",
            "flatten",
            "Flatten",
            "Cancel the symbol's orders and close its position",
            "flatten",
        ),
        _b(
            "F",
            "kill_switch",
            "KILL",
            "Cancel everything and flatten everything (confirmed)",
            "kill_switch",
        ),
        _b("x", "cancel_symbol", "Cancel", "Cancel the symbol's working orders", "cancel_symbol"),
        _b("r", "reverse", "Reverse", "Turn the position around", "reverse", show=False),
        _b(
            "plus,equals_sign",
            "qty(1)",
            "Qty+",
            "Increase the order quantity",
            "qty_up",
            show=False,
        ),
        _b("minus", "qty(-1)", "Qty-", "Decrease the order quantity", "qty_down", show=False),
        _b(
            "left_square_bracket",
            "stop_move(-1)",
            "Stop-",
            "Stop down one tick",
            "stop_down",
            show=False,
        ),
        _b(
            "right_square_bracket",
            "stop_move(1)",
            "Stop+",
            "Stop up one tick",
            "stop_up",
            show=False,
        ),
        _b(
            "left_curly_bracket",
            "target_move(-1)",
            "Tgt-",
            "Target down one tick",
            "target_down",
            show=False,
        ),
        _b(
            "right_curly_bracket",
            "target_move(1)",
            "Tgt+",
            "Target up one tick",
            "target_up",
            show=False,
        ),
        _b("t", "toggle_trail", "Trail", "Toggle the trailing stop", "toggle_trail", show=False),
        _b("e", "breakeven", "B/E", "Move the stop to the entry price", "breakeven", show=False),
        _b("n", "ticket", "Ticket", "Open the order ticket", "ticket", show=False),
        _b("slash", "add_symbol", "Add", "Search and add a symbol to the watchlist", "add_symbol"),
        _b("w", "watchlist_screen", "Watch", "Full-screen watchlist", "watchlist_screen"),
        _b("O", "orders_screen", "Orders", "Full-screen orders (amend, cancel)", "orders_screen"),
        _b("M", "messages", "Log", "The session's messages: fills, exits, refusals", "messages"),
        _b(
            "J",
            "journal_stats",
            "Stats",
            "Trade statistics from the journal",
            "journal_stats",
            show=False,
        ),
        _b("a", "arm", "Arm", "Arm or disarm entry keys", "arm"),
        _b("question_mark", "help", "Help", "Keys and what they do", "help"),
        _b(
            "ctrl+q",
            "request_quit",
            "Quit",
            "Quit (asks what to do with open positions)",
            "quit",
            priority=True,
        ),
        _b("ctrl+c", "request_quit", "Quit", "Quit", "quit_ctrl_c", show=False, priority=True),
    ]

    def __init__(self, connector: Connector, options: UiOptions | None = None) -> None:
        super().__init__()
        self.options = options or UiOptions()
        self.connector = connector
        self.store = Store()
        self.store.stale_ns = int(self.options.stale_after_s * 1_000_000_000)
        self.selected: str | None = None
        self.qtys: dict[str, Decimal] = {}
        """The order quantity per symbol (the default until stepped)."""
        self.link: Link | None = None
        self.pump: Pump | None = None
        self.link_state = "connecting"
        self._next_id = 0
        self._pending: dict[int, p.Command] = {}
        self._search_callbacks: dict[int, Callable[[list[p.InstrumentView]], None]] = {}
        self._gate: tuple[Any, ...] = ()
        self._shown: frozenset[str] | None = None
        """What the engine was last told the screen shows (None: nothing told yet)."""
        self.batches_applied = 0
        self.last_applied_ns = 0
        self._frozen = False
        self.refusals: list[tuple[str, str]] = []
        """(rule, message) of every refusal shown (tests)."""
        self._theme_errors: list[str] = []
        self._load_themes()
        self.animation_level = self.options.animations  # type: ignore[assignment]

    # ------------------------------------------------------------------ themes

    def _load_themes(self) -> None:
        dirs = [builtin_theme_dir()]
        if self.options.user_theme_dir is not None:
            dirs.append(self.options.user_theme_dir)
        themes, self._theme_errors = load_themes(*dirs)
        for theme in themes:
            self.register_theme(theme)
        wanted = (remembered_theme() if self.options.remember else None) or self.options.theme
        if wanted not in self.available_themes:
            self._theme_errors.append(f"unknown theme {wanted!r}; using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME
        if wanted in self.available_themes:
            self.theme = wanted

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """App variables by meaning, defaulting to the theme's semantic colours."""
        t = self.current_theme
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
        if self.options.remember and self.is_running:
            remember_theme(theme)

    # ------------------------------------------------------------------ lifecycle

    def on_mount(self) -> None:
        """Apply the keymap, show the trade screen and start the link worker."""
        from cockpit.ui.screens.trade import TradeScreen

        if self.options.keymap:
            self.set_keymap(self.options.keymap)
        self.push_screen(TradeScreen())
        if self._theme_errors:
            self.notify("\n".join(self._theme_errors), title="Themes", severity="error", timeout=10)
        self._start_link()

    def _start_link(self, restart: bool = False) -> None:
        self.link_state = "connecting"
        self._link_worker(restart)

    @work(
        thread=True,
        exclusive=True,
        group="engine-link",
        exit_on_error=False,
        description="engine link",
    )
    def _link_worker(self, restart: bool) -> None:
        worker = get_current_worker()
        try:
            link = self.connector.restart() if restart else self.connector.connect()
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.post_message(EngineLinkLost(f"cannot reach the engine: {exc}"))
            return
        self.link = link
        self._shown = None  # a new connection gets every symbol until told
        pump = Pump(
            link, lambda msgs: self.post_message(EngineMessagesReceived(msgs)), fps=self.options.fps
        )
        self.pump = pump
        self.post_message(EngineLinkUp("engine"))
        if worker.is_cancelled:
            return
        reason = pump.run(lambda: worker.is_cancelled)
        if reason != "stopped":
            self.post_message(EngineLinkLost(reason))

    def on_unmount(self) -> None:
        """Stop the pump and close the link."""
        if self.pump is not None:
            self.pump.stop.set()
        if self.link is not None:
            try:
                self.link.close()
            except Exception:  # noqa: BLE001
                pass

    # ------------------------------------------------------------------ engine → app

    @on(EngineLinkUp)
    def _link_up(self, _: EngineLinkUp) -> None:
        self.link_state = "live"
        for note in getattr(self.connector, "notes", ()):
            self.notify(note, title="Engine", severity="warning", timeout=12)
        if hasattr(self.connector, "notes"):
            self.connector.notes.clear()
        self._update_views(Changes(connection=True))

    @on(EngineLinkLost)
    def _link_lost(self, event: EngineLinkLost) -> None:
        was = self.link_state
        self.link_state = "lost"
        link, self.link = self.link, None
        self.pump = None
        if link is not None:
            try:
                link.close()
            except Exception:  # noqa: BLE001 - already broken; closing is hygiene
                pass
        ch = self.store.disconnected()
        self._update_views(ch)
        if was != "quitting":
            stopped = self.store.stopping if was == "stopping" else None
            title = "Engine stopped" if stopped else "Engine connection lost"
            reason = stopped or event.reason
            self.log_message("error", title, reason, timeout=15)
            from cockpit.ui.screens.modals import EngineLostScreen

            if not isinstance(self.screen, EngineLostScreen):
                self.push_screen(
                    EngineLostScreen(reason, stopped=bool(stopped)), self._after_engine_lost
                )

    def _after_engine_lost(self, choice: str | None) -> None:
        if choice == "restart":
            self.notify("Restarting the engine…", timeout=3)
            self._start_link(restart=True)
        elif choice == "quit":
            self.exit(1)

    @on(EngineMessagesReceived)
    async def _engine_messages(self, event: EngineMessagesReceived) -> None:
        if not event.deferred and self.message_queue_size:
            # Keys first: what reached the app after this batch (a key) goes before it.
            self.post_message(EngineMessagesReceived(event.messages, deferred=True))
            return
        await self._let_input_through()
        try:
            for msg in event.messages:
                if isinstance(msg, p.SearchResult):
                    cb = self._search_callbacks.pop(msg.id, None)
                    if cb is not None:
                        cb(msg.results)
                elif isinstance(msg, p.Refused):
                    self._refused(msg)
                elif isinstance(msg, p.Ack):
                    self._pending.pop(msg.id, None)
            changes = self.store.apply_all(event.messages)
            for n in self.store.drain_notices():
                if n.title.startswith("Refused"):
                    continue  # shown and kept by _refused, with the order in words
                self.store.remember(n)
                self.notify(n.message, title=n.title, severity=n.severity, timeout=8)  # type: ignore[arg-type]
            if self.store.stopping:
                self.link_state = "stopping"
            if changes.everything and self.selected is None:
                self._auto_select()
            self._update_views(changes)
            self._say_showing()
            if changes.everything and self.options.freeze_after_start and not self._frozen:
                self._frozen = True
                self.call_after_refresh(_freeze_what_startup_made)
            self.batches_applied += 1
            self.last_applied_ns = time.monotonic_ns()
        finally:
            if self.pump is not None:
                # One batch per painted frame: what comes meanwhile is merged by the pump.
                self.call_after_refresh(self.pump.consumed.set)

    async def _let_input_through(self) -> None:
        """Keys first: let a key already forwarded to the screen or the focused widget be
        handled before a batch is applied (a few turns of the loop at most)."""
        for _ in range(KEYS_FIRST_TURNS):
            focused = self.focused
            if not self.screen.message_queue_size and (
                focused is None or not focused.message_queue_size
            ):
                return
            await asyncio.sleep(0)

    def _refused(self, msg: p.Refused) -> None:
        cmd = self._pending.pop(msg.id, None)
        self._search_callbacks.pop(msg.id, None)
        if (
            isinstance(cmd, p.PlaceEntry)
            and not cmd.confirmed
            and msg.rule in ("confirm", "confirmation", "large_order", "confirm_required")
        ):
            self._confirm_then_send(cmd, msg.message)
            return
        what = describe(self.store, cmd) if isinstance(cmd, p.PlaceEntry) else None
        what = what or (type(cmd).__name__ if cmd is not None else "command")
        self.refusals.append((msg.rule, msg.message))
        self.log_message("error", f"Refused ({msg.rule}): {what}", msg.message, timeout=8)

    def _auto_select(self) -> None:
        """On attach: the first open position's symbol, else the first watchlist symbol."""
        open_keys = [pos.key for pos in self.store.open_positions()]
        if open_keys:
            self.select_symbol(open_keys[0])
        elif self.store.watchlist:
            self.select_symbol(self.store.watchlist[0])

    def _update_views(self, changes: Changes) -> None:
        with self.batch_update():
            screen = self.screen
            for scr in self.screen_stack:
                refresh = getattr(scr, "refresh_view", None)
                if refresh is not None and (scr is screen or changes.everything):
                    refresh(changes)
        self._refresh_gate()

    @on(Watchlist.RowsShown)
    def _say_showing(self) -> None:
        """Tell the engine what the screen draws in full, when that changed (the other
        symbols then come about once a second, quote only)."""
        link = self.link
        if link is None or self.link_state != "live" or not self.store.connected:
            return
        keys = self.store.shown_keys(self.selected, rows_in_view(self.screen_stack))
        if keys != self._shown:
            try:
                link.show(sorted(keys))
            except LinkClosed:
                return  # the pump reports the lost link
            self._shown = keys

    def _refresh_gate(self) -> None:
        st = self.store.status
        gate = (
            self.link_state,
            st.armed if st else None,
            st.kill_switch if st else None,
            self.selected,
            self._stale(self.selected),
        )
        if gate != self._gate:
            self._gate = gate
            self.refresh_bindings()

    # ------------------------------------------------------------------ selection

    def select_symbol(self, key: str | None) -> None:
        """Trade ``key`` (ladder, quote, depth follow)."""
        self.selected = key
        for scr in self.screen_stack:
            sel = getattr(scr, "symbol_selected", None)
            if sel is not None:
                sel(key)
        self._refresh_gate()
        self._say_showing()

    # ------------------------------------------------------------------ gating

    def _stale(self, key: str | None) -> bool:
        """No price yet for ``key``, or a feed is not live (the engine's own rule: a silent
        feed is marked stale by its watchdog). Tick age alone is shown, not gated."""
        if key is None:
            return False
        return key not in self.store.quotes or not self.store.feed_ok()

    @property
    def read_only(self) -> bool:
        """A read-only viewer (the engine's Welcome says so): no order keys at all."""
        return self.store.welcome is not None and self.store.welcome.read_only

    def entry_block_reason(self) -> str | None:
        """Why entry keys are refused right now (None: they work)."""
        if self.read_only:
            return READ_ONLY_WORDS
        if self.link_state != "live" or not self.store.connected:
            return "not connected to the engine"
        st = self.store.status
        if st is None or not st.armed:
            return "disarmed — press a to arm"
        if st.kill_switch:
            return "kill switch active"
        if self.selected is None:
            return "no symbol selected"
        if self._stale(self.selected):
            return f"{self.selected}: feed stale or no price yet"
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Entry keys are dimmed and refused while disarmed, disconnected or stale; a
        read-only viewer does not offer order keys at all."""
        if self.read_only and action in TRADE_ACTIONS:
            return False
        if action in ENTRY_ACTIONS:
            return None if self.entry_block_reason() is not None else True
        return True

    async def run_action(
        self, action: Any, default_namespace: Any = None, namespaces: Any = None
    ) -> bool:
        """Say why an entry key was refused instead of ignoring it silently."""
        if isinstance(action, str) and default_namespace in (None, self):
            name = action.partition("(")[0]
            if name in ENTRY_ACTIONS or (self.read_only and name in TRADE_ACTIONS):
                reason = self.entry_block_reason()
                if reason is not None:
                    self.refusals.append(("gate", reason))
                    title = f"{name.replace('_', ' ')} refused"
                    self.log_message("warning", title, reason, timeout=4)
                    return True
        return await super().run_action(action, default_namespace, namespaces)

    # ------------------------------------------------------------------ commands

    def log_message(
        self, severity: str, title: str, text: str, *, timeout: float | None = 4
    ) -> None:
        """Tell the trader (a toast, unless ``timeout`` is None) and keep it in the log."""
        self.store.remember(Notice(severity, title, text))
        if timeout is not None:
            self.notify(text, title=title, severity=severity, timeout=timeout)  # type: ignore[arg-type]

    def next_id(self) -> int:
        """A fresh command id."""
        self._next_id += 1
        return self._next_id

    def send(self, make: Callable[[int], p.Command]) -> int | None:
        """Build a command with a fresh id and send it; None if not connected."""
        cmd = make(self.next_id())
        if self.read_only and not isinstance(cmd, p.READ_ONLY_COMMANDS):
            self.log_message("warning", type(cmd).__name__, READ_ONLY_WORDS)
            return None
        link = self.link
        if link is None or self.link_state not in ("live", "stopping"):
            self.notify("not connected to the engine", title=type(cmd).__name__, severity="error")
            return None
        try:
            sent_id = link.send(cmd)
        except (LinkClosed, OSError) as exc:
            self.notify(str(exc), title="send failed", severity="error")
            return None
        self._pending[sent_id] = cmd
        return sent_id

    def search(self, query: str, callback: Callable[[list[p.InstrumentView]], None]) -> None:
        """Ask the engine to search symbols; ``callback`` gets the results."""
        cid = self.send(lambda i: p.Search(id=i, query=query))
        if cid is not None:
            self._search_callbacks[cid] = callback

    # ------------------------------------------------------------------ actions: entries

    def action_reverse(self) -> None:
        """Reverse the position."""
        if self.selected:
            key = self.selected
            self.send(lambda i: p.Reverse(id=i, key=key))

    # ------------------------------------------------------------------ actions: exits

    def action_flatten(self) -> None:
        """Flatten the selected symbol."""
        if self.selected:
            key = self.selected
            self.send(lambda i: p.Flatten(id=i, key=key))

    def action_kill_switch(self) -> None:
        """Cancel every order and flatten every position, after confirmation."""
        from cockpit.ui.screens.modals import ConfirmScreen

        n_pos = len(self.store.open_positions())
        n_ord = len(self.store.working_orders())

        def done(ok: bool | None) -> None:
            if ok:
                self.send(lambda i: p.KillSwitch(id=i))

        self.push_screen(
            ConfirmScreen(
                "Kill switch",
                f"Cancel this cockpit's {n_ord} working order(s) and flatten {n_pos} "
                "position(s)? Other strategies' orders are left alone.",
                confirm="KILL",
                danger=True,
            ),
            done,
        )

    def action_cancel_symbol(self) -> None:
        """Cancel the selected symbol's working orders."""
        if self.selected:
            key = self.selected
            self.send(lambda i: p.CancelOrders(id=i, key=key))

    def action_stop_move(self, delta: int) -> None:
        """Move the stop by ``delta`` ticks."""
        if self.selected:
            key = self.selected
            self.send(lambda i: p.MoveStop(id=i, key=key, delta=delta))

    def action_target_move(self, delta: int) -> None:
        """Move the target by ``delta`` ticks."""
        if self.selected:
            key = self.selected
            self.send(lambda i: p.MoveTarget(id=i, key=key, delta=delta))

    def action_toggle_trail(self) -> None:
        """Toggle trailing."""
        if self.selected:
            key = self.selected
            self.send(lambda i: p.ToggleTrail(id=i, key=key))

    def action_breakeven(self) -> None:
        """Stop to breakeven."""
        if self.selected:
            key = self.selected
            self.send(lambda i: p.ToBreakeven(id=i, key=key))

    # ------------------------------------------------------------------ actions: other

    def action_arm(self) -> None:
        """Arm or disarm entries (the engine owns the flag)."""
        st = self.store.status
        armed = bool(st and st.armed)
        self.send(lambda i: p.SetArmed(id=i, armed=not armed))

    def action_add_symbol(self) -> None:
        """Search and add a symbol."""
        from cockpit.ui.screens.modals import SymbolSearchScreen

        def done(key: str | None) -> None:
            if key:
                self.send(lambda i: p.Subscribe(id=i, keys=[key]))
                self.select_symbol(key)

        self.push_screen(SymbolSearchScreen(), done)

    def remove_symbol(self, key: str) -> None:
        """Unsubscribe a symbol."""
        self.send(lambda i: p.Unsubscribe(id=i, keys=[key]))

    def action_watchlist_screen(self) -> None:
        """Toggle the full-screen watchlist."""
        from cockpit.ui.screens.watchlist import WatchlistScreen

        if isinstance(self.screen, WatchlistScreen):
            self.pop_screen()
        else:
            self.push_screen(WatchlistScreen())

    def action_orders_screen(self) -> None:
        """Open (or close) the full-screen orders view."""
        from cockpit.ui.screens.orders import OrdersScreen

        if isinstance(self.screen, OrdersScreen):
            self.pop_screen()
        else:
            self.push_screen(OrdersScreen())

    def action_journal_stats(self) -> None:
        """Open (or close) the trade statistics."""
        from cockpit.ui.screens.stats import StatsScreen

        if isinstance(self.screen, StatsScreen):
            self.pop_screen()
        else:
            self.push_screen(StatsScreen(self.options.journal_path))

    def action_messages(self) -> None:
        """Open (or close) the message log."""
        from cockpit.ui.screens.log import LogScreen

        if isinstance(self.screen, LogScreen):
            self.pop_screen()
        else:
            self.push_screen(LogScreen())

    def action_help(self) -> None:
        """Show the keys."""
        from cockpit.ui.screens.modals import HelpScreen

        if isinstance(self.screen, HelpScreen):
            raise SkipAction()
        self.push_screen(HelpScreen())

    def action_request_quit(self) -> None:
        """Quit: ask what to do when positions or working orders are open."""
        from cockpit.ui.screens.modals import QuitScreen

        if isinstance(self.screen, QuitScreen):
            return
        if self.link_state == "live" and self.store.has_exposure() and not self.read_only:
            self.push_screen(
                QuitScreen(len(self.store.open_positions()), len(self.store.working_orders())),
                self._after_quit_choice,
            )
            return
        if self.link_state == "live" and self.connector.started_engine:
            self.send(lambda i: p.Shutdown(id=i, flatten=False))
        self._quit()

    def _after_quit_choice(self, choice: str | None) -> None:
        if choice == "detach":
            self._quit()
        elif choice == "flatten":
            self.send(lambda i: p.Shutdown(id=i, flatten=True))
            self._quit()

    def _quit(self) -> None:
        self.link_state = "quitting"
        if self.pump is not None:
            self.pump.stop.set()
        self.exit(0)

    def get_system_commands(self, screen: Screen[Any]) -> Any:
        """Palette: the usual system commands plus trading ones."""
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Add symbol", "Search the venue and add a symbol", self.action_add_symbol
        )
        yield SystemCommand("Order ticket", "Open the order ticket", self.action_ticket)
        yield SystemCommand("Arm / disarm", "Toggle entry keys", self.action_arm)
        yield SystemCommand("Cancel all orders", "Cancel every working order", self._cancel_all)
        yield SystemCommand(
            "Kill switch", "This cockpit's orders and positions (F)", self.action_kill_switch
        )
        yield SystemCommand(
            "Kill switch: whole account",
            "Cancel EVERY order of the account (other strategies' too), flatten (confirmed)",
            lambda: account_wide_kill_switch(self),
        )
        yield SystemCommand(
            "Watchlist screen", "Full-screen watchlist", self.action_watchlist_screen
        )

    def _cancel_all(self) -> None:
        self.send(lambda i: p.CancelOrders(id=i))


def _freeze_what_startup_made() -> None:
    """Move what exists once the first snapshot is on screen out of the collector's sight.

    The screens, widgets, styles and modules live as long as the app; left in view, every
    full collection walks them all. Under a busy feed one comes every 3 s or so (Textual's
    strips hold themselves in their caches, so their garbage needs the collector): measured
    at 10,000 ticks/s, 60-85 ms each with the screen frozen, 13-50 ms with these out of
    sight. Collected once first, so no garbage is kept; what is made later is collected as
    usual.
    """
    gc.collect()
    gc.freeze()
