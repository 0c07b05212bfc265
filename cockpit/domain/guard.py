"""The jump guard: a print far outside the recent range never fires an exit on its own.

A bad print (a fat-fingered trade, a decoder fault, a venue's test price) that lands past a
stop would send a market exit at once. The guard sits between a symbol's prints and its exit
plan: a print further than the instrument's :class:`JumpLimit` outside the range of the
recent accepted prints is HELD, not handed to the plan, and an alarm says so. The next print
decides:

- near the held one (within the same limit): the jump is real. Both are confirmed, the
  recent range restarts from them, and the confirming print goes to the plan (which may exit);
- back inside the recent range: the held print was bad and is dropped (counted);
- far from both: it replaces the held print, still waiting for a second one.

So a lone print never moves an exit, and a real move costs one print of delay. The guard
works in integer ticks, like the plan; it keeps no time, so a confirmation may come at any
later print. A guard for an instrument with no limit (``limit=None``) passes everything.

How the engine uses it (one guard per instrument, built from
``Settings.exits.jump_guard.limit_for(key)``):

- every print, as ticks: ``checked = guard.check(ticks, inst.format_price)``; a non-empty
  ``checked.alarm`` is raised as an alarm (code ``price_jump``);
- only ``checked.price`` (when not ``None``) goes to the exit plan (``_plan_tick``) and to the
  position's mark (a held print must not trip the daily-loss kill switch either);
- when a symbol has a plan and its guard is not ``primed``, ``guard.seed()`` it with the plan's
  last price (or entry) first, so that a bad first print after a restart is held too;
- any path that decides on a print ahead of that (a fast path for crossing ticks) asks
  ``guard.would_hold(ticks)`` first.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class JumpLimit:
    """How far outside the recent range a print may land before it is held."""

    max_jump_pct: Decimal = Decimal(5)
    """Percent of the price beyond the recent range's high or low."""
    min_jump_ticks: int = 20
    """Never hold a move of fewer ticks than this (cheap instruments, small ranges)."""
    window: int = 50
    """How many recent accepted prints make the range."""

    def __post_init__(self) -> None:
        pct = Decimal(self.max_jump_pct)
        if not pct.is_finite() or pct <= 0:
            raise ValueError(f"max_jump_pct must be > 0, got {self.max_jump_pct}")
        if self.min_jump_ticks < 1:
            raise ValueError(f"min_jump_ticks must be >= 1, got {self.min_jump_ticks}")
        if self.window < 1:
            raise ValueError(f"window must be >= 1, got {self.window}")
        object.__setattr__(self, "max_jump_pct", pct)

    def threshold(self, reference_ticks: int) -> int:
        """The largest move in ticks from ``reference_ticks`` that is not held."""
        pct = (Decimal(abs(reference_ticks)) * self.max_jump_pct / 100).to_integral_value(
            rounding=ROUND_CEILING
        )
        return max(self.min_jump_ticks, int(pct))


class Verdict(StrEnum):
    """What the guard did with one print."""

    PASS = "pass"
    """Inside the limit: hand it to the exit plan."""
    HOLD = "hold"
    """Far outside the recent range: not handed on; waiting for a second print."""
    CONFIRMED = "confirmed"
    """A second print confirmed the held jump: hand this print on."""


class Checked(NamedTuple):
    """The guard's answer for one print (a tuple: made on every tick, it must be cheap)."""

    verdict: Verdict
    price: int | None
    """The print to hand to the exit plan, ``None`` while held."""
    alarm: str = ""
    """Text for an alarm when a print is held, confirmed or dropped (else empty)."""


