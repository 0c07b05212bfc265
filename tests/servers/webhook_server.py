"""A loopback HTTP server that takes webhook POSTs (as ntfy or a Telegram bot would).

It records every request (path with query, headers, body) and can answer the first ``fail``
requests with a 500, to test the sender's retries.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookServer:
    """``start()``; ``url``; ``posts``; ``wait(n)``; ``stop()``."""

    def __init__(self, *, fail: int = 0, status: int = 500) -> None:
        self.posts: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self.fail = fail
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with outer.cond:
                    failing = outer.fail > 0
                    if failing:
                        outer.fail -= 1
                    outer.posts.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                            "answered": outer.status if failing else 200,
                        }
                    )
                    outer.cond.notify_all()
                self.send_response(outer.status if failing else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> WebhookServer:
        self._thread.start()
        return self

    def wait(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.posts) >= n, timeout):
                raise AssertionError(f"{len(self.posts)} webhook POST(s), expected {n}")
            return list(self.posts)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
