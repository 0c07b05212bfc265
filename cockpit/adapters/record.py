"""``cockpit record``: connect to a feed and write normalized tick lines (one JSON per event).

The feed thread only puts events on a queue; a writer thread encodes and writes them, so
recording never slows the feed. Counters go to stderr at the end as one JSON line.

Feeds are built by :func:`make_feed`. Kite and Binance live in their own adapters and are
imported only when asked for; each provides::

    make_feed(symbols: list[str], mode: str, url: str | None, sink: Sink, *,
              rest_url: str | None = None, **options) -> feed

(credentials from the environment) returning an object with ``start()``,
``stop(timeout) -> bool``, ``stats() -> dict`` (``frames``, ``events``, ``rejected``,
``reconnects``), ``state`` and ``wait_state(*states, timeout)``, raising ``ValueError``
for missing credentials or bad symbols.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Mapping
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from cockpit.domain.feed import FeedState, FeedStatus, Sink
from cockpit.domain.market import AnyMarketEvent, encode_line


class RecordableFeed(Protocol):
    """What ``cockpit record`` needs of a feed."""

    @property
    def state(self) -> FeedState: ...
    def start(self) -> None: ...
    def stop(self, timeout: float = ...) -> bool: ...
    def stats(self) -> dict[str, Any]: ...
    def wait_state(self, *states: FeedState, timeout: float) -> bool: ...


def openalgo_ws_url(env: Mapping[str, str], url: str | None = None) -> str:
    """The OpenAlgo WS URL: ``url``, else OPENALGO_WS_URL, else OPENALGO_HOST's host:8765."""
    if url:
        return url
    if env.get("OPENALGO_WS_URL"):
        return env["OPENALGO_WS_URL"]
    host = env.get("OPENALGO_HOST")
    if host:
        name = urlsplit(host if "//" in host else f"//{host}").hostname or "127.0.0.1"
        return f"ws://{name}:8765"
    return "ws://127.0.0.1:8765"


