"""A Bybit v5 order book kept by the venue's snapshot + delta rules.

``orderbook.{depth}.{symbol}``: the first message after subscribing is a ``snapshot``; any
later snapshot replaces the book; a ``delta`` sets absolute sizes (``"0"`` deletes, a new price
is inserted). ``u`` is the update id: each delta must carry the previous ``u`` + 1, else
updates were lost (a gap) and the book is thrown away until a fresh snapshot (the feed asks
for one by resubscribing the topic). ``u == 1`` means the venue's service restarted: that
message is taken as a fresh snapshot whatever its type. ``seq`` (the cross sequence) never
goes back within one book: a message with an older ``seq`` is stale and ignored.
"""

from __future__ import annotations

from decimal import Decimal

from cockpit.adapters.binance.book import BookSide
from cockpit.adapters.bybit.decode import BookData

PriceQty = tuple[Decimal, Decimal]


class BybitBook:
    """One symbol's book; feed it every ``orderbook`` message of its topic, in order."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids = BookSide(descending=True)
        self.asks = BookSide(descending=False)
        self.u: int | None = None
        """The last applied update id; None while unsynced (waiting for a snapshot)."""
        self.seq = 0
        self.snapshots = 0
        self.restarts = 0
        self.gaps = 0
        self.ignored = 0

    @property
    def synced(self) -> bool:
        """Whether the book is valid (a snapshot loaded and no gap since)."""
        return self.u is not None

    def reset(self) -> None:
        """Forget the book (a new connection: a snapshot will come)."""
        self.u = None
        self.seq = 0
        self.bids.clear()
        self.asks.clear()

    def on_message(self, kind: str, d: BookData) -> bool | None:
        """Take one message; True if the book changed, False if ignored, None on a gap."""
        if kind == "snapshot" or d.u == 1:
            if d.u == 1 and kind == "delta":
                self.restarts += 1
            self.bids.replace(d.b)
            self.asks.replace(d.a)
            self.u = d.u
            self.seq = d.seq
            self.snapshots += 1
            return True
        if self.u is None:
            self.ignored += 1  # a delta before the snapshot: nothing to apply it to
            return False
        if d.seq and d.seq < self.seq:
            self.ignored += 1
            return False
        if d.u <= self.u:
            self.ignored += 1  # already applied
            return False
        if d.u != self.u + 1:
            self.gaps += 1
            self.reset()
            return None
        for price, qty in d.b:
            self.bids.set(price, qty)
        for price, qty in d.a:
            self.asks.set(price, qty)
        self.u = d.u
        if d.seq:
            self.seq = d.seq
        return True

    def top(self, n: int) -> tuple[list[PriceQty], list[PriceQty]]:
        """The best ``n`` bids and asks, best first."""
        return self.bids.top(n), self.asks.top(n)
