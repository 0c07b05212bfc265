"""Chart series: roll-up of history into larger bars and the merge of history with live bars."""

from __future__ import annotations

from decimal import Decimal

from cockpit.engine.charts import NS, SymbolChart, merge_history, roll_up
from cockpit.link.protocol import BarView

M = 60 * NS


def _bar(start: int, o: int, h: int, lo: int, c: int, v: int) -> BarView:
    return BarView(start, o, h, lo, c, Decimal(v))


def test_roll_up_aligns_to_the_epoch_and_sums_volume() -> None:
    minutes = [_bar(i * M, 10 + i, 12 + i, 9 + i, 11 + i, 1) for i in range(3, 8)]
    assert roll_up(minutes, 5 * M) == [
        _bar(0, 13, 16, 12, 15, 2),
        _bar(5 * M, 15, 19, 14, 18, 3),
    ]


def test_history_before_live_and_the_shared_bar_merged() -> None:
    history = [_bar(0, 10, 12, 9, 11, 5), _bar(M, 11, 15, 8, 14, 7)]
    live = [_bar(M, 13, 16, 12, 13, 2), _bar(2 * M, 13, 13, 13, 13, 1)]
    assert merge_history(live, history) == [
        history[0],
        _bar(M, 11, 16, 8, 13, 7),  # history's open, widest range, live close, larger volume
        live[1],
    ]


def test_a_bar_in_progress_takes_the_historys_open_until_it_closes() -> None:
    chart = SymbolChart.new("NSE:SBIN", (60,))
    chart.on_trade(100, Decimal(2), M + 10 * NS, "buy", True)
    chart.backfill(60, [_bar(0, 90, 95, 89, 94, 4), _bar(M, 95, 101, 94, 99, 6)], M + 20 * NS)
    assert chart.series(60) == [_bar(0, 90, 95, 89, 94, 4), _bar(M, 95, 101, 94, 100, 6)]
    chart.on_trade(102, Decimal(1), 2 * M + NS, "buy", True)  # closes the merged bar
    assert chart.series(60)[-2:] == [
        _bar(M, 95, 101, 94, 100, 6),
        _bar(2 * M, 102, 102, 102, 102, 1),
    ]
