"""Modal screens: confirmation, quit choices, engine lost, symbol search, help."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from cockpit.link.protocol import InstrumentView
from cockpit.ui.screens.dialog import Dialog
from cockpit.ui.screens.lifecycle import when_wanted

if TYPE_CHECKING:
    from collections.abc import Callable

    from cockpit.ui.app import CockpitApp
    from cockpit.ui.store import Changes


class ConfirmScreen(Dialog[bool]):
    """Yes / no. ``y``/enter confirms, ``n``/escape cancels.

    A question about what is open (the kill switch) gives its text as a function of the
    store: it is asked again on every change the engine sends, so the counts stay true while
    the question is up."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(
        self,
        title: str,
        text: str | Callable[[], str],
        *,
        confirm: str = "Yes",
        danger: bool = False,
    ) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.words = text if callable(text) else None
        self.text = text() if callable(text) else text
        self.confirm = confirm
        self.danger = danger

    def compose(self) -> ComposeResult:
        """Title, question, buttons."""
        with Vertical(id="dialog", classes="danger" if self.danger else ""):
            yield Label(self.title_text, id="dialog-title", markup=False)
            yield Static(self.text, id="dialog-text", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button(
                    f"{self.confirm} (y)", id="yes", variant="error" if self.danger else "primary"
                )
                yield Button("Cancel (n)", id="no")

    @when_wanted
    def on_mount(self) -> None:
        """Focus Cancel for dangerous questions, the action otherwise."""
        self.query_one("#no" if self.danger else "#yes", Button).focus()

    def refresh_view(self, changes: Changes) -> None:
        """The engine sent changes: a question about what is open counts it again."""
        if self.words is None:
            return
        text = self.words()
        if text != self.text:
            self.text = text
            self.query_one("#dialog-text", Static).update(text)

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


def quit_words(positions: int, orders: int, *, stops_engine: bool) -> tuple[str, str]:
    """The quit question's text and its Detach button's label for what is open now."""
    if positions or orders:
        return (
            f"{positions} open position(s) and {orders} working order(s).\n"
            "Detach leaves the engine running and managing stops and targets; "
            "run `cockpit` again to re-attach.",
            "Detach (d)",
        )
    after = (
        "quitting stops the engine this cockpit started."
        if stops_engine
        else "quitting leaves the engine running."
    )
    return f"Nothing is open now: {after}", "Quit (d)"


class QuitScreen(Dialog[str]):
    """Quit with positions or working orders open: detach, flatten and stop, or stay. It
    counts what is open on every change the engine sends (a fill or a cancel while it is up);
    the app acts on what is open when the answer comes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "choose('detach')", "Detach", id="quit.detach"),
        Binding("f", "choose('flatten')", "Flatten & stop", id="quit.flatten"),
        Binding("escape,s", "choose('stay')", "Stay", id="quit.stay"),
    ]

    def __init__(
        self, counts: Callable[[], tuple[int, int]], *, stops_engine: bool = False
    ) -> None:
        """``counts``: the open positions and working orders now; ``stops_engine``: quitting
        with nothing open stops the engine (this cockpit started it)."""
        super().__init__(classes="dialog")
        self.counts = counts
        self.stops_engine = stops_engine
        self.words = quit_words(*counts(), stops_engine=stops_engine)

    def compose(self) -> ComposeResult:
        """The three choices."""
        text, detach = self.words
        with Vertical(id="dialog"):
            yield Label("Quit Cockpit", id="dialog-title")
            yield Static(text, id="dialog-text", markup=False)
            with Horizontal(id="dialog-buttons"):
                yield Button(detach, id="detach", variant="primary")
                yield Button("Flatten & stop (f)", id="flatten", variant="error")
                yield Button("Stay (esc)", id="stay")

    @when_wanted
    def on_mount(self) -> None:
        """Safest default: stay."""
        self.query_one("#stay", Button).focus()

    def refresh_view(self, changes: Changes) -> None:
        """The engine sent changes: count again."""
        words = quit_words(*self.counts(), stops_engine=self.stops_engine)
        if words != self.words:
            self.words = words
            self.query_one("#dialog-text", Static).update(words[0])
            self.query_one("#detach", Button).label = words[1]

    def action_choose(self, choice: str) -> None:
        """Close with the choice."""
        self.dismiss(choice)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "stay")


class EngineLostScreen(Dialog[str]):
    """The engine died or the link broke: order keys are blocked; offer a restart."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "choose('restart')", "Restart engine", id="lost.restart"),
        Binding("q", "choose('quit')", "Quit", id="lost.quit"),
        Binding("escape", "choose('dismiss')", "Dismiss", id="lost.dismiss"),
    ]

    def __init__(self, reason: str, *, stopped: bool = False) -> None:
        super().__init__(classes="dialog")
        self.reason = reason
        self.stopped = stopped
        """The engine said it was stopping (``cockpit engine stop``), not a broken link."""

    def compose(self) -> ComposeResult:
        """Why, and what now."""
        with Vertical(id="dialog", classes="danger"):
            title = "ENGINE STOPPED" if self.stopped else "ENGINE CONNECTION LOST"
            yield Label(title, id="dialog-title")
            why = f"The engine stopped ({self.reason})." if self.stopped else self.reason
            yield Static(
                f"{why}\nOrder keys are blocked. Stops and targets are only managed while "
                "an engine runs.",
                id="dialog-text",
                markup=False,
            )
            with Horizontal(id="dialog-buttons"):
                yield Button("Restart / re-attach (r)", id="restart", variant="primary")
                yield Button("Quit (q)", id="quit")
                yield Button("Dismiss (esc)", id="dismiss")

    @when_wanted
    def on_mount(self) -> None:
        """Focus restart."""
        self.query_one("#restart", Button).focus()

    def action_choose(self, choice: str) -> None:
        """Close with the choice."""
        self.dismiss(choice)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "dismiss")


