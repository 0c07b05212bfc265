"""Working orders (amend, cancel from the list) and recent orders/fills; rejects stand out."""

from __future__ import annotations

import time
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message

from cockpit.link.protocol import OrderView
from cockpit.ui.fmt import fmt_qty
from cockpit.ui.store import Store, is_working
from cockpit.ui.widgets.grid import Cell, Line, LineGrid, cell

COLUMNS: tuple[str, ...] = (
    "time",
    "symbol",
    "side",
    "qty",
    "type",
    "price",
    "trigger",
    "status",
    "tag",
)
"""The columns in the order they are shown (the reason, if any, takes what is left)."""
WIDTHS: dict[str, int] = {
    "time": 8,
    "symbol": 9,
    "side": 4,
    "qty": 7,
    "type": 4,
    "price": 10,
    "trigger": 9,
    "status": 9,
    "tag": 9,
}
PRIORITY: tuple[str, ...] = (
    "symbol",
    "side",
    "qty",
    "price",
    "status",
    "type",
    "trigger",
    "time",
    "tag",
)
"""Columns in the order they are given room: a narrow pane drops the last ones first."""
STATUS: dict[str, str] = {
    "complete": "filled",
    "filled": "filled",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "rejected": "rejected",
    "open": "open",
    "trigger pending": "trig pend",
    "partial": "partial",
    "pending": "pending",
    "pending approval": "approval",
    "pending_new": "pending",
    "trigger_pending": "trig pend",
    "partially_filled": "partial",
}
"""Status words (``complete`` and ``cancelled`` never share a letter)."""
TYPES: dict[str, str] = {"MARKET": "MKT", "LIMIT": "LMT", "SL": "SL", "SL-M": "SL-M"}


def _clock(ts_ns: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts_ns / 1e9)) if ts_ns else ""


