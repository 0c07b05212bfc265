"""Issue 17.6: a quote or book of a contract with no trade today (ltp 0) is kept, with no last
price; it never moves an exit, a mark or the stale-data clock's price."""

from __future__ import annotations

from decimal import Decimal

from cockpit.domain.market import DepthTick, QuoteTick
from cockpit.link import protocol as p
from tests.unit.test_engine_core import NIFTY, Rig


class BookRecorder:
    """Keeps the books the engine publishes alongside its quotes."""

    def __init__(self, rig: Rig) -> None:
        self.books: list[p.BookView] = []
        inner = rig.pub.market

        def market(quote: p.QuoteView, book: p.BookView | None = None) -> None:
            inner(quote, book)
            if book is not None:
                self.books.append(book)

        rig.pub.market = market  # type: ignore[method-assign]


def untraded(cls: type, rig: Rig) -> QuoteTick:
    rig.clock.now += 1_000_000
    return cls(  # type: ignore[no-any-return]
        rig.clock.now,
        str(NIFTY.exchange),
        NIFTY.symbol,
        Decimal(0),
        close=Decimal("101.00"),
        bids=((Decimal("100.50"), Decimal(75), 2),),
        asks=((Decimal("101.50"), Decimal(150), 1),),
    )


def test_an_untraded_contracts_quote_and_book_are_kept_without_a_last_price() -> None:
    rig = Rig()
    rig.start()
    books = BookRecorder(rig)
    rig.engine.handle(untraded(QuoteTick, rig))
    quote = rig.pub.quotes[-1]
    assert quote.key == NIFTY.key
    assert (quote.bid, quote.ask) == (2010, 2030)
    assert (quote.bid_qty, quote.ask_qty) == (Decimal(75), Decimal(150))
    assert quote.close == 2020
    assert rig.engine._syms[NIFTY.key].ltp is None
    assert rig.engine.counters["bad_ticks"] == 0
    rig.engine.handle(untraded(DepthTick, rig))
    assert books.books[-1].bids == [(2010, Decimal(75), 2)]
    assert books.books[-1].asks == [(2030, Decimal(150), 1)]
    # An entry still needs a last price.
    answer = rig.command(p.PlaceEntry, key=NIFTY.key, side="BUY", qty=Decimal(50))
    assert isinstance(answer, p.Refused)
    assert "no price yet" in answer.message