class SymbolSearchScreen(Dialog[str | None]):
    """Type to search the venue's symbols (the engine's Search command); enter adds."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="search.cancel"),
        Binding("down", "focus_results", "Results", show=False, id="search.results"),
    ]

    def compose(self) -> ComposeResult:
        """An input and the results."""
        with Vertical(id="dialog", classes="search"):
            yield Label("Add symbol — type a name or EXCH:SYMBOL", id="dialog-title")
            yield Input(placeholder="e.g. SBIN or NSE:INFY", id="search-input")
            yield OptionList(id="search-results")

    @when_wanted
    def on_mount(self) -> None:
        """Focus the input."""
        self.query_one(Input).focus()

    def action_cancel(self) -> None:
        """Close without adding."""
        self.dismiss(None)

    def action_focus_results(self) -> None:
        """Move into the results list."""
        self.query_one(OptionList).focus()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._search(event.value.strip())

    @work(exclusive=True, group="symbol-search")
    async def _search(self, query: str) -> None:
        import asyncio

        await asyncio.sleep(0.15)  # debounce typing
        if not query:
            self.query_one(OptionList).clear_options()
            return
        app: CockpitApp = self.app  # type: ignore[assignment]
        app.search(query, self.show_results)

    def show_results(self, results: list[InstrumentView]) -> None:
        """The engine answered (an answer after the dialog closed is dropped)."""
        try:
            ol = self.query_one(OptionList)
        except NoMatches:  # closed (enter on an earlier query's results) before this came
            return
        ol.clear_options()
        ol.add_options(
            [Option(f"{r.key:<24} {r.name}", id=r.key) for r in results[:50]]
            or [Option("no match", id="", disabled=True)]
        )
        if results:
            ol.highlighted = 0

    @on(Input.Submitted)
    def _submitted(self) -> None:
        ol = self.query_one(OptionList)
        if ol.option_count and ol.highlighted is not None:
            opt = ol.get_option_at_index(ol.highlighted)
            if opt.id:
                self.dismiss(opt.id)
                return
        # No match (or no answer yet): nothing is added; the list says "no match".

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(event.option.id)


HELP = """\
[b]Orders[/b] (need the engine armed, connected and a fresh feed)
  b / s        buy / sell at market            B / S   limit at ladder cursor (or join bid/ask)
  enter        on the ladder: limit at cursor   n       order ticket (value and risk preview)
  r            reverse the position             + / -   this symbol's quantity, on the step grid
  f5-f8        quantity presets 1-4             R       quantity from the risk budget   Z budget
  Asks first (naming side, qty, symbol, type, price): a limit that would fill at once, a price
  off the ladder's screen, over 10× the default quantity or over the order value (\\[ui]).
[b]Count[/b]  digits before a key: 3] stop up 3 ticks, 5} target up 5, 10b buy 10, 4K order up 4;
  shown on the status bar; esc drops it. Every gate and question still applies.
[b]Exits[/b] (always work)
  f            flatten the symbol               F       KILL SWITCH (confirmed)
  h / H        close half / a quarter           x       cancel the symbol's orders
  [ / ]        stop down / up one tick          { / }   target down / up one tick
  t            toggle trailing                  e       stop to breakeven
