"""Client library for the engine's viewer socket (used by the TUI, the CLI and tests).

Plain blocking sockets and one optional reader thread; no asyncio, no Textual.

Two ways to receive:

- **Pull** (scripts, tests, the CLI): ``client.recv(timeout)`` / ``client.messages(...)``.
  ``client.request(cmd)`` reads until the matching Ack/Refused, keeping whatever else
  arrives for the next ``recv``.
- **Push** (a Textual thread worker): ``client.start(on_message, on_close)`` runs a reader
  thread that calls ``on_message(msg)`` for every message in order and ``on_close(error)``
  once at the end; ``client.request(cmd)`` may then be called from any thread and waits for
  its answer, which is also passed to ``on_message``.

Example::

    with EngineClient.connect(profile="default", client="script") as c:
        snap = c.snapshot(timeout=5)
        answer = c.request(Subscribe(id=0, keys=["NSE:INFY"]))
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import msgspec

from cockpit import paths
from cockpit.link.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Command,
    FrameReader,
    Hello,
    ProtocolError,
    Refused,
    Showing,
    Snapshot,
    ToViewer,
    Welcome,
    decode_to_viewer,
    encode,
)

DEFAULT_TIMEOUT: Final = 5.0


class ClientError(Exception):
    """Base of the client's errors."""


class EngineNotRunning(ClientError):
    """No engine answers on the socket."""


class VersionMismatch(ClientError):
    """The engine speaks another protocol version."""


class EngineGone(ClientError):
    """The engine closed the connection (it stopped, died, or dropped a slow viewer)."""


class BadMessage(ClientError):
    """The engine sent something that is not a protocol message (the connection is unusable)."""


class RequestTimeout(ClientError):
    """No Ack/Refused for a command within the timeout."""