class OrdersPane(LineGrid, can_focus=True):
    """Working orders first (cursor), then recent final orders and fills."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "orders--header",
        "orders--buy",
        "orders--sell",
        "orders--cursor",
        "orders--rejected",
        "orders--filled",
        "orders--dim",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="orders.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="orders.down"),
        Binding(
            "enter,m",
            "amend",
            "Amend",
            tooltip="Amend the selected working order",
            id="orders.amend",
        ),
        Binding(
            "delete,c",
            "cancel_one",
            "Cancel",
            tooltip="Cancel the selected working order",
            id="orders.cancel",
        ),
    ]

    class AmendRequested(Message):
        """Amend this working order."""

        def __init__(self, order: OrderView) -> None:
            super().__init__()
            self.order = order

    class CancelRequested(Message):
        """Cancel this working order."""

        def __init__(self, order: OrderView) -> None:
            super().__init__()
            self.order = order

    def __init__(self, store: Store, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.store = store
        self.cursor = 0
        self._working: list[OrderView] = []

    def selected_order(self) -> OrderView | None:
        """The working order under the cursor."""
        if 0 <= self.cursor < len(self._working):
            return self._working[self.cursor]
        return None

    def _fit(self, width: int, triggers: bool) -> dict[str, int]:
        """The columns that fit ``width``, by name → width (most important first; the
        trigger column only if an order shown has a trigger)."""
        chosen: dict[str, int] = {}
        used = 0
        for name in PRIORITY:
            if name == "trigger" and not triggers:
                continue
            need = WIDTHS[name] + 1
            if used + need <= width:
                chosen[name] = WIDTHS[name]
                used += need
        if "symbol" in chosen:  # the symbol takes some of the slack
            chosen["symbol"] += min(max(0, width - used), 6)
        return chosen

    def _order_cells(self, o: OrderView, cols: dict[str, int], width: int) -> tuple[Cell, ...]:
        store = self.store
        side_cls = "orders--buy" if o.side == "BUY" else "orders--sell"
        inst = store.instruments.get(o.key)
        working = is_working(o)
        if not working and o.filled and o.avg_price is not None:
            price = "@" + store.fmt_dec_price(o.key, o.avg_price)  # the fill price
        elif o.price is not None:
            price = store.fmt_price(o.key, o.price)
        else:
            price = "MKT"
        qty = f"{fmt_qty(o.filled)}/{fmt_qty(o.qty)}" if 0 < o.filled < o.qty else fmt_qty(o.qty)
        values = {
            "time": (_clock(o.ts_ns), "orders--dim", True),
            "symbol": (inst.symbol if inst else o.key, "", True),
            "side": (o.side, side_cls, True),
            "qty": (qty, "", False),
            "type": (TYPES.get(o.order_type, o.order_type), "", True),
            "price": (price, "", False),
            "trigger": (
                f"t{store.fmt_price(o.key, o.trigger)}" if o.trigger is not None else "",
                "",
                False,
            ),
            "status": (STATUS.get(o.status.lower(), o.status), "", True),
            "tag": (o.tag, "orders--dim", True),
        }
        cells: list[Cell] = [(" ", "")]
        used = 1
        for name in COLUMNS:
            if name in cols:
                text, cls, left = values[name]
                cells.append(cell(text, cols[name], cls, left=left))
                cells.append((" ", ""))
                used += cols[name] + 1
        if o.reason and width - used > len(o.reason):
            cells.append(cell(o.reason, width - used, "", left=True))
        return tuple(cells)

    def _reason_line(self, o: OrderView, cols: dict[str, int], width: int) -> Line | None:
        """The reason of a rejected or cancelled order on a line of its own when it does not
        fit at the end of the order's row."""
        used = 1 + sum(w + 1 for w in cols.values())
        if not o.reason or width - used > len(o.reason):
            return None
        return ("orders--dim", (cell(f"   ↳ {o.reason}", width, left=True),))

    def rebuild(self) -> None:
        """Recompute the list."""
        store = self.store
        height = self.size.height or 10
        width = self.size.width or 60
        self._working = store.working_orders()
        final = store.final_orders()[: max(0, height - len(self._working) - 2)]
        cols = self._fit(width - 1, any(o.trigger is not None for o in self._working + final))
        if self._working:
            self.cursor = max(0, min(self.cursor, len(self._working) - 1))
        lines: list[Line] = [("orders--header", ((f" Working orders ({len(self._working)})", ""),))]
        for i, o in enumerate(self._working):
            cls = "orders--cursor" if i == self.cursor and self.has_focus else ""
            lines.append((cls, self._order_cells(o, cols, width)))
        if not self._working:
            lines.append(("orders--dim", ((" none", ""),)))
        lines.append(("orders--header", ((" Recent", ""),)))
        for o in final[: max(0, height - len(lines))]:
            st = o.status.lower()
            cls = (
                "orders--rejected"
                if st == "rejected"
                else "orders--filled"
                if st in ("complete", "filled")
                else "orders--dim"
            )
            lines.append((cls, self._order_cells(o, cols, width)))
            why = self._reason_line(o, cols, width)
            if why is not None and len(lines) < height:
                lines.append(why)
        self.set_lines(lines[: max(height, 3)])

    def on_focus(self) -> None:
        """Show the cursor."""
        self.rebuild()

    def on_blur(self) -> None:
        """Hide the cursor."""
        self.rebuild()

    def action_cursor(self, delta: int) -> None:
        """Move the cursor over working orders."""
        if self._working:
            self.cursor = max(0, min(len(self._working) - 1, self.cursor + delta))
            self.rebuild()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A read-only viewer does not offer order keys."""
        return not (
            getattr(self.app, "read_only", False)
            and action
            in (
                "amend",
                "cancel_one",
            )
        )

    def action_amend(self) -> None:
        """Amend the selected order."""
        o = self.selected_order()
        if o is not None:
            self.post_message(self.AmendRequested(o))

    def action_cancel_one(self) -> None:
        """Cancel the selected order."""
        o = self.selected_order()
        if o is not None:
            self.post_message(self.CancelRequested(o))
