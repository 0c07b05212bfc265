"""The real command line once: ``cockpit engine run --feed binance --url ... --symbols ...`` in
a subprocess with temporary XDG dirs, a viewer sees Binance prices, SIGTERM stops it cleanly
and nothing is left running."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from cockpit.link import protocol as p
from cockpit.link.client import ClientError, EngineClient
from tests.integration.test_engine_cli import Env, temp_env
from tests.servers.binance_server import BinanceServer

pytest.importorskip("cockpit.engine.core")


@pytest.fixture
def env() -> Iterator[Env]:
    yield from temp_env("ckx")


def test_engine_run_feed_binance_over_the_cli(env: Env) -> None:
    binance = BinanceServer(symbols=("BTCUSDT",))
    binance.start()
    try:
        proc = env.popen(
            "engine", "run", "--feed", "binance", "--url", binance.url, "--symbols", "BTCUSDT"
        )
        deadline = time.monotonic() + 45
        while True:
            try:
                client = EngineClient.connect(path=env.socket, client="test", timeout=2)
                break
            except ClientError:
                assert proc.poll() is None, proc.communicate(timeout=5)
                assert time.monotonic() < deadline, "the engine never answered"
                time.sleep(0.1)
        with client:
            assert "feed=binance" in client.welcome.venue
            snap = client.snapshot(timeout=10)
            assert snap.watchlist == ["BINANCE:BTCUSDT"]
            end = time.monotonic() + 20
            ltp = None
            while ltp is None and time.monotonic() < end:
                msg = client.recv(timeout=1)
                if isinstance(msg, p.MarketBatch):
                    ltp = next((q.ltp for q in msg.quotes if q.key == "BINANCE:BTCUSDT"), None)
            assert ltp is not None, "no Binance price reached the viewer"
            # the loopback server's book sits around 20000.00 (2,000,000 ticks)
            assert abs(Decimal(ltp) - 2_000_000) < 1000
        assert len(env.our_processes()) == 2  # the engine and its paper exchange
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "market data binance" in err
        assert "engine stopped" in err
        assert env.wait_gone() == []
        assert not env.socket.exists()
    finally:
        binance.stop()