def make_feed(
    feed: str,
    symbols: list[str],
    mode: str,
    sink: Sink,
    *,
    url: str | None = None,
    rest_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> RecordableFeed:
    """Build a stopped feed of kind ``feed`` subscribed to ``symbols`` in ``mode``.

    ``feed`` is ``openalgo``, ``kite``, a public venue of
    :mod:`cockpit.adapters.venues` (``binance``, ``bybit``, ``bybit:linear``...) or ``replay:FILE``
    (``symbols`` then filters the file; empty plays everything).

    Raises:
        ValueError: unknown feed, missing credentials or bad symbols.
    """
    env = os.environ if env is None else env
    if feed == "openalgo":
        from cockpit.adapters.openalgo.feed import OpenAlgoFeed

        key = env.get("OPENALGO_API_KEY", "")
        if not key:
            raise ValueError("OPENALGO_API_KEY is not set")
        oa = OpenAlgoFeed(openalgo_ws_url(env, url), key, sink)
        oa.subscribe(symbols, mode)
        return oa.conn
    if feed.startswith("replay:"):
        from cockpit.adapters.replay import ReplayFeed

        replay = ReplayFeed.from_spec(feed, sink)
        replay.subscribe(symbols, mode)
        return replay
    if feed == "kite":
        from cockpit.adapters.kite.feed import make_feed as make_kite_feed

        return make_kite_feed(symbols, mode, url, sink, rest_url=rest_url)
    from cockpit.adapters.venues import venue

    spec = venue(feed)
    if spec is not None:
        return spec.record(symbols, mode, url, sink, rest_url=rest_url)  # type: ignore[no-any-return]
    raise ValueError(f"unknown feed {feed!r}")


class _Writer(threading.Thread):
    """Encodes market events from the queue to the output; stops after ``count``."""

    def __init__(self, q: queue.SimpleQueue[object], out: IO[bytes], count: int | None) -> None:
        super().__init__(name="record-writer", daemon=True)
        self.q = q
        self.out = out
        self.count = count
        self.written = 0
        self.statuses: list[FeedStatus] = []
        self.done = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        out = self.out
        try:
            while True:
                item = self.q.get()
                if item is None:
                    break
                if isinstance(item, AnyMarketEvent):
                    if self.count is not None and self.written >= self.count:
                        continue
                    out.write(encode_line(item) + b"\n")
                    self.written += 1
                    if self.count is not None and self.written >= self.count:
                        out.flush()
                        self.done.set()
                elif isinstance(item, FeedStatus):
                    self.statuses.append(item)
                    if item.state == FeedState.DOWN and item.reason != "stopped":
                        self.done.set()
            out.flush()
        except (OSError, ValueError) as exc:  # disk full, closed pipe
            self.error = str(exc)
            self.done.set()


def _subscribe_errors(feed: RecordableFeed) -> list[str]:
    """The venue's refusals of our subscriptions (an unknown symbol), where the feed keeps them
    (OpenAlgo answers each subscription; other venues say nothing)."""
    errors = getattr(getattr(feed, "protocol", None), "subscribe_errors", None)
    return list(errors) if errors else []


def _status_line(s: FeedStatus) -> str:
    text = f"record: {s.feed} {s.state}"
    if s.attempt:
        text += f" (attempt {s.attempt}"
        text += f", next try in {s.next_retry_s:g} s)" if s.next_retry_s is not None else ")"
    return text + (f": {s.reason}" if s.reason else "")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``cockpit record``."""
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    if not symbols:
        print("cockpit record: --symbols is empty", file=sys.stderr)
        return 2
    if args.count is not None and args.count <= 0:
        print("cockpit record: --count must be positive", file=sys.stderr)
        return 2
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    try:
        feed = make_feed(
            args.feed,
            symbols,
            args.mode,
            q.put,
            url=args.url,
            rest_url=getattr(args, "rest_url", None),
        )
    except ValueError as exc:
        print(f"cockpit record: {exc}", file=sys.stderr)
        return 2
    to_stdout = args.out == "-"
    try:
        out: IO[bytes] = sys.stdout.buffer if to_stdout else open(args.out, "wb")  # noqa: SIM115
    except OSError as exc:
        print(f"cockpit record: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    writer = _Writer(q, out, args.count)
    writer.start()
    stop_requested = threading.Event()
    if threading.current_thread() is threading.main_thread():
        # a service manager's SIGTERM ends the recording cleanly (flushed, counters printed)
        def on_sigterm(*_: object) -> None:
            stop_requested.set()
            writer.done.set()

        signal.signal(signal.SIGTERM, on_sigterm)
    feed.start()
    deadline = None if args.duration is None else time.monotonic() + args.duration
    interrupted = False
    refused: list[str] = []
    try:
        while not writer.done.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            writer.done.wait(0.2 if left is None else min(0.2, left))
            refused = _subscribe_errors(feed)
            if refused:
                break
    except KeyboardInterrupt:
        interrupted = True
    feed.stop(timeout=3.0)
    q.put(None)
    writer.join(5.0)
    if not to_stdout:
        out.close()
    for status in writer.statuses:
        if status.state != FeedState.LIVE or status.attempt or status.reason:
            print(_status_line(status), file=sys.stderr)
    stats = feed.stats()
    summary = {
        "feed": args.feed,
        "written": writer.written,
        "frames": stats.get("frames"),
        "events": stats.get("events"),
        "rejected": stats.get("rejected"),
        "rejected_by_reason": stats.get("rejected_by_reason", {}),
        "reconnects": stats.get("reconnects"),
    }
    print(json.dumps(summary), file=sys.stderr)
    if writer.error:
        print(f"cockpit record: write failed: {writer.error}", file=sys.stderr)
        return 1
    if refused:
        print(f"cockpit record: unknown symbol: {'; '.join(refused)}", file=sys.stderr)
        return 2
    downs = [s for s in writer.statuses if s.state == FeedState.DOWN and s.reason != "stopped"]
    interrupted = interrupted or stop_requested.is_set()
    if downs and not interrupted and (args.count is None or writer.written < args.count):
        print(f"cockpit record: feed down: {downs[-1].reason}", file=sys.stderr)
        return 1
    return 0
