"""Parts of the external-feed wiring: Kite entries, replay ticks, the tee's bounded buffer,
config/flags, and the paper exchange's upstream endpoint (bad input counted, never fatal)."""

from __future__ import annotations

import argparse
import socket
import time
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.cli import build_parser
from cockpit.config import load_settings
from cockpit.daemon.external import (
    FeedConfigError,
    UpstreamTee,
    VenueFeed,
    _grid,
    kite_instruments,
    replay_instruments,
)
from cockpit.domain.instruments import Exchange, Instrument
from cockpit.domain.market import DepthTick, LtpTick, QuoteTick, TradeTick, encode_line
from cockpit.sim import SimConfig, start_in_thread


def test_kite_entries_with_default_and_explicit_tick_and_lot() -> None:
    known = {
        "NSE:INFY": Instrument(Exchange.NSE, "INFY", Decimal("0.05"), Decimal(1), name="Infosys")
    }
    insts, tokens = kite_instruments(
        ["NSE:INFY=408065", "NSE:ACME=1234:0.01", "NFO:NIFTYFUT=99:0.05:75", " "], known
    )
    assert [i.key for i in insts] == ["NSE:INFY", "NSE:ACME", "NFO:NIFTYFUT"]
    assert tokens == {"NSE:INFY": "408065", "NSE:ACME": "1234", "NFO:NIFTYFUT": "99"}
    assert insts[0].tick_size == Decimal("0.05")
    assert insts[0].name == "Infosys"
    assert insts[1].tick_size == Decimal("0.01")
    assert insts[2].lot_size == Decimal(75)


@pytest.mark.parametrize("bad", ["NSE:INFY", "NSE:INFY=abc", "INFY=408065", "NSE:X=1:0.05:1:9"])
def test_bad_kite_entries_say_what_to_type(bad: str) -> None:
    with pytest.raises(FeedConfigError, match="EXCH:SYMBOL=TOKEN"):
        kite_instruments([bad])


def test_kite_needs_symbols() -> None:
    with pytest.raises(FeedConfigError, match="--symbols"):
        kite_instruments([])


def test_grid_is_the_coarsest_step_all_prices_lie_on() -> None:
    nse = [Decimal("1500.00") + Decimal("0.05") * i for i in range(-6, 7)]
    assert _grid(nse) == Decimal("0.05")
    assert _grid([Decimal("97250.01") + Decimal("0.01") * i for i in range(12)]) == Decimal("0.01")
    assert _grid([Decimal(5400 + i) for i in range(12)]) == Decimal(1)
    assert _grid([]) is None


def test_grid_falls_back_to_the_finest_decimal_with_few_prices() -> None:
    assert _grid([Decimal("3000.01")]) == Decimal("0.01")
    assert _grid([Decimal("1500.00"), Decimal("1500.50")]) == Decimal("0.01")
    assert _grid([Decimal(100 * i) for i in range(1, 20)]) == Decimal(1)  # gcd 100: too coarse


def test_replay_instruments_from_the_files_keys(tmp_path: Path) -> None:
    f = tmp_path / "r.jsonl"
    lines: list[object] = [
        QuoteTick(
            recv_ns=1,
            exchange="NSE",
            symbol="ZZ",
            ltp=Decimal("100.10") + Decimal("0.05") * i,
            bids=((Decimal("100.05") + Decimal("0.05") * i, Decimal(5), 1),),
            asks=((Decimal("100.15") + Decimal("0.05") * i, Decimal(5), 1),),
        )
        for i in range(10)
    ]
    lines += [
        TradeTick(recv_ns=2, exchange="BINANCE", symbol="ETHUSDT", ltp=Decimal("3000.01")),
        LtpTick(recv_ns=3, exchange="NSE", symbol="INFY", ltp=Decimal("1500.00")),
    ]  # fmt: skip
    f.write_bytes(b"\n".join(encode_line(e) for e in lines) + b"\nnot json\n")  # type: ignore[arg-type]
    known = {"NSE:INFY": Instrument(Exchange.NSE, "INFY", Decimal("0.05"), Decimal(1))}
    insts = {i.key: i for i in replay_instruments(f, known)}
    assert list(insts) == ["NSE:ZZ", "BINANCE:ETHUSDT", "NSE:INFY"]
    assert insts["NSE:ZZ"].tick_size == Decimal("0.05")
    assert insts["BINANCE:ETHUSDT"].tick_size == Decimal("0.01")
    assert insts["BINANCE:ETHUSDT"].lot_size == Decimal("0.00001")
    assert insts["NSE:INFY"] is known["NSE:INFY"]


def test_replay_without_ticks_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "empty.jsonl"
    f.write_text("garbage\n")
    with pytest.raises(FeedConfigError, match="no normalized tick lines"):
        replay_instruments(f)


