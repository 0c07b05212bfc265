"""Numbers typed by the trader: plain digits and one point, refused in words otherwise."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cockpit.ui.numbers import NumberError, parse_positive, parse_whole_ticks


@pytest.mark.parametrize(
    ("text", "value"), [("1", Decimal(1)), (" 800.05 ", Decimal("800.05")), (".5", Decimal("0.5"))]
)
def test_plain_numbers_are_read_exactly(text: str, value: Decimal) -> None:
    assert parse_positive(text) == value


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "required"),
        ("NaN", "'NaN' is not a number"),
        ("sNaN", "'sNaN' is not a number"),
        ("+inf", "'+inf' is not a number"),
        ("1e999", "'1e999' is not a number (digits and one decimal point)"),
        ("1.2.3", "'1.2.3' is not a number (digits and one decimal point)"),
        ("１２", "'１２' is not a number (digits and one decimal point)"),
        ("-0", "must be above zero"),
        ("0.000", "must be above zero"),
        ("1000000000000", "'1000000000000' is too large"),
    ],
)
def test_hostile_text_is_refused_in_words(text: str, words: str) -> None:
    with pytest.raises(NumberError) as err:
        parse_positive(text)
    assert str(err.value) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("²", "'²' is not a whole number of ticks"),
        ("+3", "'+3' is not a whole number of ticks"),
        ("00", "must be at least 1 tick"),
        ("1000001", "'1000001' is too many ticks"),
    ],
)
def test_ticks_are_whole_ascii_numbers_in_range(text: str, words: str) -> None:
    with pytest.raises(NumberError) as err:
        parse_whole_ticks(text)
    assert str(err.value) == words
    assert parse_whole_ticks(" 12 ") == 12


@pytest.mark.parametrize("typed", ["٣", "３", "²", "⅓", "-", ".", "e", "\x00"])
def test_the_count_grammar_takes_only_ascii_digits(typed: str) -> None:
    """A count typed before a key (``3]``) is ASCII digits: another script's digit, a sign, a
    point or an exponent is no count (the key is left to its binding)."""
    from cockpit.ui.count import MAX_DIGITS, Count

    count = Count()
    assert not count.push(typed)
    assert count.pending is None
    for _ in range(MAX_DIGITS + 3):
        count.push("9")
    assert count.take() == int("9" * MAX_DIGITS)  # a slip of the finger is capped
