"""The shared WebSocket connection: one thread, reconnect with backoff, watchdog, resubscribe.

Every venue feed (OpenAlgo, Kite, Binance spot and futures, Bybit, Hyperliquid) is a
:class:`WsConnection` driving a venue :class:`WsProtocol`. The connection owns the socket,
the thread, liveness, reconnects, the subscription registry and the counters; the protocol
only knows the venue's messages.

API for venue adapters
======================

Subclass :class:`WsProtocol` and override what the venue needs::

    class MyProtocol(WsProtocol):
        name = "myvenue"            # FeedStatus.feed
        liveness_s = 5.0            # silence (no frame of any kind) past this -> STALE -> reconnect
        data_liveness_s = None      # or: no decoded event for this long while subscribed to a
                                    # mode not in quiet_modes -> a LIVE status with the reason
                                    # "quiet: ..." (no reconnect: a quiet market is not a dead
                                    # socket while frames such as pongs still arrive; the
                                    # silent symbols age into STALE by their own tick times)
        quiet_modes = frozenset()   # modes that produce no steady data (e.g. "orders")
        ping_interval_s = 2.0       # send a ping this often (None: never): a WebSocket ping
                                    # frame, or the venue's own message if ping_message() says
        awaits_auth = False         # True: wait for auth_reply() to return True before LIVE
        sslopt = None               # wss:// TLS options for websocket-client (None: verify
                                    # against the system trust store)

        def url(self) -> str: ...                            # called on every (re)connect
        def headers(self) -> list[str]: ...                  # extra handshake headers
        def ping_message(self) -> str | None: ...            # an application-level ping
                                                             # (e.g. {"op":"ping"}) or None
        def open_messages(self) -> list[str | bytes]: ...    # sent right after the handshake
        def auth_reply(self, payload, binary) -> bool | None: ...
            # while awaiting auth, for each frame: True = authenticated, None = not the
            # answer (frame is then decoded normally); raise AuthRefused(reason) = DOWN, no retry
        def subscribe_messages(self, mode, keys) -> list[str | bytes]: ...
        def unsubscribe_messages(self, mode, keys) -> list[str | bytes]: ...
        def on_connected(self, conn) -> None: ...            # reset per-connection state
        def decode(self, payload: bytes, binary: bool, recv_ns: int) -> Sequence[object]: ...
            # events for the sink; raise Reject("reason") for a bad frame (counted, skipped);
            # any other exception is counted as rejected "decode:<ExceptionName>";
            # raise Disconnect("reason") (also from auth_reply) to drop the session and
            # reconnect with backoff (e.g. a sequence gap that needs a fresh snapshot)

Then::

    conn = WsConnection(MyProtocol(...), sink)      # sink: e.g. queue.SimpleQueue().put
    conn.subscribe(["256265", "738561"], "quote")  # registry; sent now if live, else on connect
    conn.start()                                   # daemon thread "ws-<name>"
    conn.wait_state(FeedState.LIVE, timeout=5)
    conn.stats()                                   # counters snapshot (a dict)
    conn.stop()                                    # bounded join, never hangs the process

Modes and keys are opaque strings chosen by the protocol (e.g. ``"ltp"``/``"quote"``/
``"depth"``, ``"orders"``). On every (re)connect the connection sends, for each mode with
keys, ONE ``subscribe_messages(mode, all_keys_of_that_mode)`` call, so each key is
subscribed exactly once per connection. ``subscribe()``/``unsubscribe()`` are thread-safe
and send only the delta.

Payloads reach ``decode`` as ``bytes`` (text frames undecoded: msgspec validates UTF-8
itself), with one ``recv_ns`` (``time.time_ns()``) per socket read. Protocols may call
``conn.count_gap(n)`` / ``conn.count_reject(reason)`` / ``conn.send(msg)`` on the
connection given to ``on_connected``.

States (each change is a :class:`~cockpit.domain.feed.FeedStatus` on the sink):
CONNECTING -> LIVE -> (STALE | dropped) -> RECONNECTING (attempt N, next try in T) ->
LIVE ...; DOWN on refused authentication (HTTP 401/403 at the handshake or
:class:`AuthRefused`) or on ``stop()``. Backoff is exponential with jitter and a cap and
only resets once a session stayed live for ``stable_s``, so a server that accepts and
drops is never hammered.

Frames are read by a small buffered parser over the socket that websocket-client
handshook (one ``recv`` per burst of frames instead of several per frame); sending, pings,
pongs and close go through websocket-client.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import websocket

from cockpit.adapters.state import StateHolder
from cockpit.adapters.ws_frames import _OP_CLOSE, _OP_PING, AuthRefused, Backoff, Disconnect, Reject
from cockpit.adapters.ws_frames import FrameReader as _FrameReader
from cockpit.adapters.ws_frames import SessionEnd as _SessionEnd
from cockpit.domain.feed import FeedState, FeedStatus, Sink

log = logging.getLogger(__name__)

__all__ = [
    "AuthRefused",
    "Backoff",
    "Disconnect",
    "Reject",
    "WsConnection",
    "WsProtocol",
]


class WsProtocol:
    """A venue's messages; the defaults describe an open, unauthenticated stream."""

    name: str = "ws"
    liveness_s: float = 10.0
    data_liveness_s: float | None = None
    quiet_modes: frozenset[str] = frozenset()
    ping_interval_s: float | None = 3.0
    awaits_auth: bool = False
    auth_timeout_s: float = 10.0
    connect_timeout_s: float = 10.0
    sslopt: dict[str, Any] | None = None
    """websocket-client TLS options for ``wss://`` (e.g. ``{"ca_certs": path}``); None =
    the system's trust store with full verification."""

    def url(self) -> str:
        """The WebSocket URL; called on every (re)connect."""
        raise NotImplementedError

    def headers(self) -> list[str]:
        """Extra handshake headers (``"Name: value"``)."""
        return []

    def open_messages(self) -> list[str | bytes]:
        """Messages sent right after the handshake (authentication)."""
        return []

    def ping_message(self) -> str | None:
        """The venue's own keep-alive message, sent instead of a ping frame (None: a frame)."""
        return None

    def auth_reply(self, payload: bytes, binary: bool) -> bool | None:
        """While awaiting auth: True if this frame confirms it, None if unrelated.

        Raises:
            AuthRefused: the venue refused the credentials.
        """
        return None

    def subscribe_messages(self, mode: str, keys: Sequence[str]) -> list[str | bytes]:
        """Messages subscribing ``keys`` in ``mode`` (one bulk message where the venue allows)."""
        return []

    def unsubscribe_messages(self, mode: str, keys: Sequence[str]) -> list[str | bytes]:
        """Messages unsubscribing ``keys`` from ``mode``."""
        return []

    def on_connected(self, conn: WsConnection) -> None:
        """Called once per session after the handshake, before auth and subscriptions."""

    def decode(self, payload: bytes, binary: bool, recv_ns: int) -> Sequence[object]:
        """Turn one message into events for the sink (may be empty).

        Raises:
            Reject: a bad frame, counted under its reason and skipped.
        """
        return ()


