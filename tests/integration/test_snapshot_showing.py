"""A viewer that says in its hello what it shows gets a snapshot with books and volume at price
for those symbols only, and a symbol's whole map when it comes into view; a viewer that says
nothing still gets everything (the real engine thread and viewer server, real sockets)."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from engine_stack import Stack

from cockpit.domain.market import TradeTick
from cockpit.link import protocol as p
from cockpit.link.client import EngineClient

SBIN, INFY = "NSE:SBIN", "NSE:INFY"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    short = Path(tempfile.mkdtemp(prefix="css", dir="/tmp"))  # Unix socket paths are short
    s = Stack(tmp_path, socket_path=short / "engine.sock", symbols=["SBIN", "INFY"]).start()
    try:
        yield s
    finally:
        s.stop()
        shutil.rmtree(short, ignore_errors=True)


def trade(stack: Stack, key: str, price: str, qty: int) -> None:
    exchange, symbol = key.split(":")
    stack.inbound.put(TradeTick(time.time_ns(), exchange, symbol, Decimal(price), ltq=Decimal(qty)))


def traded(stack: Stack) -> dict[str, dict[int, Decimal]]:
    """Two levels on each symbol; returns the engine's maps once it has them."""
    for key, base in ((SBIN, "800"), (INFY, "1500")):
        trade(stack, key, f"{base}.00", 3)
        trade(stack, key, f"{base}.05", 4)
    syms = stack.engine._syms
    stack.poll(lambda: all(len(syms[k].vap) == 2 for k in (SBIN, INFY)), what="volume")
    return {k: {t: Decimal(q) for t, q in syms[k].vap.items()} for k in (SBIN, INFY)}


def test_a_viewer_saying_what_it_shows_gets_those_maps_then_the_rest_as_they_show(
    stack: Stack,
) -> None:
    maps = traded(stack)
    path = stack.server.path
    with EngineClient.connect(path=path, client="tui", showing=[SBIN]) as c:
        snap = c.snapshot()
        assert {q.key for q in snap.quotes} == {SBIN, INFY}
        assert [(v.key, dict(v.levels)) for v in snap.volume_at_price] == [(SBIN, maps[SBIN])]
        c.show([SBIN, INFY])  # INFY scrolls into view
        deadline = time.monotonic() + 10
        got: dict[int, Decimal] = {}
        while got != maps[INFY] and time.monotonic() < deadline:
            msg = c.recv(0.2)
            if isinstance(msg, p.MarketBatch):
                for v in msg.volume_at_price:
                    if v.key == INFY:
                        got.update(v.levels)
        assert got == maps[INFY]  # every level, though none traded since
    with EngineClient.connect(path=path, client="script") as c:  # says nothing
        snap = c.snapshot()
        assert {v.key: dict(v.levels) for v in snap.volume_at_price} == maps
