"""Two starts at once: the one whose engine lost the race attaches to the winner's.

Found in a tmux trial: two TUIs on an engine that had stopped both pressed `r` (restart). One
engine came up; the other TUI's engine exited at start ("an engine is already running for this
profile") and that TUI showed "cannot reach the engine: the engine exited at start" over a
running engine instead of attaching to it. Two `cockpit` commands opened at once (two tmux
panes) or `cockpit engine start` beside a starting TUI race the same way.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from cockpit.link.client import EngineClient
from tests.integration.test_engine_cli import Env, temp_env

pytest.importorskip("cockpit.engine.core", reason="the engine core is not in this tree yet")


@pytest.fixture
def env() -> Iterator[Env]:
    yield from temp_env("ckr")


def test_two_starts_at_once_both_end_attached_to_one_engine(env: Env) -> None:
    first = env.popen("engine", "start")
    second = env.popen("engine", "start")
    try:
        outs = [p.communicate(timeout=120) for p in (first, second)]
        codes = [first.returncode, second.returncode]
        assert codes == [0, 0], (codes, outs, env.log.read_text())
        pid = int(env.pidfile.read_text())
        said = sorted(out.split("(")[0] for out, _ in outs)
        assert said == [  # one started it, the other found it running: neither failed
            "cockpit engine: already running for profile default ",
            "cockpit engine: started for profile default ",
        ], outs
        assert all(f"pid {pid}," in out for out, _ in outs), outs
        assert len(env.our_processes()) == 2  # one engine and its paper exchange
        with EngineClient.connect(path=env.socket, client="test") as c:
            assert c.welcome.engine_pid == pid
    finally:
        env.cli("engine", "stop")
    assert not env.wait_gone()


def test_two_attaches_at_once_attach_to_one_engine_and_one_of_them_started_it(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What two TUIs do (`cockpit` in two panes, or `r` on both restart dialogs): both attach;
    only the one whose engine runs says it started it (quitting that one may stop it)."""
    from concurrent.futures import ThreadPoolExecutor

    from cockpit.config import load_settings
    from cockpit.link.attach import Attached, attach_or_start

    for name in list(os.environ):
        if name.startswith(("COCKPIT_", "OPENALGO_", "KITE_")):
            monkeypatch.delenv(name)
    for name in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, env.env[name])
    monkeypatch.setenv("PYTHONPATH", env.env["PYTHONPATH"])
    settings = load_settings()
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(attach_or_start, settings, client="tui-test") for _ in range(2)]
        attached: list[Attached] = []
        errors: list[BaseException] = []
        for f in futures:
            try:
                attached.append(f.result(timeout=120))
            except Exception as exc:  # noqa: BLE001 - reported below, after the cleanup
                errors.append(exc)
    try:
        assert not errors, errors
        pids = {a.client.welcome.engine_pid for a in attached}
        assert pids == {int(env.pidfile.read_text())}
        assert sorted(a.started for a in attached) == [False, True]
    finally:
        for a in attached:
            a.client.close()
        env.cli("engine", "stop")
    assert not env.wait_gone()


def test_a_killed_engine_leaves_no_paper_exchange_directory_behind(env: Env) -> None:
    """Each SIGKILL of an engine left an empty ``sim-*`` directory in the runtime directory
    (a tmpfs on a VPS; found in a tmux trial with five of them): the paper exchange removed its
    ports file but only a ``cockpit-sim-*`` directory, not the engine's ``sim-*`` one."""
    runtime = env.socket.parent
    assert env.cli("engine", "start").returncode == 0
    assert len(list(runtime.glob("sim-*"))) == 1  # the running paper exchange's
    os.kill(int(env.pidfile.read_text()), signal.SIGKILL)
    assert env.wait_gone() == []  # the paper exchange died with it
    assert list(runtime.glob("sim-*")) == []
