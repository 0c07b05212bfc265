"""The order-book ladder: one row per price on the tick grid, centred on the market."""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message

from cockpit.ui.fmt import fmt_qty, fmt_volume
from cockpit.ui.ladder_orders import plan_level
from cockpit.ui.store import Store, is_working
from cockpit.ui.widgets.grid import Cell, Line, LineGrid, cell
from cockpit.ui.widgets.ladder_flow import Columns, fit_columns, grouped, profile_bar

GROUPS = (1, 2, 5, 10, 25)
"""Ticks per row ``z`` steps through (fast instruments)."""
EDGE = 2
"""Re-centre automatically when the last price comes this close to the window's edge."""
WORK_S = 5.0
"""The trader is working the ladder for this long after moving its cursor: it does not
re-centre away from the cursor meanwhile (nor at all while held with ``l``)."""


Pick = tuple[str, str | None]
"""What is picked on the ladder to be moved: ``("order", cid)``, ``("stop", None)``,
``("target", None)``, a scale-out target ``("tp", "2")``."""


def avg_to_ticks(avg: Decimal, tick_size: Decimal) -> int:
    """An average price to the nearest tick (display only)."""
    return int((avg / tick_size).to_integral_value(rounding=ROUND_HALF_UP))


class Ladder(LineGrid, can_focus=True):
    """Price rows (bid qty · price · ask qty), my orders, traded volume and plan marks."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "ladder--header",
        "ladder--bid",
        "ladder--ask",
        "ladder--bid-best",
        "ladder--ask-best",
        "ladder--price",
        "ladder--mine-buy",
        "ladder--mine-sell",
        "ladder--volume",
        "ladder--sold",
        "ladder--bought",
        "ladder--profile",
        "ladder--last",
        "ladder--ltp",
        "ladder--entry",
        "ladder--stop",
        "ladder--target",
        "ladder--cursor",
        "ladder--mark",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(1)", "Up", show=False, id="ladder.up"),
        Binding("down,j", "move(-1)", "Down", show=False, id="ladder.down"),
        Binding("pageup", "move(10)", "Page up", show=False, id="ladder.pageup"),
        Binding("pagedown", "move(-10)", "Page down", show=False, id="ladder.pagedown"),
        Binding(
            "space",
            "recentre",
            "Centre",
            tooltip="Re-centre the ladder on the market",
            id="ladder.recentre",
        ),
        Binding(
            "l",
            "hold",
            "Hold",
            tooltip="Hold the ladder where it is (no re-centring) or let it follow again",
            id="ladder.hold",
        ),
        Binding(
            "enter",
            "limit_here",
            "Limit",
            tooltip="Limit order at the cursor on the natural side",
            id="ladder.limit",
        ),
        Binding(
            "z",
            "group",
            "Group",
            tooltip="Price grouping: 1, 2, 5, 10 or 25 ticks per row",
            id="ladder.group",
        ),
    ]

    class LimitRequested(Message):
        """Enter on the ladder: a limit order at ``price`` (ticks) on ``side``."""

        def __init__(self, key: str, side: str, price: int) -> None:
            super().__init__()
            self.key = key
            self.side = side
            self.price = price

    def __init__(self, store: Store, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.store = store
        self.key: str | None = None
        self.center: int | None = None
        self.cursor: int | None = None
        self.recentres = 0
        """How many times the ladder re-centred itself (tests)."""
        self.cursor_moved = False
        """The user moved the cursor off the market (B/S then use it as the limit price)."""
        self.held = False
        """``l``: the ladder stays where it is until ``l`` or space."""
        self.pick: Pick | None = None
        """The order, stop or target picked to be moved (``v``); marked ◆ on its row."""
        self.group = 1
        """Ticks per row (``z``); rows start at multiples of it."""
        self.columns: Columns | None = None
        """The columns of the last rebuild (tests, and where toasts may go)."""
        self.price_width = 0
        """The price column's width at the last rebuild."""
        self.work_s = WORK_S
        self._worked = -1e9
        """Monotonic time the cursor last moved."""

    # ------------------------------------------------------------------ geometry

    @property
    def rows(self) -> int:
        """Price rows on screen."""
        return max(1, self.size.height - 1)

    def base(self, price: int) -> int:
        """The lowest price of the row holding ``price`` (itself unless grouped)."""
        return price - price % self.group

    def top(self) -> int:
        """The price (ticks) of the first row."""
        assert self.center is not None
        return self.base(self.center) + (self.rows // 2) * self.group

    def bottom(self) -> int:
        """The price (ticks) of the last row."""
        return self.top() - (self.rows - 1) * self.group

    def price_at(self, y: int) -> int | None:
        """Price of screen row ``y`` (row 0 is the header); grouped: the row's lowest."""
        if self.center is None or y < 1:
            return None
        return self.top() - (y - 1) * self.group

    def row_of(self, price: int) -> int | None:
        """Screen row of ``price`` if visible."""
        if self.center is None:
            return None
        y = (self.top() - self.base(price)) // self.group + 1
        return y if 1 <= y <= self.rows else None

    def set_symbol(self, key: str | None) -> None:
        """Show another symbol (centres on its market)."""
        if key != self.key:
            self.key = key
            self.center = None
            self.cursor = None
            self.cursor_moved = False
            self.held = False
            self.pick = None
        self.rebuild()

    def pick_level(self) -> int | None:
        """The row of what is picked (None, and the pick dropped, once it is gone)."""
        kind, cid = self.pick or ("", None)
        level: int | None = None
        plan = self.store.plans.get(self.key or "")
        if kind == "order":
            o = self.store.orders.get(cid or "")
            if o is not None and is_working(o):
                level = o.price if o.price is not None else o.trigger
        else:
            level = plan_level(plan, kind, cid)
        if level is None:
            self.pick = None
        return level

    def working(self) -> bool:
        """Whether the trader is working the ladder (held, or the cursor moved lately)."""
        return self.held or time.monotonic() - self._worked < self.work_s

    def _market_price(self) -> int | None:
        if self.key is None:
            return None
        q = self.store.quotes.get(self.key)
        if q is None:
            return None
        if q.ltp is None:  # no trade yet: the middle of the touch
            if q.bid is not None and q.ask is not None:
                return (q.bid + q.ask) // 2
            return q.bid if q.bid is not None else q.ask
        return q.ltp

    def _keep_in_window(self) -> None:
        ltp = self._market_price()
        if ltp is None:
            return
        if not self.cursor_moved:  # an unmoved cursor sits on the market, where it is drawn
            self.cursor = ltp
        if self.center is None:
            self.center = ltp
            return
        top = self.top() + self.group - 1
        bottom = self.bottom()
        margin = min(EDGE, max(0, self.rows // 4)) * self.group
        if (ltp > top - margin or ltp < bottom + margin) and not self.working():
            self.center = ltp
            self.recentres += 1

    # ------------------------------------------------------------------ rows

    def rebuild(self) -> None:
        """Recompute the visible rows; only changed ones repaint."""
        store = self.store
        key = self.key
        width = self.size.width or 60
        if key is None:
            self.set_lines([("ladder--header", (("  no symbol — press / to add one", ""),))])
            return
        self._keep_in_window()
        if self.center is None:
            self.set_lines([("ladder--header", ((f"  {key}: waiting for prices", ""),))])
            return
        q = store.quotes.get(key)
        book = store.books.get(key)
        bids: dict[int, Decimal] = {}
        asks: dict[int, Decimal] = {}
        if book is not None:
            bids = {p: qty for p, qty, _ in book.bids}
            asks = {p: qty for p, qty, _ in book.asks}
        elif q is not None:
            if q.bid is not None and q.bid_qty is not None:
                bids[q.bid] = q.bid_qty
            if q.ask is not None and q.ask_qty is not None:
                asks[q.ask] = q.ask_qty
        best_bid = max(bids) if bids else (q.bid if q else None)
        best_ask = min(asks) if asks else (q.ask if q else None)
        mine_buy: dict[int, Decimal] = {}
        mine_sell: dict[int, Decimal] = {}
        for o in store.orders.values():
            if o.key != key or not is_working(o):
                continue
            level = o.price if o.price is not None else o.trigger
            if level is None:
                continue
            book_side = mine_buy if o.side == "BUY" else mine_sell
            book_side[level] = book_side.get(level, Decimal(0)) + (o.qty - o.filled)
        g = self.group
        if g > 1:
            bids, asks = grouped(bids, g), grouped(asks, g)
            mine_buy, mine_sell = grouped(mine_buy, g), grouped(mine_sell, g)
        vap = grouped(store.vap.get(key, {}), g)
        bought = grouped(store.bought.get(key, {}), g)
        plan = store.plans.get(key)
        pos = store.positions.get(key)
        entry: int | None = None
        if plan is not None:
            entry = plan.entry
        elif pos is not None and pos.qty != 0:
            entry = avg_to_ticks(pos.avg_price, store.tick_size(key))
        stop = plan.stop if plan is not None and not plan.fired else None
        target = plan.target if plan is not None and not plan.fired else None
        trailing = plan is not None and plan.trail_active
        tps = {t.level: f"TP{t.n}" for t in plan.targets if not t.fired} if plan else {}
        ltp = q.ltp if q is not None else None
        pw = max(8, len(store.fmt_price(key, self.top())) + 1)
        cols = self.columns = fit_columns(width, pw)
        self.price_width = pw
        top = self.top()
        bottom = self.bottom()
        at = self.base
        tp_rows = {at(level): name for level, name in tps.items()}
        ltp_row = at(ltp) if ltp is not None else None
        last_size = q.ltq if q is not None and ltp is not None else None
        shown = [vap.get(top - i * g) for i in range(self.rows)]
        most = max((v for v in shown if v), default=Decimal(0))
        away: list[str] = ["HELD"] if self.held else []
        if key not in store.instruments:
            away.append("instrument unknown: no prices")
        cursor = self.cursor if self.cursor_moved else None
        picked = self.pick_level()
        for label, level in (
            ("LTP", ltp),
            ("CUR", cursor),
            ("STOP", stop),
            ("TGT", target),
            ("ENT", entry),
        ):
            if level is not None and not bottom <= at(level) <= top:
                arrow = "↑" if level > top else "↓"
                away.append(f"{arrow}{label} {store.fmt_price(key, level)}")
        for side, levels in (("BUY", mine_buy), ("SELL", mine_sell)):
            for level, n in sorted(levels.items(), reverse=True):
                if not bottom <= at(level) <= top:
                    arrow = "↑" if level > top else "↓"
                    away.append(f"{arrow}{side} {fmt_qty(n)}@{store.fmt_price(key, level)}")
        lines: list[Line] = [self._header(pw, cols, " ".join(away))]
        level_rows = {
            name: at(level) if level is not None else None
            for name, level in (
                ("target", target),
                ("entry", entry),
                ("stop", stop),
                ("picked", picked),
                ("cursor", self.cursor),
                ("bid", best_bid),
                ("ask", best_ask),
            )
        }
        for i in range(self.rows):
            p = top - i * g
            marks: list[str] = []
            row_cls = ""
            if p == level_rows["target"]:
                marks.append("TGT")
                row_cls = "ladder--target"
            if p in tp_rows:
                marks.append(tp_rows[p])
                row_cls = "ladder--target"
            if p == level_rows["entry"]:
                marks.append("ENT")
                row_cls = "ladder--entry"
            if p == level_rows["stop"]:
                marks.append("STOP⇡" if trailing else "STOP")
                row_cls = "ladder--stop"
            if p == level_rows["picked"]:
                marks.append("◆")
            if p == ltp_row:
                marks.insert(0, "◀LTP")
                row_cls = (row_cls + " ladder--ltp").strip()
            if p == level_rows["cursor"] and self.has_focus:
                row_cls = (row_cls + " ladder--cursor").strip()
            elif p == level_rows["cursor"]:
                marks.append("‹")
            mb = mine_buy.get(p)
            ms = mine_sell.get(p)
            bq = bids.get(p)
            aq = asks.get(p)
            cells: list[Cell] = [
                cell(fmt_qty(mb) if mb else "", cols.mine, "ladder--mine-buy"),
                (" ", ""),
                cell(
                    fmt_volume(bq) if bq else "",
                    cols.qty,
                    "ladder--bid-best" if p == level_rows["bid"] else "ladder--bid",
                ),
                (" ", ""),
                cell(store.fmt_price(key, p), pw, "ladder--price"),
                (" ", ""),
                cell(
                    fmt_volume(aq) if aq else "",
                    cols.qty,
                    "ladder--ask-best" if p == level_rows["ask"] else "ladder--ask",
                    left=True,
                ),
                (" ", ""),
                cell(fmt_qty(ms) if ms else "", cols.mine, "ladder--mine-sell", left=True),
            ]
            v = shown[i]
            if cols.split:
                up = bought.get(p, Decimal(0)) if v else Decimal(0)
                down = v - up if v else Decimal(0)
                cells.append((" ", ""))
                cells.append(cell(fmt_volume(down) if down else "", cols.split, "ladder--sold"))
                cells.append((" ", ""))
                cells.append(cell(fmt_volume(up) if up else "", cols.split, "ladder--bought"))
            elif cols.volume:
                cells.append((" ", ""))
                cells.append(cell(fmt_volume(v) if v else "", cols.volume, "ladder--volume"))
            if cols.profile:
                bar = profile_bar(v, most, cols.profile)
                cells.append((" ", ""))
                cells.append(cell(bar, cols.profile, "ladder--profile", left=True))
            if cols.last:
                size = last_size if p == ltp_row else None
                cells.append((" ", ""))
                cells.append(cell(fmt_volume(size) if size else "", cols.last, "ladder--last"))
            cells.append((" ", ""))
            cells.append((" ".join(marks), "ladder--mark"))
            lines.append((row_cls, tuple(cells)))
        self.set_lines(lines)

    def _header(self, pw: int, cols: Columns, away: str = "") -> Line:
        if away:  # what is off-screen matters more than the column titles
            return ("ladder--header", ((f" {away}", "ladder--mark"),))
        cells: list[Cell] = [
            cell("Buy", cols.mine),
            (" ", ""),
            cell("Bid", cols.qty),
            (" ", ""),
            cell("Price" if self.group == 1 else f"×{self.group}", pw),
            (" ", ""),
            cell("Ask", cols.qty, left=True),
            (" ", ""),
            cell("Sell", cols.mine, left=True),
        ]
        if cols.split:
            cells += [(" ", ""), cell("Sold", cols.split), (" ", ""), cell("Bought", cols.split)]
        elif cols.volume:
            cells += [(" ", ""), cell("Vol", cols.volume)]
        if cols.profile:
            cells += [(" ", ""), cell("Profile", cols.profile, left=True)]
        if cols.last:
            cells += [(" ", ""), cell("Last", cols.last)]
        cells += [(" ", ""), ("Marks", "")]
        return ("ladder--header", tuple(cells))

    # ------------------------------------------------------------------ focus / actions

    def on_focus(self) -> None:
        """Show the cursor row."""
        self.rebuild()

    def on_blur(self) -> None:
        """Dim the cursor row."""
        self.rebuild()

    def action_move(self, delta: int) -> None:
        """Move the cursor by ``delta`` ticks (up is +); the window follows. A cursor left
        off the screen (the market moved away and the ladder re-centred) starts again from
        the market, where the trader is looking."""
        if self.cursor is None or self.row_of(self.cursor) is None:
            self.cursor = self._market_price()
            if self.cursor is None:
                return
        self.cursor = self.base(self.cursor) + delta * self.group
        self.cursor_moved = True
        self._worked = time.monotonic()
        if self.center is not None and self.row_of(self.cursor) is None:
            self.center += delta * self.group
        self.rebuild()

    def action_recentre(self) -> None:
        """Centre on the last price and put the cursor there."""
        ltp = self._market_price()
        if ltp is not None:
            self.center = ltp
            self.cursor = ltp
            self.cursor_moved = False
            self.held = False
            self.recentres += 1
        self.rebuild()

    def action_group(self) -> None:
        """Step the price grouping (ticks per row): 1, 2, 5, 10, 25, then 1 again."""
        i = GROUPS.index(self.group) if self.group in GROUPS else 0
        self.group = GROUPS[(i + 1) % len(GROUPS)]
        self.rebuild()

    def action_hold(self) -> None:
        """Hold the ladder where it is, or let it follow the market again."""
        self.held = not self.held
        self.rebuild()

    def natural_side(self, price: int) -> str:
        """BUY below the market, SELL above it."""
        q = self.store.quotes.get(self.key or "")
        if q is None:
            return "BUY"
        if q.ask is not None and price >= q.ask:
            return "SELL"
        if q.bid is not None and price <= q.bid:
            return "BUY"
        return "BUY" if q.ltp is None or price <= q.ltp else "SELL"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A read-only viewer does not offer order keys."""
        return not (getattr(self.app, "read_only", False) and action == "limit_here")

    def action_limit_here(self) -> None:
        """Ask for a limit order at the cursor on the natural side."""
        if self.key is None or self.cursor is None:
            return
        self.post_message(
            self.LimitRequested(self.key, self.natural_side(self.cursor), self.cursor)
        )
