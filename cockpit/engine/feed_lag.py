"""How far behind the exchange a feed's frames arrive: the stale gate's second half.

The age of a symbol's last tick (when it was received) says the feed is talking, not that it
is current: a feed relayed through a slow hop delivers every frame on time *for it*, each one
tens of seconds after the exchange stamped it. Nor can one frame's exchange time be trusted
alone: some venues stamp a quote with its last trade's time, and an illiquid symbol's quote
can be minutes old by that stamp and still current.

The measure, per exchange segment (``NSE``, ``MCX``, ...; the engine's events do not say which
feed carried them, and a feed serves whole segments): each frame whose exchange time differs
from its symbol's previous one (a new event at the venue: a quote resent, or an illiquid quote
that keeps its last trade's stamp, says nothing) gives a sample ``received - exchange time``.
Over a window (two buckets of :data:`LAG_WINDOW_NS`) the *smallest* sample is kept: one fresh
frame of any symbol of the segment shows the feed current, however old the stamps of the
illiquid ones are. The lag is that smallest sample less the
baseline, the smallest sample ever seen on the segment (the offset of the venue's clock from
ours when the feed was at its freshest: clock skew and a replay's recorded times cancel out).

Limits (said where the gate is documented):
- a feed already behind from the first frame the engine sees sets the baseline there: only a lag
  that grows afterwards is seen (the per-tick age and the feed's status still apply);
- while nothing on a segment carries a fresh exchange time (no frame, or frames without one)
  the last measured lag stands;
- a venue that stamps a frame with its last trade's time yet moves that stamp without a new
  trade would read as behind by the stamp's age if no symbol of the segment traded for a whole
  window (entries refused, exits unaffected): safe, and said in the refusal's words;
- a frame stamped more than :data:`MAX_AHEAD_NS` ahead of our clock is a bad stamp: ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

LAG_WINDOW_NS = 5_000_000_000
"""One bucket of the smallest sample (the lag is the smaller of the last two)."""
MAX_AHEAD_NS = 60_000_000_000
"""A frame stamped this far ahead of our clock is ignored (a bad stamp, not a fast feed)."""
_NONE = 1 << 62


@dataclass(slots=True)
class SegmentLag:
    """The lag measure of one exchange segment (nanoseconds)."""

    baseline: int = _NONE
    bucket_start: int = 0
    current: int = _NONE
    previous: int = _NONE

    def sample(self, recv_ns: int, exch_ns: int) -> None:
        s = recv_ns - exch_ns
        if s < -MAX_AHEAD_NS:
            return
        if s < self.baseline:
            self.baseline = s
        if recv_ns - self.bucket_start >= LAG_WINDOW_NS:
            fresh = recv_ns - self.bucket_start < 2 * LAG_WINDOW_NS
            self.previous = self.current if fresh else _NONE
            self.current, self.bucket_start = s, recv_ns
        elif s < self.current:
            self.current = s

    @property
    def behind_ns(self) -> int:
        """How far behind its freshest the segment's feed is now (0 when unknown)."""
        best = min(self.current, self.previous)
        return 0 if best == _NONE else max(0, best - self.baseline)


class FeedLag:
    """:class:`SegmentLag` by exchange segment."""

    __slots__ = ("segments",)

    def __init__(self) -> None:
        self.segments: dict[str, SegmentLag] = {}

    def sample(self, exchange: str, recv_ns: int, exch_ns: int) -> None:
        seg = self.segments.get(exchange)
        if seg is None:
            seg = self.segments[exchange] = SegmentLag()
        seg.sample(recv_ns, exch_ns)

    def behind_ns(self, exchange: str) -> int:
        seg = self.segments.get(exchange)
        return 0 if seg is None else seg.behind_ns


def behind_words(behind_ns: int) -> str:
    """``stale: feed 52 s behind the exchange`` (one decimal under 10 s)."""
    s = behind_ns / 1e9
    n = f"{s:.0f}" if s >= 10 else f"{s:.1f}"
    return f"stale: feed {n} s behind the exchange"