class JumpGuard:
    """Holds a print far outside the recent range until a second print confirms it."""

    __slots__ = ("limit", "held", "dropped", "confirmed", "_recent", "_lo", "_hi")

    def __init__(self, limit: JumpLimit | None) -> None:
        self.limit = limit
        self.held: int | None = None
        """The print waiting for confirmation, if any."""
        self.dropped = 0
        """Held prints that the next print did not confirm."""
        self.confirmed = 0
        """Jumps confirmed by a second print."""
        self._recent: deque[int] = deque(maxlen=limit.window if limit is not None else 1)
        self._lo = 0
        """The recent range's low and high (kept with :meth:`_push`; valid when primed)."""
        self._hi = 0

    def seed(self, price_ticks: int) -> None:
        """Add a trusted reference price (a plan's entry or last price) to the recent range.

        With no range at all the guard cannot judge and passes the first print: seed it when
        a plan attaches or is restored, so that a bad first print after a restart is held.
        """
        if self.limit is not None:
            self._push(price_ticks)

    @property
    def primed(self) -> bool:
        """Whether the guard has a recent range to judge a print by."""
        return bool(self._recent)

    def would_hold(self, price_ticks: int) -> bool:
        """Whether :meth:`check` would hold this print (read-only)."""
        limit = self.limit
        if limit is None or not self._recent:
            return False
        if self.held is not None and abs(price_ticks - self.held) <= limit.threshold(self.held):
            return False
        return self._far(price_ticks, limit)

    def passes(self, price_ticks: int) -> bool:
        """:meth:`check`'s hot path with no answer to build: True when the guard has no limit
        or the print is inside the recent range with nothing held (taken into the range, as
        :meth:`check` would: it passes with no alarm); False: ask :meth:`check`, which has
        not been told of this print yet."""
        if self.limit is None:
            return True
        if self.held is None and self._recent and self._lo <= price_ticks <= self._hi:
            self._push(price_ticks)
            return True
        return False

    def check(self, price_ticks: int, fmt: object = str) -> Checked:
        """Judge one print (integer ticks). ``fmt`` turns ticks into the alarm's price text."""
        limit = self.limit
        if limit is None:
            return Checked(Verdict.PASS, price_ticks)
        text = fmt if callable(fmt) else str
        recent = self._recent
        held = self.held
        if held is None and recent and self._lo <= price_ticks <= self._hi:
            self._push(price_ticks)  # the hot path: inside the recent range
            return Checked(Verdict.PASS, price_ticks)
        if held is not None and abs(price_ticks - held) <= limit.threshold(held):
            self.held = None
            self.confirmed += 1
            recent.clear()
            self._push(held)
            self._push(price_ticks)
            return Checked(
                Verdict.CONFIRMED,
                price_ticks,
                f"price jump to {text(held)} confirmed by {text(price_ticks)}",
            )
        if recent and self._far(price_ticks, limit):
            lo, hi = self._lo, self._hi
            self.held = price_ticks
            return Checked(
                Verdict.HOLD,
                None,
                f"price {text(price_ticks)} is far outside the recent range "
                f"{text(lo)}-{text(hi)}: held, no exit acts on it until a second print "
                "confirms it",
            )
        alarm = ""
        if held is not None:
            self.held = None
            self.dropped += 1
            alarm = f"held print {text(held)} not confirmed: dropped"
        self._push(price_ticks)
        return Checked(Verdict.PASS, price_ticks, alarm)

    def _push(self, price_ticks: int) -> None:
        """Add an accepted print to the recent range, keeping its low and high."""
        recent = self._recent
        if not recent:
            recent.append(price_ticks)
            self._lo = self._hi = price_ticks
            return
        evicted = recent[0] if len(recent) == recent.maxlen else None
        recent.append(price_ticks)
        if evicted is not None and (evicted == self._lo or evicted == self._hi):
            self._lo, self._hi = min(recent), max(recent)  # the old low or high left
        elif price_ticks < self._lo:
            self._lo = price_ticks
        elif price_ticks > self._hi:
            self._hi = price_ticks

    def _far(self, price_ticks: int, limit: JumpLimit) -> bool:
        lo, hi = self._lo, self._hi
        if price_ticks > hi:
            return price_ticks - hi > limit.threshold(hi)
        if price_ticks < lo:
            return lo - price_ticks > limit.threshold(lo)
        return False
