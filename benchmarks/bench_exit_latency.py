"""Exit latency: from a tick frame leaving the venue to the exit order leaving the engine.

Setup (all real sockets on 127.0.0.1):

- a *venue process* (spawned, so it has its own GIL) speaks the OpenAlgo WebSocket feed and
  REST order API: it streams LTP ticks for 50 symbols at the requested total rate and, about
  once per ``--period`` seconds per symbol (random phases), sends one "crash" tick 50 ticks
  below the market; it records ``time.monotonic_ns()`` just before writing each crash frame,
  and the arrival time of every ``placeorder``. Orders fill at once (an ``order_update``).
- the *floor* (the peer, run first, alone on the venue): a process that reads the feed
  socket and, on a crash frame, writes a prebuilt placeorder request. No engine: the least a
  Python client can do on this machine under the same ticks.
- the *engine* (this process) runs the production pieces wired as ``cockpit engine`` wires
  them: ``OpenAlgoFeed`` handing events to ``Engine.deliver`` on the feed's thread (the
  decision thread takes commands and router results), the SQLite journal with its intent
  log, ``OpenAlgoRouter`` (its express lane writes the exit on the deciding thread) and the
  ``ViewerServer`` on a Unix socket. Every symbol holds a long position with a 20-tick stop;
  the crash tick crosses it, the engine sends a market SELL, the venue fills it, and a trader
  thread re-enters (a PlaceEntry on the engine's queue, as a viewer would) so the next crash
  finds a position again: 50 exits and 50 entries a second at ``--period 1``.

Latencies per exit (CLOCK_MONOTONIC is system-wide, so the processes share it):
``tick_to_sent`` (the goal's figure): from the venue's own stamp, taken just before it writes
the crash frame, to the exit ``placeorder`` request's bytes written to the socket (stamped by
the engine: the order has left the engine). It also counts the venue's wait for a CPU between
its stamp and its write (``tick_to_wire``), which a remote server would not share with us.
``wire_to_wire`` leaves that out: a *tap process* (needs CAP_NET_RAW) reads the loopback
device with a packet socket, where the kernel stamps each segment inside its sender's write,
and runs from the crash frame's segment (where the frame went out alone; a frame the kernel
held and sent with others counts from the venue's stamp) to the request's segment. The floor
is measured both ways too; ``goal_met_wire`` judges the goal by it. ``tick_to_request``: from
the venue's stamp to that request parsed by the venue's HTTP server (whose event loop also
generates the ticks, so it adds the venue's own delay). Stages: ``tick_to_feed_read`` (the
chunk holding it read off the socket), ``tick_to_dequeue`` (its handling started),
``tick_to_decision`` (the exit handed to the router). ``--worst N`` lists the N slowest exits
stage by stage.

Scenarios: 1,000 and 10,000 ticks/s, (a) no viewer attached, (b) one viewer attached: a client
process reading the socket (``--viewer socket``, the default) or the real Textual cockpit
rendering headless in a child process (``--viewer textual``).

The engine's threads are scheduled as ``[engine] realtime_priority`` has them: SCHED_FIFO 10
where that is granted (root, CAP_SYS_NICE or ``ulimit -r``), the normal policy where it is
refused (``engine_scheduling`` in the output says which). ``--realtime N`` asks for another
priority (and stops if refused), ``--realtime 0`` runs them under the normal policy.

The venue runs at ``--venue-nice`` (default ``[sim] nice``, 10: the engine starts its own paper
exchange so; the venue stands for a remote server, which does not share our CPUs;
``--venue-nice 0`` shows what sharing costs).

``--ab KIND:VALUE`` compares a scheduling setting with the configured one *in the same run*:
every ``--ab-period`` seconds the engine switches between A (as configured) and B (the
setting), and each scenario reports ``ab``: tick_to_sent of the exits whose crash frame came
under A and under B (not within 50 ms after a switch), and B's p99 over A's. On a shared VM,
where p50 drifts by 50% between runs minutes apart, only such a paired figure can show a
10-30% change. KIND: ``nice`` (the engine threads' niceness; below 0 needs CAP_SYS_NICE or
``ulimit -e``), ``switch`` (the GIL switch interval, µs), ``haltpoll`` (the guest's
``/sys/module/haltpoll/parameters/guest_halt_poll_ns``: system-wide, root only; put back at
the end), ``slice`` (the engine's ``read_slice_us``: how long a feed thread handles a read
before it looks at its socket again; 0 = each read whole), ``spin`` (N processes at
SCHED_IDLE that only spin, so an idle vCPU never halts and comes back with cold caches; any
other task preempts them at once; B runs them, A stops them); and for the viewer process
(a viewer scenario): ``vnice`` (its niceness), ``vidle`` (``vidle:1``: SCHED_IDLE, it runs
only on an otherwise idle CPU) and ``vstop`` (``vstop:1``: SIGSTOP, attached but not running).

Usage::

    python3 benchmarks/bench_exit_latency.py [--seconds 20] [--period 1.0] [--viewer socket]
        [--realtime 0] [--venue-nice 10] [--worst 5] [--ab nice:-10 --seconds 60]

Prints one JSON object. Goal: p99 < 1 ms at 10,000 ticks/s.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import multiprocessing as mp
import os
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

N_SYMBOLS = 50
BASE = 20000  # ticks of 0.05 = 1000.00
CRASH = 50  # ticks below the market
API_KEY = "bench-key"
NODELAY = os.environ.get("BENCH_NODELAY", "1") == "1"
_FRAME = (
    '{{"type":"market_data","mode":1,"topic":"NSE:{s}","symbol":"{s}",'
    '"exchange":"NSE","data":{{"ltp":{p}}}}}'
)


def price_text(ticks: int) -> str:
    return f"{ticks // 20}.{(ticks % 20) * 5:02d}"


# =============================================================================== venue process


def venue_main(conn: Any, nice: int = 0) -> None:
    """The paper venue: OpenAlgo WS feed + REST on one aiohttp server (own process)."""
    import random

    if nice:
        os.nice(nice)

    from aiohttp import WSMsgType, web

    symbols = [f"SYM{i:02d}" for i in range(N_SYMBOLS)]
    prices = dict.fromkeys(symbols, BASE)
    feed_clients: list[web.WebSocketResponse] = []
    order_clients: list[web.WebSocketResponse] = []
    state: dict[str, Any] = {"crashes": [], "orders": [], "next_id": 1, "frames": 0}
    rng = random.Random(5)

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, heartbeat=None, max_msg_size=0)
        await ws.prepare(request)
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None and NODELAY:
            # Small frames at a low rate must not wait for the client's delayed ACK (Nagle).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            body = json.loads(msg.data)
            action = body.get("action")
            if action == "authenticate":
                await ws.send_str(json.dumps({"type": "auth", "status": "success"}))
            elif action == "subscribe":
                subs = [
                    {"symbol": s["symbol"], "exchange": s["exchange"], "status": "success"}
                    for s in body.get("symbols", [])
                ]
                await ws.send_str(
                    json.dumps({"type": "subscribe", "status": "success", "subscriptions": subs})
                )
                if ws not in feed_clients:
                    feed_clients.append(ws)
            elif action == "subscribe_orders":
                await ws.send_str(json.dumps({"type": "subscribe_orders", "status": "success"}))
                order_clients.append(ws)
        for group in (feed_clients, order_clients):
            if ws in group:
                group.remove(ws)
        return ws

    async def rest_handler(request: web.Request) -> web.Response:
        recv_ns = time.monotonic_ns()
        path = request.match_info["path"]
        body = json.loads(await request.read())
        if body.get("apikey") != API_KEY:
            return web.json_response({"status": "error", "message": "Invalid apikey"}, status=403)
        if path == "placeorder":
            oid = str(state["next_id"])
            state["next_id"] += 1
            symbol = body["symbol"]
            state["orders"].append((symbol, body["action"], recv_ns))
            qty = int(body["quantity"])
            px = prices[symbol] + (1 if body["action"] == "BUY" else -1)
            update = {
                "type": "order_update",
                "orderid": oid,
                "symbol": symbol,
                "exchange": body["exchange"],
                "action": body["action"],
                "quantity": qty,
                "price": 0,
                "pricetype": body.get("pricetype", "MARKET"),
                "product": body.get("product", "MIS"),
                "order_status": "complete",
                "filled_quantity": qty,
                "pending_quantity": 0,
                "average_price": float(price_text(px)),
            }

            async def fill() -> None:
                await asyncio.sleep(0)
                text = json.dumps(update)
                for ws in list(order_clients):
                    await ws.send_str(text)

            asyncio.get_running_loop().create_task(fill())
            return web.json_response({"status": "success", "orderid": oid})
        if path == "orderbook":
            return web.json_response({"status": "success", "data": {"orders": []}})
        if path == "positionbook":
            return web.json_response({"status": "success", "data": []})
        return web.json_response({"status": "success", "orderid": body.get("orderid")})

    async def run_ticks(rate: float, seconds: float, period: float, crashes: bool) -> dict:
        loop_start = time.monotonic()
        sent = 0
        crash_list: list[tuple[str, int]] = []
        # Random phases (not a fixed stagger, which would lock crashes to the re-entries of
        # other symbols): each symbol crashes about once per period.
        next_crash = {s: loop_start + 0.5 + rng.uniform(0, period) for s in symbols}
        idx = 0
        while True:
            now = time.monotonic()
            elapsed = now - loop_start
            if elapsed >= seconds:
                break
            due = int(elapsed * rate) - sent
            for _ in range(min(due, 2000)):
                symbol = symbols[idx % N_SYMBOLS]
                idx += 1
                crash = crashes and now >= next_crash[symbol]
                if crash:
                    next_crash[symbol] += period * rng.uniform(0.5, 1.5)
                    ticks = BASE - CRASH
                else:
                    ticks = BASE + rng.randint(-3, 3)
                    prices[symbol] = ticks
                frame = _FRAME.format(s=symbol, p=price_text(ticks))
                for ws in feed_clients:
                    if crash:
                        crash_list.append((symbol, time.monotonic_ns()))
                    await ws.send_str(frame)
                sent += 1
            await asyncio.sleep(0.0005)
        return {"frames": sent, "seconds": time.monotonic() - loop_start, "crashes": crash_list}

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/", ws_handler)
        app.router.add_post("/api/v1/{path}", rest_handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        conn.send({"port": port})
        loop = asyncio.get_running_loop()
        while True:
            cmd = await loop.run_in_executor(None, conn.recv)
            if cmd["op"] == "stop":
                break
            state["orders"] = []
            result = await run_ticks(cmd["rate"], cmd["seconds"], cmd["period"], cmd["crashes"])
            result["orders"] = state["orders"]
            conn.send(result)
        await runner.cleanup()

    asyncio.run(main())


# =============================================================================== wire tap

_SO_TIMESTAMPNS: Final = 35  # Linux: the kernel's receive time of each packet, ns
_SO_ATTACH_FILTER: Final = 26
_SOL_PACKET: Final = 263
_PACKET_STATISTICS: Final = 6
_ETH_P_IP: Final = 0x0800


def _bpf_venue_port(port: int, tail: bytes) -> list[tuple[int, int, int, int]]:
    """A classic BPF program for a packet socket (SOCK_DGRAM: the IP header first).

    It keeps the IPv4 TCP segments from ``port`` that end with ``tail`` (a crash frame: the
    venue writes each frame on its own) or hold more than one frame (the kernel held the
    venue's writes and sent them together), and the segments to ``port`` that carry data
    (requests); the kernel drops the rest (ticks, ACKs), so the tap process wakes a few
    hundred times a second, not tens of thousands. On the loopback device a packet
    socket sees each segment once, as ``PACKET_HOST``: the device hands it back inside the
    sender's write, and the kernel stamps it then.
    """
    head, last = int.from_bytes(tail[:4], "big"), int.from_bytes(tail[4:8], "big")
    prog: list[tuple[str, int, str | int, str | int, int]] = [  # (label, code, jt, jf, k)
        ("", 0x20, 0, 0, 0xFFFFF004),  # ld   [pkttype]
        ("", 0x15, 0, "drop", 0),  #      jeq  #PACKET_HOST
        ("", 0x30, 0, 0, 9),  #           ldb  [9]           IP protocol
        ("", 0x15, 0, "drop", 6),  #      jeq  #TCP
        ("", 0xB1, 0, 0, 0),  #           ldxb 4*([0]&0xf)   X = IP header length
        ("", 0x48, 0, 0, 2),  #           ldh  [x+2]         destination port
        ("", 0x15, "request", 0, port),  # jeq #port
        ("", 0x48, 0, 0, 0),  #           ldh  [x+0]         source port
        ("", 0x15, 0, "drop", port),  #   jeq  #port
        ("", 0x28, 0, 0, 2),  #           ldh  [2]           IP total length
        ("", 0x25, "keep", 0, 250),  #    jgt  #250          more than one frame
        ("", 0x14, 0, 0, 8),  #           sub  #8
        ("", 0x07, 0, 0, 0),  #           tax                X = the last 8 bytes
        ("", 0x40, 0, 0, 0),  #           ld   [x+0]
        ("", 0x15, 0, "drop", head),  #   jeq  #tail[:4]
        ("", 0x40, 0, 0, 4),  #           ld   [x+4]
        ("", 0x15, "keep", "drop", last),  # jeq #tail[4:]
        ("request", 0x28, 0, 0, 2),  # ldh [2]           IP total length
        ("", 0x1C, 0, 0, 0),  #           sub  x             - IP header
        ("", 0x02, 0, 0, 0),  #           st   M[0]
        ("", 0x50, 0, 0, 12),  #          ldb  [x+12]        TCP data offset
        ("", 0x74, 0, 0, 4),  #           rsh  #4
        ("", 0x64, 0, 0, 2),  #           lsh  #2
        ("", 0x07, 0, 0, 0),  #           tax                X = TCP header length
        ("", 0x60, 0, 0, 0),  #           ld   M[0]
        ("", 0x2D, "keep", "drop", 0),  # jgt  x             carries data
        ("keep", 0x06, 0, 0, 0xFFFF),  # ret #65535
        ("drop", 0x06, 0, 0, 0),  #   ret  #0
    ]
    labels = {label: n for n, (label, *_rest) in enumerate(prog) if label}

    def to(n: int, target: str | int) -> int:
        return labels[target] - n - 1 if isinstance(target, str) else target

    return [(code, to(n, jt), to(n, jf), k) for n, (_label, code, jt, jf, k) in enumerate(prog)]


def wire_main(port: int, conn: Any) -> None:
    """(Own process) when each crash frame and each exit order left its sender.

    A packet socket on the loopback device sees every segment, stamped by the kernel
    (``SO_TIMESTAMPNS``) as the device takes it, inside the sender's write: a crash frame's
    segment from the venue (it has left the server), and a ``placeorder`` SELL's segment to
    it (the order has left the engine or the floor client). Neither stamp depends on when
    a process got a CPU afterwards, so their difference is the client's own latency, wire
    to wire. The venue's own stamp, taken just before its write, also counts the venue's
    wait for a CPU between the two (it shares ours). Needs CAP_NET_RAW; sends
    ``{"error": ...}`` without it. Answers each ``"take"`` with the ``(symbol, monotonic
    ns)`` stamps since the last one (``ticks``, ``orders``) and the packets it dropped.
    """
    import ctypes
    import re

    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(_ETH_P_IP))
        tail = (price_text(BASE - CRASH) + "}}").encode()[-8:]  # a crash frame's end
        prog = _bpf_venue_port(port, tail)
        code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in prog))
        fprog = struct.pack("HL", len(prog), ctypes.addressof(code))  # struct sock_fprog
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        sock.bind(("lo", _ETH_P_IP))
    except (OSError, AttributeError) as exc:
        conn.send({"error": f"no wire tap: {exc}"})
        return
    sock.settimeout(0.2)
    crash = re.compile(
        rb'"symbol":"(SYM\d\d)","exchange":"NSE","data":\{"ltp":'
        + re.escape(price_text(BASE - CRASH).encode())
    )
    order = re.compile(rb'"symbol": ?"(SYM\d\d)"')
    sell = re.compile(rb'"action": ?"SELL"')
    anc_size = socket.CMSG_SPACE(16)
    ticks: list[tuple[str, int]] = []
    orders: list[tuple[str, int]] = []
    conn.send({"ready": True})
    while True:
        if conn.poll():
            if conn.recv() == "stop":
                return
            raw = sock.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, 8)
            conn.send({"ticks": ticks, "orders": orders, "drops": struct.unpack("II", raw)[1]})
            ticks, orders = [], []
        try:
            data, anc, _flags, _addr = sock.recvmsg(65535, anc_size)
        except TimeoutError:
            continue
        stamp = None
        for level, kind, value in anc:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                sec, nsec = struct.unpack_from("@ll", value)
                stamp = sec * 1_000_000_000 + nsec
        if stamp is None:
            continue
        # The kernel stamps with CLOCK_REALTIME; the others stamp with CLOCK_MONOTONIC.
        mono = stamp + time.monotonic_ns() - time.time_ns()
        ihl = (data[0] & 0x0F) * 4
        sport = int.from_bytes(data[ihl : ihl + 2], "big")
        payload = data[ihl + (data[ihl + 12] >> 4) * 4 :]
        if not payload:
            continue
        if sport == port:
            alone = payload.count(b'"type":"market_data"') == 1
            ticks.extend((m.group(1).decode(), mono, alone) for m in crash.finditer(payload))
        elif b"placeorder" in payload and sell.search(payload):
            m = order.search(payload)
            if m:
                orders.append((m.group(1).decode(), mono))


class WireTap:
    """The :func:`wire_main` process, or why there is none (``error``)."""

    def __init__(self, ctx: Any, port: int) -> None:
        self.error: str | None = None
        self._conn, theirs = ctx.Pipe()
        self._proc = ctx.Process(target=wire_main, args=(port, theirs), daemon=True)
        self._proc.start()
        first = self._conn.recv() if self._conn.poll(20) else {"error": "no wire tap: no answer"}
        self.error = first.get("error")

    def take(self) -> dict[str, Any] | None:
        """The stamps since the last take (None without a tap)."""
        if self.error:
            return None
        self._conn.send("take")
        return self._conn.recv() if self._conn.poll(20) else None

    def cpu_seconds(self) -> float:
        """CPU time the tap has used so far (it shares the machine with the engine)."""
        return cpu_seconds(self._proc.pid)

    def stop(self) -> None:
        if not self.error:
            self._conn.send("stop")
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()


def wire_figures(crashes: list[tuple[str, int]], taken: dict[str, Any] | None) -> dict[str, Any]:
    """From one :meth:`WireTap.take`: ``wire_to_wire`` and ``tick_to_wire``.

    ``wire_to_wire`` runs from the crash frame handed to the venue's kernel to the exit
    order's segment. A frame that went out in a segment of its own left inside the venue's
    write: its segment's stamp is that moment. A frame the kernel held and sent with others
    (``wire_held``) left later than it was written, perhaps because the client was slow to
    read; for it the venue's own stamp, taken before its write, is used instead (the later
    stamp would hide that wait). ``tick_to_wire``: the venue's stamp → a lone frame's
    segment (the venue's own wait for a CPU between the two).
    """
    if not taken:
        return {}
    alone = [(sym, t) for sym, t, lone in taken["ticks"] if lone]
    held = [(sym, t) for sym, t, lone in taken["ticks"] if not lone]
    on_wire = match_by_crash(crashes, alone)
    late = match_by_crash(crashes, held)
    ordered = match_by_crash(crashes, taken["orders"])
    both = [
        ordered[c] - on_wire[c] if c in on_wire else ordered[c]
        for c in ordered
        if c in on_wire or c in late
    ]
    return {
        "wire_to_wire": percentiles(both),
        "tick_to_wire": percentiles(list(on_wire.values())),
        "wire_held": len([c for c in ordered if c in late and c not in on_wire]),
        "wire_drops": taken["drops"],
    }


# =============================================================================== floor process


def floor_main(port: int, conn: Any) -> None:
    """The floor: the least a Python client can do, measured against the same venue.

    No engine: one process reads the feed socket, and on a crash frame writes a prebuilt
    placeorder request for that symbol on a keep-alive connection (answers are read and
    dropped by a second thread). Reports (symbol, when written) for every request.
    """
    import re

    import websocket

    ws = websocket.create_connection(
        f"ws://127.0.0.1:{port}/", sockopt=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
    )
    ws.send(json.dumps({"action": "authenticate", "api_key": API_KEY}))
    ws.recv()
    symbols = [{"symbol": f"SYM{i:02d}", "exchange": "NSE"} for i in range(N_SYMBOLS)]
    ws.send(json.dumps({"action": "subscribe", "symbols": symbols, "mode": 1}))
    ws.recv()
    rest = socket.create_connection(("127.0.0.1", port))
    rest.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def drain() -> None:
        while True:
            try:
                if not rest.recv(65536):
                    return
            except OSError:
                return

    threading.Thread(target=drain, daemon=True).start()
    requests: dict[str, bytes] = {}
    for i in range(N_SYMBOLS):
        body = json.dumps(
            {
                "apikey": API_KEY,
                "strategy": "floor",
                "exchange": "NSE",
                "symbol": f"SYM{i:02d}",
                "action": "SELL",
                "quantity": "1",
                "pricetype": "MARKET",
                "product": "MIS",
            }
        ).encode()
        head = (
            f"POST /api/v1/placeorder HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        requests[f"SYM{i:02d}"] = head + body
    crash = re.compile(
        rb'"symbol":"(SYM\d\d)","exchange":"NSE","data":\{"ltp":'
        + re.escape(price_text(BASE - CRASH).encode())
    )
    sock = ws.sock
    sock.settimeout(0.2)
    stamps: list[tuple[str, int]] = []
    conn.send("ready")
    while not conn.poll():
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        if not data:
            break
        for m in crash.finditer(data):
            symbol = m.group(1).decode()
            rest.sendall(requests[symbol])
            stamps.append((symbol, time.monotonic_ns()))
    conn.recv()
    conn.send(stamps)
    ws.close()
    rest.close()


def run_floor(
    ctx: Any, port: int, parent: Any, rate: int, args: Any, tap: WireTap
) -> dict[str, Any]:
    """One floor scenario: the floor client alone on the venue at ``rate`` ticks/s."""
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=floor_main, args=(port, theirs), daemon=True)
    proc.start()
    if not mine.poll(20):
        raise SystemExit("the floor client did not start")
    mine.recv()
    tap.take()
    steal = StealMeter()
    parent.send(
        {"op": "run", "rate": rate, "seconds": args.seconds, "period": args.period, "crashes": True}
    )
    out = parent.recv()
    time.sleep(0.3)
    taken = tap.take()
    mine.send("stop")
    stamps = mine.recv()
    proc.join(5)
    sells = [(s, t) for s, action, t in out["orders"] if action == "SELL"]
    return {
        "rate_target": rate,
        "rate_sent": round(out["frames"] / out["seconds"]),
        "crashes": len(out["crashes"]),
        "requests": len(stamps),
        "tick_to_sent": percentiles(match(out["crashes"], stamps)),
        "tick_to_request": percentiles(match(out["crashes"], sells)),
        **wire_figures(out["crashes"], taken),
        "cpu_steal_pct": steal.pct(),
    }


# =============================================================================== viewer process


def socket_viewer(path: str, ready: Any, stop: Any, counts: Any) -> None:
    """A viewer that attaches to the engine socket and reads everything it is sent."""
    from cockpit.link.client import EngineClient

    client = EngineClient.connect(path=path, client="bench-viewer", read_only=True)
    client.snapshot()
    ready.set()
    n = 0
    while not stop.is_set():
        msg = client.recv(timeout=0.2)
        if msg is not None:
            n += 1
    counts.value = n
    client.close()


def textual_viewer(path: str, ready: Any, stop: Any, counts: Any) -> None:
    """The real cockpit TUI, headless, attached to the engine socket."""
    from cockpit.config import Settings
    from cockpit.link.client import EngineClient
    from cockpit.ui.app import CockpitApp, UiOptions
    from cockpit.ui.link import ClientLink

    class Connector:
        started_engine = False
        notes: list[str] = []

        def connect(self) -> Any:
            return ClientLink(EngineClient.connect(path=path, client="bench-tui", read_only=True))

        def restart(self) -> Any:
            return self.connect()

    options = UiOptions.from_settings(Settings())
    options.freeze_after_start = True  # as the cockpit command runs it
    app = CockpitApp(Connector(), options)

    async def run() -> None:
        async with app.run_test(size=(160, 50), headless=True) as pilot:
            ready.set()
            while not stop.is_set():
                await pilot.pause(0.1)

    asyncio.run(run())
    counts.value = 1


# =============================================================================== engine side


class TimedRouter:
    """Passes requests to the real router; stamps urgent SELLs (exits) as they leave."""

    def __init__(self, router: Any) -> None:
        self.router = router
        self.stamps: list[tuple[str, int]] = []
        self.recv_stamps: list[tuple[str, int]] = []
        self.dequeue_stamps: list[tuple[str, int]] = []
        self.sent_raw: list[tuple[bytes, int]] = []
        router.sent_hook = self._sent
        self.engine: Any = None
        self.wall_to_mono = time.monotonic_ns() - time.time_ns()

    def _sent(self, path: str, body: bytes, ns: int) -> None:
        # On the router worker, after the request's bytes were written: keep it cheap.
        if path == "placeorder":
            self.sent_raw.append((body, ns))

    def sent_stamps(self) -> list[tuple[str, int]]:
        """(symbol, when written) of the SELL placeorder requests written to the socket."""
        out = []
        for body, ns in self.sent_raw:
            order = json.loads(body)
            if order.get("action") == "SELL":
                out.append((order["symbol"], ns))
        return out

    def _stamp(self, request: Any) -> None:
        if getattr(request, "urgent", False) and getattr(request, "action", "") == "SELL":
            self.stamps.append((request.symbol, time.monotonic_ns()))
            sym = self.engine._syms.get(f"NSE:{request.symbol}") if self.engine else None
            if sym is not None:
                # When the feed read the crash frame off the socket (wall clock -> monotonic).
                self.recv_stamps.append((request.symbol, sym.recv_ns + self.wall_to_mono))

    def submit(self, request: Any) -> None:
        self._stamp(request)
        self.router.submit(request)

    def prepare(self, request: Any) -> None:
        self.router.prepare(request)

    def send_urgent(self, request: Any) -> bool:
        self._stamp(request)
        return bool(self.router.send_urgent(request))


class ReEntry:
    """Publisher proxy and a trader thread: after a position goes flat, buy it again.

    As a viewer would: a PlaceEntry on the engine's queue, once the symbol is flat and its
    last price is back above the crash (a position opened at the crash price would rightly be
    stopped out at once). Ticks go straight to the real publisher (``market`` is the inner
    one), so the bench adds nothing to the engine's per-tick path.
    """

    def __init__(self, inner: Any, inbound: Any, last_price: Any) -> None:
        self.inner = inner
        self.inbound = inbound
        self.last_price = last_price
        self.ids = iter(range(1_000_000, 10**9))
        self.flat: dict[str, float] = {}
        self.market = inner.market
        self.status = inner.status
        self.reply = inner.reply
        self.volume = getattr(inner, "volume", None)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-trader", daemon=True)
        self.thread.start()

    def event(self, msg: Any) -> None:
        from cockpit.link import protocol as p

        self.inner.event(msg)
        if isinstance(msg, p.PositionEvent) and msg.position.qty == 0:
            self.flat[msg.position.key] = time.monotonic()

    def _run(self) -> None:
        from cockpit.link import protocol as p
        from cockpit.link.bus import ViewerCommand

        while not self._stop.wait(0.01):
            now = time.monotonic()
            for key, since in list(self.flat.items()):
                price = self.last_price(key)
                if now - since >= 0.02 and price is not None and price > BASE - 10:
                    del self.flat[key]
                    cmd = p.PlaceEntry(id=next(self.ids), key=key, side="BUY", qty=Decimal(1))
                    self.inbound.put(ViewerCommand(0, cmd))

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(2)


def inproc_decision(n: int = 2000) -> dict[str, Any]:
    """The decision path alone, in one thread: ``Engine.handle(crash tick)`` → router submit.

    Same engine, journal (SQLite WAL) and plan as the socket run, no threads, no sockets: the
    peer the socket figures are compared with.
    """

    from cockpit.adapters.openalgo.broker import PlaceOrder, QueryBook, RouterResult
    from cockpit.config import Settings
    from cockpit.domain.feed import FeedState, FeedStatus, OrderUpdate
    from cockpit.domain.instruments import Exchange, Instrument
    from cockpit.domain.market import LtpTick
    from cockpit.engine.core import Engine, EngineOptions
    from cockpit.journal.store import Journal
    from cockpit.link import protocol as p
    from cockpit.link.bus import Inbound, NullPublisher, ViewerCommand

    class Router:
        def __init__(self) -> None:
            self.requests: list[Any] = []
            self.last_ns = 0

        def submit(self, request: Any) -> None:
            self.last_ns = time.perf_counter_ns()
            self.requests.append(request)

    inst = Instrument(Exchange.NSE, "SYM00", Decimal("0.05"))
    tmp = Path(tempfile.mkdtemp(prefix="cockpit-bench-inproc-"))
    journal = Journal.open(tmp / "journal.sqlite3")
    router = Router()
    engine = Engine(
        config=Settings(
            trading={"armed_at_start": True}, exits={"stop_ticks": 20, "target_ticks": None}
        ),
        instruments=[inst],
        router=router,
        journal=journal,
        publisher=NullPublisher(),
        inbound=Inbound(),
        options=EngineOptions(reconcile_interval_s=0),
    )
    engine.start()
    for req in [r for r in router.requests if isinstance(r, QueryBook)]:
        data = {"orders": []} if req.book == "orderbook" else []
        engine.handle(RouterResult(req, True, data=data))
    engine.handle(FeedStatus("openalgo", FeedState.LIVE, time.time_ns()))
    base = Decimal(price_text(BASE))
    crash = Decimal(price_text(BASE - CRASH))
    lat: list[int] = []
    oid = 0
    for i in range(n):
        engine.handle(LtpTick(time.time_ns(), "NSE", "SYM00", base))
        cmd = p.PlaceEntry(id=i + 1, key=inst.key, side="BUY", qty=Decimal(1))
        engine.handle(ViewerCommand(0, cmd))
        for side, price in (("BUY", base), ("SELL", crash)):
            req = router.requests[-1]
            assert isinstance(req, PlaceOrder)
            oid += 1
            engine.handle(RouterResult(req, True, venue_id=str(oid)))
            engine.handle(
                OrderUpdate(
                    str(oid), "NSE", "SYM00", side, "complete", time.time_ns(),
                    quantity=Decimal(1), filled_qty=Decimal(1), average_price=price,
                )
            )  # fmt: skip
            if side == "BUY":
                t0 = time.perf_counter_ns()
                engine.handle(LtpTick(time.time_ns(), "NSE", "SYM00", crash))
                lat.append(router.last_ns - t0)
    journal.close()
    return percentiles(lat)


def percentiles(values: list[int]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    v = sorted(values)
    n = len(v)

    def pct(q: float) -> float:
        return round(v[min(n - 1, int(q * n))] / 1000, 1)

    return {
        "n": n,
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "p99_9_us": pct(0.999),
        "max_us": round(v[-1] / 1000, 1),
    }


def match(crashes: list[tuple[str, int]], events: list[tuple[str, int]]) -> list[int]:
    """For each event (symbol, t) the time since that symbol's latest crash frame before t."""
    return list(match_by_crash(crashes, events).values())


def match_by_crash(
    crashes: list[tuple[str, int]], events: list[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """Each crash frame (symbol, written at) -> the time to the first event after it.

    An event counts for its symbol's latest crash frame before it, within 0.5 s; a crash
    frame is counted once.
    """
    by_symbol: dict[str, list[int]] = {}
    for symbol, t in crashes:
        by_symbol.setdefault(symbol, []).append(t)
    out: dict[tuple[str, int], int] = {}
    for symbol, t in events:
        sent = [c for c in by_symbol.get(symbol, []) if c <= t]
        if sent and (symbol, sent[-1]) not in out and t - sent[-1] <= 500_000_000:
            out[(symbol, sent[-1])] = t - sent[-1]
    return out


def worst(crashes: list[tuple[str, int]], stages: dict[str, list[tuple[str, int]]], n: int) -> list:
    """The ``n`` slowest exits (by the last stage), each stage's time since the crash (µs)."""
    keyed = {name: match_by_crash(crashes, events) for name, events in stages.items()}
    last = list(stages)[-1]
    slowest = sorted(keyed[last].items(), key=lambda kv: -kv[1])[:n]
    return [
        {name: round(keyed[name].get(crash, -1000) / 1000, 1) for name in stages}
        for crash, _t in slowest
    ]


HALTPOLL = Path("/sys/module/haltpoll/parameters/guest_halt_poll_ns")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``), 0 if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def steal_seconds() -> float:
    """CPU time the hypervisor gave to other guests while this VM wanted it, all CPUs so
    far (``/proc/stat``); 0 where unknown."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class StealMeter:
    """The share of the machine's CPU time stolen by the host over one scenario (%): on a
    shared VM a busy neighbour can stall every process here for milliseconds at a time, so
    a run with a high figure says more about the host than about the engine."""

    def __init__(self) -> None:
        self._steal, self._t = steal_seconds(), time.monotonic()

    def pct(self) -> float:
        elapsed = (time.monotonic() - self._t) * (os.cpu_count() or 1)
        return round(100 * (steal_seconds() - self._steal) / elapsed, 1) if elapsed else 0.0


def idle_spinner() -> None:
    """(A child process) spin at SCHED_IDLE: the vCPU stays busy, every other task first."""
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    while True:
        pass


def thread_ids(pid: int) -> list[int]:
    """The thread ids of process ``pid`` (Linux ``/proc``; a thread's niceness and policy are
    its own, so a setting for the process is set on each)."""
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return [pid]


class Alternator:
    """Switches a scheduling setting between A (as it is) and B every ``period`` seconds.

    ``log`` holds ``(monotonic_ns, is_b)`` of every switch; :meth:`split` sorts exits by it.
    """

    def __init__(
        self, spec: str, period: float, threads: list[threading.Thread], options: Any = None
    ) -> None:
        kind, _, value = spec.partition(":")
        kinds = ("nice", "switch", "haltpoll", "spin", "slice", "vnice", "vidle", "vstop")
        if kind not in kinds or not value.lstrip("-").isdigit():
            raise SystemExit(
                f"--ab {spec}: use nice:N, switch:MICROSECONDS, haltpoll:NS, spin:PROCESSES,"
                " slice:MICROSECONDS, vnice:N, vidle:1 or vstop:1"
            )
        self.kind, self.value, self.period = kind, int(value), period
        self.threads = threads
        self.options = options
        self.viewer_pid: int | None = None  # v* kinds: set once a viewer process runs
        self._spinners: list[mp.Process] = []
        if kind == "spin":
            ctx = mp.get_context("spawn")
            self._spinners = [
                ctx.Process(target=idle_spinner, daemon=True) for _ in range(self.value)
            ]
            for proc in self._spinners:
                proc.start()
        self.log: list[tuple[int, bool]] = []
        self._lock = threading.Lock()  # one switch at a time (see forget_viewer)
        self._stop = threading.Event()
        self._a = self._read()
        self._apply(self.value)  # fail now, not in the middle of a scenario
        self._apply(self._a)
        self._thread = threading.Thread(target=self._run, name="bench-ab", daemon=True)

    def _read(self) -> int:
        if self.kind == "nice":
            return os.getpriority(os.PRIO_PROCESS, self.threads[0].native_id or 0)
        if self.kind == "switch":
            return round(sys.getswitchinterval() * 1e6)
        if self.kind == "spin":
            return 0
        if self.kind == "slice":
            return int(self.options.read_slice_us)
        if self.kind in ("vnice", "vidle", "vstop"):
            return 0
        return int(HALTPOLL.read_text())

    def _apply(self, value: int) -> None:
        try:
            if self.kind == "nice":
                for t in self.threads:
                    if t.native_id is not None and t.is_alive():
                        os.setpriority(os.PRIO_PROCESS, t.native_id, value)
            elif self.kind == "switch":
                sys.setswitchinterval(value / 1e6)
            elif self.kind == "slice":
                self.options.read_slice_us = value
            elif self.kind == "vstop":
                if self.viewer_pid is not None:
                    os.kill(self.viewer_pid, signal.SIGSTOP if value else signal.SIGCONT)
            elif self.kind in ("vidle", "vnice"):
                for tid in thread_ids(self.viewer_pid) if self.viewer_pid is not None else []:
                    with contextlib.suppress(ProcessLookupError):
                        if self.kind == "vnice":
                            os.setpriority(os.PRIO_PROCESS, tid, value)
                        else:
                            policy = os.SCHED_IDLE if value else os.SCHED_OTHER
                            os.sched_setscheduler(tid, policy, os.sched_param(0))
            elif self.kind == "spin":
                for proc in self._spinners:
                    if proc.pid is not None:
                        os.kill(proc.pid, signal.SIGCONT if value else signal.SIGSTOP)
            else:
                HALTPOLL.write_text(str(value))
        except OSError as exc:
            raise SystemExit(f"--ab {self.kind}:{value}: {exc}") from exc

    def start(self) -> None:
        self._thread.start()

    def forget_viewer(self) -> None:
        """Before the viewer process is stopped: give it A's setting and leave it alone (a
        viewer left under SIGSTOP would not stop)."""
        with self._lock:
            if self.viewer_pid is not None and self.kind.startswith("v"):
                self._apply(self._a)
            self.viewer_pid = None

    def _run(self) -> None:
        b = False
        while True:
            b = not b
            with self._lock:
                self._apply(self.value if b else self._a)
            self.log.append((time.monotonic_ns(), b))
            if self._stop.wait(self.period):
                break
        with self._lock:
            self._apply(self._a)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for proc in self._spinners:
            proc.kill()
            proc.join(5)

    def split(self, crashes: list[tuple[str, int]], events: list[tuple[str, int]]) -> dict:
        """tick_to_sent under A and under B, and B's p99 over A's."""
        switched = [t for t, _b in self.log]
        under: dict[bool, list[int]] = {False: [], True: []}
        for (_symbol, crash), lat in match_by_crash(crashes, events).items():
            i = bisect.bisect_right(switched, crash) - 1
            if i >= 0 and crash - switched[i] > 50_000_000:
                under[self.log[i][1]].append(lat)
        a, b = percentiles(under[False]), percentiles(under[True])
        ratio = round(b["p99_us"] / a["p99_us"], 3) if a.get("p99_us") and b.get("n") else None
        return {"setting": f"{self.kind}:{self.value}", "A": a, "B": b, "p99_ratio_b_a": ratio}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="per scenario")
    ap.add_argument("--period", type=float, default=1.0, help="crash period per symbol (s)")
    ap.add_argument("--rates", default="1000,10000")
    ap.add_argument("--viewer", choices=("socket", "textual"), default="socket")
    ap.add_argument(
        "--transport",
        choices=("httpx", "http.client"),
        default=None,
        help="router transport (default: the engine's, [engine] router_transport)",
    )
    ap.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="sys.setswitchinterval for the engine process, seconds (default: the engine's, "
        "[engine] switch_interval_us; 0: Python's own 0.005)",
    )
    ap.add_argument("--worst", type=int, default=0, help="also list the N slowest exits")
    ap.add_argument(
        "--realtime",
        type=int,
        default=None,
        help="SCHED_FIFO priority for the engine's threads (default: the engine's, "
        "[engine] realtime_priority, where granted; 0: off)",
    )
    ap.add_argument(
        "--venue-nice",
        type=int,
        default=None,
        help="niceness of the venue process (default: [sim] nice, 10, as the engine runs its "
        "own paper exchange; the venue stands for a remote server)",
    )
    ap.add_argument(
        "--ab",
        default=None,
        metavar="KIND:VALUE",
        help="alternate a setting (nice:N, switch:US, haltpoll:NS) with the configured one "
        "and report both in each scenario (see above)",
    )
    ap.add_argument("--ab-period", type=float, default=1.0, help="seconds per A/B half")
    ap.add_argument("--no-floor", action="store_true", help="skip the floor client")
    ap.add_argument("--no-inproc", action="store_true", help="skip the in-process peer")
    args = ap.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from cockpit.config import EngineSettings

    defaults = EngineSettings()
    if args.transport is None:
        args.transport = defaults.router_transport
    if args.switch_interval is None:
        args.switch_interval = defaults.switch_interval_us / 1e6
    realtime_asked = args.realtime is not None
    if args.realtime is None:
        args.realtime = defaults.realtime_priority
    if args.venue_nice is None:
        from cockpit.config import SimSettings

        args.venue_nice = SimSettings().nice
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    from cockpit.adapters.openalgo.broker import OpenAlgoRouter
    from cockpit.adapters.openalgo.feed import OpenAlgoFeed
    from cockpit.config import Settings
    from cockpit.domain.feed import FeedState
    from cockpit.domain.instruments import Exchange, Instrument
    from cockpit.engine import realtime
    from cockpit.engine.core import Engine, EngineOptions
    from cockpit.journal.store import Journal
    from cockpit.link import protocol as p
    from cockpit.link.bus import Inbound, ViewerCommand
    from cockpit.link.server import ViewerServer

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    venue = ctx.Process(target=venue_main, args=(child, args.venue_nice), daemon=True)
    venue.start()
    port = parent.recv()["port"]
    url = f"http://127.0.0.1:{port}"
    # The floor first, alone on the venue: the same ticks and crashes, no engine.
    tap = WireTap(ctx, port)
    if tap.error:
        print(f"bench: {tap.error} (wire_to_wire needs CAP_NET_RAW)", file=sys.stderr)
    floor = (
        []
        if args.no_floor
        else [run_floor(ctx, port, parent, int(r), args, tap) for r in args.rates.split(",")]
    )
    for f in floor:
        print(json.dumps({"floor": f}), file=sys.stderr)

    tmp = Path(tempfile.mkdtemp(prefix="cockpit-bench-"))
    sock_path = tmp / "engine.sock"
    instruments = [
        Instrument(Exchange.NSE, f"SYM{i:02d}", Decimal("0.05")) for i in range(N_SYMBOLS)
    ]
    inbound = Inbound()
    server = ViewerServer(sock_path, inbound.put, profile="bench", venue="bench")
    syms: dict[str, Any] = {}
    publisher = ReEntry(server, inbound, lambda key: getattr(syms.get(key), "ltp", None))
    router = OpenAlgoRouter(
        url,
        API_KEY,
        inbound.put,
        order_rate=100_000,
        api_rate=100_000,
        transport=args.transport,
    )
    timed = TimedRouter(router)
    journal = Journal.open(tmp / "journal.sqlite3", profile="bench", venue="bench")
    settings = Settings(
        trading={"armed_at_start": True},
        exits={"stop_ticks": 20, "target_ticks": None},
    )
    engine = Engine(
        config=settings,
        instruments=instruments,
        router=timed,
        journal=journal,
        publisher=publisher,
        inbound=inbound,
        options=EngineOptions(reconcile_interval_s=0, venue="bench"),
    )
    timed.engine = engine
    syms.update(engine._syms)
    # The feed hands its events to the engine on its own thread (as in the runner).
    feed = OpenAlgoFeed(f"ws://127.0.0.1:{port}/", API_KEY, engine.sink())
    engine.feed = feed
    crash_ltp = Decimal(price_text(BASE - CRASH))
    raw_handle = engine.handle

    def handle(item: Any) -> None:
        # Stamp when the engine starts handling a crash tick (on the feed's thread).
        if getattr(item, "ltp", None) == crash_ltp:
            timed.dequeue_stamps.append((item.symbol, time.monotonic_ns()))
        raw_handle(item)

    engine.handle = handle  # type: ignore[method-assign]
    stop = threading.Event()
    alternator: Alternator | None = None
    try:
        server.start()
        router.start()
        thread = threading.Thread(target=engine.run, args=(stop,), name="decision", daemon=True)
        thread.start()
        feed.subscribe([i.key for i in instruments], "ltp")
        feed.subscribe_orders()
        feed.start()
        if not feed.wait_state(FeedState.LIVE, timeout=10):
            raise SystemExit("the feed did not go live")
        # Every engine thread (not the main thread, nor the bench's trader, which stands in
        # for a viewer): what the runner puts under [engine] realtime_priority and what
        # --ab nice changes.
        engine_threads = [
            t
            for t in threading.enumerate()
            if t is not threading.main_thread() and t.name != "bench-trader"
        ]
        # As the runner does: asked for by default, refused the engine runs as usual (an
        # explicit --realtime that is refused stops the bench instead).
        scheduling = "normal (realtime_priority = 0)"
        if args.realtime:
            # The trader too: it stands in for a viewer, whose decisions run in its own
            # process and reach the engine through the viewer server's (real-time) thread.
            # Left normal, this in-process stand-in would hold the GIL while preempted by the
            # TUI, and a real-time feed thread would wait for it (an inversion the engine,
            # which has no such thread, does not have).
            done, why = realtime.apply(args.realtime, [*engine_threads, publisher.thread])
            if why and realtime_asked:
                raise SystemExit(f"--realtime {args.realtime}: {why}")
            scheduling = f"normal ({why})" if why else f"SCHED_FIFO {args.realtime}"
        halt_poll = int(HALTPOLL.read_text()) if HALTPOLL.exists() else None
        if args.ab:
            alternator = Alternator(args.ab, args.ab_period, engine_threads, engine.options)
        deadline = time.monotonic() + 10
        while not engine.reconciled and time.monotonic() < deadline:
            time.sleep(0.05)

        # Warm up: prices for every symbol, then one position each.
        parent.send({"op": "run", "rate": 1000, "seconds": 1.0, "period": 1.0, "crashes": False})
        parent.recv()
        for n, inst in enumerate(instruments):
            cmd = p.PlaceEntry(id=n + 1, key=inst.key, side="BUY", qty=Decimal(1))
            inbound.put(ViewerCommand(0, cmd))
        deadline = time.monotonic() + 10
        while len(engine.plans) < N_SYMBOLS and time.monotonic() < deadline:
            time.sleep(0.05)

        results: dict[str, Any] = {
            "benchmark": "exit_latency",
            "floor": floor,
            "symbols": N_SYMBOLS,
            "seconds_per_scenario": args.seconds,
            "crash_period_s": args.period,
            "viewer_kind": args.viewer,
            "router_transport": args.transport,
            "cpus": os.cpu_count(),
            "load_avg_at_start": os.getloadavg()[0],
            "gil_switch_interval_s": sys.getswitchinterval(),
            "engine_realtime_priority": args.realtime,
            "engine_scheduling": scheduling,
            "guest_halt_poll_ns": halt_poll,  # 0: an idle vCPU halts at once (caches go cold)
            "ab": args.ab,
            "venue_nice": args.venue_nice,
            "plans_armed_at_start": len(engine.plans),
            "scenarios": [],
        }
        if alternator is not None:
            alternator.start()  # after the settings above were read: they are A's
        for viewer in (False, True):
            vproc = None
            vstop = ctx.Event()
            counts = ctx.Value("l", 0)
            if viewer:
                vready = ctx.Event()
                target = socket_viewer if args.viewer == "socket" else textual_viewer
                vproc = ctx.Process(target=target, args=(str(sock_path), vready, vstop, counts))
                vproc.start()
                vready.wait(30)
                if alternator is not None and vproc.pid is not None:
                    alternator.viewer_pid = vproc.pid
            for rate in (int(r) for r in args.rates.split(",")):
                timed.stamps.clear()
                timed.recv_stamps.clear()
                timed.dequeue_stamps.clear()
                timed.sent_raw.clear()
                ticks_before = engine.counters["ticks"]
                cpu_before = (cpu_seconds(vproc.pid), time.monotonic()) if vproc else None
                tap.take()
                steal = StealMeter()
                parent.send(
                    {
                        "op": "run",
                        "rate": rate,
                        "seconds": args.seconds,
                        "period": args.period,
                        "crashes": True,
                    }
                )
                out = parent.recv()
                time.sleep(0.3)
                taken = tap.take()
                sells = [(s, t) for s, action, t in out["orders"] if action == "SELL"]
                scenario = {
                    "rate_target": rate,
                    "rate_sent": round(out["frames"] / out["seconds"]),
                    "engine_ticks": engine.counters["ticks"] - ticks_before,
                    "viewer": (args.viewer if viewer else "none"),
                    "viewers_attached": server.viewer_count(),
                    "crashes": len(out["crashes"]),
                    "exits": len(sells),
                    "tick_to_request": percentiles(match(out["crashes"], sells)),
                    "tick_to_sent": percentiles(match(out["crashes"], timed.sent_stamps())),
                    "tick_to_decision": percentiles(match(out["crashes"], list(timed.stamps))),
                    "tick_to_feed_read": percentiles(
                        match(out["crashes"], list(timed.recv_stamps))
                    ),
                    "tick_to_dequeue": percentiles(
                        match(out["crashes"], list(timed.dequeue_stamps))
                    ),
                    **wire_figures(out["crashes"], taken),
                    "cpu_steal_pct": steal.pct(),
                }
                if vproc is not None and cpu_before is not None:
                    # What the viewer process costs (one core = 100): the TUI's render work
                    # shares the machine with the engine.
                    used = cpu_seconds(vproc.pid) - cpu_before[0]
                    scenario["viewer_cpu_pct"] = round(
                        100 * used / (time.monotonic() - cpu_before[1]), 1
                    )
                if args.worst:
                    scenario["worst"] = worst(
                        out["crashes"],
                        {
                            "feed_read": list(timed.recv_stamps),
                            "handled": list(timed.dequeue_stamps),
                            "decision": list(timed.stamps),
                            "sent": timed.sent_stamps(),
                        },
                        args.worst,
                    )
                if alternator is not None:
                    scenario["ab"] = alternator.split(out["crashes"], timed.sent_stamps())
                results["scenarios"].append(scenario)
                print(json.dumps(scenario), file=sys.stderr)
            if vproc is not None:
                if alternator is not None:
                    alternator.forget_viewer()
                vstop.set()
                vproc.join(10)
                if vproc.is_alive():
                    vproc.terminate()
    finally:
        if alternator is not None:
            alternator.stop()  # the setting as it was
        publisher.stop()
        stop.set()
        thread.join(5)
        feed.stop()
        router.stop()
        parent.send({"op": "stop"})
        venue.join(5)
        server.stop()
        journal.close()
        tap_cpu = tap.cpu_seconds()
        tap.stop()
    results["inproc_decision"] = inproc_decision() if not args.no_inproc else {}
    ten = [s for s in results["scenarios"] if s["rate_target"] == 10000]
    peer = results["inproc_decision"].get("p99_us")
    for s in results["scenarios"]:
        p99 = s["tick_to_decision"].get("p99_us")
        if peer and p99:
            s["decision_p99_vs_inproc"] = round(p99 / peer, 1)
    results["goal"] = (
        "p99 < 1000 us at 10,000 ticks/s from the crash frame written to the exit request "
        "written to the socket (tick_to_sent: from the venue's stamp just before its write, "
        "so it also counts the venue's own wait for a CPU; goal_met_wire: by wire_to_wire, "
        "from the frame handed to the venue's kernel, stamped by the kernel, to the request's "
        "segment; tick_to_request: received by the venue)"
    )
    results["wire_tap"] = tap.error or "on"
    results["wire_tap_cpu_s"] = round(tap_cpu, 1)

    def p99(s: dict[str, Any], key: str) -> float:
        return float(s.get(key, {}).get("p99_us", 1e9))

    results["goal_met"] = bool(ten) and all(p99(s, "tick_to_sent") < 1000 for s in ten)
    results["goal_met_wire"] = (
        bool(ten) and all(p99(s, "wire_to_wire") < 1000 for s in ten) if not tap.error else None
    )
    results["goal_met_at_venue"] = bool(ten) and all(
        s["tick_to_request"].get("p99_us", 1e9) < 1000 for s in ten
    )
    results["engine_counters"] = dict(engine.counters)
    results["router_counters"] = dict(router.counters)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
