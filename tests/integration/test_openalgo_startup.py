"""Engine start on an OpenAlgo server (the paper exchange answering as the real one does):
the watchlist's instruments come only from the server's ``/symbol`` answers (issue 17 item 4),
and an empty watchlist is a valid start where ``/`` adds symbols (issue 15 item 8)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.adapters.openalgo.symbols import LookupPolicy, lookup_instruments
from cockpit.link import protocol as p
from cockpit.sim import SimConfig, SimHandle, start_in_thread
from tests.integration.external_stack import RunnerStack

pytest.importorskip("cockpit.engine.core")

TEN = "NSE:TENPAISA"
"""A listing whose tick (0.10) is not the 0.05 a guess would give."""


def _sim(**kw: object) -> SimHandle:
    return start_in_thread(
        SimConfig(seed=3, rate=20.0, instruments=[f"{TEN}:1500:0.1"], **kw)  # type: ignore[arg-type]
    )


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    handle = _sim()
    yield handle
    handle.stop()


def _stack(xdg: Path, sim: SimHandle, watchlist: list[str]) -> RunnerStack:
    return RunnerStack(
        xdg,
        {
            "venue": {
                "broker": "openalgo",
                "host": sim.rest_url,
                "ws_url": sim.ws_url,
                "api_key": sim.api_key,
            },
            "trading": {"watchlist": watchlist},
        },
    )


def test_unknown_symbol_is_refused_with_the_servers_answer(sim: SimHandle) -> None:
    found, refused = lookup_instruments(
        sim.rest_url, sim.api_key, ["NSE:NOPE", TEN, "MCX:CRUDEOIL"]
    )
    assert [(i.key, i.tick_size, i.lot_size) for i in found] == [
        (TEN, Decimal("0.1"), Decimal(1)),
        ("MCX:CRUDEOIL", Decimal(1), Decimal(100)),
    ]
    assert len(refused) == 1
    assert refused[0].startswith("NSE:NOPE: HTTP 404: ")
    assert "not found" in refused[0]  # the server's own words


def test_429s_are_retried_and_never_become_a_guess() -> None:
    # The server's limit as the real one answers it: {"message": "2 per 1 second"}, no
    # retry_after. We pace ourselves faster than that so 429s do come, and must back off.
    handle = _sim(api_rate_limit=2)
    try:
        keys = [TEN, "MCX:CRUDEOIL", "NSE:INFY", "NSE:SBIN", TEN]
        found, refused = lookup_instruments(
            handle.rest_url, handle.api_key, keys, policy=LookupPolicy(rate_per_s=50.0)
        )
        assert refused == []
        assert [(i.key, i.tick_size, i.lot_size) for i in found] == [
            (TEN, Decimal("0.1"), Decimal(1)),
            ("MCX:CRUDEOIL", Decimal(1), Decimal(100)),
            ("NSE:INFY", Decimal("0.05"), Decimal(1)),
            ("NSE:SBIN", Decimal("0.05"), Decimal(1)),
            (TEN, Decimal("0.1"), Decimal(1)),
        ]
        assert handle.server.rest.stats["errors_429"] > 0  # they did come
    finally:
        handle.stop()


def test_engine_start_adds_only_what_the_server_knows(xdg: Path, sim: SimHandle) -> None:
    stack = _stack(xdg, sim, ["NSE:NOPE", TEN]).start()
    try:
        v = stack.viewer()
        snap = v.wait(lambda: v.of(p.Snapshot), what="snapshot")[0]
        assert [(i.key, i.tick_size, i.lot_size) for i in snap.instruments] == [
            (TEN, Decimal("0.1"), Decimal(1))
        ]
        assert snap.watchlist == [TEN]
    finally:
        stack.stop()


def test_empty_watchlist_starts_and_slash_adds_symbols(xdg: Path, sim: SimHandle) -> None:
    stack = _stack(xdg, sim, []).start()
    try:
        v = stack.viewer()
        snap = v.wait(lambda: v.of(p.Snapshot), what="snapshot")[0]
        assert snap.instruments == []
        assert snap.watchlist == []
        assert stack.thread.is_alive()
        answer = v.client.request(p.Subscribe(id=0, keys=[TEN]), timeout=10)
        assert isinstance(answer, p.Ack), answer
        v.wait(lambda: v.quotes.get(TEN), what="quotes for the added symbol")
        refused = v.client.request(p.Subscribe(id=0, keys=["NSE:NOPE"]), timeout=10)
        assert isinstance(refused, p.Refused), refused
        assert "not found" in refused.message
    finally:
        stack.stop()


def test_a_server_that_is_down_refuses_every_symbol_quickly() -> None:
    import socket
    import time

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    started = time.monotonic()
    found, refused = lookup_instruments(
        f"http://127.0.0.1:{port}", "k", [f"NSE:S{i}" for i in range(20)]
    )
    assert found == []
    assert len(refused) == 20
    assert all("cannot reach the server" in why for why in refused)
    assert time.monotonic() - started < 5  # not 20 x the retries


def test_many_symbols_of_one_exchange_take_one_request() -> None:
    # 3,000 symbols one /symbol call each at the server's 10/s is five minutes of start-up;
    # from LookupPolicy.bulk_from symbols of one exchange, its list is fetched once.
    specs = [f"NSE:BULK{i}:{100 + i}:0.1" for i in range(40)]
    handle = start_in_thread(SimConfig(seed=3, rate=1.0, instruments=specs))
    try:
        keys = [f"NSE:BULK{i}" for i in range(40)] + ["NSE:NOPE", "MCX:CRUDEOIL"]
        found, refused = lookup_instruments(handle.rest_url, handle.api_key, keys)
        assert [(i.key, i.tick_size) for i in found[:40]] == [
            (f"NSE:BULK{i}", Decimal("0.1")) for i in range(40)
        ]
        assert [(i.key, i.lot_size) for i in found[40:]] == [("MCX:CRUDEOIL", Decimal(100))]
        assert len(refused) == 1
        assert refused[0].startswith("NSE:NOPE: Symbol NOPE not found in exchange NSE")
        # one list for NSE's 41 symbols, one /symbol call for MCX's single one
        assert handle.stats()["rest"]["requests"] == 2
    finally:
        handle.stop()


def test_a_server_without_the_instrument_list_is_asked_symbol_by_symbol() -> None:
    # An older OpenAlgo has no GET /instruments: its 404 is not a refusal of the symbols.
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    asked: list[str] = []

    class OldServer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path.split("?")[0])
            self.send_response(404)
            self.end_headers()

        def do_POST(self) -> None:
            asked.append(self.path)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            row = {"symbol": body["symbol"], "exchange": "NSE", "tick_size": 0.05, "lotsize": 1}
            out = json.dumps({"status": "success", "data": row}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), OldServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        keys = [f"NSE:OLD{i}" for i in range(25)]
        found, refused = lookup_instruments(
            f"http://127.0.0.1:{server.server_port}",
            "k",
            keys,
            policy=LookupPolicy(rate_per_s=1000.0),
        )
        assert refused == []
        assert [i.key for i in found] == keys
        assert asked == ["/api/v1/instruments"] + ["/api/v1/symbol"] * 25
    finally:
        server.shutdown()
        server.server_close()
