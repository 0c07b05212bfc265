"""What every public market-data feed built on :mod:`cockpit.adapters.ws` offers its callers.

:class:`WsFeed` holds the venue protocol and its :class:`~cockpit.adapters.ws.WsConnection`
and gives ``start``/``stop``/``state``/``wait_state``/``stats`` (what ``cockpit record`` and
the engine need); a venue's feed adds ``subscribe``/``unsubscribe`` in its own terms.
"""

from __future__ import annotations

from typing import Any

from cockpit.adapters.ws import Backoff, WsConnection, WsProtocol
from cockpit.domain.feed import FeedState, Sink

DEFAULT_BACKOFF = Backoff(initial=1.0, factor=2.0, cap=60.0)


class WsFeed:
    """A venue protocol on its own connection thread."""

    def __init__(
        self,
        protocol: WsProtocol,
        sink: Sink,
        *,
        backoff: Backoff | None = None,
        stable_s: float = 10.0,
        poll_s: float = 0.2,
    ) -> None:
        self.protocol = protocol
        self.conn = WsConnection(
            protocol, sink, backoff=backoff or DEFAULT_BACKOFF, stable_s=stable_s, poll_s=poll_s
        )

    def start(self) -> None:
        """Start the connection thread."""
        self.conn.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop the connection thread (bounded) and release the protocol's resources."""
        ok = self.conn.stop(timeout)
        close = getattr(self.protocol, "close", None)
        if close is not None:
            close()
        return ok

    @property
    def state(self) -> FeedState:
        """The connection state."""
        return self.conn.state

    def wait_state(self, *states: FeedState, timeout: float) -> bool:
        """Block until the state is one of ``states``; False on timeout."""
        return self.conn.wait_state(*states, timeout=timeout)

    def stats(self) -> dict[str, Any]:
        """Connection counters plus the protocol's own (``protocol.counters()``)."""
        out = self.conn.stats()
        counters = getattr(self.protocol, "counters", None)
        if counters is not None:
            out.update(counters())
        return out

    def unwant(self, keys: list[str], mode: str) -> list[str]:
        """Drop ``mode`` from the venue ``keys`` the protocol wants (a key wanted in no mode
        goes) and unsubscribe them on the connection."""
        protocol: Any = self.protocol  # the venue protocols keep ``wanted`` under ``_lock``
        with protocol._lock:
            for k in keys:
                modes = protocol.wanted.get(k)
                if modes is not None:
                    modes.discard(mode)
                    if not modes:
                        del protocol.wanted[k]
        return self.conn.unsubscribe(keys, mode)


def pick(options: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The ``options`` a feed knows (others, e.g. Kite's ``api_key``, are ignored)."""
    return {k: v for k, v in options.items() if k in names}
