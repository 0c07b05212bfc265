"""Where a profile's files live: config, journal, socket, pid/lock file and engine log."""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path
from typing import Final

import platformdirs

APP: Final = "cockpit"
MAX_SOCKET_PATH: Final = 107
"""``sun_path`` holds 108 bytes on Linux (104 on macOS) including the terminating NUL."""

_PROFILE_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class BadProfile(ValueError):
    """A profile name that cannot be used in a file name."""


def check_profile(profile: str) -> str:
    """Return ``profile`` if it is a safe file-name stem, else raise :class:`BadProfile`."""
    if not _PROFILE_RE.match(profile):
        raise BadProfile(
            f"profile {profile!r} must be 1-64 letters, digits, '.', '_' or '-' "
            "and start with a letter or digit"
        )
    return profile


def config_dir() -> Path:
    """The user config directory (``$XDG_CONFIG_HOME/cockpit`` on Linux)."""
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def config_file() -> Path:
    """The default config file."""
    return config_dir() / "config.toml"


def data_dir() -> Path:
    """The user data directory (journals)."""
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def state_dir() -> Path:
    """The user state directory (engine logs)."""
    return Path(platformdirs.user_state_dir(APP, appauthor=False))


def runtime_dir() -> Path:
    """The per-user runtime directory holding sockets and pid files.

    ``$XDG_RUNTIME_DIR/cockpit`` on Linux when set; otherwise platformdirs' fallback
    (``/tmp/runtime-<uid>`` or ``/run/user/<uid>``), without its warning.
    """
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base:
        return Path(base) / APP
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_runtime_dir(APP, appauthor=False))


def journal_path(profile: str) -> Path:
    """``<data dir>/<profile>.sqlite3``."""
    return data_dir() / f"{check_profile(profile)}.sqlite3"


def socket_path(profile: str) -> Path:
    """``<runtime dir>/<profile>.sock``."""
    return runtime_dir() / f"{check_profile(profile)}.sock"


def pid_path(profile: str) -> Path:
    """``<runtime dir>/<profile>.pid``: the lock that keeps one engine per profile."""
    return runtime_dir() / f"{check_profile(profile)}.pid"


def log_path(profile: str) -> Path:
    """``<state dir>/log/engine-<profile>.log``: output of a detached engine."""
    return state_dir() / "log" / f"engine-{check_profile(profile)}.log"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing and make it mode 0700; return it.

    Raises:
        PermissionError: it exists but belongs to another user, or is a symlink (someone
            else could then read our socket or swap it).
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.lstat()
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise PermissionError(f"{path} belongs to another user (uid {st.st_uid}); not using it")
    if path.is_symlink():
        raise PermissionError(f"{path} is a symlink; not using it for private files")
    if st.st_mode & 0o077:
        path.chmod(0o700)
    return path


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a ``python -m cockpit...`` child: ours, with this package's
    directory on ``PYTHONPATH`` (so it works from any working directory, installed or not).
    """
    import cockpit

    env = dict(os.environ)
    root = str(Path(cockpit.__file__).resolve().parent.parent)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        env["PYTHONPATH"] = os.pathsep.join([root, *parts])
    env.update(extra or {})
    return env


class LockHeld(Exception):
    """Another process holds the lock; ``holder`` is the pid it wrote ("?" if none)."""

    def __init__(self, holder: str) -> None:
        super().__init__(f"held by pid {holder}")
        self.holder = holder


def take_pid_lock(path: Path, flags: int = os.O_RDWR | os.O_CREAT) -> int:
    """Open ``path`` (0600), take an exclusive flock without waiting, write our pid in it.

    Returns the open descriptor (closing it drops the lock). Raises :class:`LockHeld` with
    the holder's pid when another process has it; ``OSError`` if the file cannot be opened.
    """
    fd = os.open(path, flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        raise LockHeld(holder or "?") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
