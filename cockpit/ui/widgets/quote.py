"""The selected symbol's last price, OHLC and quote, and its market depth with quantity bars."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from cockpit.ui.fmt import fmt_pct, fmt_qty, fmt_volume
from cockpit.ui.store import Store
from cockpit.ui.widgets.grid import Cell, Line, LineGrid, cell

BAR = "█"
EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(qty: Decimal, biggest: Decimal, width: int, *, right: bool = False) -> str:
    """A horizontal quantity bar with 1/8-cell resolution."""
    if width <= 0:
        return ""
    if biggest <= 0 or qty <= 0:
        return " " * width
    eighths = int(qty * width * 8 / biggest)
    full, part = divmod(min(eighths, width * 8), 8)
    text = BAR * full + (EIGHTHS[part] if part and full < width else "")
    return text.rjust(width) if right else text.ljust(width)


class SymbolGrid(LineGrid):
    """A grid showing one symbol from the store: empty until a symbol is chosen."""

    max_hz = 10.0

    def __init__(self, store: Store, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.store = store
        self.key: str | None = None

    def set_symbol(self, key: str | None) -> None:
        """Show another symbol."""
        self.key = key
        self.rebuild()

    def rebuild(self) -> None:
        """Recompute the lines for the current symbol (none: empty)."""
        if self.key is None:
            self.set_lines([])
            return
        self.render_symbol(self.key)

    def render_symbol(self, key: str) -> None:
        """Set the lines for ``key``."""
        raise NotImplementedError


class QuotePanel(SymbolGrid):
    """Last price with direction, change, OHLC, volume, best bid/ask."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "quote--symbol",
        "quote--up",
        "quote--down",
        "quote--label",
        "quote--bid",
        "quote--ask",
    }

    def render_symbol(self, key: str) -> None:
        """Recompute the three lines."""
        store = self.store
        q = store.quotes.get(key)
        inst = store.instruments.get(key)
        name = inst.name if inst is not None and inst.name else ""
        if q is None:
            self.set_lines(
                [("", ((f" {key} ", "quote--symbol"), (" waiting for prices", "quote--label")))]
            )
            return
        d = store.direction.get(key, 0)
        arrow = "▲" if d > 0 else "▼" if d < 0 else "•"
        cls = "quote--up" if d > 0 else "quote--down" if d < 0 else ""
        first: list[Cell] = [
            (f" {key} ", "quote--symbol"),
            (f" {store.fmt_price(key, q.ltp) or '—'} {arrow}", cls),
        ]
        if q.close and q.ltp is not None:
            diff = q.ltp - q.close
            ccls = "quote--up" if diff > 0 else "quote--down" if diff < 0 else ""
            sign = "+" if diff >= 0 else ""
            pct = fmt_pct(q.ltp, q.close)
            first.append((f"  {sign}{store.fmt_price(key, diff)} ({pct})", ccls))
        if q.ltq:
            first.append((f"  ltq {fmt_qty(q.ltq)}", "quote--label"))
        if name:
            first.append((f"  {name}", "quote--label"))
        second: list[Cell] = [(" ", "")]
        for label, val in (("O", q.open), ("H", q.high), ("L", q.low), ("PC", q.close)):
            second += [(f"{label} ", "quote--label"), (f"{store.fmt_price(key, val) or '—'}  ", "")]
        second += [("Vol ", "quote--label"), (fmt_volume(q.volume) or "—", "")]
        third: list[Cell] = [(" ", "")]
        third += [("Bid ", "quote--label"), (f"{store.fmt_price(key, q.bid) or '—'}", "quote--bid")]
        third += [(f" × {fmt_qty(q.bid_qty)}" if q.bid_qty is not None else "", "quote--bid")]
        third += [
            ("   Ask ", "quote--label"),
            (f"{store.fmt_price(key, q.ask) or '—'}", "quote--ask"),
        ]
        third += [(f" × {fmt_qty(q.ask_qty)}" if q.ask_qty is not None else "", "quote--ask")]
        if q.bid is not None and q.ask is not None:
            third += [(f"   spread {q.ask - q.bid}t", "quote--label")]
        self.set_lines([("", tuple(first)), ("", tuple(second)), ("", tuple(third))])


class DepthView(SymbolGrid):
    """Market depth up to 20 levels a side: orders, quantity bar, price; totals at the foot."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "depth--header",
        "depth--bid",
        "depth--ask",
        "depth--bid-bar",
        "depth--ask-bar",
        "depth--total",
    }
    MAX_LEVELS = 20

    def render_symbol(self, key: str) -> None:
        """Recompute the levels."""
        store = self.store
        book = store.books.get(key)
        width = self.size.width or 60
        levels = max(0, min(self.MAX_LEVELS, self.size.height - 2 if self.size.height else 5))
        pw = 9
        half = (width - 1) // 2
        barw = max(0, half - pw - 8 - 3)
        header: Line = (
            "depth--header",
            (
                cell("Bid qty", 8 + barw + 1),
                cell("Bid", pw),
                (" │ ", ""),
                cell("Ask", pw, left=True),
                cell("Ask qty", 8 + barw + 1, left=True),
            ),
        )
        lines: list[Line] = [header]
        if book is None:
            q = store.quotes.get(key)
            bids = [(q.bid, q.bid_qty or Decimal(0), 0)] if q and q.bid is not None else []
            asks = [(q.ask, q.ask_qty or Decimal(0), 0)] if q and q.ask is not None else []
        else:
            bids, asks = book.bids, book.asks
        bids = bids[:levels]
        asks = asks[:levels]
        biggest = max([b[1] for b in bids] + [a[1] for a in asks] + [Decimal(0)])
        for i in range(levels):
            b = bids[i] if i < len(bids) else None
            a = asks[i] if i < len(asks) else None
            cells: list[Cell] = []
            if b is not None:
                cells += [
                    (bar(b[1], biggest, barw, right=True), "depth--bid-bar"),
                    (" ", ""),
                    cell(fmt_volume(b[1]), 8, "depth--bid"),
                    cell(store.fmt_price(key, b[0]), pw, "depth--bid"),
                ]
            else:
                cells.append((" " * (barw + 1 + 8 + pw), ""))
            cells.append((" │ ", ""))
            if a is not None:
                cells += [
                    cell(store.fmt_price(key, a[0]), pw, "depth--ask", left=True),
                    cell(fmt_volume(a[1]), 8, "depth--ask"),
                    (" ", ""),
                    (bar(a[1], biggest, barw), "depth--ask-bar"),
                ]
            lines.append(("", tuple(cells)))
        tb = sum((b[1] for b in bids), Decimal(0))
        ta = sum((a[1] for a in asks), Decimal(0))
        q = store.quotes.get(key)
        extra = ""
        if q is not None and q.total_buy_qty is not None and q.total_sell_qty is not None:
            buy, sell = fmt_volume(q.total_buy_qty), fmt_volume(q.total_sell_qty)
            extra = f"   book total buy {buy} / sell {sell}"
        lines.append(
            ("depth--total", ((f" Σ bid {fmt_volume(tb)} │ Σ ask {fmt_volume(ta)}{extra}", ""),))
        )
        self.set_lines(lines)
