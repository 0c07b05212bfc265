"""How the order router's workers put one POST on the wire: the httpx client.

It answers ``(status, body, reason, retry_after)`` and raises :class:`SendError` with
``sent=False`` only when the request certainly never left (no connection could be made), so
the router's rule holds: only such a request may be sent again blindly. Exits take the exit
lane instead (:mod:`cockpit.adapters.openalgo.lane`), with the same two outcomes.
"""

from __future__ import annotations

import httpx

Answer = tuple[int, bytes, str, str | None]
"""``(status, body, reason phrase, Retry-After header or None)``."""


class SendError(Exception):
    """The request got no answer. ``sent`` False: it never left (no connection)."""

    def __init__(self, message: str, *, sent: bool, timed_out: bool) -> None:
        super().__init__(message)
        self.sent = sent
        self.timed_out = timed_out


class HttpxTransport:
    """The httpx client (keep-alive connections) of one router worker."""

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
