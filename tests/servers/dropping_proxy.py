"""A loopback REST proxy in front of the paper exchange that can lose order requests.

Everything is forwarded to ``upstream`` except, while :attr:`DroppingProxy.hold` is set, the
``placeorder`` requests: they are swallowed (never forwarded) and the connection is left hanging
with no answer, like a request lost on the way to the broker.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from aiohttp import web

from tests.servers.base import LoopbackServer


class DroppingProxy(LoopbackServer):
    """``url`` forwards to ``upstream``; ``hold`` loses placeorder requests (kept in ``held``)."""

    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.hold = False
        self.cut = False
        """Like ``hold`` but the connection is cut at once (no answer either)."""
        self.held: list[bytes] = []
        self._released = asyncio.Event()
        self._client: httpx.AsyncClient | None = None

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self._released.set)
        time.sleep(0.1)
        super().stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        return app

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if (self.hold or self.cut) and request.path.rstrip("/").endswith("/placeorder"):
            self.held.append(body)
            if self.hold:
                await self._released.wait()  # lost: no answer until the proxy stops
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=503)  # never reaches the aborted client
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=10)
        headers: dict[str, Any] = {"content-type": request.headers.get("content-type", "")}
        reply = await self._client.request(
            request.method, self.upstream + request.path_qs, content=body, headers=headers
        )
        return web.Response(
            status=reply.status_code,
            body=reply.content,
            content_type=reply.headers.get("content-type", "application/json").split(";")[0],
        )
