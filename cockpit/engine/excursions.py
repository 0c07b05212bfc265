"""The price extremes of each open position, journaled as marks (for MAE/MFE per round trip).

While a symbol has a position, every tick's price (after the jump guard) widens its low and
high; the timer journals the extremes that moved, at most once a second per symbol, and the
fill that closes the position journals them at once. ``cockpit journal stats`` takes a round
trip's worst and best price from the marks between its first and last fill (and the fills
themselves). An engine restarted with a position open starts again from its next tick; the
marks journaled before the restart still count.

Cost on the tick path: one dict membership test per tick (``key in _excursions``).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Final

from cockpit.domain.orders import TickPrice
from cockpit.engine.base import EngineBase
from cockpit.engine.state import NS

MARK_EVERY_NS: Final = NS
_NONE_LOW: Final = 2**62


class Excursions(EngineBase):
    """Position price extremes (a part of :class:`~cockpit.engine.core.Engine`)."""

    _excursions: dict[str, list[int]]
    """Symbol with a position -> [low, high, changed since journaled (0/1)]."""
    _next_marks_ns: int

    def _init_excursions(self) -> None:
        self._excursions = {}
        self._next_marks_ns = 0

    def _follow_open_positions(self) -> None:
        """(Start) positions restored open are followed from their next tick."""
        for pos in self.portfolio.open_positions:
            self._excursions.setdefault(pos.key, [_NONE_LOW, -1, 0])

    def _excursion_tick(self, key: str, price: int) -> None:
        ex = self._excursions[key]
        if price < ex[0]:
            ex[0] = price
            ex[2] = 1
        if price > ex[1]:
            ex[1] = price
            ex[2] = 1

    def _excursion_fill(
        self, key: str, price: TickPrice, qty_before: Decimal, qty: Decimal, ts: int
    ) -> None:
        """A fill: it opens (starts following), moves, closes or reverses a trip.

        The mark that closes a trip gets the fill's time, not the clock's: a timer mark
        journaled while the fill waited in the queue comes after it (``journal stats`` ends a
        trip's marks at the first at or after its closing fill). A reverse closes one trip and
        starts the next at the fill's price.
        """
        ex = self._excursions.get(key)
        if ex is None:
            if qty == 0:
                return
            ex = self._excursions[key] = [_NONE_LOW, -1, 0]
        self._excursion_tick(key, math.floor(price))
        self._excursion_tick(key, math.ceil(price))
        reversed_ = qty_before != 0 and qty != 0 and (qty_before > 0) != (qty > 0)
        if qty == 0 or reversed_:
            self._journal_mark(key, ex, ts)
            del self._excursions[key]
            if reversed_:  # the new side's trip starts at this fill
                self._excursion_fill(key, price, Decimal(0), qty, ts)

    def _marks_on_timer(self, now: int) -> None:
        if now < self._next_marks_ns:
            return
        self._next_marks_ns = now + MARK_EVERY_NS
        for key, ex in self._excursions.items():
            if ex[2]:
                self._journal_mark(key, ex, now)

    def _journal_mark(self, key: str, ex: list[int], now: int) -> None:
        ex[2] = 0
        if ex[1] < 0 or self.journal is None:
            return
        tick = self.instruments[key].tick_size
        self._journal_call(self.journal.mark, key, ex[0], ex[1], tick, now)
