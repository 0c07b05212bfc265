"""Issue 16.6: a viewer cannot make the engine hold memory or connections without bound.

Real Unix sockets against the real :class:`ViewerServer` (the decision thread played by the
stand-in core of ``test_viewer_server``): frames from a viewer are bounded to what commands
need, a partial frame must complete in time, and the number of connections is capped with a
clear refusal to the extra viewer.
"""

from __future__ import annotations

import shutil
import socket
import struct
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.link.client import ClientError, EngineClient
from cockpit.link.protocol import (
    MAX_COMMAND_FRAME,
    PROTOCOL_VERSION,
    FrameReader,
    Hello,
    Ping,
    Pong,
    decode_to_viewer,
    encode,
)
from cockpit.link.server import ViewerServer
from tests.integration.test_viewer_server import StandInCore


@pytest.fixture
def sock_path() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="ckl", dir="/tmp"))
    yield d / "run" / "t.sock"
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def serve(sock_path: Path) -> Iterator[ViewerServer]:
    core = StandInCore()
    server = ViewerServer(
        sock_path, core.inbound.put, profile="t", frame_timeout_s=0.5, max_viewers=3
    )
    server.start()
    core.start(server)
    yield server
    server.stop()
    core.stop()


def raw(path: Path, hello: bool = True) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(path))
    s.settimeout(5)
    if hello:
        s.sendall(encode(Hello(version=PROTOCOL_VERSION, client="raw")))
    return s


def closed_within(s: socket.socket, seconds: float) -> tuple[bool, list[object]]:
    """Whether the server closed ``s`` within ``seconds`` and what it sent before."""
    s.settimeout(0.05)
    framer = FrameReader()
    got: list[object] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data = s.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True, got
        if not data:
            return True, got
        got.extend(decode_to_viewer(b) for b in framer.feed(data))
    return False, got


@pytest.mark.parametrize("hello", [False, True], ids=["before-hello", "after-hello"])
def test_a_frame_larger_than_any_command_is_refused_at_its_header(
    serve: ViewerServer, sock_path: Path, hello: bool
) -> None:
    s = raw(sock_path, hello=hello)
    try:
        s.sendall(struct.pack(">I", 32 * 1024 * 1024) + b"\0" * 65536)
        closed, _got = closed_within(s, 2.0)
        assert closed, "the engine kept reading a 32 MiB frame"
    finally:
        s.close()
    assert serve.counters["protocol_errors"] >= 1
    assert MAX_COMMAND_FRAME <= 1024 * 1024


@pytest.mark.parametrize("hello", [False, True], ids=["before-hello", "after-hello"])
def test_a_partial_frame_that_does_not_complete_in_time_closes_the_connection(
    serve: ViewerServer, sock_path: Path, hello: bool
) -> None:
    s = raw(sock_path, hello=hello)
    try:
        s.sendall(struct.pack(">I", 1000) + b"\0" * 10)
        started = time.monotonic()
        # A byte now and then does not keep a frame alive (the deadline is the frame's).
        for _ in range(4):
            time.sleep(0.2)
            try:
                s.sendall(b"\0")
            except OSError:
                break
        closed, _got = closed_within(s, 2.0)
        assert closed, "a partial frame held the connection open"
        assert time.monotonic() - started < 2.0
    finally:
        s.close()


def test_a_complete_command_after_a_pause_is_fine(serve: ViewerServer, sock_path: Path) -> None:
    with EngineClient.connect(path=sock_path) as c:
        c.snapshot()
        time.sleep(0.8)  # idle longer than the frame timeout: no frame is in flight
        c.send(Ping(id=0))
        assert isinstance(c.wait_for(Pong, 5), Pong)


def test_connections_are_capped_with_a_clear_refusal(serve: ViewerServer, sock_path: Path) -> None:
    clients = [EngineClient.connect(path=sock_path, client=f"v{n}") for n in range(3)]
    try:
        with pytest.raises(ClientError, match="too many viewers"):
            EngineClient.connect(path=sock_path, client="extra")
        # Connections still in their handshake count too.
        clients.pop().close()
        silent = raw(sock_path, hello=False)
        try:
            time.sleep(0.1)
            with pytest.raises(ClientError, match="too many viewers"):
                EngineClient.connect(path=sock_path, client="extra")
        finally:
            silent.close()
        time.sleep(0.1)
        with EngineClient.connect(path=sock_path, client="again") as again:
            again.snapshot()
    finally:
        for c in clients:
            c.close()
    assert serve.counters["viewers_refused"] >= 2
