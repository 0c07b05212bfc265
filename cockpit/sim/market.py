"""The simulated market: a textured price path per instrument, its book, trades and bars.

Prices are integer ticks; quantities are integer "steps" (multiples of the lot size). The
path is a GARCH(1,1)-style random walk with occasional jumps on a latent fair value, quoted
with a one-to-three tick spread, a persistent 20-level book that shifts with the price and
is perturbed each tick, and trades of random size at the bid or the ask. Everything is
driven by one seeded RNG per instrument, so ``--seed`` reproduces the path.
"""

from __future__ import annotations

import math
import random
import time
import zlib
from array import array
from decimal import Decimal
from typing import Final

from cockpit.domain.instruments import Instrument
from cockpit.sim.universe import Listing

BOOK_LEVELS: Final = 20
MAX_PRICE: Final = Decimal(10) ** 12
"""A price at or above this (control API, upstream ticks) is refused: no instrument trades there."""
_ALPHA: Final = 0.07
_BETA: Final = 0.91
_OMEGA: Final = 1.0 - _ALPHA - _BETA
_JUMP_EVERY_S: Final = 240.0
"""Mean seconds between jumps."""
_LEVEL_MULT: Final = [1.0 + 0.18 * level for level in range(BOOK_LEVELS)]
"""A level's size relative to the touch's (as :meth:`SymbolState._fresh_qty` computes it)."""
Lvl = tuple[int, int, int]
"""A book level: ``(price_ticks, steps, orders)``."""
SECOND_BARS: Final = 5 * 60
"""Live one-second bars kept per instrument (the last 5 minutes: 3,000 symbols for hours
must not grow without bound)."""
MINUTE_BARS: Final = 6 * 60
"""Live one-minute bars kept per instrument (6 hours), built from the one-second bars."""
PRICE_CACHE: Final = 64
"""Decimal prices remembered per instrument (cleared when full)."""


class Bar:
    """One OHLCV bar in ticks and steps."""

    __slots__ = ("t", "o", "h", "l", "c", "v")

    def __init__(self, t: int, price: int, steps: int) -> None:
        self.t = t
        self.o = self.h = self.l = self.c = price
        self.v = steps

    def merge(self, other: Bar) -> None:
        """Fold a later bar of the same bucket into this one."""
        if other.h > self.h:
            self.h = other.h
        if other.l < self.l:
            self.l = other.l
        self.c = other.c
        self.v += other.v

    def add(self, price: int, steps: int) -> None:
        """Fold one trade into the bar."""
        if price > self.h:
            self.h = price
        elif price < self.l:
            self.l = price
        self.c = price
        self.v += steps


class BarRing:
    """The last ``cap`` closed bars, packed (48 bytes a bar, not a ``Bar`` object's ~200:
    thousands of instruments keep them), oldest first."""

    __slots__ = ("cap", "_a", "_n", "_head")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._a = array("q")
        self._n = 0
        self._head = 0
        """Where the oldest bar is once the ring is full."""

    def append(self, bar: Bar) -> None:
        """Keep ``bar`` (the oldest goes once ``cap`` are kept)."""
        row = (bar.t, bar.o, bar.h, bar.l, bar.c, bar.v)
        if self._n < self.cap:
            self._a.extend(row)
            self._n += 1
            return
        i = 6 * self._head
        self._a[i : i + 6] = array("q", row)
        self._head = (self._head + 1) % self.cap

    def rows(self) -> list[tuple[int, int, int, int, int, int]]:
        """``(t, open, high, low, close, volume)`` of each bar kept, oldest first."""
        a = self._a
        out = [
            (a[i], a[i + 1], a[i + 2], a[i + 3], a[i + 4], a[i + 5])
            for i in range(0, 6 * self._n, 6)
        ]
        return out[self._head :] + out[: self._head]

    def first_t(self) -> int | None:
        """The start of the oldest bar kept."""
        return self._a[6 * self._head] if self._n else None

    def __len__(self) -> int:
        return self._n


