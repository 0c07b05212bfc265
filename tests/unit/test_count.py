"""The count grammar's parsing (the keys themselves: tests/ui/test_trade_keys.py)."""

from __future__ import annotations

from cockpit.ui.count import Count, apply_count, hands_on


def test_digits_collect_and_a_key_takes_them() -> None:
    c = Count()
    assert not c.push("0")  # a leading zero is no count
    assert c.push("1")
    assert c.push("0")
    assert not c.push("b")
    assert not c.push(None)
    assert not c.push("²")
    assert c.pending == 10
    assert c.take() == 10
    assert c.pending is None
    assert c.take() is None


def test_a_slip_of_the_finger_is_capped() -> None:
    c = Count()
    for _ in range(12):
        c.push("9")
    assert c.pending == 999_999


def test_esc_clears() -> None:
    c = Count()
    assert not c.clear()
    c.push("3")
    assert c.clear()
    assert c.pending is None


def test_the_count_scales_ticks_and_becomes_a_quantity() -> None:
    assert apply_count("stop_move(-1)", 3) == "stop_move(-3)"
    assert apply_count("target_move(1)", 5) == "target_move(5)"
    assert apply_count("ladder.move(-10)", 2) == "ladder.move(-20)"
    assert apply_count("buy_market", 10) == "buy_market(10)"
    assert apply_count("ladder_limit('BUY', 15990)", 7) == "ladder_limit('BUY', 15990, 7)"
    assert apply_count("set_risk_budget", 2000) == "set_risk_budget(2000)"
    assert apply_count("flatten", 4) == "flatten"
    assert apply_count("stop_move(-1)", None) == "stop_move(-1)"


def test_enter_on_the_ladder_leaves_the_count_to_the_limit_it_asks_for() -> None:
    assert hands_on("limit_here")
    assert not hands_on("buy_market")
