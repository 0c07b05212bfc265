"""Decode throughput of the Kite and Binance adapters against a peer, in one run.

Kite: binary frames (10 full 184-byte packets; 50 quote 44-byte packets) decoded by
``KiteDecoder.decode_binary`` (exact Decimal events) vs kiteconnect 5.2.2's own
``KiteTicker._parse_binary`` (float dicts, naive datetimes): packets/s and the ratio.

Binance: combined-stream frames (trade, bookTicker, diff depth with 3 levels) decoded by
``BinanceProtocol.decode`` (validated Decimal events; depth applied to a synced book and a
top-20 DepthTick built) vs ``json.loads`` of the same frame (what SDKs such as
python-binance hand to a callback: no validation, no Decimal, no book): frames/s and ratio.

Usage::

    python3 benchmarks/bench_kite_binance_decode.py [--seconds 1.5]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cockpit.adapters.binance.book import BookSync  # noqa: E402
from cockpit.adapters.binance.decode import DepthSnapshot  # noqa: E402
from cockpit.adapters.binance.feed import BinanceProtocol  # noqa: E402
from cockpit.adapters.kite.decode import KiteDecoder  # noqa: E402
from tests.servers.kite_server import frame, full_packet, quote_packet  # noqa: E402


def rate(fn: Callable[[], Any], units: int, seconds: float) -> float:
    """Units per second of calling ``fn`` repeatedly for about ``seconds``."""
    n = 0
    start = time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n * units / elapsed


def kite_frames(rng: random.Random) -> dict[str, tuple[bytes, int]]:
    def quote(token: int) -> bytes:
        ltp = rng.randint(10_000, 500_000)
        return quote_packet(
            token, ltp, 5, ltp - 3, 10_000, 1000, 1200, ltp, ltp + 50, ltp - 50, ltp
        )

    def full(token: int) -> bytes:
        q = quote(token)
        ltp = int.from_bytes(q[4:8], "big")
        bids = [(10 * (i + 1), ltp - 5 * (i + 1), i + 1) for i in range(5)]
        asks = [(20 * (i + 1), ltp + 5 * (i + 1), i + 2) for i in range(5)]
        return full_packet(q, 1_700_000_000, 0, 0, 0, 1_700_000_001, bids, asks)

    tokens = [(rng.randint(1, 0xFFFF) << 8) | 1 for _ in range(50)]
    return {
        "full_x10": (frame([full(t) for t in tokens[:10]]), 10),
        "quote_x50": (frame([quote(t) for t in tokens]), 50),
    }


def binance_frames() -> list[bytes]:
    rng = random.Random(3)
    out = []
    uid = 1001
    for i in range(3000):
        k = i % 3
        if k == 0:
            data: dict[str, Any] = {
                "e": "trade", "E": 1, "s": "BTCUSDT", "t": i, "p": "20000.01000000",
                "q": "0.01200000", "T": 1, "m": True, "M": True,
            }  # fmt: skip
            stream = "btcusdt@trade"
        elif k == 1:
            data = {
                "u": uid, "s": "BTCUSDT", "b": "20000.00000000", "B": "1.00000000",
                "a": "20000.01000000", "A": "2.00000000",
            }  # fmt: skip
            stream = "btcusdt@bookTicker"
        else:
            levels = [
                [f"{20000 - rng.randint(1, 30) / 100:.8f}", f"{rng.randint(0, 9)}.00000000"],
                [f"{20000 - rng.randint(1, 30) / 100:.8f}", "1.50000000"],
            ]
            data = {
                "e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": uid + 1, "u": uid + 2,
                "b": levels, "a": [[f"{20000 + rng.randint(1, 30) / 100:.8f}", "3.00000000"]],
            }  # fmt: skip
            uid += 2
            stream = "btcusdt@depth@100ms"
        out.append(json.dumps({"stream": stream, "data": data}).encode())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5)
    args = parser.parse_args()
    from kiteconnect import KiteTicker

    result: dict[str, Any] = {"kite": {}, "binance": {}}
    ticker = KiteTicker("k", "t")
    for name, (data, packets) in kite_frames(random.Random(1)).items():
        dec = KiteDecoder()
        ours = rate(lambda d=data, dec=dec: dec.decode_binary(d, 0), packets, args.seconds)
        peer = rate(lambda d=data: ticker._parse_binary(d), packets, args.seconds)
        result["kite"][name] = {
            "ours_packets_per_s": round(ours),
            "kiteconnect_packets_per_s": round(peer),
            "ratio": round(ours / peer, 2),
        }

    frames = binance_frames()

    def fresh_protocol() -> BinanceProtocol:
        proto = BinanceProtocol("ws://127.0.0.1:1")
        proto.wanted = {"BTCUSDT": {"depth", "quote"}}
        # the snapshot is loaded inline here (the feed fetches it on a helper thread)
        proto.books["BTCUSDT"] = BookSync("BTCUSDT", lambda s: DepthSnapshot(1001, [], []))
        return proto

    def run_ours() -> None:
        proto = fresh_protocol()
        decode = proto.decode
        for f in frames:
            decode(f, False, 0)

    def run_peer() -> None:
        loads = json.loads
        for f in frames:
            loads(f)

    ours = rate(run_ours, len(frames), args.seconds)
    peer = rate(run_peer, len(frames), args.seconds)
    result["binance"]["mixed_trade_bookticker_depth"] = {
        "ours_frames_per_s": round(ours),
        "json_loads_frames_per_s": round(peer),
        "ratio": round(ours / peer, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
