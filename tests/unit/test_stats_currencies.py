"""`cockpit journal stats` over trades in two currencies: the total, the averages and the
expectancy are per currency, never rupees added to tethers; one currency reads as before."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from cockpit.journal.stats import Stats, compute, connect_read_only, render
from cockpit.journal.store import Journal
from cockpit.link.views import FillView

S = 1_000_000_000


def _fill(j: Journal, key: str, cid: str, side: str, qty: str, price: str, ts: int) -> None:
    j.fill(FillView(cid, key, side, Decimal(qty), Decimal(price), ts), trade_id=cid)


def _stats(path: Path) -> Stats:
    conn = connect_read_only(path)
    try:
        return compute(conn)
    finally:
        conn.close()


def test_totals_and_averages_are_per_currency(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    j = Journal.open(path, checkpoint_interval_s=None)
    _fill(j, "NSE:SBIN", "e1", "BUY", "10", "800.00", 1 * S)
    _fill(j, "NSE:SBIN", "x1", "SELL", "10", "795.00", 2 * S)  # INR -50.00
    _fill(j, "BINANCE:BTCUSDT", "e2", "BUY", "1", "60000.00", 3 * S)
    _fill(j, "BINANCE:BTCUSDT", "x2", "SELL", "1", "60030.00", 4 * S)  # USDT +30.00
    j.close()
    stats = _stats(path)
    assert stats.totals == {"INR": Decimal("-50.00"), "USDT": Decimal("30.00")}
    lines = render(stats)
    assert "total P&L   INR -50.00  USDT 30.00" in lines
    assert "expectancy  INR -50.00  USDT 30.00 per trade" in lines
    assert "avg win     USDT 30.00" in lines
    assert not any("-20.00" in line for line in lines)  # never their sum


def test_one_currency_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    j = Journal.open(path, checkpoint_interval_s=None)
    _fill(j, "NSE:SBIN", "e1", "BUY", "10", "800.00", 1 * S)
    _fill(j, "NSE:SBIN", "x1", "SELL", "10", "795.00", 2 * S)
    j.close()
    lines = render(_stats(path))
    assert "total P&L   -50.00" in lines
    assert "expectancy  -50.00 per trade" in lines


def test_the_groups_by_hour_and_reason_are_per_currency(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    j = Journal.open(path, checkpoint_interval_s=None)
    _fill(j, "NSE:SBIN", "e1", "BUY", "10", "800.00", 1 * S)
    _fill(j, "NSE:SBIN", "x1", "SELL", "10", "795.00", 2 * S)
    _fill(j, "BINANCE:BTCUSDT", "e2", "BUY", "1", "60000.00", 3 * S)
    _fill(j, "BINANCE:BTCUSDT", "x2", "SELL", "1", "60030.00", 4 * S)
    j.close()
    lines = render(_stats(path))
    reasons = lines[lines.index("by exit reason") + 1 :]
    assert [line.split() for line in reasons] == [
        ["external", "INR", "1", "-50.00"],
        ["external", "USDT", "1", "30.00"],
    ]
