"""Positions with their exit plans: P&L, stop, target, trail, distances, R, and a gauge line."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import ClassVar

from cockpit.link.protocol import PlanView, PositionView
from cockpit.ui.fmt import exit_reason, fmt_money, fmt_qty
from cockpit.ui.store import Store, unrealized_at
from cockpit.ui.widgets.grid import Cell, Line, LineGrid, cell
from cockpit.ui.widgets.ladder import avg_to_ticks


def gauge(
    width: int, stop: int | None, entry: int | None, price: int | None, target: int | None
) -> list[Cell]:
    """``S────E──●────T``: where the price sits between stop and target."""
    marks = [
        (v, ch, cls)
        for v, ch, cls in (
            (stop, "S", "pos--stop"),
            (entry, "E", "pos--entry"),
            (target, "T", "pos--target"),
            (price, "●", "pos--price"),
        )
        if v is not None
    ]
    if width < 5 or len(marks) < 2:
        return [(" " * max(0, width), "")]
    lo = min(v for v, _, _ in marks)
    hi = max(v for v, _, _ in marks)
    span = max(1, hi - lo)
    slots: list[tuple[str, str]] = [("─", "pos--gauge")] * width
    for v, ch, cls in marks:
        x = (v - lo) * (width - 1) // span
        slots[x] = (ch, cls)
    out: list[Cell] = []
    for ch, cls in slots:
        if out and out[-1][1] == cls:
            out[-1] = (out[-1][0] + ch, cls)
        else:
            out.append((ch, cls))
    return out


def unrealized(pos: PositionView, ltp: int | None, tick_size: Decimal) -> Decimal:
    """Unrealized P&L at the latest price (exact): the engine publishes positions when they
    change, the price moves on every batch. Same figure as the status bar's day P&L uses."""
    return unrealized_at(pos, ltp, tick_size)