class WsConnection(StateHolder):
    """One venue WebSocket on its own thread; see the module docstring for the contract."""

    def __init__(
        self,
        protocol: WsProtocol,
        sink: Sink,
        *,
        backoff: Backoff | None = None,
        stable_s: float = 10.0,
        poll_s: float = 0.2,
        max_message_bytes: int = 16 << 20,
        recv_bytes: int = 1 << 16,
    ) -> None:
        """Create a stopped connection.

        Args:
            protocol: the venue's messages.
            sink: receives every event and FeedStatus (called on the connection thread).
            backoff: reconnect delays.
            stable_s: a session live this long resets the backoff.
            poll_s: socket timeout: how often the thread wakes to check stop/watchdog/ping.
            max_message_bytes: a larger frame or message ends the session (protocol error).
            recv_bytes: bytes asked of the socket per read.
        """
        self.protocol = protocol
        self.name = protocol.name
        self._sink = sink
        self._backoff = backoff or Backoff()
        self._stable_s = stable_s
        self._poll_s = poll_s
        self._max_message = max_message_bytes
        self._recv_bytes = recv_bytes
        self._rng = random.Random()

        self._lock = threading.Lock()  # registry + live flag + sends of subscriptions
        self._subs: dict[str, dict[str, None]] = {}
        self._ws: websocket.WebSocket | None = None
        self._live = False

        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        StateHolder.__init__(self)
        self._attempt = 0

        # counters (written by the connection thread only)
        self._frames = 0
        self._bytes = 0
        self._events = 0
        self._rejected: dict[str, int] = {}
        self._gaps = 0
        self._reconnects = 0
        self._sessions = 0
        self._last_frame_mono: float | None = None
        self._last_event_mono = 0.0
        self._data_mult = 1.0
        self._quiet = 0

    # -- public API ----------------------------------------------------------------------

    @property
    def reconnects(self) -> int:
        """Sessions that went live after the first."""
        return self._reconnects

    def start(self) -> None:
        """Start the connection thread (idempotent)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._attempt = 0
        self._set_state(FeedState.CONNECTING)  # before the thread: wait_state(DOWN) is not stale
        self._thread = threading.Thread(target=self._run, name=f"ws-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop the thread and close the socket; returns False if the join timed out."""
        self._stop.set()
        ws = self._ws
        if ws is not None and ws.sock is not None:
            try:
                ws.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def subscribe(self, keys: Iterable[str], mode: str) -> list[str]:
        """Add ``keys`` in ``mode``; sends at once if live. Returns the keys that were new."""
        with self._lock:
            reg = self._subs.setdefault(mode, {})
            new = [k for k in dict.fromkeys(keys) if k not in reg]
            for k in new:
                reg[k] = None
            if new and self._live:
                self._send_all(self.protocol.subscribe_messages(mode, new))
        return new

    def unsubscribe(self, keys: Iterable[str], mode: str) -> list[str]:
        """Remove ``keys`` from ``mode``; sends at once if live. Returns the keys removed."""
        with self._lock:
            reg = self._subs.get(mode, {})
            gone = [k for k in dict.fromkeys(keys) if k in reg]
            for k in gone:
                del reg[k]
            if gone and self._live:
                self._send_all(self.protocol.unsubscribe_messages(mode, gone))
        return gone

    def subscriptions(self) -> dict[str, list[str]]:
        """The registry: mode -> keys (what is replayed on reconnect)."""
        with self._lock:
            return {m: list(keys) for m, keys in self._subs.items() if keys}

    def send(self, message: str | bytes) -> bool:
        """Send one message if connected; False if not (it is not queued)."""
        ws = self._ws
        if ws is None or not ws.connected:
            return False
        try:
            if isinstance(message, bytes):
                ws.send_bytes(message)
            else:
                ws.send_text(message)
        except (OSError, websocket.WebSocketException):
            return False
        return True

    def count_reject(self, reason: str) -> None:
        """Count one rejected frame under ``reason`` (for protocols; thread of the conn)."""
        self._rejected[reason] = self._rejected.get(reason, 0) + 1

    def count_gap(self, n: int = 1) -> None:
        """Count ``n`` sequence gaps detected by the protocol."""
        self._gaps += n

    def stats(self) -> dict[str, Any]:
        """A snapshot of the counters (safe to call from any thread)."""
        last = self._last_frame_mono
        return {
            "feed": self.name,
            "state": str(self._state),
            "frames": self._frames,
            "bytes": self._bytes,
            "events": self._events,
            "rejected": sum(self._rejected.values()),
            "rejected_by_reason": dict(self._rejected),
            "gaps": self._gaps,
            "reconnects": self._reconnects,
            "quiet": self._quiet,
            "attempt": self._attempt,
            "last_frame_age_s": None if last is None else time.monotonic() - last,
            "reason": self._reason,
        }

    # -- state ---------------------------------------------------------------------------

    def _set_state(
        self, state: FeedState, reason: str = "", next_retry_s: float | None = None
    ) -> None:
        self._store_state(state, reason)
        status = FeedStatus(
            feed=self.name,
            state=state,
            ts_ns=time.time_ns(),
            attempt=self._attempt,
            next_retry_s=next_retry_s,
            reason=reason,
            reconnects=self._reconnects,
        )
        try:
            self._sink(status)
        except Exception:  # a broken sink must not kill the connection thread
            log.exception("%s: sink refused a status", self.name)

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                reason, refused = self._session()
                if refused:
                    self._set_state(FeedState.DOWN, reason)
                    return
                if self._stop.is_set():
                    break
                self._attempt += 1
                delay = self._backoff.delay(self._attempt, self._rng)
                self._set_state(FeedState.RECONNECTING, reason, next_retry_s=round(delay, 3))
                if self._stop.wait(delay):
                    break
            self._set_state(FeedState.DOWN, "stopped")
        except Exception as exc:  # last resort: report, never die silently
            log.exception("%s: connection thread failed", self.name)
            self._set_state(FeedState.DOWN, f"internal error: {type(exc).__name__}: {exc}")

    def _session(self) -> tuple[str, bool]:
        """One connection; returns (why it ended, whether it was an auth refusal)."""
        proto = self.protocol
        try:
            ws = websocket.create_connection(
                proto.url(),
                timeout=proto.connect_timeout_s,
                header=proto.headers(),
                skip_utf8_validation=True,
                enable_multithread=True,
                sockopt=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
                sslopt=proto.sslopt,
            )
        except websocket.WebSocketBadStatusException as exc:
            code = getattr(exc, "status_code", 0)
            if code in (401, 403):
                return f"authentication refused (HTTP {code})", True
            return f"handshake failed (HTTP {code})", False
        except (OSError, websocket.WebSocketException) as exc:
            return f"connect failed: {_describe(exc)}", False
        self._ws = ws
        live_since: float | None = None
        attempt_at_live = self._attempt
        try:
            if self._stop.is_set():
                return "stopped", False
            sock = ws.sock
            if sock is None:  # closed before it was ever read
                return "connect failed: the connection has no socket", False
            sock.settimeout(self._poll_s)
            proto.on_connected(self)
            reader = _FrameReader(sock, self._recv_bytes, self._max_message)
            self._last_frame_mono = time.monotonic()
            for msg in proto.open_messages():
                self._send_on(ws, msg)
            if proto.awaits_auth:
                self._await_auth(ws, reader)
            with self._lock:
                for mode, keys in self._subs.items():
                    if keys:
                        self._send_all(proto.subscribe_messages(mode, list(keys)), ws)
                self._live = True
            live_since = time.monotonic()
            self._sessions += 1
            if self._sessions > 1:
                self._reconnects += 1
            attempt_at_live = self._attempt
            self._attempt = 0
            self._set_state(FeedState.LIVE)
            self._stream(ws, reader)
            return "stopped", False  # _stream only returns on stop
        except AuthRefused as exc:
            return f"authentication refused: {exc}", True
        except Disconnect as exc:
            return str(exc) or "disconnected by the protocol", False
        except (OSError, websocket.WebSocketException) as exc:
            if self._stop.is_set():
                return "stopped", False
            return f"connection lost: {_describe(exc)}", False
        except Exception as exc:  # a bug in a protocol or the sink: reconnect, with backoff
            log.exception("%s: session failed", self.name)
            return f"internal error: {type(exc).__name__}: {exc}", False
        finally:
            with self._lock:
                self._live = False
            self._ws = None
            try:
                ws.close(timeout=0.2)
            except Exception:
                try:
                    ws.shutdown()
                except Exception:
                    pass
            if live_since is not None and time.monotonic() - live_since < self._stable_s:
                # did not stay up long: keep growing the backoff from where it was
                self._attempt = attempt_at_live

    def _await_auth(self, ws: websocket.WebSocket, reader: _FrameReader) -> None:
        proto = self.protocol
        deadline = time.monotonic() + proto.auth_timeout_s
        while True:
            if self._stop.is_set():
                raise _SessionEnd("stopped")
            if time.monotonic() > deadline:
                raise _SessionEnd(f"no authentication reply within {proto.auth_timeout_s:g} s")
            messages = self._read(ws, reader)
            if messages is None:
                continue
            recv_ns = time.time_ns()
            for i, (payload, binary) in enumerate(messages):
                if proto.auth_reply(payload, binary):
                    # anything that came after the confirmation is ordinary data
                    self._deliver(messages[i + 1 :], recv_ns)
                    return
                self._deliver(((payload, binary),), recv_ns)

    def _read(
        self, ws: websocket.WebSocket, reader: _FrameReader
    ) -> list[tuple[bytes, bool]] | None:
        """One socket read: complete data messages, or None on a timeout."""
        try:
            chunk = reader.sock.recv(reader.recv_bytes)
        except TimeoutError:
            return None
        if not chunk:
            raise _SessionEnd("server closed the connection")
        self._bytes += len(chunk)
        return self._parse(ws, reader, chunk)

    def _parse(
        self, ws: websocket.WebSocket, reader: _FrameReader, chunk: bytes
    ) -> list[tuple[bytes, bool]]:
        messages, nframes, controls = reader.feed(chunk)
        if nframes:
            self._frames += nframes
            self._last_frame_mono = time.monotonic()
        for op, data in controls:
            if op == _OP_PING:
                ws.pong(data)
            elif op == _OP_CLOSE:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                text = data[2:].decode("utf-8", "replace")
                raise _SessionEnd(f"server closed ({code}{': ' + text if text else ''})")
        return messages

    def _deliver(self, messages: Iterable[tuple[bytes, bool]], recv_ns: int) -> None:
        """Decode a read's messages and hand their events to the sink, in order."""
        decode = self.protocol.decode
        sink = self._sink
        n = 0
        for payload, binary in messages:
            try:
                events = decode(payload, binary, recv_ns)
            except Reject as exc:
                self._rejected[exc.reason] = self._rejected.get(exc.reason, 0) + 1
                continue
            except Disconnect:
                self._events += n
                raise
            except Exception as exc:
                reason = f"decode:{type(exc).__name__}"
                self._rejected[reason] = self._rejected.get(reason, 0) + 1
                continue
            for event in events:
                sink(event)
                n += 1
        if n:
            self._events += n
            self._last_event_mono = time.monotonic()
            if self._data_mult != 1.0:  # data again after a quiet spell
                self._data_mult = 1.0
                if self._live:  # (not while authenticating: LIVE comes after the subscribe)
                    self._set_state(FeedState.LIVE)

    def _stream(self, ws: websocket.WebSocket, reader: _FrameReader) -> None:
        """The hot loop: read, parse, decode, hand off; wake every poll_s for housekeeping."""
        proto = self.protocol
        liveness = proto.liveness_s
        ping_every = proto.ping_interval_s
        next_ping = time.monotonic() + ping_every if ping_every else float("inf")
        data_limit = proto.data_liveness_s
        next_data_check = time.monotonic()
        self._last_event_mono = time.monotonic()
        sock = reader.sock
        nbytes = reader.recv_bytes
        stop = self._stop
        while True:
            try:
                chunk = sock.recv(nbytes)
            except TimeoutError:
                chunk = None
            if chunk is not None:
                if not chunk:
                    raise _SessionEnd("server closed the connection")
                recv_ns = time.time_ns()
                self._bytes += len(chunk)
                messages = self._parse(ws, reader, chunk)
                if messages:
                    self._deliver(messages, recv_ns)
            if stop.is_set():
                return
            now = time.monotonic()
            last = self._last_frame_mono
            if last is not None and now - last > liveness:
                self._set_state(FeedState.STALE, f"no frame for {now - last:.1f} s")
                raise _SessionEnd(f"stale: no frame for {now - last:.1f} s")
            if ping_every and now >= next_ping:
                ping = proto.ping_message()
                if ping is None:
                    ws.ping()
                else:
                    ws.send_text(ping)
                next_ping = now + ping_every
            if data_limit is not None and now >= next_data_check:
                next_data_check = now + self._poll_s
                age = now - self._last_event_mono
                if age > data_limit * self._data_mult and self._expects_data():
                    # A quiet market (after hours, an illiquid symbol), not a dead feed: the
                    # socket is proven alive by the frame watchdog above (pongs count), and a
                    # reconnect would make the server rebuild its upstream and lose the order
                    # updates pushed meanwhile. Say so (again after 2x, 4x, 8x), stay connected.
                    self._data_mult = min(8.0, self._data_mult * 2)
                    self._quiet += 1
                    self._set_state(FeedState.LIVE, f"quiet: no market data for {age:.0f} s")

    def _expects_data(self) -> bool:
        quiet = self.protocol.quiet_modes
        with self._lock:
            return any(keys and mode not in quiet for mode, keys in self._subs.items())

    def _send_on(self, ws: websocket.WebSocket, msg: str | bytes) -> None:
        if isinstance(msg, bytes):
            ws.send_bytes(msg)
        else:
            ws.send_text(msg)

    def _send_all(
        self, messages: Sequence[str | bytes], ws: websocket.WebSocket | None = None
    ) -> None:
        ws = ws or self._ws
        if ws is None:
            return
        for msg in messages:
            try:
                self._send_on(ws, msg)
            except (OSError, websocket.WebSocketException):
                log.warning("%s: send failed; the reconnect will resubscribe", self.name)
                return


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."
