"""Working orders (amend, cancel from the list) and recent orders/fills; rejects stand out."""

from __future__ import annotations

import time
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message

from cockpit.link.protocol import OrderView
from cockpit.ui.store import Store, fmt_qty
from cockpit.ui.widgets.grid import Cell, Line, LineGrid, cell


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

    def _order_cells(self, o: OrderView, with_reason: bool) -> tuple[Cell, ...]:
        store = self.store
        side_cls = "orders--buy" if o.side == "BUY" else "orders--sell"
        inst = store.instruments.get(o.key)
        price = store.fmt_price(o.key, o.price) if o.price is not None else "MKT"
        if o.trigger is not None:
            price += f" trg {store.fmt_price(o.key, o.trigger)}"
        cells: list[Cell] = [
            cell(_clock(o.ts_ns), 9, "orders--dim", left=True),
            cell(inst.symbol if inst else o.key, 11, left=True),
            cell(o.side, 5, side_cls, left=True),
            cell(f"{fmt_qty(o.filled)}/{fmt_qty(o.qty)}", 9),
            (" ", ""),
            cell(o.order_type, 6, left=True),
            (" ", ""),
            cell(price, 20, left=True),
            cell(o.status, 10, left=True),
            cell(o.tag, 10, "orders--dim", left=True),
        ]
        if with_reason and o.reason:
            cells.append((o.reason, ""))
        return tuple(cells)

    def rebuild(self) -> None:
        """Recompute the list."""
        store = self.store
        height = self.size.height or 10
        self._working = store.working_orders()
        if self._working:
            self.cursor = max(0, min(self.cursor, len(self._working) - 1))
        lines: list[Line] = [("orders--header", ((f" Working orders ({len(self._working)})", ""),))]
        for i, o in enumerate(self._working):
            cls = "orders--cursor" if i == self.cursor and self.has_focus else ""
            lines.append((cls, self._order_cells(o, False)))
        if not self._working:
            lines.append(("orders--dim", ((" none", ""),)))
        lines.append(("orders--header", ((" Recent", ""),)))
        room = max(0, height - len(lines))
        final = store.final_orders()[:room]
        for o in final:
            st = o.status.lower()
            cls = (
                "orders--rejected"
                if st == "rejected"
                else "orders--filled"
                if st in ("complete", "filled")
                else "orders--dim"
            )
            lines.append((cls, self._order_cells(o, True)))
        self.set_lines(lines)

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
