"""The viewer server's socket: bind it privately, probe it, read an old viewer's hello."""

from __future__ import annotations

import errno
import logging
import os
import socket
from pathlib import Path

from cockpit import paths
from cockpit.link.protocol import PROTOCOL_VERSION, Hello

log = logging.getLogger("cockpit.link.server")


class ServerError(RuntimeError):
    """The viewer server cannot start."""


class EngineAlreadyRunning(ServerError):
    """Another engine answers on this profile's socket."""


def hello_from_other_version(body: bytes) -> Hello | None:
    """Best effort: read the version of a hello this build cannot decode fully."""
    import msgspec

    try:
        raw = msgspec.msgpack.decode(body)
    except msgspec.DecodeError:
        return None
    if isinstance(raw, dict) and raw.get("t") == "hello" and isinstance(raw.get("version"), int):
        version = raw["version"]
        if version != PROTOCOL_VERSION:
            return Hello(version=version, client=str(raw.get("client", "?")))
    return None


def bind_socket(path: Path) -> socket.socket:
    """Create the listening Unix socket at ``path`` (dir 0700, socket 0600).

    A socket file left by a dead engine is replaced; a live one raises
    :class:`EngineAlreadyRunning`.
    """
    if len(os.fsencode(path)) > paths.MAX_SOCKET_PATH:
        raise ServerError(
            f"socket path {path} is longer than {paths.MAX_SOCKET_PATH} bytes; "
            "set a shorter XDG_RUNTIME_DIR or paths.socket"
        )
    try:
        paths.ensure_private_dir(path.parent)
    except OSError as exc:
        raise ServerError(f"cannot use {path.parent} for the engine socket: {exc}") from exc
    if path.exists() or path.is_symlink():
        if probe(path):
            raise EngineAlreadyRunning(f"an engine is already running on {path}")
        import stat as _stat

        if not _stat.S_ISSOCK(path.lstat().st_mode):
            raise ServerError(f"{path} exists and is not a socket; remove it or choose another")
        log.info("replacing stale socket %s", path)
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(os.fspath(path))
        os.chmod(path, 0o600)
        sock.listen(64)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise EngineAlreadyRunning(f"an engine is already running on {path}") from exc
        raise ServerError(f"cannot listen on {path}: {exc}") from exc
    return sock


def probe(path: Path, timeout: float = 1.0) -> bool:
    """Whether something accepts connections on the Unix socket ``path``."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(os.fspath(path))
    except OSError:
        return False
    finally:
        s.close()
    return True
