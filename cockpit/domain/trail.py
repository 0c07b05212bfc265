"""Trailing-stop distances: in ticks, price points or percent of the best price."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction


class PlanError(ValueError):
    """A plan or a user action that makes no sense (levels on the wrong side, bad values)."""


class TrailKind(StrEnum):
    """How a trailing distance is given."""

    TICKS = "ticks"
    POINTS = "points"
    """Price units (e.g. 2.5 rupees); needs the instrument's tick size."""
    PERCENT = "percent"
    """Percent of the best price (recomputed as the best price moves)."""


@dataclass(frozen=True, slots=True)
class Trail:
    """A trailing-stop distance."""

    kind: TrailKind
    distance: Decimal
    _num: int = field(init=False, repr=False, compare=False, default=0)
    _den: int = field(init=False, repr=False, compare=False, default=1)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", TrailKind(self.kind))
        value = Decimal(self.distance) if not isinstance(self.distance, Decimal) else self.distance
        if not value.is_finite() or value <= 0:
            raise PlanError(f"trail distance must be > 0, got {self.distance}")
        if self.kind is TrailKind.TICKS and value != value.to_integral_value():
            raise PlanError(f"a trail in ticks must be a whole number, got {value}")
        if self.kind is TrailKind.PERCENT and value >= 100:
            raise PlanError(f"a percent trail must be below 100, got {value}")
        object.__setattr__(self, "distance", value)
        num, den = value.as_integer_ratio()
        if self.kind is TrailKind.PERCENT:
            den *= 100
        object.__setattr__(self, "_num", num)
        object.__setattr__(self, "_den", den)

    @classmethod
    def ticks(cls, n: int) -> Trail:
        """A trail of ``n`` ticks."""
        return cls(TrailKind.TICKS, Decimal(n))

    @classmethod
    def points(cls, points: Decimal | str | int) -> Trail:
        """A trail of ``points`` price units."""
        return cls(TrailKind.POINTS, Decimal(points))

    @classmethod
    def percent(cls, pct: Decimal | str | int) -> Trail:
        """A trail of ``pct`` percent of the best price."""
        return cls(TrailKind.PERCENT, Decimal(pct))

    def distance_ticks(self, best_ticks: int, tick_size: Decimal | None) -> int:
        """The distance in whole ticks (rounded up, at least 1) at best price ``best_ticks``."""
        if self.kind is TrailKind.TICKS:
            return self._num
        if self.kind is TrailKind.PERCENT:
            # ceil(|best| * pct / 100) in integers: exact and cheap on the hot path.
            return max(1, -(-abs(best_ticks) * self._num // self._den))
        if tick_size is None:
            raise PlanError("a trail in points needs the instrument's tick size")
        exact = Fraction(self.distance) / Fraction(tick_size)
        return max(1, -(-exact.numerator // exact.denominator))

    def fixed_ticks(self, tick_size: Decimal | None) -> int | None:
        """The distance in ticks when it does not depend on the price (``None`` for percent)."""
        if self.kind is TrailKind.PERCENT:
            return None
        return self.distance_ticks(0, tick_size)

    def describe(self) -> str:
        """Short text for the UI, e.g. ``trail 10t``, ``trail 2.5pt``, ``trail 0.5%``."""
        suffix = {TrailKind.TICKS: "t", TrailKind.POINTS: "pt", TrailKind.PERCENT: "%"}[self.kind]
        return f"trail {self.distance}{suffix}"
