"""How the order router puts one POST on the wire: httpcore (the default) or httpx.

Kept for speed, in this one module: httpcore is httpx's own transport (httpx sends every
request through it), used here directly. It does the same HTTP/1.1 keep-alive work without
httpx's request and response models, URL and header normalisation and event hooks: measured
on the 2-core host, about half the CPU per order (``benchmarks/bench_exit_latency.py --ab``
shows the burst of 50 exits with both, in the same run). What is built once per router (the
URL of each path, the fixed headers, the timeouts) is not rebuilt per request.

``transport = "httpx"`` in the router keeps the plain client (the A side of the benchmark).
Both answer ``(status, body, reason, retry_after)`` and raise :class:`SendError` with
``sent=False`` only when the request certainly never left (no connection could be made),
so the router's rule holds either way: only such a request may be sent again blindly.
"""

from __future__ import annotations

from typing import Final, Protocol
from urllib.parse import urlsplit

import httpcore
import httpx

KINDS: Final = ("httpcore", "httpx")

Answer = tuple[int, bytes, str, str | None]
"""``(status, body, reason phrase, Retry-After header or None)``."""


class SendError(Exception):
    """The request got no answer. ``sent`` False: it never left (no connection)."""

    def __init__(self, message: str, *, sent: bool, timed_out: bool) -> None:
        super().__init__(message)
        self.sent = sent
        self.timed_out = timed_out


class Transport(Protocol):
    def post(self, path: str, content: bytes) -> Answer: ...

    def close(self) -> None: ...


def make(kind: str, root: str, timeout_s: float, connections: int) -> Transport:
    """A transport for ``root`` (``http://host:port/api/v1``); ``kind`` one of :data:`KINDS`."""
    if kind == "httpcore":
        return CoreTransport(root, timeout_s, connections)
    if kind == "httpx":
        return HttpxTransport(root, timeout_s, connections)
    raise ValueError(f"unknown transport {kind!r} (one of {', '.join(KINDS)})")


class CoreTransport:
    """httpcore's connection pool, one per router; the per-path URL and headers built once."""

    def __init__(self, root: str, timeout_s: float, connections: int) -> None:
        self._root = root
        self._pool = httpcore.ConnectionPool(
            max_connections=connections, max_keepalive_connections=connections
        )
        self._urls: dict[str, httpcore.URL] = {}
        self._headers: Final = [
            (b"Host", urlsplit(root).netloc.encode("ascii")),
            (b"Content-Type", b"application/json"),
        ]
        self._extensions: Final = {
            "timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout_s)
        }

    def post(self, path: str, content: bytes) -> Answer:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpcore.URL(f"{self._root}/{path}")
        headers = [*self._headers, (b"Content-Length", str(len(content)).encode())]
        request = httpcore.Request(b"POST", url, headers=headers, content=content)
        request.extensions = self._extensions
        try:
            response = self._pool.handle_request(request)
            try:
                body = response.read()
            finally:
                response.close()
        except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
            raise SendError(
                f"cannot connect: {type(exc).__name__}", sent=False, timed_out=False
            ) from None
        except httpcore.TimeoutException as exc:
            raise SendError(type(exc).__name__, sent=True, timed_out=True) from None
        except (httpcore.NetworkError, httpcore.ProtocolError, OSError) as exc:
            raise SendError(type(exc).__name__, sent=True, timed_out=False) from None
        status = response.status
        retry_after = None
        if status == 429:
            for name, value in response.headers:
                if name.lower() == b"retry-after":
                    retry_after = value.decode("latin-1")
        reason = response.extensions.get("reason_phrase", b"")
        return status, body, reason.decode("latin-1"), retry_after

    def close(self) -> None:
        self._pool.close()


class HttpxTransport:
    """The plain httpx client (keep-alive); the A side of the benchmark's A/B."""

    def __init__(self, root: str, timeout_s: float, connections: int) -> None:
        self._root = root
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            headers={"Content-Type": "application/json"},
        )

    def post(self, path: str, content: bytes) -> Answer:
        try:
            response = self._client.post(f"{self._root}/{path}", content=content)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise SendError(
                f"cannot connect: {type(exc).__name__}", sent=False, timed_out=False
            ) from None
        except httpx.TimeoutException as exc:
            raise SendError(type(exc).__name__, sent=True, timed_out=True) from None
        except httpx.HTTPError as exc:
            raise SendError(type(exc).__name__, sent=True, timed_out=False) from None
        return (
            response.status_code,
            response.content,
            response.reason_phrase,
            response.headers.get("retry-after"),
        )

    def close(self) -> None:
        self._client.close()
