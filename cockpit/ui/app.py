"""The Cockpit Textual app: shows the engine's state and sends its commands from single keys."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import get_current_worker

from cockpit.link import protocol as p
from cockpit.ui.alerts import AlertActions, TerminalNotifier
from cockpit.ui.bindings import BINDINGS, ENTRY_ACTIONS, READ_ONLY_WORDS, TRADE_ACTIONS
from cockpit.ui.commands import SymbolCommands, account_wide_kill_switch
from cockpit.ui.count import Count, apply_count, hands_on
from cockpit.ui.entry import EntryMixin, describe_command
from cockpit.ui.exits import ExitMixin
from cockpit.ui.ladder_orders import LadderOrderMixin
from cockpit.ui.link import Link, LinkClosed, Pump
from cockpit.ui.messages import EngineLinkLost, EngineLinkUp, EngineMessagesReceived
from cockpit.ui.navigation import NavigationMixin
from cockpit.ui.options import Connector, StaticConnector, UiOptions
from cockpit.ui.paint import paint_now
from cockpit.ui.screens.lifecycle import drawn, seen_screens
from cockpit.ui.sizing import SizingMixin
from cockpit.ui.store import Changes, Notice, Store
from cockpit.ui.theming import ThemeMixin
from cockpit.ui.toast_pace import Toasts
from cockpit.ui.widgets.watchlist import Watchlist, shown_keys

__all__ = ["CockpitApp", "Connector", "StaticConnector", "UiOptions"]

KEYS_FIRST_TURNS = 8
"""Turns of the event loop a market batch waits at most for input ahead of it."""


class CockpitApp(
    EntryMixin,
    SizingMixin,
    ExitMixin,
    LadderOrderMixin,
    NavigationMixin,
    AlertActions,
    ThemeMixin,
    App[int],
):
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

    BINDINGS: ClassVar[list[BindingType]] = BINDINGS

    def __init__(self, connector: Connector, options: UiOptions | None = None) -> None:
        super().__init__()
        self.options = options or UiOptions()
        self.connector = connector
        self.store = Store()
        self.toasts = Toasts(self, self.options.toast_rate)
        self.store.stale_ns = int(self.options.stale_after_s * 1_000_000_000)
        self.selected: str | None = None
        self.qtys: dict[str, Decimal] = {}
        """The order quantity per symbol (the default until stepped)."""
        self.link: Link | None = None
        self.pump: Pump | None = None
        self.link_state = "connecting"
        self._next_id = 0
        self._pending: dict[int, p.Command] = {}
        self.entry_words: dict[int, str] = {}
        """Entries sent and not yet answered, in words (logged when the engine takes one)."""
        self._search_callbacks: dict[int, Callable[[list[p.InstrumentView]], None]] = {}
        self._gate: tuple[Any, ...] = ()
        self._shown: frozenset[str] | None = None
        """What the engine was last told the screen shows (None: nothing told yet)."""
        self._shown_under: list[Screen[Any]] = []
        """The screens when it was last worked out (a pushed or popped screen changes it)."""
        self.batches_applied = 0
        self._deferred_batches = 0
        self.restarted_at = float("-inf")
        """When the lost-engine dialog's ``r`` restarted the engine (``time.monotonic()``)."""
        """Engine batches posted again behind input (keys first), not applied yet: a link
        loss waits behind them (the engine's last words come before its hang-up)."""
        self.last_applied_ns = 0
        self._frozen = False
        self.count = Count()
        """The count typed before a key (the count grammar)."""
        self.risk_budget: Decimal | None = self.options.risk_budget
        """Money risked per trade when sizing from risk (``Z`` changes it)."""
        self._sent_levels: dict[str, tuple[int | None, int | None, float]] = {}
        """Ladder moves just sent (see :class:`LadderOrderMixin`)."""
        self._moves_out: dict[str, tuple[int | None, int | None, float]] = {}
        self._moves_held: dict[str, tuple[int | None, int | None]] = {}
        self.refusals: list[tuple[str, str]] = []
        """(rule, message) of every refusal shown (tests)."""
        self._theme_errors: list[str] = []
        self._notifier = TerminalNotifier(self)
        """Rings the bell and sends the desktop notification of a fired alert."""
        self._load_themes()
        self.animation_level = self.options.animations  # type: ignore[assignment]

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
        if self._deferred_batches:  # what the engine said before it went comes first
            self.post_message(EngineLinkLost(event.reason))
            return
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
            self.restarted_at = time.monotonic()
            self.notify("Restarting the engine…", timeout=3)
            self._start_link(restart=True)
        elif choice == "quit":
            self.exit(1)

    @on(EngineMessagesReceived)
    async def _engine_messages(self, event: EngineMessagesReceived) -> None:
        if not event.deferred and self.message_queue_size:
            # Keys first: what reached the app after this batch (a key) goes before it.
            self._deferred_batches += 1
            self.post_message(EngineMessagesReceived(event.messages, deferred=True))
            return
        if event.deferred:
            self._deferred_batches -= 1
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
                    words = self.entry_words.pop(msg.id, None)
                    if words is not None:
                        self.log_message("information", "Order accepted", words)
            changes = self.store.apply_all(event.messages)
            for n in self.store.drain_notices():
                if n.title.startswith("Refused"):
                    continue  # shown and kept by _refused, with the order in words
                self.store.remember(n)
                self.toasts.show(n, timeout=8)
            self.ring_fired()
            if self.store.stopping:
                self.link_state = "stopping"
            if changes.everything and self.selected is None:
                self._auto_select()
            self._update_views(changes)
            if self._moves_held:
                self.flush_moves()
            if (
                changes.everything
                or changes.positions
                or changes.orders
                or changes.watchlist
                or self.screen_stack != self._shown_under
            ):
                self._say_showing()  # what else it draws in full moved with these
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
        self.entry_words.pop(msg.id, None)
        self._search_callbacks.pop(msg.id, None)
        if isinstance(cmd, p.ModifyOrder | p.MoveStop | p.MoveTarget):
            self.forget_move(cmd)  # the next ladder move starts from where it really is
        if (
            isinstance(cmd, p.PlaceEntry)
            and not cmd.confirmed
            and msg.rule in ("confirm", "confirmation", "large_order", "confirm_required")
        ):
            self._confirm_then_send(cmd, msg.message)
            return
        what = describe_command(self.store, cmd) if cmd is not None else "command"
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
        if not self.screen_stack:  # the app is closing: its screens are gone
            return
        with self.batch_update():
            seen = seen_screens(self.screen_stack)
            for scr in self.screen_stack:
                refresh = getattr(scr, "refresh_view", None)
                if refresh is None or not drawn(scr):  # not mounted yet: its mount draws all
                    continue
                if scr in seen or changes.everything:
                    refresh(changes)
        self._refresh_gate()

    @on(Watchlist.RowsShown)
    def _say_showing(self) -> None:
        """Tell the engine what the screen draws in full, when that changed (the other
        symbols then come about once a second, quote only)."""
        link = self.link
        if link is None or self.link_state != "live" or not self.store.connected:
            return
        self._shown_under = self.screen_stack
        keys = shown_keys(self.store, self.selected, self._shown_under)
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
            if sel is not None and drawn(scr):  # else its mount takes the selection
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
        """Apply a typed count to the key's action; say why an entry key was refused
        instead of ignoring it silently."""
        if isinstance(action, str) and self.count.pending is not None and not hands_on(action):
            action = apply_count(action, self.count.take())
            self.show_count()
        if isinstance(action, str) and default_namespace in (None, self):
            name = action.partition("(")[0]
            if name in ENTRY_ACTIONS or (self.read_only and name in TRADE_ACTIONS):
                reason = self.entry_block_reason()
                if reason is not None:
                    self.refusals.append(("gate", reason))
                    title = f"{name.replace('_', ' ')} refused"
                    self.log_message("warning", title, reason, timeout=4)
                    return True
        screen = self.screen
        done = await super().run_action(action, default_namespace, namespaces)
        if self.screen is screen:
            paint_now(screen)
        return done

    def show_count(self) -> None:
        """Show the pending count on the status bar (at once: the trader is typing it)."""
        status = getattr(self.screen, "status", None)
        if status is not None:
            status.count = self.count.digits
            status.rebuild()

    # ------------------------------------------------------------------ commands

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast of plain text, always: engine messages, broker reasons and alert notes hold
        square brackets that markup would eat (``[SYMBOL]``) or fail on (``[/x]`` closed the
        app). ``markup`` is taken and ignored (a widget's ``notify`` passes True)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

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
            self.log_message("warning", describe_command(self.store, cmd), READ_ONLY_WORDS)
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

    def action_request_quit(self) -> None:
        """Quit: ask what to do when positions or working orders are open."""
        from cockpit.ui.screens.modals import QuitScreen

        if isinstance(self.screen, QuitScreen):
            return
        if self.link_state == "live" and self.store.has_exposure() and not self.read_only:
            self.push_screen(
                QuitScreen(self._exposure, stops_engine=self._quit_stops_engine()),
                self._after_quit_choice,
            )
            return
        self._quit_with_nothing_open()

    def _exposure(self) -> tuple[int, int]:
        """Open positions and working orders now."""
        return len(self.store.open_positions()), len(self.store.working_orders())

    def _quit_stops_engine(self) -> bool:
        """Whether quitting with nothing open stops the engine: one this TUI started, and
        only while no other viewer is attached (another quit leaves it to them)."""
        return self.connector.started_engine and self.store.viewers() <= 1

    def _quit_with_nothing_open(self) -> None:
        """Quit; an engine this TUI started stops (it has nothing to manage) unless other
        viewers are attached."""
        if self.link_state == "live" and self._quit_stops_engine():
            self.send(lambda i: p.Shutdown(id=i, flatten=False))
        self._quit()

    def _after_quit_choice(self, choice: str | None) -> None:
        # The answer acts on what is open when it comes, not when the question came up.
        if choice == "detach" and not self.store.has_exposure():
            self._quit_with_nothing_open()
        elif choice == "detach":
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
