"""What the engine needs of its journal and its market feed: explicit protocols.

The venue is :class:`cockpit.domain.execution.ExecutionClient`; viewers are
:class:`cockpit.link.bus.Publisher`. The engine calls only what these name (no probing for
optional methods); the daemon wires the real parts in (``cockpit.journal.Journal``, the feed
adapters), tests may pass their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any, Protocol


class EngineJournal(Protocol):
    """The journal's writes and its recovery (``cockpit.journal.Journal``)."""

    def transaction(self) -> AbstractContextManager[None]: ...

    def command(self, conn_id: int, command: Any, ts_ns: int | None = None) -> int: ...

    def command_outcome(self, row_id: int, outcome: str, message: str = "") -> None: ...

    def order(self, order: Any, ts_ns: int | None = None) -> None: ...

    def order_update(self, update: Any, cid: str | None = None) -> None: ...

    def fill(self, fill: Any, trade_id: str | None = None) -> bool: ...

    def plan(
        self, key: str, state: Mapping[str, Any], change: str = "", ts_ns: int | None = None
    ) -> None: ...

    def plan_removed(self, key: str, reason: str = "", ts_ns: int | None = None) -> None: ...

    def position(self, key: str, state: Any, ts_ns: int | None = None) -> None: ...

    def instrument(self, key: str, tick_size: Decimal, lot_size: Decimal = ...) -> None: ...

    def event(self, kind: str, data: Any, ts_ns: int | None = None) -> None: ...

    def recover(self, since_ns: int | None = None) -> Any: ...

    def final_orders(self, since_ns: int, limit: int) -> list[Any]: ...

    def events_of(self, *kinds: str) -> list[tuple[str, dict[str, Any]]]: ...

    def alert(self, state: Any, ts_ns: int | None = None) -> None: ...

    def alerts(self, *, active_only: bool = True) -> list[dict[str, Any]]: ...

    def last_alert_id(self) -> int: ...

    def watchlist(self, state: Any, *, active: bool, ts_ns: int | None = None) -> None: ...

    def watchlist_removed(self, name: str) -> None: ...

    def watchlists(self) -> tuple[list[dict[str, Any]], str | None]: ...

    def mark(
        self, key: str, low_ticks: int, high_ticks: int, tick_size: Decimal, ts_ns: int
    ) -> None: ...


class MarketSubscriber(Protocol):
    """A market feed the engine subscribes symbols on (a viewer's Subscribe)."""

    def subscribe(self, keys: Iterable[str], mode: str) -> None: ...

    def unsubscribe(self, keys: Iterable[str], mode: str) -> None: ...


class AlertSender(Protocol):
    """Where fired alerts go beyond the viewers (the daemon's webhook worker).

    ``send`` only queues (it never waits on the network); a delivery that fails is retried
    by the sender and reported back on the engine's inbound queue
    (:class:`cockpit.engine.alerts.AlertDelivery`).
    """

    def send(self, notice: Any) -> None: ...