class SymbolState:
    """The live state of one instrument: quote, book, session statistics and bars."""

    __slots__ = (
        "listing",
        "inst",
        "key",
        "exchange",
        "symbol",
        "tradable",
        "rng",
        "fair",
        "anchor",
        "h",
        "k",
        "jump_p",
        "ltp",
        "bid",
        "ask",
        "open",
        "high",
        "low",
        "prev_close",
        "volume",
        "value",
        "ltq",
        "ltt_ms",
        "ts_ms",
        "total_buy",
        "total_sell",
        "oi",
        "bq",
        "aq",
        "bo",
        "ao",
        "base_qty",
        "avg_steps",
        "paused",
        "seq",
        "bars",
        "bar",
        "minutes",
        "minute",
        "_px",
        "_lot_int",
        "t0",
        "count",
    )

    def __init__(self, listing: Listing, seed: int | None, rate: float) -> None:
        self.listing = listing
        self.inst: Instrument = listing.instrument
        self.key = self.inst.key
        self.exchange = str(self.inst.exchange)
        self.symbol = self.inst.symbol
        self.tradable = self.inst.tradable
        salt = zlib.crc32(self.key.encode())
        self.rng = random.Random(None if seed is None else (seed * 1_000_003) ^ salt)
        rng = self.rng
        start = self.inst.snap(listing.start_price).ticks
        start = max(start, 2)
        self.anchor = float(start)
        self.fair = float(start)
        self.h = 1.0
        self.k = 0.0
        self.jump_p = 0.0
        self.set_rate(rate)
        self._px: dict[int, Decimal] = {}
        lot = self.inst.lot_size
        self._lot_int = int(lot) if lot == lot.to_integral_value() else 0
        # The previous close sits up to ~1.5% away from today's open.
        drift = rng.gauss(0.0, 0.007) * start
        self.prev_close = max(1, round(start - drift))
        self.avg_steps = max(listing.avg_trade_lots, 1.0) if self.tradable else 0.0
        self.base_qty = max(int(self.avg_steps * 6), 1)
        self.ltp = start
        if self.tradable:
            self.bid = start - 1 if start > 1 else start
            self.ask = self.bid + 1
        else:
            self.bid = self.ask = 0
        self.open = self.high = self.low = start
        # The session has been trading for a while: some volume at about the open.
        self.volume = int(self.avg_steps * 2000 * (0.5 + rng.random())) if self.tradable else 0
        self.value = self.volume * start
        self.ltq = 0
        now_ms = time.time_ns() // 1_000_000
        self.ltt_ms = self.ts_ms = now_ms
        self.total_buy = self.base_qty * 60
        self.total_sell = self.base_qty * 60
        self.oi = listing.oi
        self.bq = [self._fresh_qty(i) for i in range(BOOK_LEVELS)]
        self.aq = [self._fresh_qty(i) for i in range(BOOK_LEVELS)]
        self.bo = [self._orders_for(q) for q in self.bq]
        self.ao = [self._orders_for(q) for q in self.aq]
        self.paused = False
        self.seq = 0
        self.bars = BarRing(SECOND_BARS)
        """Closed one-second bars, oldest first (the bar in progress is ``bar``)."""
        self.bar: Bar | None = None
        self.minutes = BarRing(MINUTE_BARS)
        """Closed one-minute bars, oldest first."""
        self.minute: Bar | None = None
        """The minute in progress, as of the last closed second (``bar`` is not in it yet)."""
        self.t0 = 0.0
        self.count = 0

    # -- parameters ----------------------------------------------------------------------------

    def set_rate(self, rate: float) -> None:
        """Scale per-tick volatility and jump odds so the path per second is rate-independent."""
        rate = max(rate, 1e-6)
        self.k = self.listing.vol * math.sqrt(1.0 / rate)
        self.jump_p = min(1.0 / (_JUMP_EVERY_S * rate), 0.5)

    # -- conversions ---------------------------------------------------------------------------

    def px(self, ticks: int) -> Decimal:
        """The exact Decimal price of ``ticks`` (cached; prices revisit the same grid)."""
        value = self._px.get(ticks)
        if value is None:
            if len(self._px) >= PRICE_CACHE:
                self._px.clear()
            value = self._px[ticks] = self.inst.price(ticks)
        return value

    def qty(self, steps: int) -> int | Decimal:
        """A quantity in steps as the venue shows it: int, or Decimal for fractional lots."""
        if self._lot_int:
            return steps * self._lot_int
        return self.inst.lot_size * steps

    # -- book ----------------------------------------------------------------------------------

    def _fresh_qty(self, level: int) -> int:
        base = self.base_qty * (1.0 + 0.18 * level)
        return max(1, int(base * (0.35 + 1.3 * self.rng.random())))

    def _orders_for(self, steps: int) -> int:
        per = max(self.avg_steps * 1.5, 1.0)
        return max(1, min(steps, int(steps / per) + 1 + int(self.rng.random() * 3)))

    def _fresh(self, first: int, count: int) -> tuple[list[int], list[int]]:
        """Fresh sizes of ``count`` levels from ``first`` and their order counts: the values
        and random draws of :meth:`_fresh_qty` for each level, then :meth:`_orders_for` for
        each size, without a call per level (the book refresh is the sim's hot path)."""
        rnd = self.rng.random
        base = self.base_qty
        mult = _LEVEL_MULT
        qtys = [
            max(1, int(base * mult[i] * (0.35 + 1.3 * rnd()))) for i in range(first, first + count)
        ]
        per = max(self.avg_steps * 1.5, 1.0)
        return qtys, [max(1, min(q, int(q / per) + 1 + int(rnd() * 3))) for q in qtys]

    def _shift(self, side_q: list[int], side_o: list[int], d: int) -> None:
        """Shift one side of the book by ``d`` levels (d > 0: new levels appear at the top)."""
        n = BOOK_LEVELS
        if d >= n or -d >= n:
            side_q[:], side_o[:] = self._fresh(0, n)
        elif d > 0:
            new_q, new_o = self._fresh(0, d)
            side_q[:] = new_q + side_q[: n - d]
            side_o[:] = new_o + side_o[: n - d]
        elif d < 0:
            d = -d
            tail_q, tail_o = self._fresh(n - d, d)
            side_q[:] = side_q[d:] + tail_q
            side_o[:] = side_o[d:] + tail_o

    def _take(self, qtys: list[int], counts: list[int], steps: int, level: int = 0) -> None:
        """Remove ``steps`` from one level; an emptied level is replenished."""
        left = qtys[level] - steps
        if left > 0:
            qtys[level] = left
            if counts[level] > left:
                counts[level] = left
        else:
            qtys[level] = self._fresh_qty(level)
            counts[level] = self._orders_for(qtys[level])

    def book(
        self, levels: int = 5
    ) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """The top ``levels`` of each side as ``(price_ticks, steps, orders)``, best first."""
        if not self.tradable:
            return [], []
        levels = min(levels, BOOK_LEVELS)
        bid, ask, bq, aq, bo, ao = self.bid, self.ask, self.bq, self.aq, self.bo, self.ao
        bids = [(bid - i, bq[i], bo[i]) for i in range(levels) if bid - i > 0]
        asks = [(ask + i, aq[i], ao[i]) for i in range(levels)]
        return bids, asks

    # -- path ----------------------------------------------------------------------------------

    def step(self, now_ns: int) -> None:
        """Advance the path by one tick: new fair value, quote, book, trade, statistics."""
        rng = self.rng
        z = rng.gauss(0.0, 1.0)
        h = self.h
        sigma = self.k * self.fair * math.sqrt(h)
        ret = sigma * z
        if rng.random() < self.jump_p:
            ret += (1.0 if rng.random() < 0.5 else -1.0) * sigma * (8.0 + 12.0 * rng.random())
            h *= 4.0
        self.h = _OMEGA + (_ALPHA * z * z + _BETA) * h
        fair = self.fair + ret + (self.anchor - self.fair) * 2e-6
        if fair < 2.0:
            fair = 2.0
        self.fair = fair
        if not self.tradable:
            self.ltp = int(fair + 0.5)
            self._stats(self.ltp, 0, now_ns)
            return
        spread = 1 if rng.random() < 0.82 else 2
        if self.h > 4.0:
            spread += 1
        bid = int(fair - spread * 0.5 + 0.5)
        if bid < 1:
            bid = 1
        ask = bid + spread
        if bid != self.bid:
            self._shift(self.bq, self.bo, bid - self.bid)
        if ask != self.ask:
            self._shift(self.aq, self.ao, self.ask - ask)
        self.bid = bid
        self.ask = ask
        lean = 0.5 + (0.15 if ret > 0 else -0.15 if ret < 0 else 0.0)
        buy = rng.random() < lean
        steps = int(-math.log(1.0 - rng.random()) * self.avg_steps) + 1
        # The trade takes liquidity from the touch; a few levels get refreshed.
        if buy:
            price = ask
            self._take(self.aq, self.ao, steps)
        else:
            price = bid
            self._take(self.bq, self.bo, steps)
        r = rng.random()
        if r < 0.4:  # some resting liquidity somewhere changes, mostly near the touch
            i = int(r * rng.random() * 2.5 * BOOK_LEVELS)
            if i >= BOOK_LEVELS:
                i = BOOK_LEVELS - 1
            if r < 0.2:
                q = self.bq[i] = self._fresh_qty(i)
                self.bo[i] = self._orders_for(q)
            else:
                q = self.aq[i] = self._fresh_qty(i)
                self.ao[i] = self._orders_for(q)
        drift = int((rng.random() - 0.5) * self.base_qty)
        self.total_buy = max(self.base_qty, self.total_buy + drift)
        self.total_sell = max(self.base_qty, self.total_sell - drift)
        if self.oi and rng.random() < 0.05:
            self.oi = max(0, self.oi + int((rng.random() - 0.5) * self.oi * 0.0004))
        self._stats(price, steps, now_ns)

    def set_price(
        self, ltp: int, now_ns: int, bid: int | None = None, ask: int | None = None
    ) -> None:
        """Put the market at ``ltp`` now (control API and scripts); records one small trade."""
        ltp = max(ltp, 1)
        self.fair = float(ltp)
        if not self.tradable:
            self.ltp = ltp
            self._stats(ltp, 0, now_ns)
            return
        new_bid = bid if bid is not None else max(ltp - 1, 1)
        new_ask = ask if ask is not None else ltp + 1
        if new_ask <= new_bid:
            new_ask = new_bid + 1
        if new_bid != self.bid:
            self._shift(self.bq, self.bo, new_bid - self.bid)
        if new_ask != self.ask:
            self._shift(self.aq, self.ao, self.ask - new_ask)
        self.bid, self.ask = new_bid, new_ask
        self._stats(ltp, 1, now_ns)

    def _stats(self, price: int, steps: int, now_ns: int) -> None:
        self.ltp = price
        if price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        ms = now_ns // 1_000_000
        self.ts_ms = ms
        self.seq += 1
        if steps:
            self.ltq = steps
            self.volume += steps
            self.value += price * steps
            self.ltt_ms = ms
        sec = now_ns // 1_000_000_000
        bar = self.bar
        if bar is None or bar.t != sec:
            if bar is not None:
                self.bars.append(bar)
                self._close_second(bar)
            self.bar = Bar(sec, price, steps)
        else:
            bar.add(price, steps)

    def _close_second(self, bar: Bar) -> None:
        """Fold a closed one-second bar into its minute (once a second, not every tick)."""
        start = bar.t // 60 * 60
        minute = self.minute
        if minute is not None and minute.t == start:
            minute.merge(bar)
            return
        if minute is not None:
            self.minutes.append(minute)
        minute = self.minute = Bar(start, bar.o, bar.v)
        minute.h, minute.l, minute.c = bar.h, bar.l, bar.c

    # -- derived -------------------------------------------------------------------------------

    def atp(self) -> Decimal:
        """Volume-weighted average traded price today (the LTP before any volume)."""
        if not self.volume:
            return self.px(self.ltp)
        exact = self.inst.tick_size * self.value / self.volume
        return exact.quantize(Decimal(1).scaleb(-max(self.inst.precision, 2)))

    def change(self) -> tuple[Decimal, Decimal]:
        """Change from the previous close, absolute and in percent (2 dp)."""
        diff = self.ltp - self.prev_close
        change = self.px(diff) if diff >= 0 else -self.px(-diff)
        pct = (Decimal(diff * 100) / self.prev_close).quantize(Decimal("0.01"))
        return change, pct


class Market:
    """All instruments of the sim, keyed ``EXCH:SYMBOL``."""

    def __init__(self, listings: list[Listing], seed: int | None, rate: float) -> None:
        self.rate = rate
        self.seed = seed
        self.states: dict[str, SymbolState] = {}
        for listing in listings:
            if listing.key in self.states:
                raise ValueError(f"instrument {listing.key} listed twice")
            self.states[listing.key] = SymbolState(listing, seed, rate)

    def get(self, exchange: str, symbol: str) -> SymbolState | None:
        """The state of ``exchange:symbol``, or None if the sim does not list it."""
        return self.states.get(f"{exchange}:{symbol}")

    def find_symbol(self, symbol: str) -> SymbolState | None:
        """The one instrument called ``symbol`` on any exchange, if unambiguous."""
        found = [s for s in self.states.values() if s.symbol == symbol]
        return found[0] if len(found) == 1 else None

    def set_rate(self, rate: float) -> None:
        """Change the tick rate of every instrument."""
        self.rate = rate
        for state in self.states.values():
            state.set_rate(rate)
