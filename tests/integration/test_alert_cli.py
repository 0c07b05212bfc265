"""``cockpit alert add|list|rm`` against a running engine (`cockpit engine run` on the paper
exchange), as a script or a trader on another SSH session would use it."""

from __future__ import annotations

import time

from tests.integration.test_journal_stats import cli
from tests.ui.test_engine_pilot import running_engine


def test_alerts_from_the_command_line() -> None:
    with running_engine() as engine:
        env = engine.env
        engine.price("SBIN", "800.00")  # a tick the engine sees (a price alert needs one)
        time.sleep(0.5)
        out = cli("alert", "add", "price", "NSE:SBIN", "802.50", "--", "breakout", env=env)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "alert 1: NSE:SBIN at or above 802.50"
        out = cli("alert", "add", "pnl", "-5000", env=env)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "alert 2: day P&L at or below -5,000.00"
        assert cli("alert", "add", "exit", "NSE:SBIN", env=env).returncode == 0
        bad = cli("alert", "add", "price", "NSE:SBIN", "802.52", env=env)
        assert bad.returncode == 2
        assert "not on NSE:SBIN's tick of 0.05" in bad.stderr
        refused = cli("alert", "add", "price", "NSE:SBIN", "800.00", env=env)
        assert refused.returncode == 1
        assert "refused (invalid)" in refused.stderr
        listed = cli("alert", "list", env=env)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.splitlines() == [
            "#1    NSE:SBIN at or above 802.50 — breakout",
            "#2    day P&L at or below -5,000.00",
            "#3    every exit of NSE:SBIN",
        ]
        assert cli("alert", "rm", "2", env=env).returncode == 0
        assert cli("alert", "rm", "2", env=env).returncode == 1  # gone already
        assert len(cli("alert", "list", env=env).stdout.splitlines()) == 2
        assert cli("alert", "rm", "all", env=env).stdout.strip() == "2 alert(s) removed"
        assert cli("alert", "list", env=env).stdout.strip() == "no alerts"
    gone = cli("alert", "list", env=env)
    assert gone.returncode == 3