[b]Ladder orders[/b]
  v            pick the order / stop / target on the cursor's row (again: the next one)
  K / J        move it (or the cursor row's) up / down a tick
  g            move it to the cursor
  < / >        cancel all buys / all sells      esc     drop the pick
  z            price grouping: 1, 2, 5, 10, 25 ticks a row
  A            price alert at the ladder cursor (! lists the alerts)
[b]Moving around[/b]
  up/down k/j  ladder cursor (or list cursor)   space   re-centre the ladder   l  hold it
  tab          next pane                        /       add symbol   w  watchlist screen
  O            orders screen                    M       message log (fills, exits, refusals)
  c            chart and tape (beside the ladder from 160 columns)   on the chart: , / . bar
               size (1m 5m 15m)   ( / ) tape size filter   esc back
  in lists     enter = trade/amend, del = remove/cancel, o = sort the watchlist
[b]Other[/b]
  a arm/disarm   T plan template of the next entries   P trade statistics   ! alerts
  ? help   ctrl+p palette (themes, commands)   ctrl+q quit
Keys can be remapped in config.toml, by binding id: [ui.keymap] buy_market = "f1" (ids below).
"""


HELP_WIDTH = 104
"""The help dialog's width: narrower, its two-column key tables go one column."""


def narrow_help(text: str = HELP, width: int = 68) -> str:
    """The help with each two-column row split in two rows (the second key aligned with the
    first), so an 80-column terminal does not wrap one row into the next one's key; a line
    still wider than ``width`` is wrapped at a word, its rest indented under its words."""
    out: list[str] = []
    for line in _paragraphs(text):
        if line.startswith("  ") and line[2:3] != " ":
            for i in range(45, 51):
                if line[i - 3 : i] == "   " and line[i : i + 1] not in ("", " "):
                    key, _, words = line[i:].partition("   ")
                    out += [line[:i].rstrip(), f"  {key:<13}{words.lstrip()}"]
                    break
            else:
                out.append(line)
        else:
            out.append(line)
    return "\n".join(fitted for line in out for fitted in _fit(line, width)) + "\n"


KEY_ROW = r"  \S.{0,12}?  +(?=\S)"
"""A key row's start: the key, then two spaces or more before its words."""


def _paragraphs(text: str) -> list[str]:
    """The help's lines with a sentence the wide table breaks over two lines ("Asks first
    … a price" / "off the ladder's screen …") joined again, so the narrow help wraps it as
    one paragraph instead of a short line in the middle of it."""
    import re

    lines: list[str] = []
    for line in text.splitlines():
        prev = lines[-1] if lines else ""
        if (
            re.match(r"  [a-z(]", line)
            and not re.match(KEY_ROW, line)
            and prev.strip()
            and not re.match(KEY_ROW, prev)
        ):
            lines[-1] = f"{prev.rstrip()} {line.strip()}"
        else:
            lines.append(line)
    return lines


def _fit(line: str, width: int) -> list[str]:
    """``line`` wrapped to ``width`` visible columns (markup does not count): the rest of a
    key row under its description, of any other line under its first word."""
    import re
    import textwrap

    shown = re.sub(r"\[/?b\]|\\(?=\[)", "", line)
    if len(shown) <= width:
        return [line]
    key_row = re.match(KEY_ROW, line)
    indent = " " * (len(key_row.group(0)) if key_row else 2)
    # The markup (a section's bold title) is on the first line: only it gets the room the
    # markup takes; the rest wraps to the width itself.
    first = textwrap.wrap(line, width=width + len(line) - len(shown), break_on_hyphens=False)[0]
    rest = line[len(first) :].strip()
    return [first] + textwrap.wrap(
        rest, width=width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
    )


def keymap_ids() -> str:
    """Every remappable binding: ``id  key  description``."""
    from cockpit.ui.app import CockpitApp
    from cockpit.ui.widgets.ladder import Ladder
    from cockpit.ui.widgets.orders import OrdersPane
    from cockpit.ui.widgets.watchlist import Watchlist

    rows = []
    for owner in (CockpitApp, Ladder, Watchlist, OrdersPane):
        for b in owner.BINDINGS:
            if isinstance(b, Binding) and b.id:
                rows.append(f"  {b.id:<18} {b.key:<28} {b.description}")
    return "\n".join(rows)


class AskScreen(Dialog[str | None]):
    """One value typed in: enter answers it, escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="ask.cancel"),
    ]

    def __init__(self, title: str, value: str = "") -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.value = value

    def compose(self) -> ComposeResult:
        """Title and the field."""
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title")
            yield Input(self.value, id="ask-input")
            yield Static("enter sets · esc cancels", id="ask-hint", markup=False)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        """Close without an answer."""
        self.dismiss(None)


class HelpScreen(Dialog[None]):
    """The keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        """The key table."""
        with Vertical(id="dialog", classes="help"):
            yield Label("Cockpit keys", id="dialog-title")
            with VerticalScroll(id="help-scroll"):
                narrow = self.app.size.width < HELP_WIDTH
                # The dialog's inside: 95% of the screen less its border, padding and scrollbar.
                inside = self.app.size.width * 95 // 100 - 8
                yield Static(narrow_help(width=inside) if narrow else HELP, id="help-text")
                yield Static(keymap_ids(), id="help-ids")

    def action_close(self) -> None:
        """Close."""
        self.dismiss(None)
