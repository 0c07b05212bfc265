"""Money in a coin (a pair quoted in BTC or ETH) is not cut to two places: an ETHBTC gain of
0.00105 BTC read "+0.00" on the status bar and in `cockpit engine status`."""

from __future__ import annotations

from decimal import Decimal

from cockpit.domain.positions import money_text, pnls_text
from cockpit.domain.risk import loss_words


def test_fiat_and_stablecoins_read_to_two_places() -> None:
    assert money_text(Decimal("-1005.004")) == "-1,005.00"
    assert money_text(Decimal("12.345"), currency="USDT") == "+12.35"
    assert money_text(Decimal("3"), currency="INR") == "+3.00"


def test_a_coin_reads_to_its_significant_places() -> None:
    assert money_text(Decimal("0.00105"), currency="BTC") == "+0.00105"
    assert money_text(Decimal("-0.000000123"), currency="BTC") == "-0.00000012"
    assert money_text(Decimal("2"), currency="ETH") == "+2.00"


def test_the_day_pnl_per_currency_keeps_a_coins_places() -> None:
    text = pnls_text(Decimal(0), {"USDT": Decimal("-50"), "BTC": Decimal("0.0010")})
    assert text == "BTC +0.001  USDT -50.00"
    assert loss_words(Decimal("-0.0021"), Decimal("0.002"), "BTC") == (
        "day P&L BTC -0.0021 reached the loss limit BTC 0.002"
    )
