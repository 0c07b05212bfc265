"""Issue 17.6: a quote or book of a contract with no trade today (ltp 0) is kept, with no last
price; it never moves an exit or a mark, and viewers get the quote and book at once, with no
last price (``ltp`` None, not 0)."""

from __future__ import annotations

from decimal import Decimal

from cockpit.domain.market import DepthTick, LtpTick, QuoteTick
from cockpit.link import protocol as p
from tests.unit.test_engine_core import NIFTY, Rig


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
    rig.engine.handle(untraded(QuoteTick, rig))
    rig.engine.handle(untraded(DepthTick, rig))
    sym = rig.engine._syms[NIFTY.key]
    assert sym.ltp is None
    assert (sym.bid, sym.ask) == (2010, 2030)
    assert rig.engine.counters["bad_ticks"] == 0
    rig.engine.flush_screen()  # the screen's state is folded: the latest quote goes out
    published = [q for q in rig.pub.quotes if q.key == NIFTY.key]
    assert [(q.ltp, q.bid, q.ask, q.close) for q in published] == [(None, 2010, 2030, 2020)]
    snap = rig.engine.snapshot()
    (quote,) = [q for q in snap.quotes if q.key == NIFTY.key]
    assert (quote.ltp, quote.bid, quote.ask) == (None, 2010, 2030)
    assert [b.key for b in snap.books] == [NIFTY.key]
    # On the wire "no last price" is no ``ltp`` at all, and decodes back to None.
    wire = p.encode(p.MarketBatch(seq=1, quotes=[quote]))[4:]  # the body (no length prefix)
    assert b"ltp" not in wire
    (back,) = p.decode_to_viewer(wire).quotes  # type: ignore[union-attr]
    assert back.ltp is None
    # An entry still needs a last price.
    answer = rig.command(p.PlaceEntry, key=NIFTY.key, side="BUY", qty=Decimal(50))
    assert isinstance(answer, p.Refused)
    assert "no price yet" in answer.message
    # The first trade brings the book that was kept to the viewers.
    rig.clock.now += 1_000_000
    rig.engine.handle(LtpTick(rig.clock.now, str(NIFTY.exchange), NIFTY.symbol, Decimal("101")))
    rig.engine.flush_screen()
    quote = [q for q in rig.pub.quotes if q.key == NIFTY.key][-1]
    assert (quote.ltp, quote.bid, quote.ask, quote.close) == (2020, 2010, 2030, 2020)
    assert (quote.bid_qty, quote.ask_qty) == (Decimal(75), Decimal(150))


def test_an_empty_or_unreadable_touch_is_no_touch_and_no_error() -> None:
    """A side whose best price is 0 (empty) or not a number has no touch; the tick's last
    price still counts (a NaN best bid once raised an internal error on the comparison)."""
    rig = Rig()
    rig.start()
    for bad in (Decimal(0), Decimal("NaN")):
        rig.clock.now += 1_000_000
        rig.engine.handle(
            QuoteTick(
                rig.clock.now,
                str(NIFTY.exchange),
                NIFTY.symbol,
                Decimal("101.00"),
                bids=((bad, Decimal(75), 2),),
                asks=((Decimal("101.50"), Decimal(150), 1),),
            )
        )
        sym = rig.engine._syms[NIFTY.key]
        assert (sym.ltp, sym.bid, sym.ask) == (2020, None, 2030)
    assert rig.engine.counters["errors"] == 0
