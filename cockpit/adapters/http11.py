"""The little of HTTP/1.1 the order router needs: read one answer off a keep-alive socket.

The router's ``http.client`` transport writes its requests itself (one ``send`` of the
request line, headers and JSON body) and reads the answers with :func:`read_answer`. The
standard library's ``http.client`` parses headers through the ``email`` package and wraps
the socket in a buffered file per answer: about 0.1-0.3 ms of Python per answer, all of it
holding the GIL that the engine's feed thread needs for the next tick. This reader does the
same job for what OpenAlgo servers send (a status line, headers, a body framed by
``Content-Length``, by chunks, or by the end of the connection) in a few string operations.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import Final

MAX_HEAD: Final = 64 * 1024
MAX_BODY: Final = 64 * 1024 * 1024


class HttpError(Exception):
    """The server's answer is not HTTP/1.x as expected (or is too big)."""


@dataclass(slots=True)
class Answer:
    """One HTTP answer."""

    status: int
    reason: str
    headers: dict[str, str]
    """Header names in lower case (a repeated header keeps its last value)."""
    body: bytes
    will_close: bool
    """The server closes the connection after this answer: do not reuse it."""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class _Reader:
    __slots__ = ("buf", "sock")

    def __init__(self, sock: socket.socket | ssl.SSLSocket) -> None:
        self.sock = sock
        self.buf = b""

    def more(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def line(self, limit: int) -> bytes:
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line, self.buf = self.buf[:end], self.buf[end + 2 :]
                return line
            if len(self.buf) > limit:
                raise HttpError("line too long")
            if not self.more():
                raise ConnectionError("connection closed mid-answer")

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self.more():
                raise ConnectionError("connection closed mid-body")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


def read_answer(sock: socket.socket | ssl.SSLSocket, *, method: str = "POST") -> Answer:
    """Read one answer to a request just written on ``sock`` (its timeout applies).

    Raises ``OSError`` (including ``TimeoutError`` and ``ConnectionError``) from the socket
    and :class:`HttpError` for an answer that is not well formed.
    """
    reader = _Reader(sock)
    while True:
        status_line = reader.line(MAX_HEAD)
        try:
            version, rest = status_line.decode("latin-1").split(" ", 1)
            code_text, _, reason = rest.partition(" ")
            status = int(code_text)
        except ValueError:
            raise HttpError(f"bad status line {status_line[:80]!r}") from None
        if not version.startswith("HTTP/1.") or not 100 <= status <= 999:
            raise HttpError(f"bad status line {status_line[:80]!r}")
        headers: dict[str, str] = {}
        size = 0
        while True:
            line = reader.line(MAX_HEAD)
            if not line:
                break
            size += len(line)
            if size > MAX_HEAD:
                raise HttpError("headers too long")
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise HttpError(f"bad header line {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        if 100 <= status < 200:
            continue  # an interim answer (100 Continue): the real one follows
        break
    connection = headers.get("connection", "").lower()
    will_close = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
    if method == "HEAD" or status in (204, 304):
        return Answer(status, reason, headers, b"", will_close)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _chunked(reader)
    elif "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise HttpError("bad Content-Length") from None
        if not 0 <= length <= MAX_BODY:
            raise HttpError(f"Content-Length {length} out of range")
        body = reader.exactly(length)
    else:
        # Framed by the end of the connection.
        while reader.more():
            if len(reader.buf) > MAX_BODY:
                raise HttpError("body too long")
        body, reader.buf = reader.buf, b""
        will_close = True
    if reader.buf:
        will_close = True  # bytes after the answer: the connection is out of step
    return Answer(status, reason, headers, body, will_close)


def _chunked(reader: _Reader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_line = reader.line(1024)
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise HttpError(f"bad chunk size {size_line[:40]!r}") from None
        if size < 0:
            raise HttpError("bad chunk size")
        if size == 0:
            while reader.line(MAX_HEAD):  # trailers, up to the empty line
                pass
            return b"".join(parts)
        total += size
        if total > MAX_BODY:
            raise HttpError("body too long")
        parts.append(reader.exactly(size))
        if reader.exactly(2) != b"\r\n":
            raise HttpError("chunk not followed by CRLF")
