"""The watchlist: one line per symbol — LTP, change, bid/ask, volume, sparkline, tick age."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen

from cockpit.link.protocol import SetWatchlistView
from cockpit.ui.fmt import fmt_age, fmt_pct, fmt_volume
from cockpit.ui.screens.lifecycle import seen_screens
from cockpit.ui.store import Store, is_working
from cockpit.ui.widgets.grid import Cell, Line, LineGrid, cell

SPARK = "▁▂▃▄▅▆▇█"
SORTS: tuple[str, ...] = ("added", "symbol", "change", "volume")
ROWS_PER_S = 240.0
"""Row repaints a second the list spends on market changes at most. At 3,000 symbols each
moves under twice a second and the few rows in view that moved show at the next frame; when
every row in view moves on every batch (50 symbols at 5,000 ticks/s) the list redraws about
eight times a second instead of thirty: no blur of bytes to the terminal nobody reads."""
AGES_S = 0.25
"""The list is redrawn at least this often (tick ages, fading flashes, a price sort's order)."""


def sparkline(values: Sequence[int], width: int) -> str:
    """Recent prices as block characters (min..max of the window)."""
    if width <= 0 or not values:
        return " " * max(0, width)
    vals = list(values)[-width:]
    lo, hi = min(vals), max(vals)
    span = hi - lo
    if span == 0:
        s = SPARK[3] * len(vals)
    else:
        s = "".join(SPARK[(v - lo) * (len(SPARK) - 1) // span] for v in vals)
    return s.rjust(width)


@dataclass(frozen=True, slots=True)
class Column:
    """A watchlist column: name, title and width (GROUPS says which get space first)."""

    name: str
    title: str
    width: int


COLUMNS: tuple[Column, ...] = (
    Column("symbol", "Symbol", 11),
    Column("ltp", "LTP", 9),
    Column("chg", "Chg", 8),
    Column("pct", "Chg%", 7),
    Column("bid", "Bid", 10),
    Column("ask", "Ask", 10),
    Column("volume", "Volume", 8),
    Column("spark", "Trend", 12),
    Column("age", "Age", 5),
)

GROUPS: tuple[tuple[str, ...], ...] = (
    ("symbol",),
    ("ltp",),
    ("chg",),
    ("pct",),
    ("age",),
    ("bid", "ask"),
    ("volume",),
    ("spark",),
)
"""Columns in the order they are given space."""


class Watchlist(LineGrid, can_focus=True):
    """Symbols the engine streams, one cached line each; the cursor selects one to trade."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "wl--header",
        "wl--cursor",
        "wl--selected",
        "wl--up",
        "wl--down",
        "wl--flash-up",
        "wl--flash-down",
        "wl--dim",
        "wl--stale",
        "wl--position",
        "wl--bid",
        "wl--ask",
    }
    max_hz = 60.0
    """No faster than a frame (the pump delivers at most ``[ui] fps`` batches a second); see
    :meth:`min_gap` for the pace by rows."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="watchlist.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="watchlist.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="watchlist.pageup"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="watchlist.pagedown"),
        Binding("home", "jump(0)", "First", show=False, id="watchlist.first"),
        Binding("end", "jump(-1)", "Last", show=False, id="watchlist.last"),
        Binding(
            "enter",
            "choose",
            "Trade",
            tooltip="Trade the symbol under the cursor",
            id="watchlist.choose",
        ),
        Binding(
            "delete,backspace",
            "remove",
            "Remove",
            tooltip="Remove the symbol from the watchlist",
            id="watchlist.remove",
        ),
        Binding("o", "sort", "Sort", tooltip="Cycle the sort order", id="watchlist.sort"),
    ]

    class Chosen(Message):
        """The user chose a symbol to trade."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    class RemoveRequested(Message):
        """The user asked to remove a symbol."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    class RowsShown(Message):
        """Other symbols came into view (scrolled, sorted, added or removed)."""

    class CursorMoved(Message):
        """The cursor went to another symbol's row (the full-screen watchlist selects it)."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, store: Store, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.store = store
        self.cursor = 0
        self.top_row = 0
        self.sort = "added"
        self.selected: str | None = None
        self._order: list[str] = []
        self._ordered_from: tuple[list[str], str] | None = None
        """The store's symbol list and the sort ``_order`` was made from."""
        self._sorted_at = 0.0
        self.in_view: frozenset[str] = frozenset()
        """The symbols of the rows in view (the engine sends these in full)."""
        self._rows_changed = 0
        """Rows the last rebuild repainted (the pace of the next: :meth:`min_gap`)."""

    def on_mount(self) -> None:
        """Tick ages and flashes fade on a slow timer (not per tick)."""
        self.set_interval(AGES_S, self._ages)

    def _ages(self) -> None:
        if time.monotonic() - self._last_rebuild >= AGES_S * 0.9:
            self.rebuild()  # else a batch just redrew the list, ages and all

    def min_gap(self) -> float:
        """A row in view that moved shows at the next frame while few move; the more rows
        the last rebuild repainted, the longer the next waits (``ROWS_PER_S``)."""
        return max(1.0 / self.max_hz, self._rows_changed / ROWS_PER_S)

    # ------------------------------------------------------------------ order

    def keys(self) -> list[str]:
        """Symbols in display order."""
        keys = list(self.store.watchlist)
        store = self.store
        if self.sort == "symbol":
            keys.sort()
        elif self.sort == "change":

            def pct(k: str) -> float:
                q = store.quotes.get(k)
                if q is None or not q.close or q.ltp is None:
                    return 0.0
                return (q.ltp - q.close) / q.close

            keys.sort(key=pct, reverse=True)
        elif self.sort == "volume":
            keys.sort(
                key=lambda k: store.quotes[k].volume or 0 if k in store.quotes else 0, reverse=True
            )
        return keys

    def current_key(self) -> str | None:
        """The symbol under the cursor."""
        if not self._order:
            self._order = self.keys()
        if 0 <= self.cursor < len(self._order):
            return self._order[self.cursor]
        return None

    # ------------------------------------------------------------------ rows

    def _columns(self) -> list[Column]:
        """The columns that fit, most important first, shown in their natural order."""
        width = self.size.width or 100
        chosen: set[str] = set()
        used = 0
        by_name = {c.name: c for c in COLUMNS}
        saved = self.store.watchlists.get(self.store.active_watchlist)
        shown = set(saved.columns) | {"symbol"} if saved is not None and saved.columns else None
        for group in GROUPS:  # bid and ask come together or not at all
            if shown is not None and not shown.intersection(group):
                continue  # the trader hid it (remembered by the engine with the list)
            need = sum(by_name[n].width + 1 for n in group)
            if used + need <= width:
                chosen.update(group)
                used += need
        cols = [c for c in COLUMNS if c.name in chosen]
        extra = max(0, width - used)
        if cols and extra:  # the symbol column takes some of the slack
            cols[0] = Column("symbol", "Symbol", cols[0].width + min(extra, 8))
        return cols

    def _reorder(self) -> None:
        """Put the symbols in display order: at once for another list or sort, else a price
        sort at most every ``AGES_S`` (not 3,000 symbols sorted per frame; the rows in view
        still show every price at the next frame)."""
        source = (self.store.watchlist, self.sort)
        now = time.monotonic()
        old = self._ordered_from
        if (
            old is None
            or old[0] is not source[0]
            or old[1] != source[1]
            or (self.sort != "added" and now - self._sorted_at >= AGES_S)
        ):
            self._order = self.keys()
            self._ordered_from = source
            self._sorted_at = now

    def rebuild(self) -> None:
        """Recompute every visible row; only changed rows repaint."""
        self._reorder()
        if self._order:
            self.cursor = max(0, min(self.cursor, len(self._order) - 1))
        cols = self._columns()
        height = max(1, self.size.height - 1)
        if self.cursor < self.top_row:
            self.top_row = self.cursor
        elif self.cursor >= self.top_row + height:
            self.top_row = self.cursor - height + 1
        self.top_row = max(0, min(self.top_row, max(0, len(self._order) - height)))
        header: Line = ("wl--header", self._header(cols))
        lines: list[Line] = [header]
        now_ns = self.store.clock()
        mono = self.store.mono()
        rows = self._order[self.top_row : self.top_row + height]
        for i, key in enumerate(rows, self.top_row):
            lines.append(self._row(key, cols, i == self.cursor, now_ns, mono))
        if not self._order:
            lines.append(("wl--dim", ((" no symbols — press / to add one", ""),)))
        self._rows_changed = self.set_lines(lines)
        self._last_rebuild = time.monotonic()
        in_view = frozenset(rows)
        if in_view != self.in_view:
            self.in_view = in_view
            self.post_message(self.RowsShown())

    def _header(self, cols: list[Column]) -> tuple[Cell, ...]:
        out: list[Cell] = []
        for c in cols:
            out.append(cell(c.title, c.width, left=c.name in ("symbol", "spark")))
            out.append((" ", ""))
        return tuple(out)

    def _row(self, key: str, cols: list[Column], is_cursor: bool, now_ns: int, mono: int) -> Line:
        store = self.store
        q = store.quotes.get(key)
        inst = store.instruments.get(key)
        direction = store.direction.get(key, 0)
        flashing = store.flash_until.get(key, 0) > mono
        out: list[Cell] = []
        for c in cols:
            w = c.width
            if c.name == "symbol":
                mark = "●" if key in store.positions and store.positions[key].qty != 0 else " "
                label = inst.symbol if inst is not None else key
                cls = "wl--position" if mark == "●" else ""
                out.append(cell(f"{mark}{label}", w, cls, left=True))
            elif q is None:
                out.append(cell("—" if c.name == "ltp" else "", w, "wl--dim"))
            elif c.name == "ltp" and q.ltp is None:  # no trade yet
                out.append(cell("—", w, "wl--dim"))
            elif c.name == "ltp":
                cls = "wl--up" if direction > 0 else "wl--down" if direction < 0 else ""
                if flashing and direction:
                    cls = "wl--flash-up" if direction > 0 else "wl--flash-down"
                arrow = "▲" if direction > 0 else "▼" if direction < 0 else " "
                out.append(cell(f"{store.fmt_price(key, q.ltp)}{arrow}", w, cls))
            elif c.name in ("chg", "pct"):
                if q.close and q.ltp is not None:
                    diff = q.ltp - q.close
                    cls = "wl--up" if diff > 0 else "wl--down" if diff < 0 else ""
                    if c.name == "chg":
                        text = store.fmt_price(key, diff)
                        text = text if diff < 0 else f"+{text}"
                    else:
                        text = fmt_pct(q.ltp, q.close)
                    out.append(cell(text, w, cls))
                else:
                    out.append(cell("", w))
            elif c.name == "bid":
                out.append(cell(store.fmt_price(key, q.bid), w, "wl--bid"))
            elif c.name == "ask":
                out.append(cell(store.fmt_price(key, q.ask), w, "wl--ask"))
            elif c.name == "volume":
                out.append(cell(fmt_volume(q.volume), w))
            elif c.name == "spark":
                hist = store.history.get(key, ())
                out.append((sparkline(hist, w), "wl--up" if direction >= 0 else "wl--down"))
            elif c.name == "age":
                age = store.tick_age_ns(key, now_ns)
                if store.stale(key, now_ns):
                    out.append(cell("STALE", w, "wl--stale"))
                else:
                    out.append(cell(fmt_age(age, coarse=True), w, "wl--dim"))
            text, cls = out[-1]
            out[-1] = (text + " ", cls)  # the gap shares the cell's style: fewer style switches
        row_cls = "wl--cursor" if is_cursor and self.has_focus else ""
        if key == self.selected:
            row_cls = (row_cls + " wl--selected").strip()
        return (row_cls, tuple(out))

    # ------------------------------------------------------------------ updates from the app

    def update_from(self, changed: set[str] | None) -> None:
        """Redraw after a batch: ``None`` means everything, else the symbols that moved.

        Only rows in view matter: a batch that moved none of them costs nothing (a price
        sort's order follows the others on the slow timer); one that did is drawn at the
        next frame, paced by the rows repainted (:meth:`min_gap`).
        """
        if changed is not None and self.in_view.isdisjoint(changed):
            return  # none of the rows in view moved
        if changed is None:
            saved = self.store.watchlists.get(self.store.active_watchlist)
            if saved is not None and saved.sort in SORTS:
                self.sort = saved.sort  # the list's sort, as the engine remembers it
            self._ordered_from = None  # everything changed: the order too
            self.rebuild()
        else:
            self.rebuild_soon()

    def on_focus(self) -> None:
        """Show the cursor."""
        self.rebuild()

    def on_blur(self) -> None:
        """Hide the cursor."""
        self.rebuild()

    # ------------------------------------------------------------------ actions

    def action_cursor(self, delta: int) -> None:
        """Move the cursor."""
        if not self._order:
            return
        self._cursor_to(max(0, min(len(self._order) - 1, self.cursor + delta)))

    def _cursor_to(self, row: int) -> None:
        before = self.current_key()
        self.cursor = row
        self.rebuild()
        key = self.current_key()
        if key is not None and key != before:
            self.post_message(self.CursorMoved(key))

    def cursor_on(self, key: str | None) -> None:
        """Put the cursor on ``key``'s row (if it is in the list)."""
        if not self._order:
            self._order = self.keys()
        if key in self._order:
            self.cursor = self._order.index(key)
            self.rebuild()

    def action_page(self, direction: int) -> None:
        """Move the cursor a page (the rows in view) down or up."""
        self.action_cursor(direction * max(1, self.size.height - 1))

    def action_jump(self, row: int) -> None:
        """Move the cursor to a row (-1: the last)."""
        if self._order:
            self._cursor_to(row % len(self._order))

    def action_choose(self) -> None:
        """Trade the symbol under the cursor."""
        key = self.current_key()
        if key is not None:
            self.post_message(self.Chosen(key))

    def action_remove(self) -> None:
        """Ask to remove the symbol under the cursor."""
        key = self.current_key()
        if key is not None:
            self.post_message(self.RemoveRequested(key))

    def action_sort(self) -> None:
        """Cycle the sort order."""
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.notify(f"Watchlist sorted by {self.sort}", timeout=1.5)
        sort = self.sort
        send = getattr(self.app, "send", None)
        if send is not None:  # remembered with the list, by the engine
            send(lambda i: SetWatchlistView(id=i, sort=sort))
        self.rebuild()


def shown_keys(
    store: Store, selected: str | None, screens: Sequence[Screen[object]]
) -> frozenset[str]:
    """The symbols the screen draws in full (the engine sends the others about once a
    second): ``selected`` (its ladder, quote, depth and chart), the watchlist rows in view
    (the top screen's, and those under modal screens, which let them show), and the symbols
    of open positions and working orders (their panes move with the price)."""
    keys = {selected} if selected is not None else set()
    for screen in seen_screens(screens):
        for wl in screen.query(Watchlist):
            keys |= wl.in_view
    keys.update(pos.key for pos in store.positions.values() if pos.qty != 0)
    keys.update(o.key for o in store.orders.values() if is_working(o))
    return frozenset(keys)
