"""Which side initiated a trade: the feed's word, else the prevailing quote, else the tick rule."""

from __future__ import annotations

from decimal import Decimal

from cockpit.domain.instruments import Exchange, Instrument
from cockpit.domain.market import QuoteTick, TradeTick
from cockpit.engine.market import aggressor
from cockpit.engine.state import SymbolState

INST = Instrument(Exchange.NSE, "SBIN", tick_size=Decimal("0.05"))


def _quote() -> QuoteTick:
    return QuoteTick(recv_ns=1, exchange="NSE", symbol="SBIN", ltp=Decimal("800"))


def test_the_feeds_aggressor_wins_over_the_quote() -> None:
    trade = TradeTick(
        recv_ns=1, exchange="NSE", symbol="SBIN", ltp=Decimal("800"), aggressor="sell"
    )
    assert aggressor(trade, 16_001, (16_000, 16_001), SymbolState(INST)) == ("sell", False)


def test_at_the_ask_a_buy_at_the_bid_a_sell_inside_the_nearer_side() -> None:
    sym = SymbolState(INST)
    assert aggressor(_quote(), 16_004, (16_000, 16_004), sym) == ("buy", True)
    assert aggressor(_quote(), 16_005, (16_000, 16_004), sym) == ("buy", True)
    assert aggressor(_quote(), 16_000, (16_000, 16_004), sym) == ("sell", True)
    assert aggressor(_quote(), 16_003, (16_000, 16_004), sym) == ("buy", True)
    assert aggressor(_quote(), 16_001, (16_000, 16_004), sym) == ("sell", True)


def test_at_the_mid_or_without_a_quote_the_tick_rule() -> None:
    sym = SymbolState(INST)
    assert aggressor(_quote(), 16_002, (16_000, 16_004), sym) == ("", True)  # nothing known
    sym.last_trade, sym.last_side = 16_001, "sell"
    assert aggressor(_quote(), 16_002, (16_000, 16_004), sym) == ("buy", True)
    assert aggressor(_quote(), 16_000, (None, None), sym) == ("sell", True)
    assert aggressor(_quote(), 16_001, (None, None), sym) == ("sell", True)  # same: as before
