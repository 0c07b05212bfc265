"""Issue 21.6 through the real command: `cockpit --read-only` (a viewer that cannot trade) and
`cockpit engine status --json` (machine-readable), on the embedded paper exchange."""

from __future__ import annotations

import json
import time

from tests.e2e.test_tui_tmux import Term, term  # noqa: F401 - the fixture

__all__ = ["term"]


def start_with(t: Term, width: int, height: int, *argv: str, session: str = "main") -> None:
    """Run `cockpit ARGV…` in a new tmux session."""
    env_args = [f"{k}={v}" for k, v in t.env.items() if k.startswith(("XDG_", "PYTHON"))]
    t.tmux(
        "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height),
        "env", *env_args, f"PATH={t.env['PATH']}", "TERM=screen-256color", "cockpit", *argv,
    )  # fmt: skip


def status_json(t: Term) -> tuple[int, dict[str, object]]:
    out = t.cli("engine", "status", "--json")
    return out.returncode, json.loads(out.stdout)


def test_status_json_and_a_read_only_viewer(term: Term) -> None:  # noqa: F811
    # No engine: a read-only viewer does not start one; status --json says so.
    out = term.cli("--read-only")
    assert out.returncode == 3
    assert "never starts one" in out.stderr
    rc, doc = status_json(term)
    assert rc == 3
    assert doc == {"state": "not running", "profile": "default"}

    assert term.cli("engine", "start").returncode == 0
    deadline = time.monotonic() + 20
    while True:
        rc, doc = status_json(term)
        feeds = doc.get("feeds") or []
        if rc == 0 and feeds and all(f["state"] == "live" for f in feeds):  # type: ignore[index,union-attr]
            break
        assert time.monotonic() < deadline, doc
        time.sleep(0.2)
    assert doc["state"] == "running"
    assert doc["profile"] == "default"
    assert doc["venue"] == "paper"
    assert doc["positions"] == 0
    assert doc["working_orders"] == 0
    assert doc["armed"] is False
    assert doc["locked"] is None
    assert isinstance(doc["pid"], int)

    start_with(term, 120, 40, "--read-only")
    screen = term.wait_screen(lambda s: "◀LTP" in s and "READ-ONLY" in s, timeout=20)
    assert "DISARMED" not in screen
    term.keys("a", "b", "s")  # arm, buy, sell: none of them is offered
    term.wait_screen(lambda s: "read-only viewer" in s, timeout=10)
    rc, doc = status_json(term)
    assert doc["armed"] is False
    assert doc["positions"] == 0
    assert doc["working_orders"] == 0
    assert doc["viewers"] == 1  # the read-only TUI (this status check not counted)
    # Quitting a read-only viewer leaves the engine running.
    term.keys("C-q")
    deadline = time.monotonic() + 20
    while term.has_session() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not term.has_session()
    rc, doc = status_json(term)
    assert rc == 0
    assert doc["state"] == "running"
