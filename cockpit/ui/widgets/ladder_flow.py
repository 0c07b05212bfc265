"""Order flow on the ladder: which columns fit a width, and the cells they draw.

Columns, most important first: price, bid and ask sizes, my working orders (the trading
core), then the session's traded volume at each price split into seller-initiated (``Sold``,
hit the bid) and buyer-initiated (``Bought``, lifted the ask), a volume-profile bar, and the
last trade's size at its price. When the width runs short the least important goes first:
the last size, then the profile bar, then the core columns narrow (sizes abbreviate to six
characters), then the split becomes one ``Vol`` total. The traded volume is the last thing
to go (under 47 columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

PROFILE_BLOCKS = " ▏▎▍▌▋▊▉█"
MARKS_MIN = 10
"""Room kept for the marks (``◀LTP STOP``)."""
MARKS_TIGHT = 5
"""The least room for the marks (``◀LTP``) when that is what keeps the volume."""


@dataclass(frozen=True, slots=True)
class Columns:
    """The ladder's columns at one width (0: not shown)."""

    mine: int
    """Width of my buy / sell order columns."""
    qty: int
    """Width of the bid / ask size columns."""
    split: int
    """Width of each of ``Sold`` and ``Bought``."""
    volume: int
    """Width of the single ``Vol`` column (when the split does not fit)."""
    profile: int
    last: int

    def core(self, price_w: int) -> int:
        """Cells taken by the core: ``Buy Bid Price Ask Sell`` and the spaces between."""
        return 2 * self.mine + 2 * self.qty + price_w + 4

    def flow(self) -> int:
        """Cells taken by the order-flow columns (each with its leading space)."""
        split = 2 * (self.split + 1) if self.split else 0
        volume = self.volume + 1 if self.volume else 0
        profile = self.profile + 1 if self.profile else 0
        last = self.last + 1 if self.last else 0
        return split + volume + profile + last


TIERS: tuple[tuple[Columns, int], ...] = (
    (Columns(6, 8, 6, 0, 8, 5), MARKS_MIN),
    (Columns(6, 8, 6, 0, 8, 0), MARKS_MIN),
    (Columns(6, 8, 6, 0, 0, 0), MARKS_MIN),
    (Columns(5, 6, 6, 0, 0, 0), MARKS_MIN),
    (Columns(5, 6, 0, 7, 0, 0), MARKS_TIGHT),
)
"""From the widest layout down, each with the room its marks need."""
NARROW = Columns(5, 6, 0, 0, 0, 0)


def fit_columns(width: int, price_w: int) -> Columns:
    """The richest layout that fits ``width`` cells with prices ``price_w`` wide."""
    for cols, marks in TIERS:
        if cols.core(price_w) + cols.flow() + 1 + marks <= width:
            return cols
    return NARROW


def profile_bar(total: Decimal | None, top: Decimal, width: int) -> str:
    """A bar of ``width`` cells for ``total`` against the largest level ``top`` (eighths)."""
    if not total or top <= 0 or width <= 0:
        return ""
    eighths = max(1, int(total * width * 8 / top))
    full, part = divmod(min(eighths, width * 8), 8)
    return "█" * full + (PROFILE_BLOCKS[part] if part else "")


def grouped(levels: dict[int, Decimal], group: int) -> dict[int, Decimal]:
    """Quantities per price summed into rows of ``group`` ticks (keyed by the row's lowest
    price)."""
    if group == 1:
        return levels
    out: dict[int, Decimal] = {}
    for price, qty in levels.items():
        base = price - price % group
        out[base] = out.get(base, Decimal(0)) + qty
    return out
