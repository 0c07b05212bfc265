"""The simulated market: prices on the grid, a sane quote and book, texture, reproducibility."""

from __future__ import annotations

import math
import statistics
from decimal import Decimal

import pytest

from cockpit.sim.market import BOOK_LEVELS, Market, SymbolState
from cockpit.sim.universe import default_listings, parse_instrument_spec

NS = 1_800_000_000_000_000_000


def _market(seed: int | None = 1, rate: float = 10.0) -> Market:
    return Market(default_listings(), seed, rate)


def _walk(state: SymbolState, n: int) -> list[int]:
    path = []
    for i in range(n):
        state.step(NS + i * 100_000_000)
        path.append(state.ltp)
    return path


@pytest.mark.parametrize("key", [k for k in Market(default_listings(), 1, 10).states])
def test_quote_and_book_are_consistent(key: str) -> None:
    state = _market().states[key]
    for i in range(3000):
        state.step(NS + i * 100_000_000)
        assert state.ltp > 0
        assert state.low <= state.ltp <= state.high
        if state.tradable:
            assert 0 < state.bid < state.ask
            assert state.bid <= state.ltp <= state.ask
            bids, asks = state.book(20)
            assert [p for p, _, _ in bids] == list(range(state.bid, state.bid - len(bids), -1))
            assert [p for p, _, _ in asks] == list(range(state.ask, state.ask + BOOK_LEVELS))
            assert all(q > 0 and 0 < o <= q for _, q, o in bids + asks)
        else:
            assert state.book(5) == ([], [])
    # Prices are exact multiples of the tick.
    price = state.px(state.ltp)
    assert price % state.inst.tick_size == 0
    assert price.as_tuple().exponent == -state.inst.precision


def test_seed_reproduces_the_path_and_different_seeds_differ() -> None:
    a = _walk(_market(42).states["NSE:SBIN"], 500)
    b = _walk(_market(42).states["NSE:SBIN"], 500)
    c = _walk(_market(43).states["NSE:SBIN"], 500)
    assert a == b
    assert a != c


def test_volatility_clusters_and_jumps_happen() -> None:
    state = _market(9, rate=1.0).states["NSE:INFY"]
    path = _walk(state, 20000)
    rets = [math.log(b / a) for a, b in zip(path, path[1:], strict=False) if True]
    absr = [abs(r) for r in rets]
    mean = statistics.fmean(absr)
    # Clustering: big moves follow big moves (autocorrelation of |r| at lag 1 is positive).
    cov = statistics.fmean((x - mean) * (y - mean) for x, y in zip(absr, absr[1:], strict=False))
    assert cov / statistics.pvariance(absr) > 0.05
    # Fat tails: some moves far beyond the typical one.
    sd = statistics.pstdev(rets)
    assert max(absr) > 5 * sd


def test_rate_does_not_change_volatility_per_second() -> None:
    slow = _market(3, rate=1.0).states["NSE:TCS"]
    fast = _market(3, rate=100.0).states["NSE:TCS"]
    assert fast.k == pytest.approx(slow.k / 10)


def test_set_price_moves_quote_and_records_a_trade() -> None:
    state = _market().states["NSE:SBIN"]
    volume = state.volume
    state.set_price(16_000, NS)  # 800.00
    assert state.px(state.ltp) == Decimal("800.00")
    assert (state.bid, state.ask) == (15_999, 16_001)
    assert state.volume == volume + 1
    state.set_price(16_010, NS, bid=16_009, ask=16_010)
    assert (state.bid, state.ask) == (16_009, 16_010)
    change, pct = state.change()
    assert change == state.px(16_010) - state.px(state.prev_close)
    assert pct == (change / state.px(state.prev_close) * 100).quantize(Decimal("0.01"))


def test_fractional_lots_and_added_instruments() -> None:
    btc = _market().states["CRYPTO:BTCUSDT"]
    assert btc.qty(123) == Decimal("0.00123")
    listing = parse_instrument_spec("NSE:ITC:431.37")
    assert listing.start_price == Decimal("431.35")  # snapped to the 0.05 grid
    market = Market([listing], 1, 10)
    state = market.states["NSE:ITC"]
    _walk(state, 100)
    assert state.qty(7) == 7
    with pytest.raises(ValueError, match="unknown exchange"):
        parse_instrument_spec("NYSE:IBM:100")
    with pytest.raises(ValueError, match="EXCH:SYMBOL:PRICE"):
        parse_instrument_spec("NSE:IBM")
    with pytest.raises(ValueError, match="listed twice"):
        Market([listing, listing], 1, 10)


def test_a_seed_gives_the_same_path_and_book_as_it_always_did() -> None:
    """The book's refresh is on the sim's hot path (issue 19): making it faster must not
    change what a seed reproduces (prices, touch, every level's size and order count)."""
    import hashlib
    from decimal import Decimal

    from cockpit.domain.instruments import Exchange, Instrument
    from cockpit.sim.universe import Listing

    listings = [
        Listing(Instrument(Exchange.NSE, f"B{i:04d}", Decimal("0.05")), Decimal(100 + 7 * i))
        for i in range(0, 3000, 300)
    ]
    market = Market(listings, seed=7, rate=0.5)
    digest = hashlib.sha256()
    for n in range(300):
        for s in market.states.values():
            s.step(1_700_000_000_000_000_000 + n * 10**9)
            state = (s.ltp, s.bid, s.ask, s.bq, s.aq, s.bo, s.ao, s.volume)
            digest.update(repr(state).encode())
    assert digest.hexdigest() == GOLDEN_PATH


GOLDEN_PATH = "b781cbb4fa8bf7a56d366508cb931a913b3f43709af036030d901f1b5a9dda7a"
