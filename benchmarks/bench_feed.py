"""Feed throughput and latency: our OpenAlgo feed vs the official openalgo SDK, one run.

A separate process ("blaster") serves OpenAlgo ``market_data`` quote frames over a raw
loopback WebSocket. Each client (SDK ``FeedAPI`` with a callback, and ``OpenAlgoFeed`` with a
sink) gets, in turn:

* throughput: N frames sent as fast as possible; frames/s from the first to the last
  callback/hand-off (decode to typed events and a ``queue.SimpleQueue.put`` included);
* latency at 1,000 and 10,000 frames/s: each frame carries its send time (``time.time_ns()``
  in ``data.timestamp``); latency = hand-off time - send time; p50/p99/p99.9 in microseconds,
  pooled over ``--rounds`` alternating runs (SDK, ours, SDK, ...) with the first 5 % of each
  run dropped as warm-up. The 1-minute load average is printed: on a shared machine the
  tails are mostly other processes' scheduling.

Prints one JSON object with both figures and the ratios. Usage::

    python3 benchmarks/bench_feed.py [--frames 200000] [--seconds 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SYMBOLS = [("NSE", f"SYM{i}") for i in range(10)]


# -- the blaster (server process) ------------------------------------------------------------


def _frame(data: bytes) -> bytes:
    n = len(data)
    if n < 126:
        return bytes((0x81, n)) + data
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + data
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + data


_QUOTE = (
    '{"type":"market_data","symbol":"%s","exchange":"%s","mode":2,"broker":"paper",'
    '"data":{"ltp":%s,"open":1498.0,"high":1519.9,"low":1495.1,"close":1501.6,'
    '"volume":%d,"last_trade_quantity":12,"avg_trade_price":1507.82,"change":10.75,'
    '"change_percent":0.72,"timestamp":%d,"ltt":1767080412000,"last_quantity":12,'
    '"average_price":1507.82,"total_buy_quantity":401200,"total_sell_quantity":388950,'
    '"oi":0}}'
)


def _quote_json(exchange: str, symbol: str, i: int, ts: int) -> bytes:
    ltp = f"{1500 + (i % 400) * 0.05:.2f}"
    return (_QUOTE % (symbol, exchange, ltp, 3120455 + i, ts)).encode()  # noqa: UP031


def _read_frame(sock: socket.socket, buf: bytearray) -> bytes | None:
    while True:
        if len(buf) >= 2:
            n = buf[1] & 0x7F
            pos = 2
            if n == 126:
                n = int.from_bytes(buf[2:4], "big")
                pos = 4
            elif n == 127:
                n = int.from_bytes(buf[2:10], "big")
                pos = 10
            if len(buf) >= pos + 4 + n:
                key = buf[pos : pos + 4]
                data = bytes(b ^ key[i % 4] for i, b in enumerate(buf[pos + 4 : pos + 4 + n]))
                op = buf[0] & 0x0F
                del buf[: pos + 4 + n]
                if op == 0x9:
                    sock.sendall(bytes((0x8A, len(data))) + data)
                    continue
                if op == 0x8:
                    return None
                if op == 0x1:
                    return data
                continue
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk


def _serve(sock: socket.socket) -> None:
    req = b""
    while b"\r\n\r\n" not in req:
        req += sock.recv(4096)
    head = req.split(b"\r\n\r\n")[0].decode().split("\r\n")
    path = head[0].split(" ")[1]
    key = next(
        v.split(":", 1)[1].strip() for v in head if v.lower().startswith("sec-websocket-key")
    )
    acc = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
    sock.sendall(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {acc}\r\n\r\n"
        ).encode()
    )
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    _read_frame(sock, buf)  # authenticate
    sock.sendall(_frame(b'{"type":"auth","status":"success","broker":"paper","user_id":"b"}'))
    # subscriptions: bulk (ours) or one message per symbol (the SDK, 0.1 s apart)
    subscribed = 0
    while subscribed < len(SYMBOLS):
        msg = json.loads(_read_frame(sock, buf) or b"{}")
        subscribed += len(msg.get("symbols", [])) or (1 if msg.get("symbol") else 0)
        sock.sendall(_frame(b'{"type":"subscribe","status":"success","subscriptions":[]}'))
    q = parse_qs(urlsplit(path).query)
    n = int(q["n"][0])
    rate = float(q.get("rate", ["0"])[0])
    time.sleep(0.2)
    if rate <= 0:
        block = b"".join(
            _frame(_quote_json(*SYMBOLS[i % len(SYMBOLS)], i, time.time_ns())) for i in range(1000)
        )
        for _ in range(n // 1000):
            sock.sendall(block)
    else:
        t0 = time.perf_counter()
        for i in range(n):
            due = t0 + i / rate
            while True:
                left = due - time.perf_counter()
                if left <= 0:
                    break
                if left > 0.0005:
                    time.sleep(left - 0.0003)
            exch, sym = SYMBOLS[i % len(SYMBOLS)]
            sock.sendall(_frame(_quote_json(exch, sym, i, time.time_ns())))
    # keep the socket open until the client goes away
    sock.settimeout(30)
    try:
        while _read_frame(sock, buf) is not None:
            pass
    except OSError:
        pass
    sock.close()


def blaster() -> None:
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    print(lsock.getsockname()[1], flush=True)
    while True:
        sock, _ = lsock.accept()
        threading.Thread(target=_serve, args=(sock,), daemon=True).start()


# -- the clients -----------------------------------------------------------------------------


class Collector:
    """Hand-off target: puts into a SimpleQueue, records the latency, signals at N."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.q: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.lat: list[int] = []
        self.done = threading.Event()

    def hand_off(self, item: object, sent_ns: int) -> None:
        now = time.time_ns()
        self.q.put(item)
        self.lat.append(now - sent_ns)
        self.count += 1
        if self.count == 1:
            self.first = time.perf_counter()
        if self.count >= self.n:
            self.last = time.perf_counter()
            self.done.set()


