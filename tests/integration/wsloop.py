"""A tiny raw WebSocket server on 127.0.0.1 for tests: scripted handlers, hostile frames."""

from __future__ import annotations

import base64
import hashlib
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(payload: bytes | str, opcode: int = 1, fin: bool = True, mask: bool = False) -> bytes:
    """Encode one WebSocket frame (server frames are unmasked unless ``mask``)."""
    data = payload.encode() if isinstance(payload, str) else payload
    b0 = (0x80 if fin else 0) | opcode
    n = len(data)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        key = b"\x01\x02\x03\x04"
        data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
        head += key
    return head + data


class Conn:
    """One accepted client connection (after the handshake)."""

    def __init__(self, sock: socket.socket, server: LoopServer, path: str) -> None:
        self.sock = sock
        self.server = server
        self.path = path
        self._buf = b""
        self.closed = False

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, text: str | bytes, opcode: int = 1) -> None:
        self.sock.sendall(frame(text, opcode))

    def recv(self, timeout: float = 5.0) -> tuple[int, bytes] | None:
        """Next client frame (opcode, unmasked payload); None on close/timeout."""
        deadline = time.monotonic() + timeout
        while True:
            parsed = self._parse()
            if parsed is not None:
                return parsed
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, OSError):
                return None
            if not chunk:
                return None
            self._buf += chunk

    def _parse(self) -> tuple[int, bytes] | None:
        b = self._buf
        if len(b) < 2:
            return None
        op = b[0] & 0x0F
        n = b[1] & 0x7F
        pos = 2
        if n == 126:
            if len(b) < 4:
                return None
            n = struct.unpack("!H", b[2:4])[0]
            pos = 4
        elif n == 127:
            if len(b) < 10:
                return None
            n = struct.unpack("!Q", b[2:10])[0]
            pos = 10
        masked = b[1] & 0x80
        key = b""
        if masked:
            if len(b) < pos + 4:
                return None
            key = b[pos : pos + 4]
            pos += 4
        if len(b) < pos + n:
            return None
        data = b[pos : pos + n]
        if masked:
            data = bytes(x ^ key[i % 4] for i, x in enumerate(data))
        self._buf = b[pos + n :]
        return op, data

    def recv_text(self, timeout: float = 5.0) -> str | None:
        """Next text message, answering pings on the way; None on close/timeout."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.recv(max(0.0, deadline - time.monotonic()))
            if got is None:
                return None
            op, data = got
            if op == 0x9:
                self.send(data, 0xA)
                continue
            if op == 0x8:
                return None
            if op == 0x1:
                return data.decode()

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


Handler = Callable[[Conn], None]


class LoopServer:
    """Accepts connections on 127.0.0.1 (a free port) and runs ``handler(conn)`` per client."""

    def __init__(
        self,
        handler: Handler,
        status: int = 101,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.handler = handler
        self.status = status
        self.ssl_context = ssl_context
        self.connections = 0
        self.conns: list[Conn] = []
        self._lsock = socket.socket()
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind(("127.0.0.1", port))
        self._lsock.listen(16)
        self.port = self._lsock.getsockname()[1]
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._loop, daemon=True)
        self._accept.start()

    @property
    def url(self) -> str:
        scheme = "wss" if self.ssl_context else "ws"
        return f"{scheme}://127.0.0.1:{self.port}/ws"

    def _loop(self) -> None:
        while not self._stopping:
            try:
                sock, _ = self._lsock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(5)
        if self.ssl_context is not None:
            try:
                sock = self.ssl_context.wrap_socket(sock, server_side=True)
            except (OSError, ssl.SSLError):
                sock.close()
                return
        req = b""
        try:
            while b"\r\n\r\n" not in req:
                chunk = sock.recv(4096)
                if not chunk:
                    sock.close()
                    return
                req += chunk
        except OSError:
            sock.close()
            return
        head, _, rest = req.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        path = lines[0].split(" ")[1]
        key = ""
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-key":
                key = value.strip()
        self.connections += 1
        if self.status != 101:
            sock.sendall(
                f"HTTP/1.1 {self.status} Refused\r\nContent-Length: 0\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            sock.close()
            return
        accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
        sock.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        conn = Conn(sock, self, path)
        conn._buf = rest
        self.conns.append(conn)
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            if not conn.closed:
                conn.close()

    def drop_all(self) -> None:
        """Close every client connection abruptly (TCP close, no WS close frame)."""
        for c in list(self.conns):
            if not c.closed:
                c.close()

    def stop(self) -> None:
        self._stopping = True
        try:
            self._lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._lsock.close()
        except OSError:
            pass
        self.drop_all()
        for t in self._threads:
            t.join(2)
