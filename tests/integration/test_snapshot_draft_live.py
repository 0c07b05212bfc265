"""A script attaches while trades flow: the snapshot the viewer server builds from the engine's
draft (off the decision thread, the maps lent copy-on-write) and the volume deltas after it
end exactly at the engine's maps (the real engine thread and viewer server, real sockets)."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from engine_stack import Stack

from cockpit.domain.market import TradeTick
from cockpit.link import protocol as p
from cockpit.link.client import EngineClient
from cockpit.link.volume import Levels, merge_levels

SBIN, INFY = "NSE:SBIN", "NSE:INFY"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    short = Path(tempfile.mkdtemp(prefix="csd", dir="/tmp"))  # Unix socket paths are short
    s = Stack(tmp_path, socket_path=short / "engine.sock", symbols=["SBIN", "INFY"]).start()
    try:
        yield s
    finally:
        s.stop()
        shutil.rmtree(short, ignore_errors=True)


def test_a_script_attaching_while_trades_flow_ends_at_the_engines_maps(stack: Stack) -> None:
    stop = threading.Event()
    sent = [0]

    def trades() -> None:
        n = 0
        while not stop.is_set():
            for key, base in ((SBIN, 16000), (INFY, 30000)):
                exchange, symbol = key.split(":")
                price = (base + n % 37) * Decimal("0.05")
                side = "buy" if n % 3 else "sell"
                ev = TradeTick(time.time_ns(), exchange, symbol, price, ltq=Decimal(n % 5 + 1))
                stack.inbound.put(ev if side == "sell" else _bought(ev))
                sent[0] += 1
            n += 1
            if n % 50 == 0:
                time.sleep(0.001)

    feeder = threading.Thread(target=trades, daemon=True)
    feeder.start()
    try:
        time.sleep(0.2)
        held: dict[str, Levels] = {}
        with EngineClient.connect(path=stack.server.path, client="script") as c:
            snap = c.snapshot()
            for vap in snap.volume_at_price:
                merge_levels(held.setdefault(vap.key, {}), vap)
            time.sleep(0.3)  # trades keep coming after the snapshot
            stop.set()
            feeder.join(2)
            syms = stack.engine._syms
            stack.poll(lambda: stack.engine.counters["ticks"] >= sent[0], what="all handled")
            quiet_until = time.monotonic() + 0.5
            while time.monotonic() < quiet_until:
                msg = c.recv(0.1)
                if isinstance(msg, p.MarketBatch) and msg.volume_at_price:
                    for vap in msg.volume_at_price:
                        merge_levels(held.setdefault(vap.key, {}), vap)
                    quiet_until = time.monotonic() + 0.5
        for key in (SBIN, INFY):
            engine_map = {t: Decimal(q) for t, q in syms[key].vap.items()}
            totals = {t: total for t, (total, _) in held[key].items() if total}
            assert totals == engine_map
            bought = {t: b for t, (_, b) in held[key].items() if b}
            assert bought == {t: Decimal(b) for t, b in syms[key].bought.items() if b}
    finally:
        stop.set()


def _bought(ev: TradeTick) -> TradeTick:
    return TradeTick(ev.recv_ns, ev.exchange, ev.symbol, ev.ltp, ltq=ev.ltq, aggressor="buy")
