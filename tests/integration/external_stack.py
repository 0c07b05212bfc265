"""An engine assembled by the real :class:`EngineRunner` (paper exchange child process, feeds,
router, viewer socket) on a test thread, plus a viewer that records what the engine sends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from cockpit.config import Settings
from cockpit.daemon.runner import EngineRunner
from cockpit.link import protocol as p
from cockpit.link.client import ClientError, EngineClient
from tests.servers.base import wait_on


class Viewer:
    """An engine client in push mode that keeps every message and lets tests wait on them."""

    def __init__(self, client: EngineClient) -> None:
        self.client = client
        self.cond = threading.Condition()
        self.msgs: list[Any] = []
        self.quotes: dict[str, p.QuoteView] = {}
        client.start(self._on)

    def _on(self, msg: Any) -> None:
        with self.cond:
            self.msgs.append(msg)
            if isinstance(msg, p.MarketBatch | p.Snapshot):
                for q in msg.quotes:
                    self.quotes[q.key] = q
            self.cond.notify_all()

    def wait(self, pred: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
        return wait_on(self.cond, pred, timeout, what, poll=0.2)

    def of(self, kind: type) -> list[Any]:
        with self.cond:
            return [m for m in self.msgs if isinstance(m, kind)]

    def feed_live(self, name: str) -> bool:
        state: dict[str, Any] = {}
        for m in self.msgs:
            if isinstance(m, p.Snapshot):
                for f in m.feeds:
                    state[f.feed] = f.state
            elif isinstance(m, p.FeedEvent):
                state[m.status.feed] = m.status.state
        return str(state.get(name, "")) == "live"


class RunnerStack:
    """``EngineRunner(settings).run()`` on a thread; ``viewer()`` attaches over the socket."""

    def __init__(self, tmp: Path, conf: dict[str, Any]) -> None:
        base: dict[str, Any] = {
            "trading": {"armed_at_start": True},
            "paths": {"journal": tmp / "journal.sqlite3", "socket": tmp / "engine.sock"},
            "sim": {"rate": 20.0, "seed": 5},
        }
        for key, value in conf.items():
            base[key] = {**base.get(key, {}), **value}
        self.settings = Settings(**base)
        self.runner = EngineRunner(self.settings)
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run, name="test-engine", daemon=True)
        self.http = httpx.Client(timeout=5.0)
        self.clients: list[EngineClient] = []

    def _run(self) -> None:
        self.code = self.runner.run()

    def start(self, timeout: float = 45.0) -> RunnerStack:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while self.runner.server is None or not self.settings.socket_path.exists():
            if not self.thread.is_alive():
                raise AssertionError(f"the engine exited at start (code {self.code})")
            if time.monotonic() > deadline:
                raise AssertionError("the engine did not start")
            time.sleep(0.05)
        return self

    def viewer(self) -> Viewer:
        deadline = time.monotonic() + 20
        while True:
            try:
                c = EngineClient.connect(path=self.settings.socket_path, client="test")
                break
            except ClientError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.clients.append(c)
        return Viewer(c)

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        self.runner.request_stop("test over")
        self.thread.join(30)
        self.http.close()
        assert not self.thread.is_alive(), "the engine did not stop"
        sim = self.runner.sim
        assert sim is None or not sim.alive(), "the paper exchange is still running"

    # -- the paper exchange, over its own REST API ------------------------------------------

    def paper_quote(self, key: str, what: str = "quotes") -> dict[str, Any] | None:
        venue = self.runner.sim.venue
        exchange, symbol = key.split(":", 1)
        resp = self.http.post(
            f"{venue.host}/api/v1/{what}",
            json={"apikey": venue.api_key, "exchange": exchange, "symbol": symbol},
        )
        body = resp.json()
        return body.get("data") if body.get("status") == "success" else None

    def wait_paper_ltp(self, key: str, ltp: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.paper_quote(key)
            if last is not None and Decimal(str(last["ltp"])) == Decimal(ltp):
                return last
            time.sleep(0.05)
        raise AssertionError(f"paper exchange {key} never at {ltp} (last {last})")

    def upstream_stats(self) -> dict[str, Any]:
        venue = self.runner.sim.venue
        resp = self.http.post(f"{venue.host}/sim/stats", json={"apikey": venue.api_key})
        return resp.json()


def entry(v: Viewer, key: str, side: str, qty: str, **kw: Any) -> p.Msg:
    """Place an entry, retrying while the engine refuses it as not ready (reconciliation)."""
    deadline = time.monotonic() + 20
    while True:
        answer = v.client.request(
            p.PlaceEntry(id=0, key=key, side=side, qty=Decimal(qty), **kw), timeout=10
        )
        if isinstance(answer, p.Ack) or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def tick_until_quoted(v: Viewer, sim: Any, key: str, prices: tuple[str, str]) -> None:
    """Move a paused paper exchange's price between ``prices`` until the engine has a quote for
    ``key`` (the server sends no snapshot on subscribe, and a first tick may come before the
    engine's subscription does)."""
    exchange, symbol = key.split(":", 1)
    deadline = time.monotonic() + 15
    step = 0
    while not v.quotes.get(key):
        assert time.monotonic() < deadline, f"no quote for {key}"
        step = 1 - step
        sim.set_price(exchange, symbol, prices[step])
        time.sleep(0.2)
