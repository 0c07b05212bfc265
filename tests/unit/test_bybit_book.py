"""The Bybit order book rules: snapshot, delta, a gap in ``u``, ``u == 1``, a stale ``seq``."""

from __future__ import annotations

from decimal import Decimal

from cockpit.adapters.bybit.book import BybitBook
from cockpit.adapters.bybit.decode import BookData


def msg(u: int, seq: int, b: list[tuple[str, str]], a: list[tuple[str, str]]) -> BookData:
    return BookData(
        "BTCUSDT",
        [(Decimal(p), Decimal(q)) for p, q in b],
        [(Decimal(p), Decimal(q)) for p, q in a],
        u,
        seq,
    )


def test_snapshot_then_deltas_set_delete_and_insert() -> None:
    book = BybitBook("BTCUSDT")
    assert book.on_message("delta", msg(5, 50, [("1", "1")], [])) is False  # before a snapshot
    assert book.on_message("snapshot", msg(10, 100, [("99", "1"), ("98", "2")], [("101", "3")]))
    assert book.on_message("delta", msg(11, 101, [("99", "0"), ("97", "5")], [("101", "4")]))
    assert book.top(5) == (
        [(Decimal(98), Decimal(2)), (Decimal(97), Decimal(5))],
        [(Decimal(101), Decimal(4))],
    )
    assert book.on_message("delta", msg(11, 101, [("96", "1")], [])) is False  # already applied
    assert book.u == 11


def test_a_gap_in_u_drops_the_book_until_a_snapshot() -> None:
    book = BybitBook("BTCUSDT")
    book.on_message("snapshot", msg(10, 100, [("99", "1")], [("101", "1")]))
    assert book.on_message("delta", msg(13, 103, [("98", "1")], [])) is None
    assert not book.synced
    assert book.gaps == 1
    assert book.on_message("delta", msg(14, 104, [("97", "1")], [])) is False
    assert book.on_message("snapshot", msg(20, 120, [("95", "1")], [("105", "1")]))
    assert book.top(5) == ([(Decimal(95), Decimal(1))], [(Decimal(105), Decimal(1))])


def test_u_one_replaces_the_book_even_as_a_delta() -> None:
    book = BybitBook("BTCUSDT")
    book.on_message("snapshot", msg(500, 100, [("99", "1")], [("101", "1")]))
    assert book.on_message("delta", msg(1, 5, [("50", "2")], [("51", "2")]))
    assert book.top(5) == ([(Decimal(50), Decimal(2))], [(Decimal(51), Decimal(2))])
    assert book.restarts == 1
    assert book.on_message("delta", msg(2, 6, [("49", "1")], []))


def test_an_older_seq_is_stale() -> None:
    book = BybitBook("BTCUSDT")
    book.on_message("snapshot", msg(10, 100, [("99", "1")], [("101", "1")]))
    assert book.on_message("delta", msg(11, 90, [("98", "1")], [])) is False
    assert book.ignored == 1
    assert book.u == 10
