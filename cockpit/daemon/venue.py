"""Where the engine trades (:class:`Venue`: where its feed and order router connect): the paper
exchange as a child process (``cockpit sim`` on free loopback ports), or an OpenAlgo server."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cockpit import paths
from cockpit.config import Settings
from cockpit.domain.instruments import Instrument

if TYPE_CHECKING:
    from cockpit.adapters.openalgo.broker import OpenAlgoRouter

log = logging.getLogger(__name__)

SIM_START_TIMEOUT_S: Final = 30.0
PAPER_ORDER_RATE: Final = 1000
"""Order requests per second the paper exchange takes (and the router sends it at most)."""
_PR_SET_PDEATHSIG: Final = 1


class StartupError(RuntimeError):
    """The engine cannot start; the message says why in the user's terms."""


class AlreadyRunning(StartupError):
    """Another engine holds this profile."""


@dataclass(frozen=True, slots=True)
class Venue:
    """Where the feed and the router connect."""

    host: str
    ws_url: str
    api_key: str
    label: str
    upstream_port: int | None = None
    """The paper exchange's upstream-price port (external feeds only)."""
    order_rate: float = 10.0
    """Order requests per second the venue takes (the router keeps to it)."""

    def __repr__(self) -> str:  # never show the key
        return f"Venue({self.label!r}, host={self.host!r}, ws_url={self.ws_url!r})"


def paper_venue(
    rest_port: int, ws_port: int, api_key: str, upstream_port: int | None = None
) -> Venue:
    """Where the engine reaches the paper exchange child on its loopback ports."""
    return Venue(
        host=f"http://127.0.0.1:{rest_port}",
        ws_url=f"ws://127.0.0.1:{ws_port}",
        api_key=api_key,
        label="paper",
        upstream_port=upstream_port,
        order_rate=PAPER_ORDER_RATE,
    )


def _pdeathsig() -> None:
    """In the sim child: die with SIGTERM when the engine (its parent) dies."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _sim_child_setup(nice: int, linux: bool) -> Callable[[], None]:
    """The sim child's pre-exec: below the engine in CPU priority; dies with the engine."""

    def setup() -> None:
        if nice:
            with contextlib.suppress(OSError):
                os.nice(nice)
        if linux:
            _pdeathsig()

    return setup


SIM_ENV_NAMES: Final = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
     "SYSTEMROOT", "PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE", "PYTHONUTF8",
     "PYTHONIOENCODING", "PYTHONUNBUFFERED", "VIRTUAL_ENV"}
)  # fmt: skip
"""What the paper exchange inherits of the engine's environment (plus ``LC_*`` and
``XDG_*``): never a broker's or anyone's key."""


def sim_child_env(key: str) -> dict[str, str]:
    """The paper exchange's environment: the few variables a Python process needs, where the
    user's directories are, and its own API key (not in argv: ps shows argv)."""
    env = {
        name: value
        for name, value in paths.child_env().items()
        if name in SIM_ENV_NAMES or name.startswith(("LC_", "XDG_"))
    }
    env["COCKPIT_SIM_API_KEY"] = key
    return env


class SimChild:
    """``cockpit sim`` on free loopback ports as a child process of the engine."""

    def __init__(self, settings: Settings, *, upstream: bool = False) -> None:
        self.settings = settings
        self.upstream = upstream
        self.proc: subprocess.Popen[bytes] | None = None
        # Its ports file goes in the private runtime directory (0700), not the system temp.
        runtime = paths.runtime_dir()
        paths.ensure_private_dir(runtime)
        self._dir = tempfile.mkdtemp(prefix="sim-", dir=runtime)
        self.ports_file = Path(self._dir) / "ports.json"
        self.venue: Venue | None = None

    def start(self, timeout: float = SIM_START_TIMEOUT_S) -> Venue:
        """Start it and wait for its ports file; return where to connect."""
        key = secrets.token_hex(32)
        sim = self.settings.sim
        argv = [
            sys.executable,
            "-m",
            "cockpit.cli",
            "sim",
            "--rest-port",
            "0",
            "--ws-port",
            "0",
            "--ports-file",
            str(self.ports_file),
            "--rate",
            str(sim.rate),
            "--order-rate-limit",
            str(PAPER_ORDER_RATE),
        ]
        if sim.seed is not None:
            argv += ["--seed", str(sim.seed)]
        if self.upstream:
            argv += ["--upstream-port", "0"]
        for spec in sim.instruments:
            argv += ["--instrument", spec]
        env = sim_child_env(key)
        linux = sys.platform.startswith("linux")
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            argv,
            stdin=subprocess.DEVNULL,
            env=env,
            # The paper exchange stands for a remote venue: it must never take the CPU from
            # the engine (measured: its handler, woken by an exit order, preempted the engine
            # inside that order's send; p50 0.9 ms -> 0.25 ms at nice 10).
            preexec_fn=_sim_child_setup(sim.nice, linux),  # noqa: PLW1509 - no threads yet
            close_fds=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.ports_file.exists():
                try:
                    data = json.loads(self.ports_file.read_text())
                    break
                except (OSError, ValueError):
                    pass
            if self.proc.poll() is not None:
                raise StartupError(
                    f"the paper exchange exited at start (code {self.proc.returncode}); "
                    "see the log above"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise StartupError(f"the paper exchange did not start within {timeout:.0f}s")
            time.sleep(0.05)
        self.venue = paper_venue(
            int(data["rest_port"]),
            int(data["ws_port"]),
            str(data.get("api_key") or key),
            int(data["upstream_port"]) if data.get("upstream_port") else None,
        )
        log.info(
            "paper exchange pid %d: REST %s WS %s",
            self.proc.pid,
            self.venue.host,
            self.venue.ws_url,
        )
        return self.venue

    def alive(self) -> bool:
        """Whether the child is still running."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; remove the ports file. Idempotent."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        with contextlib.suppress(OSError):
            self.ports_file.unlink()
        with contextlib.suppress(OSError):
            os.rmdir(self._dir)


def paper_instruments(settings: Settings) -> list[Instrument]:
    """The paper exchange's universe, computed exactly as ``cockpit sim`` computes it."""
    from cockpit.sim.universe import default_listings, parse_instrument_spec

    listings = list(default_listings())
    listings += [parse_instrument_spec(spec) for spec in settings.sim.instruments]
    return [listing.instrument for listing in listings]


def openalgo_venue(s: Settings) -> Venue:
    """Where an OpenAlgo server is, from the settings (a clear error names what is missing)."""
    v = s.venue
    missing = [
        name
        for name, value in (
            ("--host / OPENALGO_HOST", v.host),
            ("--ws-url / OPENALGO_WS_URL", v.ws_url),
            ("OPENALGO_API_KEY", v.api_key),
        )
        if not value
    ]
    if missing:
        raise StartupError(f"broker openalgo needs {', '.join(missing)}")
    assert v.host is not None
    assert v.ws_url is not None
    assert v.api_key is not None
    key = v.api_key.get_secret_value()
    return Venue(v.host, v.ws_url, key, f"openalgo {v.host}", order_rate=v.order_rate)


def make_router(venue: Venue, sink: Callable[[object], None]) -> OpenAlgoRouter:
    """The order router for ``venue``; its results go to ``sink`` (the engine's queue)."""
    from cockpit.adapters.openalgo.broker import OpenAlgoRouter

    return OpenAlgoRouter(venue.host, venue.api_key, sink, order_rate=venue.order_rate)
