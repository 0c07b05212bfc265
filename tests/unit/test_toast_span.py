"""Where the trading screen's toasts go beside or over the ladder (``toast_span``)."""

from __future__ import annotations

from textual.geometry import Region

from cockpit.ui.toasts import Span, toast_span
from cockpit.ui.widgets.ladder_flow import fit_columns


def test_room_right_of_the_ladder_comes_first() -> None:
    ladder = Region(67, 3, 50, 30)
    cols = fit_columns(48, 8)
    assert toast_span(160, ladder, ladder.shrink((0, 1, 0, 1)), cols, 8) == Span(117, 43)


def test_over_the_ladders_order_flow_between_its_sell_column_and_its_marks() -> None:
    ladder = Region(0, 1, 80, 12)
    cols = fit_columns(80, 8)
    span = toast_span(80, ladder, ladder, cols, 8)
    core = cols.core(8)  # Buy Bid Price Ask Sell
    assert span == Span(core + 1, cols.flow() - 1)
    assert span.x + span.width < 80 - 10  # the marks' room is left alone


def test_left_of_the_ladder_when_it_has_no_flow_columns_and_nothing_on_its_right() -> None:
    ladder = Region(40, 1, 40, 12)
    cols = fit_columns(40, 8)
    assert toast_span(80, ladder, ladder, cols, 8) == Span(0, 40)


def test_nowhere_special_when_the_ladder_is_hidden_or_fills_a_narrow_screen() -> None:
    assert toast_span(80, Region(0, 0, 0, 0), Region(0, 0, 0, 0), None, 0) is None
    narrow = Region(0, 1, 40, 12)
    assert toast_span(40, narrow, narrow, fit_columns(40, 8), 8) is None
