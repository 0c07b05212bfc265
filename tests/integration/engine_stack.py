"""A whole engine over real loopback sockets: paper exchange, OpenAlgo feed + router, journal.

Used by the engine integration tests (and the exit-latency benchmark's sanity checks). The
engine runs on its own thread exactly as in production; the test talks to it through its
inbound queue (as the viewer server would) and watches what it publishes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from cockpit.adapters.openalgo.broker import OpenAlgoRouter
from cockpit.adapters.openalgo.feed import OpenAlgoFeed
from cockpit.config import Settings
from cockpit.domain.feed import FeedState
from cockpit.engine.core import Engine, EngineOptions
from cockpit.journal.store import Journal
from cockpit.link import protocol as p
from cockpit.link.bus import Inbound, ViewerCommand
from cockpit.link.snapshots import SnapshotDraft
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from cockpit.sim.universe import default_listings
from tests.servers.base import poll_until, wait_on


class Recorder:
    """A thread-safe Publisher that keeps everything and lets tests wait on it."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.events: list[p.Msg] = []
        self.replies: list[tuple[int, p.Msg]] = []
        self.quotes: dict[str, p.QuoteView] = {}
        self.status_view: p.StatusView | None = None

    def market(self, quote: p.QuoteView, book: p.BookView | None = None) -> None:
        with self.cond:
            self.quotes[quote.key] = quote
            self.cond.notify_all()

    def status(self, status: p.StatusView) -> None:
        with self.cond:
            self.status_view = status
            self.cond.notify_all()

    def event(self, msg: p.Msg) -> None:
        with self.cond:
            self.events.append(msg)
            self.cond.notify_all()

    def volume(self, vap: p.VolumeAtPrice) -> None:
        pass

    def reply(self, conn_id: int, msg: p.Msg | SnapshotDraft) -> None:
        with self.cond:
            self.replies.append((conn_id, msg.finish() if isinstance(msg, SnapshotDraft) else msg))
            self.cond.notify_all()

    def wait(self, pred: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
        """Wait until ``pred()`` is truthy (called under the lock); return its value."""
        return wait_on(self.cond, pred, timeout, what)

    def of(self, kind: type) -> list[Any]:
        with self.cond:
            return [e for e in self.events if isinstance(e, kind)]


class Tee:
    """Publish to several publishers (the viewer server and the test's recorder)."""

    def __init__(self, *targets: Any) -> None:
        self.targets = targets

    def market(self, quote: p.QuoteView, book: p.BookView | None = None) -> None:
        for t in self.targets:
            t.market(quote, book)

    def status(self, status: p.StatusView) -> None:
        for t in self.targets:
            t.status(status)

    def event(self, msg: p.Msg) -> None:
        for t in self.targets:
            t.event(msg)

    def volume(self, vap: p.VolumeAtPrice) -> None:
        for t in self.targets:
            t.volume(vap)

    def reply(self, conn_id: int, msg: p.Msg | SnapshotDraft) -> None:
        for t in self.targets:
            t.reply(conn_id, msg)


class Stack:
    """Paper exchange + feed + router + journal + engine thread (+ the viewer server)."""

    def __init__(
        self,
        tmp: Path,
        *,
        settings: dict[str, Any] | None = None,
        socket_path: Path | None = None,
        symbols: list[str] | None = None,
        order_rate: float = 50,
        alert_sender: Any = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.sim: SimHandle = start_in_thread(SimConfig(seed=11, rate=20.0, paused=True))
        self.instruments = [
            listing.instrument
            for listing in default_listings()
            if symbols is None or listing.instrument.symbol in symbols
        ]
        self.by_symbol = {i.symbol: i for i in self.instruments}
        self.inbound = Inbound()
        self.rec = Recorder()
        conf = {"trading": {"armed_at_start": True}}
        conf.update(settings or {})
        self.config = Settings(**conf)
        self.router = OpenAlgoRouter(
            self.sim.rest_url,
            self.sim.api_key,
            self.inbound.put,
            timeout_s=3.0,
            order_rate=order_rate,
        )
        self.feed = OpenAlgoFeed(self.sim.ws_url, self.sim.api_key, self.inbound.put)
        self.feed.subscribe([i.key for i in self.instruments if i.tradable], "quote")
        self.feed.subscribe_orders()
        self.journal = Journal.open(tmp / "journal.sqlite3")
        self.server: Any = None
        publisher: Any = self.rec
        if socket_path is not None:
            from cockpit.link.server import ViewerServer

            self.server = ViewerServer(socket_path, self.inbound.put, profile="test", venue="sim")
            publisher = Tee(self.server, self.rec)
        self.engine = Engine(
            config=self.config,
            instruments=self.instruments,
            router=self.router,
            journal=self.journal,
            publisher=publisher,
            inbound=self.inbound,
            feed=self.feed,
            options=EngineOptions(reconcile_interval_s=0, timer_interval_s=0.02, **(options or {})),
            alert_sender=alert_sender,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.engine.run, args=(self._stop,), daemon=True)
        self._ids = iter(range(1, 10**9))
        self._http = httpx.Client(timeout=5.0)

    def start(self) -> Stack:
        if self.server is not None:
            self.server.start()
        self.router.start()
        self.feed.start()
        self._thread.start()
        assert self.feed.wait_state(FeedState.LIVE, timeout=10)
        # No snapshot on subscribe (as the real server): prices set before the sim has the
        # subscriptions would reach nobody.
        self.sim.wait_subscribed([i.key for i in self.instruments if i.tradable])
        self.rec.wait(lambda: self.engine.reconciled, what="first reconciliation")
        self.rec.wait(
            lambda: any(
                isinstance(e, p.FeedEvent) and e.status.state is FeedState.LIVE
                for e in self.rec.events
            ),
            what="feed live at the engine",
        )
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.feed.stop()
        self.router.stop()
        if self.server is not None:
            self.server.stop()
        self.journal.close()
        self._http.close()
        self.sim.stop()

    # -- driving ---------------------------------------------------------------------------

    def price(self, symbol: str, price: str) -> None:
        """Move the paper market and wait until the engine has processed that tick."""
        inst = self.by_symbol.get(symbol) or next(
            i for i in list(self.engine.instruments.values()) if i.symbol == symbol
        )
        ticks = inst.ticks(Decimal(price))
        # No snapshot on subscribe (as the real server): a price set before the sim holds
        # the feed's subscription would reach nobody.
        self.sim.wait_subscribed([inst.key])
        self.sim.set_price(str(inst.exchange), symbol, price)
        self.rec.wait(
            lambda: (q := self.rec.quotes.get(inst.key)) is not None and q.ltp == ticks,
            what=f"{symbol} at {price} in the engine",
        )

    def command(self, cmd_cls: type, **kw: Any) -> p.Msg:
        """Send a command as viewer 1 and return its one Ack/Refused."""
        cmd = cmd_cls(id=next(self._ids), **kw)
        self.inbound.put(ViewerCommand(1, cmd))

        def answered() -> Any:
            found = [m for _c, m in self.rec.replies if isinstance(m, p.Ack | p.Refused)]
            found = [m for m in found if m.id == cmd.id]
            return found[0] if found else None

        return self.rec.wait(answered, what=f"answer to {cmd_cls.__name__}")

    def wait_position(self, symbol: str, qty: int, timeout: float = 5.0) -> None:
        key = self.by_symbol[symbol].key

        def done() -> bool:
            positions = [e for e in self.rec.events if isinstance(e, p.PositionEvent)]
            positions = [e for e in positions if e.position.key == key]
            return bool(positions) and positions[-1].position.qty == qty

        self.rec.wait(done, timeout, f"{symbol} position {qty}")

    def plan(self, symbol: str) -> p.PlanView | None:
        """The latest published plan of ``symbol`` (None if removed or never)."""
        key = self.by_symbol[symbol].key
        plans = [e for e in self.rec.of(p.PlanEvent) if e.plan.key == key]
        if not plans or plans[-1].removed:
            return None
        return plans[-1].plan

    def rest(self, path: str, **body: Any) -> Any:
        reply = self._http.post(
            f"{self.sim.rest_url}/api/v1/{path}", json={"apikey": self.sim.api_key, **body}
        )
        reply.raise_for_status()
        return reply.json()["data"]

    def sim_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """The paper exchange's orderbook rows (oldest first), optionally of one symbol."""
        rows = self.rest("orderbook")["orders"]
        rows = [r for r in rows if symbol is None or r["symbol"] == symbol]
        return sorted(rows, key=lambda r: r["orderid"])

    def sim_position(self, symbol: str) -> Decimal:
        rows = [r for r in self.rest("positionbook") if r["symbol"] == symbol]
        return sum((Decimal(str(r["quantity"])) for r in rows), Decimal(0))

    def poll(self, pred: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
        """Poll ``pred`` (e.g. a REST look at the sim) every 20 ms until truthy."""
        return poll_until(pred, timeout, what, interval=0.02)

    def settle(self, symbol: str, count: int, timeout: float = 5.0, hold: float = 0.3) -> list:
        """Wait until the sim has ``count`` orders for ``symbol``, and still has after ``hold``."""
        deadline = time.monotonic() + timeout
        rows = self.sim_orders(symbol)
        while len(rows) < count and time.monotonic() < deadline:
            time.sleep(0.02)
            rows = self.sim_orders(symbol)
        time.sleep(hold)  # nothing more may arrive: exactly-once is about absence too
        return self.sim_orders(symbol)