class EngineClient:
    """One connection to an engine. Create it with :meth:`connect`."""

    def __init__(
        self,
        sock: socket.socket,
        path: Path,
        welcome: Welcome,
        reader: FrameReader,
        early: deque[ToViewer] | None = None,
    ):
        self._sock = sock
        self.path = path
        self.welcome = welcome
        """The engine's :class:`Welcome` (pid, profile, venue, viewers...)."""
        self._framer = reader
        self._inbox: deque[ToViewer] = early if early is not None else deque()
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._closed = False
        self._error: ClientError | None = None
        # push mode
        self._thread: threading.Thread | None = None
        self._on_message: Callable[[ToViewer], None] | None = None
        self._waiters: dict[int, tuple[threading.Event, list[ToViewer]]] = {}
        self._waiters_lock = threading.Lock()

    # ------------------------------------------------------------------ connect / close

    @classmethod
    def connect(
        cls,
        profile: str = "default",
        *,
        path: str | Path | None = None,
        client: str = "cockpit",
        read_only: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        version: int = PROTOCOL_VERSION,
        showing: list[str] | None = None,
    ) -> EngineClient:
        """Connect to the engine of ``profile`` (or the socket at ``path``) and say hello.

        ``showing``: the symbols this viewer draws in full (``Hello.showing``: the snapshot
        carries books and volume at price for those only, ``[]`` for none yet; say more with
        :meth:`show`); None: every symbol in full.

        Raises:
            EngineNotRunning: no socket, or nothing listening on it.
            VersionMismatch: the engine refused our protocol version.
            EngineGone: the engine closed the connection during the handshake.
        """
        sock_path = Path(path) if path is not None else paths.socket_path(profile)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(os.fspath(sock_path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            raise EngineNotRunning(
                f"no engine is running for profile {profile!r} (nothing at {sock_path}); "
                "start one with `cockpit engine start`"
            ) from exc
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK):
                raise EngineNotRunning(f"no engine listening on {sock_path}: {exc}") from exc
            raise ClientError(f"cannot connect to {sock_path}: {exc}") from exc
        framer = FrameReader()
        early: deque[ToViewer] = deque()
        try:
            hello = Hello(version=version, client=client, read_only=read_only, showing=showing)
            sock.sendall(encode(hello))
            first = _read_one(sock, framer, timeout, early)
        except BaseException:
            sock.close()
            raise
        if first is None:
            sock.close()
            raise ClientError(f"the engine at {sock_path} did not answer within {timeout}s")
        if isinstance(first, Refused):
            sock.close()
            if first.rule == "version":
                raise VersionMismatch(first.message)
            raise ClientError(f"engine refused the connection: {first.message}")
        if not isinstance(first, Welcome):
            sock.close()
            raise ClientError(f"expected a welcome from the engine, got {type(first).__name__}")
        sock.settimeout(timeout)  # bounds sendall; reads use select()
        return cls(sock, sock_path, first, framer, early)

    def close(self) -> None:
        """Close the connection (and stop the reader thread). Idempotent."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)

    def __enter__(self) -> EngineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ sending

    def next_id(self) -> int:
        """A fresh command id for this connection."""
        return next(self._ids)

    def send(self, command: Command) -> int:
        """Send a command, giving it a fresh ``id``; return that id (answer comes later).

        Raises:
            EngineGone: the connection is closed.
        """
        cmd_id = self.next_id()
        command = msgspec.structs.replace(command, id=cmd_id)
        self._send_frame(encode(command))
        return cmd_id

    def show(self, keys: list[str]) -> None:
        """Tell the engine which symbols this viewer draws in full (:class:`Showing`; no
        answer): the others come at most about once a second, quote only.

        Raises:
            EngineGone: the connection is closed.
        """
        self._send_frame(encode(Showing(keys=keys)))

    def _check_open(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise EngineGone("connection closed")

    def _send_frame(self, frame: bytes) -> None:
        self._check_open()
        try:
            with self._send_lock:
                self._sock.sendall(frame)
        except OSError as exc:
            raise EngineGone(f"engine connection lost while sending: {exc}") from exc

    def request(self, command: Command, timeout: float = DEFAULT_TIMEOUT) -> Ack | Refused:
        """Send ``command`` and wait for its :class:`Ack` or :class:`Refused`."""
        answer, _ = self.request_with_replies(command, timeout)
        return answer

    def request_with_replies(
        self, command: Command, timeout: float = DEFAULT_TIMEOUT
    ) -> tuple[Ack | Refused, list[ToViewer]]:
        """Like :meth:`request`, also returning the other replies carrying the command's id
        (a :class:`SearchResult`, a :class:`Pong`) that came before the answer.

        Raises:
            RequestTimeout: no answer in time.
            EngineGone: the connection closed first.
        """
        if self._thread is not None:
            return self._request_push(command, timeout)
        cmd_id = self.send(command)
        deadline = time.monotonic() + timeout
        replies: list[ToViewer] = []
        skipped: list[ToViewer] = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RequestTimeout(
                        f"no answer to {type(command).__name__} #{cmd_id} within {timeout}s"
                    )
                msg = self._inbox.popleft() if self._inbox else self._read(left)
                if msg is None:
                    continue
                if getattr(msg, "id", None) == cmd_id and not isinstance(msg, Welcome):
                    if isinstance(msg, Ack | Refused):
                        return msg, replies
                    replies.append(msg)
                else:
                    skipped.append(msg)
        finally:
            self._inbox.extendleft(reversed(skipped))

    def _request_push(
        self, command: Command, timeout: float
    ) -> tuple[Ack | Refused, list[ToViewer]]:
        cmd_id = self.next_id()
        event = threading.Event()
        got: list[ToViewer] = []
        with self._waiters_lock:
            self._waiters[cmd_id] = (event, got)
        try:
            self._send_frame(encode(msgspec.structs.replace(command, id=cmd_id)))
            if not event.wait(timeout):
                if self._error is not None:
                    raise self._error
                raise RequestTimeout(
                    f"no answer to {type(command).__name__} #{cmd_id} within {timeout}s"
                )
            if self._error is not None and not got:
                raise self._error
            answer = got[-1]
            assert isinstance(answer, Ack | Refused)
            return answer, got[:-1]
        finally:
            with self._waiters_lock:
                self._waiters.pop(cmd_id, None)

    # ------------------------------------------------------------------ receiving (pull)

    def recv(self, timeout: float | None = DEFAULT_TIMEOUT) -> ToViewer | None:
        """The next message, or None if none arrived within ``timeout`` (None: wait forever).

        Raises:
            EngineGone: the engine closed the connection (after every buffered message).
        """
        if self._thread is not None:
            raise ClientError("recv() is not available once start() runs a reader thread")
        if self._inbox:
            return self._inbox.popleft()
        return self._read(timeout)

    def messages(self, timeout: float = DEFAULT_TIMEOUT) -> Iterator[ToViewer]:
        """Iterate over messages until ``timeout`` passes with none (or the engine closes)."""
        while True:
            try:
                msg = self.recv(timeout)
            except EngineGone:
                return
            if msg is None:
                return
            yield msg

    def wait_for(self, kind: type | tuple[type, ...], timeout: float = DEFAULT_TIMEOUT) -> ToViewer:
        """Read until a message of ``kind`` arrives (others are discarded).

        Raises:
            RequestTimeout: none within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RequestTimeout(f"no {kind} within {timeout}s")
            msg = self.recv(left)
            if msg is not None and isinstance(msg, kind):
                return msg

    def snapshot(self, timeout: float = DEFAULT_TIMEOUT) -> Snapshot:
        """Wait for the engine's :class:`Snapshot` (sent right after the welcome)."""
        snap = self.wait_for(Snapshot, timeout)
        assert isinstance(snap, Snapshot)
        return snap

    def _read(self, timeout: float | None) -> ToViewer | None:
        self._check_open()
        try:
            return _read_one(self._sock, self._framer, timeout, self._inbox)
        except EngineGone as exc:
            self._error = exc
            raise

    # ------------------------------------------------------------------ receiving (push)

    def start(
        self,
        on_message: Callable[[ToViewer], None],
        on_close: Callable[[ClientError | None], None] | None = None,
        *,
        name: str = "engine-client",
    ) -> None:
        """Run a reader thread delivering every message, in order, to ``on_message``.

        ``on_close(error)`` is called once when the connection ends: ``None`` after
        :meth:`close`, an :class:`EngineGone` when the engine went away. Callbacks run on the
        reader thread: keep them short (e.g. ``app.post_message``), never block in them.
        Messages already buffered by pull-mode calls are delivered first.
        """
        if self._thread is not None:
            raise ClientError("start() was called already")
        self._on_message = on_message

        def run() -> None:
            error: ClientError | None = None
            try:
                while self._inbox:
                    self._dispatch(self._inbox.popleft())
                while not self._closed:
                    msg = _read_one(self._sock, self._framer, 0.25, self._inbox)
                    if msg is None:
                        continue
                    self._dispatch(msg)
                    while self._inbox:
                        self._dispatch(self._inbox.popleft())
            except EngineGone as exc:
                error = None if self._closed else exc
            except OSError as exc:
                error = None if self._closed else EngineGone(f"engine connection lost: {exc}")
            except ClientError as exc:
                error = exc
            if error is not None:
                self._error = error
            with self._waiters_lock:
                waiters = list(self._waiters.values())
            for event, _ in waiters:
                event.set()
            if on_close is not None:
                on_close(error)

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()

    def _dispatch(self, msg: ToViewer) -> None:
        cmd_id = getattr(msg, "id", None)
        if cmd_id is not None and not isinstance(msg, Welcome):
            with self._waiters_lock:
                waiter = self._waiters.get(cmd_id)
            if waiter is not None:
                waiter[1].append(msg)
                if isinstance(msg, Ack | Refused):
                    waiter[0].set()
        assert self._on_message is not None
        self._on_message(msg)


def _read_one(
    sock: socket.socket,
    framer: FrameReader,
    timeout: float | None,
    extra: deque[ToViewer],
) -> ToViewer | None:
    """Read until one message is complete; more decoded in the same read go to ``extra``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            ready, _, _ = select.select([sock], [], [], left)
        except (OSError, ValueError) as exc:  # closed under us
            raise EngineGone(f"engine connection closed: {exc}") from exc
        if not ready:
            return None
        try:
            data = sock.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise EngineGone(f"the engine closed the connection: {exc}") from exc
        except OSError as exc:
            raise EngineGone(f"engine connection lost: {exc}") from exc
        if not data:
            raise EngineGone("the engine closed the connection")
        try:
            bodies = framer.feed(data)
            if not bodies:
                continue
            msgs = [decode_to_viewer(b) for b in bodies]
        except ProtocolError as exc:
            raise BadMessage(str(exc)) from exc
        extra.extend(msgs[1:])
        return msgs[0]
