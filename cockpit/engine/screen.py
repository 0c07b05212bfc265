"""What the viewers draw in full, and the slow lane for the symbols none of them shows.

Each viewer may say which symbols it draws in full (:class:`~cockpit.link.bus.ViewerShowing`):
the selected symbol, the watchlist rows in view, symbols with a position or working order.
Those are published at the screen rate with their book; every other symbol at most once per
``slow_s``, its latest quote only (no book is built for it). A viewer may say it in its hello
already (its snapshot then carries books and volume at price for those only); one that attached
and never said wants every symbol in full (a script, the CLI), and so does an engine no viewer
told anything. What a viewer newly shows is new to *it* (another viewer may have shown it all
along): it gets that symbol's whole state. Owned by the decision thread; only market state is
lanes' business — orders, fills, exits and alarms always go out.
"""

from __future__ import annotations

from collections import deque


class ScreenLanes:
    """Which symbols go to viewers at the screen rate, and when the others are due."""

    __slots__ = ("slow_s", "shown", "_in_full", "_showing", "_later", "_waiting")

    def __init__(self, slow_s: float = 1.0) -> None:
        self.slow_s = slow_s
        """An off-screen symbol is published at most this often (seconds)."""
        self.shown: frozenset[str] | None = None
        """Symbols published at the screen rate; None: every symbol (a viewer wants them
        all, or no viewer said what it shows)."""
        self._in_full: set[int] = set()
        """Viewers attached that have not said what they show (they get every symbol)."""
        self._showing: dict[int, frozenset[str]] = {}
        self._later: deque[tuple[float, str]] = deque()
        """(when due, symbol), oldest first: a symbol waits from its first unsent change."""
        self._waiting: set[str] = set()

    def attached(self, conn_id: int, showing: frozenset[str] | None = None) -> None:
        """Viewer ``conn_id`` attached (its snapshot is built next): it draws ``showing`` in
        full, or every symbol (None) until it says otherwise."""
        if showing is None:
            self._showing.pop(conn_id, None)
            self._in_full.add(conn_id)
        else:
            self._in_full.discard(conn_id)
            self._showing[conn_id] = showing
            self._waiting -= showing
        self._union()

    def showing(self, conn_id: int, keys: frozenset[str]) -> frozenset[str]:
        """Viewer ``conn_id`` draws ``keys`` in full now; returns those it did not before, to
        be published whole at once (its snapshot did not carry their book and volume at
        price, and no viewer may have kept them current)."""
        if conn_id in self._in_full:
            self._in_full.discard(conn_id)
            newly: frozenset[str] = frozenset()  # it had every symbol in full
        else:
            newly = keys - self._showing.get(conn_id, frozenset())
        self._showing[conn_id] = keys
        self._union()
        self._waiting -= newly
        return newly

    def gone(self, conn_id: int) -> None:
        """Viewer ``conn_id`` detached."""
        self._in_full.discard(conn_id)
        self._showing.pop(conn_id, None)
        self._union()

    def _union(self) -> None:
        if self._in_full or not self._showing:
            self.shown = None  # one wants all, or none said (no viewer: as before lanes)
        else:
            self.shown = frozenset().union(*self._showing.values())

    def full(self, key: str) -> bool:
        """Whether ``key`` goes out at the screen rate."""
        shown = self.shown
        return shown is None or key in shown

    def defer(self, key: str, now: float) -> None:
        """``key`` changed off screen: due ``slow_s`` after its first change not yet sent."""
        if key not in self._waiting:
            self._waiting.add(key)
            self._later.append((now + self.slow_s, key))

    def due(self, now: float) -> list[str]:
        """Off-screen symbols whose time has come (each once), oldest first."""
        later = self._later
        out: list[str] = []
        while later and later[0][0] <= now:
            key = later.popleft()[1]
            if key in self._waiting:  # not shown (and sent in full) in the meantime
                self._waiting.discard(key)
                out.append(key)
        return out

    @property
    def pending(self) -> bool:
        """Whether off-screen symbols wait to be sent."""
        return bool(self._later)
