"""The pure parts under :mod:`cockpit.adapters.ws`: a buffered RFC 6455 parser for
server-to-client frames, the protocols' verdicts (reject a frame, refuse authentication, end
a session), and the reconnect backoff."""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass

__all__ = ["AuthRefused", "Backoff", "Disconnect", "FrameReader", "Reject", "SessionEnd"]

_OP_CONT = 0x0
_OP_TEXT = 0x1
_OP_BINARY = 0x2
_OP_CLOSE = 0x8
_OP_PING = 0x9
_OP_PONG = 0xA


class Reject(Exception):  # noqa: N818 - it is a verdict, not an error of ours
    """Raised by :meth:`WsProtocol.decode` for a bad frame: counted under ``reason``, skipped."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthRefused(Exception):  # noqa: N818
    """The venue refused our credentials: the feed goes DOWN with this reason, no retry."""


class Disconnect(Exception):  # noqa: N818
    """Raised by a protocol to end the session and reconnect (with backoff); str() = reason."""


class SessionEnd(Disconnect):
    """A session ended (closed, stale, protocol error); the reason is the message."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential reconnect delay with jitter and a cap.

    Attributes:
        initial: delay before the first retry, in seconds.
        factor: growth per attempt.
        cap: the largest delay.
        jitter: +- fraction of random spread (0.2 = +-20%).
    """

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.2

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt ``attempt`` (1-based)."""
        base = min(self.cap, self.initial * self.factor ** max(0, attempt - 1))
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, min(self.cap, base * (1.0 + spread)))


class FrameReader:
    """Buffered RFC 6455 frame parser for server-to-client frames (unmasked)."""

    __slots__ = ("sock", "recv_bytes", "max_message", "_buf", "_frag", "_frag_op", "_frag_len")

    def __init__(self, sock: socket.socket, recv_bytes: int, max_message: int) -> None:
        self.sock = sock
        self.recv_bytes = recv_bytes
        self.max_message = max_message
        self._buf = b""
        self._frag: list[bytes] = []
        self._frag_op = 0
        self._frag_len = 0

    def feed(self, chunk: bytes) -> tuple[list[tuple[bytes, bool]], int, list[tuple[int, bytes]]]:
        """Add bytes; return (complete data messages, frames seen, control frames)."""
        buf = self._buf + chunk if self._buf else chunk
        end = len(buf)
        pos = 0
        out: list[tuple[bytes, bool]] = []
        controls: list[tuple[int, bytes]] = []
        nframes = 0
        while end - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            ln = b1 & 0x7F
            hdr = 2
            if ln == 126:
                if end - pos < 4:
                    break
                ln = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                hdr = 4
            elif ln == 127:
                if end - pos < 10:
                    break
                ln = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                hdr = 10
            if b1 & 0x80:
                raise SessionEnd("protocol error: masked frame from server")
            if b0 & 0x70:
                raise SessionEnd("protocol error: reserved bits set")
            if ln > self.max_message:
                raise SessionEnd(f"protocol error: frame of {ln} bytes")
            start = pos + hdr
            stop = start + ln
            if stop > end:
                break
            payload = buf[start:stop]
            pos = stop
            nframes += 1
            op = b0 & 0x0F
            fin = b0 & 0x80
            if op in (_OP_TEXT, _OP_BINARY):
                if self._frag:
                    raise SessionEnd("protocol error: new message inside a fragmented one")
                if fin:
                    out.append((payload, op == _OP_BINARY))
                else:
                    self._frag = [payload]
                    self._frag_op = op
                    self._frag_len = ln
            elif op == _OP_CONT:
                if not self._frag:
                    raise SessionEnd("protocol error: continuation without a message")
                self._frag.append(payload)
                self._frag_len += ln
                if self._frag_len > self.max_message:
                    raise SessionEnd("protocol error: message too large")
                if fin:
                    out.append((b"".join(self._frag), self._frag_op == _OP_BINARY))
                    self._frag = []
            elif op in (_OP_PING, _OP_PONG, _OP_CLOSE):
                if not fin or ln > 125:
                    raise SessionEnd("protocol error: bad control frame")
                if op != _OP_PONG:
                    controls.append((op, payload))
            else:
                raise SessionEnd(f"protocol error: opcode {op}")
        self._buf = buf[pos:] if pos < end else b""
        return out, nframes, controls
