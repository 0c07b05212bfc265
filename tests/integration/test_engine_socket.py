"""The engine through its viewer socket: a trading viewer and a read-only one, real sockets."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from engine_stack import Stack

from cockpit.link import protocol as p
from cockpit.link.client import EngineClient


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    short = Path(tempfile.mkdtemp(prefix="ces", dir="/tmp"))  # Unix socket paths are short
    s = Stack(tmp_path, socket_path=short / "engine.sock").start()
    try:
        yield s
    finally:
        s.stop()
        shutil.rmtree(short, ignore_errors=True)


class Viewer:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.client = EngineClient.connect(path=path, client="test", read_only=read_only)
        self.snapshot = self.client.snapshot()
        self.msgs: list[Any] = []

    def until(self, pred: Callable[[Any], bool], what: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for msg in self.msgs[seen:]:
                if pred(msg):
                    return msg
            seen = len(self.msgs)
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            msg = self.client.recv(timeout=0.1)
            if msg is not None:
                self.msgs.append(msg)

    def command(self, cmd: Any) -> Any:
        cmd_id = self.client.send(cmd)  # the client numbers its commands itself
        return self.until(
            lambda m: isinstance(m, p.Ack | p.Refused) and m.id == cmd_id, f"answer {cmd_id}"
        )


def test_trade_and_kill_through_the_socket_with_a_read_only_viewer(stack: Stack) -> None:
    assert stack.server is not None
    trader = Viewer(stack.server.path)
    watcher = Viewer(stack.server.path, read_only=True)
    assert "NSE:SBIN" in [i.key for i in trader.snapshot.instruments]
    stack.price("SBIN", "800.00")
    stack.price("INFY", "1500.00")

    refused = watcher.command(p.PlaceEntry(id=1, key="NSE:SBIN", side="BUY", qty=Decimal(5)))
    assert isinstance(refused, p.Refused)
    assert refused.rule == "read_only"

    for n, (key, side) in enumerate((("NSE:SBIN", "BUY"), ("NSE:INFY", "SELL")), start=10):
        ack = trader.command(p.PlaceEntry(id=n, key=key, side=side, qty=Decimal(5)))
        assert isinstance(ack, p.Ack), ack
        for viewer in (trader, watcher):
            viewer.until(
                lambda m, key=key: isinstance(m, p.PlanEvent) and m.plan.key == key,
                f"plan on {key}",
            )
    moved = trader.command(p.MoveStop(id=20, key="NSE:SBIN", delta=2))
    assert isinstance(moved, p.Ack)
    watcher.until(
        lambda m: isinstance(m, p.PlanEvent) and m.change.startswith("stop"), "stop moved"
    )
    assert isinstance(trader.command(p.KillSwitch(id=30)), p.Ack)
    for viewer in (trader, watcher):
        for key in ("NSE:SBIN", "NSE:INFY"):
            viewer.until(
                lambda m, key=key: (
                    isinstance(m, p.PositionEvent) and m.position.key == key and m.position.qty == 0
                ),
                f"{key} flat",
            )
        viewer.until(lambda m: isinstance(m, p.Alarm) and m.code == "kill", "kill alarm")
    assert stack.sim_position("SBIN") == 0
    assert stack.sim_position("INFY") == 0
    snap = Viewer(stack.server.path, read_only=True).snapshot
    assert snap.status.kill_switch
    assert not snap.status.armed
    assert not snap.plans
    assert all(pos.qty == 0 for pos in snap.positions)
    for viewer in (trader, watcher):
        viewer.client.close()
    assert os.path.exists(stack.server.path)


def test_absurd_quantities_through_the_socket_are_answered_and_never_sent(stack: Stack) -> None:
    """Issue 16.8: qty 1e1000000 got neither Ack nor Refused; 1e27 reached the venue."""
    assert stack.server is not None
    trader = Viewer(stack.server.path)
    stack.price("SBIN", "800.00")
    for n, qty in enumerate(("1e1000000", "1e27", "-1e1000000"), start=40):
        answer = trader.command(p.PlaceEntry(id=n, key="NSE:SBIN", side="BUY", qty=Decimal(qty)))
        assert isinstance(answer, p.Refused), answer
        assert "quantity" in answer.message
    ok = trader.command(p.PlaceEntry(id=50, key="NSE:SBIN", side="BUY", qty=Decimal(5)))
    assert isinstance(ok, p.Ack), ok  # the engine is still there and trading
    trader.until(lambda m: isinstance(m, p.PlanEvent), "plan on SBIN")
    assert stack.sim_position("SBIN") == 5