class PositionsPane(LineGrid):
    """Open (and today's closed) positions, two lines each: figures, then a gauge.

    Redrawn at once for position and plan events; as prices move (P&L, gauges, distances)
    at most ``max_hz`` times a second.
    """

    max_hz = 10.0

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "pos--header",
        "pos--long",
        "pos--short",
        "pos--up",
        "pos--down",
        "pos--stop",
        "pos--target",
        "pos--entry",
        "pos--price",
        "pos--gauge",
        "pos--dim",
        "pos--fired",
        "pos--selected",
    }

    def __init__(self, store: Store, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.store = store
        self.selected: str | None = None
        self.day_pnl: Decimal | None = None
        """The day P&L of the rows as last drawn (their sum): what the status bar beside
        it shows, so the two never disagree between the pane's paced redraws."""
        self.on_day_pnl: Callable[[], None] | None = None
        """Called when a redraw changes :attr:`day_pnl` (the status bar redraws)."""

    def rebuild(self) -> None:
        """Recompute every line."""
        store = self.store
        width = self.size.width or 100
        header: list[Cell] = [
            cell("Symbol", 10, left=True),
            cell("Side", 5, left=True),
            cell("Qty", 5),
            (" ", ""),
            cell("Avg", 9),
            cell("LTP", 9),
            cell("Unreal", 10),
            cell("Real", 10),
            (" ", ""),
            cell("Stop", 9),
            cell("Target", 9),
        ]
        lines: list[Line] = [("pos--header", tuple(header))]
        keys = sorted(store.positions, key=lambda k: (store.positions[k].qty == 0, k))
        for key in keys:
            pos = store.positions[key]
            plan = store.plans.get(key)
            lines.extend(self._lines_for(key, pos, plan, width))
        total = store.day_pnl()  # the same store state as the rows: their sum
        if total != self.day_pnl:
            self.day_pnl = total
            if self.on_day_pnl is not None:
                self.on_day_pnl()
        if len(lines) == 1:
            lines.append(("pos--dim", ((" no positions — b buys, s sells at market", ""),)))
        self.set_lines(lines)

    def _lines_for(
        self, key: str, pos: PositionView, plan: PlanView | None, width: int
    ) -> list[Line]:
        store = self.store
        inst = store.instruments.get(key)
        ts = store.tick_size(key)
        ltp = store.mark(key)  # the latest LTP: the status bar's day P&L uses the same
        long = pos.qty > 0
        side = "LONG" if long else "SHORT" if pos.qty < 0 else "FLAT"
        side_cls = "pos--long" if long else "pos--short" if pos.qty < 0 else "pos--dim"
        unreal = unrealized(pos, ltp, ts)
        up = "pos--up" if unreal > 0 else "pos--down" if unreal < 0 else ""
        rup = "pos--up" if pos.realized > 0 else "pos--down" if pos.realized < 0 else ""
        live = plan if plan is not None and not plan.fired else None
        stop = live.stop if live else None
        target = live.target if live else None
        sym = inst.symbol if inst is not None else key
        row_cls = "pos--selected" if key == self.selected else ""
        ccy = store.currency(key)
        cells: list[Cell] = [
            cell(sym, 10, left=True),
            cell(side, 5, side_cls, left=True),
            cell(fmt_qty(abs(pos.qty)), 5),
            (" ", ""),
            cell(store.fmt_dec_price(key, pos.avg_price) if pos.qty else "", 9),
            cell(store.fmt_price(key, ltp), 9),
            cell(fmt_money(unreal, currency=ccy) if pos.qty else "", 10, up),
            cell(fmt_money(pos.realized, currency=ccy), 10, rup),
            (" ", ""),
            cell(store.fmt_price(key, stop), 9, "pos--stop"),
            cell(store.fmt_price(key, target), 9, "pos--target"),
        ]
        qty = abs(pos.qty)
        entry = (
            plan.entry
            if plan is not None
            else (avg_to_ticks(pos.avg_price, ts) if pos.qty else None)
        )
        r_mult = self._r(entry, live.initial_risk if live is not None else None, ltp, long)
        lines: list[Line] = [(row_cls, tuple(cells))]
        if plan is not None and plan.fired:
            ex = store.exits.get(key)
            why = f"  exit fired: {exit_reason(plan.fired)}"
            if ex is not None:
                why += f" at {store.fmt_price(key, ex.price)}"
                if ex.level is not None:
                    why += f" (level {store.fmt_price(key, ex.level)})"
            lines.append(("pos--fired", ((why, ""),)))
        elif pos.qty != 0:
            # Second line: the gauge, then distances to stop and target (ticks and money),
            # the R-multiple, the trail and the last plan change, as far as they fit.
            gw = max(12, min(40, width // 3))
            g = gauge(gw, stop, entry, ltp, target)
            tail: list[Cell] = []
            d_stop = self._distance(ltp, stop, qty, ts, long)
            d_tgt = self._distance(ltp, target, qty, ts, long)
            if d_stop:
                tail += [("  stop ", "pos--dim"), (d_stop, "pos--stop")]
            if d_tgt:
                tail += [("  tgt ", "pos--dim"), (d_tgt, "pos--target")]
            if r_mult:
                tail += [(f"  {r_mult}", "")]
            for t in live.targets if live is not None else ():
                done = "✓" if t.fired else store.fmt_price(key, t.level)
                tail += [(f"  TP{t.n} {fmt_qty(t.qty)} {done}", "pos--target")]
            if live is not None and live.trail is not None:
                unit = {"ticks": "t", "percent": "%"}.get(live.trail.kind, "pt")
                state = "on" if live.trail_active else "off"
                tail += [(f"  trail {fmt_qty(live.trail.distance)}{unit} {state}", "pos--dim")]
            change = store.plan_changes.get(key, "")
            if change:
                tail += [(f"  ({change})", "pos--dim")]
            lines.append(("", (("  ", ""), *g, *tail)))
        return lines

    def _distance(
        self, ltp: int | None, level: int | None, qty: Decimal, ts: Decimal, long: bool
    ) -> str:
        if ltp is None or level is None:
            return ""
        ticks = abs(ltp - level)
        money = ticks * ts * qty
        return f"{ticks}t/{money:,.2f}"

    def _r(self, entry: int | None, risk: int | None, ltp: int | None, long: bool) -> str:
        """The R-multiple at ``ltp``: 1R is the plan's initial risk (from the engine)."""
        if entry is None or ltp is None:
            return ""
        if not risk:
            return "—"
        gain = (ltp - entry) if long else (entry - ltp)
        return f"{gain / risk:+.1f}R"
