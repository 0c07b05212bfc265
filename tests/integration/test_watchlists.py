"""Named watchlists kept by the engine (journal): switched, edited, and restored after a restart,
with their sort column and column choice; a symbol with an open position stays on a switch."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from engine_stack import Stack

from cockpit.link import protocol as p

SYMBOLS = ["SBIN", "INFY", "TCS", "HDFCBANK"]


def test_a_restart_keeps_the_watchlists_their_view_and_the_active_one(tmp_path: Path) -> None:
    stack = Stack(tmp_path, symbols=SYMBOLS).start()
    try:
        engine = stack.engine
        assert engine.active_watchlist == "default"
        assert sorted(engine.watchlist) == ["NSE:HDFCBANK", "NSE:INFY", "NSE:SBIN", "NSE:TCS"]
        assert isinstance(stack.command(p.Unsubscribe, keys=["NSE:INFY"]), p.Ack)
        answer = stack.command(p.SwitchWatchlist, name="banks", keys=["NSE:SBIN", "NSE:HDFCBANK"])
        assert isinstance(answer, p.Ack), answer
        assert engine.watchlist == ["NSE:SBIN", "NSE:HDFCBANK"]
        stack.command(p.SetWatchlistView, sort="change", columns=["symbol", "ltp", "pct"])
        assert isinstance(stack.command(p.Subscribe, keys=["NSE:TCS"]), p.Ack)
        changed = stack.rec.of(p.WatchlistsChanged)[-1]
        assert changed.active == "banks"
        assert sorted(w.name for w in changed.watchlists) == ["banks", "default"]
    finally:
        stack.stop()
    again = Stack(tmp_path, symbols=SYMBOLS).start()
    try:
        engine = again.engine
        assert engine.active_watchlist == "banks"
        assert engine.watchlist == ["NSE:SBIN", "NSE:HDFCBANK", "NSE:TCS"]
        snap = engine.snapshot()
        assert snap.active_watchlist == "banks"
        lists = {w.name: w for w in snap.watchlists}
        assert lists["banks"].sort == "change"
        assert lists["banks"].columns == ["symbol", "ltp", "pct"]
        assert "NSE:INFY" not in lists["default"].keys
        assert sorted(lists["default"].keys) == ["NSE:HDFCBANK", "NSE:SBIN", "NSE:TCS"]
        assert isinstance(again.command(p.SwitchWatchlist, name="default"), p.Ack)
        assert sorted(engine.watchlist) == ["NSE:HDFCBANK", "NSE:SBIN", "NSE:TCS"]
        refused = again.command(p.DeleteWatchlist, name="default")
        assert isinstance(refused, p.Refused)
        assert isinstance(again.command(p.DeleteWatchlist, name="banks"), p.Ack)
        assert [w.name for w in engine.snapshot().watchlists] == ["default"]
    finally:
        again.stop()


def test_switching_keeps_a_symbol_with_an_open_position(tmp_path: Path) -> None:
    stack = Stack(tmp_path, symbols=SYMBOLS).start()
    try:
        stack.price("SBIN", "800.00")
        key = stack.by_symbol["SBIN"].key
        stack.command(p.PlaceEntry, key=key, side="BUY", qty=Decimal(1), plan=p.PlanSpec(none=True))
        stack.wait_position("SBIN", 1)
        answer = stack.command(p.SwitchWatchlist, name="it", keys=["NSE:INFY", "NSE:TCS"])
        assert isinstance(answer, p.Ack)
        assert "kept NSE:SBIN" in answer.message
        assert stack.engine.watchlist == ["NSE:INFY", "NSE:TCS", "NSE:SBIN"]
        assert stack.command(p.SwitchWatchlist, name="").rule == "invalid"
        assert stack.command(p.SwitchWatchlist, name="x", keys=["nope"]).rule == "unknown_symbol"
    finally:
        stack.stop()