def test_tee_never_blocks_and_counts_what_it_drops() -> None:
    got: list[object] = []
    tee = UpstreamTee(1, "k", [], capacity=3)  # never started: nothing drains the buffer
    sink = tee.sink(got.append)
    tick = LtpTick(recv_ns=1, exchange="NSE", symbol="INFY", ltp=Decimal("1"))
    for _ in range(5):
        sink(tick)
    sink("not a market event")
    assert len(got) == 6  # the engine gets everything
    assert tee.stats()["pending"] == 3
    assert tee.stats()["dropped"] == 2


class _Inner:
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def subscribe(self, ids: list[str], mode: str) -> list[str]:
        self.calls.append(("sub", tuple(ids), mode))
        return ids


def test_venue_feed_maps_keys_and_ignores_unknown_ones() -> None:
    inner = _Inner()
    feed = VenueFeed(inner, {"BINANCE:BTCUSDT": "BTCUSDT"}, "binance")
    assert feed.subscribe(["BINANCE:BTCUSDT", "NSE:INFY"], "depth") == ["BTCUSDT"]
    assert feed.subscribe(["NSE:INFY"], "depth") == []
    assert inner.calls == [("sub", ("BTCUSDT",), "depth")]


def test_flags_and_feed_section(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[feed]\nkind = "kite"\nsymbols = ["NSE:INFY=408065"]\n[venue]\norder_updates = "poll"\n'
    )
    s = load_settings(cfg)
    assert s.feed.kind == "kite"
    assert s.feed.symbols == ["NSE:INFY=408065"]
    assert s.venue.order_updates == "poll"
    assert s.venue_label() == "paper feed=kite"
    args = build_parser().parse_args(
        ["engine", "run", "--feed", "binance", "--url", "ws://127.0.0.1:9", "--symbols",
         "BTCUSDT, ETHUSDT", "--order-updates", "push"]
    )  # fmt: skip
    s = load_settings(cfg, args=args)
    assert s.venue.feed == "binance"
    assert s.feed.url == "ws://127.0.0.1:9"
    assert s.feed.symbols == ["BTCUSDT", "ETHUSDT"]
    assert s.venue.order_updates == "push"
    rec = build_parser().parse_args(
        ["record", "--feed", "binance", "--symbols", "BTCUSDT", "--out", "-"]
    )
    assert load_settings(cfg, args=rec).feed.symbols == ["NSE:INFY=408065"]
    assert isinstance(args, argparse.Namespace)


# ---------------------------------------------------------------------- the sim's endpoint


def _send(port: int, *lines: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"\n".join(lines) + b"\n")


def _wait(pred: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_upstream_endpoint_counts_bad_input_and_applies_good_ticks() -> None:
    with start_in_thread(SimConfig(upstream_port=0, rate=20.0)) as sim:
        up = sim.server.upstream
        port = sim.upstream_port
        assert port
        _send(
            port,
            b'{"auth": "wrong"}',
            encode_line(LtpTick(recv_ns=1, exchange="NSE", symbol="INFY", ltp=Decimal(1))),
        )
        _wait(lambda: up.stats["auth_failures"] == 1)
        assert up.stats["applied"] == 0
        follow = b'{"follow": {"exchange": "NSE", "symbol": "INFY", "tick": "0.05", "lot": "1"}}'
        depth = DepthTick(
            recv_ns=1, exchange="NSE", symbol="INFY", ltp=Decimal("1500.02"),
            bids=tuple((Decimal("1499.95") - Decimal("0.05") * i, Decimal(7), 2) for i in range(3)),
            asks=tuple((Decimal("1500.05") + Decimal("0.05") * i, Decimal(9), 3) for i in range(3)),
        )  # fmt: skip
        _send(
            port,
            f'{{"auth": "{sim.api_key}"}}'.encode(),
            follow,
            b"{not json",
            encode_line(LtpTick(recv_ns=1, exchange="NSE", symbol="NOPE", ltp=Decimal(1))),
            encode_line(depth),
        )
        _wait(lambda: up.stats["applied"] == 1)
        assert up.stats["bad_lines"] == 1
        assert up.stats["unknown"] == 1
        assert up.stats["off_grid"] == 1  # 1500.02 snapped to 1500.00
        state = sim.server.market.get("NSE", "INFY")
        assert state is not None
        assert state.paused
        assert (state.ltp, state.bid, state.ask) == (30000, 29999, 30001)
        assert state.bq[:4] == [7, 7, 7, 0]
        assert state.aq[:4] == [9, 9, 9, 0]
        assert "NSE:INFY" not in sim.server.exchange.unpriced


def test_auto_poll_recognises_a_refused_subscribe_orders() -> None:
    from cockpit.daemon.runner import _refuses_orders

    assert _refuses_orders("INVALID_ACTION: Invalid action: subscribe_orders")
    assert _refuses_orders("INVALID_ACTION: ")
    assert not _refuses_orders("INVALID_ACTION: Invalid action: ping")
    assert not _refuses_orders("BROKER_ERROR: subscribe_orders failed")