def run_sdk(port: int, n: int, rate: float, timeout: float) -> Collector:
    from openalgo.feed import FeedAPI

    col = Collector(n)
    client = FeedAPI("benchkey", ws_url=f"ws://127.0.0.1:{port}/x?n={n}&rate={rate}")

    def on_quote(msg: dict) -> None:
        col.hand_off(msg, msg["data"]["timestamp"])

    assert client.connect(), "SDK could not connect"
    client.subscribe_quote([{"exchange": e, "symbol": s} for e, s in SYMBOLS], on_quote)
    col.done.wait(timeout)
    client.disconnect()
    return col


def run_ours(port: int, n: int, rate: float, timeout: float) -> Collector:
    from cockpit.adapters.openalgo.feed import OpenAlgoFeed
    from cockpit.domain.market import MarketEvent

    col = Collector(n)

    def sink(item: object) -> None:
        if isinstance(item, MarketEvent):
            col.hand_off(item, item.exch_ns or 0)

    feed = OpenAlgoFeed(f"ws://127.0.0.1:{port}/x?n={n}&rate={rate}", "benchkey", sink)
    feed.subscribe([f"{e}:{s}" for e, s in SYMBOLS], "quote")
    feed.start()
    col.done.wait(timeout)
    stats = feed.stats()
    feed.stop()
    assert stats["rejected"] == 0, stats
    return col


def _pct(values: list[int], p: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, int(p / 100 * len(s)))] / 1000, 1)


def _latency(lat: list[int], received: int) -> dict[str, float | int]:
    return {
        "p50_us": _pct(lat, 50),
        "p99_us": _pct(lat, 99),
        "p99_9_us": _pct(lat, 99.9),
        "received": received,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=3.0, help="per rate and client")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per rate")
    parser.add_argument("--blaster", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.blaster:
        blaster()
        return
    proc = subprocess.Popen(
        [sys.executable, __file__, "--blaster"], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(proc.stdout.readline())  # type: ignore[union-attr]
        n = args.frames // 1000 * 1000
        result: dict[str, object] = {
            "frame_bytes": len(_quote_json("NSE", "SYM0", 0, time.time_ns())),
            "frames": n,
            "cpus": os.cpu_count(),
        }
        sdk = run_sdk(port, n, 0, timeout=120)
        sdk_fps = (sdk.count - 1) / (sdk.last - sdk.first) if sdk.last else 0.0
        sdk_count = sdk.count
        del sdk  # free the 200k retained items before the next run
        gc.collect()
        ours = run_ours(port, n, 0, timeout=120)
        ours_fps = (ours.count - 1) / (ours.last - ours.first) if ours.last else 0.0
        ours_count = ours.count
        del ours
        gc.collect()
        result["throughput_frames_per_s"] = {
            "openalgo_sdk": round(sdk_fps),
            "cockpit": round(ours_fps),
            "ratio": round(ours_fps / sdk_fps, 2) if sdk_fps else None,
            "sdk_received": sdk_count,
            "cockpit_received": ours_count,
        }
        for rate in (1000, 10000):
            # alternate short runs so machine noise hits both clients alike
            m = int(rate * args.seconds / args.rounds)
            s_lat: list[int] = []
            o_lat: list[int] = []
            s_n = o_n = 0
            for _ in range(args.rounds):
                col = run_sdk(port, m, rate, timeout=args.seconds + 30)
                s_lat += col.lat[len(col.lat) // 20 :]
                s_n += col.count
                del col
                gc.collect()
                col = run_ours(port, m, rate, timeout=args.seconds + 30)
                o_lat += col.lat[len(col.lat) // 20 :]
                o_n += col.count
                del col
                gc.collect()
            s = _latency(s_lat, s_n)
            o = _latency(o_lat, o_n)
            result[f"latency_at_{rate}_per_s"] = {
                "openalgo_sdk": s,
                "cockpit": o,
                "p99_ratio_cockpit_over_sdk": round(o["p99_us"] / s["p99_us"], 3)
                if s["p99_us"]
                else None,
            }
        result["loadavg_1m"] = round(os.getloadavg()[0], 2)
        print(json.dumps(result, indent=2))
    finally:
        proc.kill()
        proc.wait(5)


if __name__ == "__main__":
    main()
