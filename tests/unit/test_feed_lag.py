"""The feed-lag measure (``engine.feed_lag``): a feed behind the exchange is seen; quotes
stamped with an old last-trade time, a venue clock off ours and a replay's recorded times are
not taken for lag; a bad stamp far ahead is ignored."""

from __future__ import annotations

from cockpit.engine.feed_lag import LAG_WINDOW_NS, FeedLag, behind_words

S = 1_000_000_000


def feed(lag: FeedLag, start: int, seconds: int, delay: int, skew: int = 0) -> int:
    """Ten frames a second for ``seconds`` from ``start``, each ``delay`` late (ns)."""
    t = start
    for _ in range(seconds * 10):
        t += S // 10
        lag.sample("NSE", t, t - delay - skew)
    return t


def test_a_feed_that_falls_behind_is_measured_once_the_window_turns() -> None:
    lag = FeedLag()
    t = feed(lag, 1000 * S, 10, delay=S // 100)
    assert lag.behind_ns("NSE") == 0
    t = feed(lag, t, 3 * LAG_WINDOW_NS // S, delay=52 * S)
    assert 51 * S <= lag.behind_ns("NSE") <= 52 * S
    assert behind_words(lag.behind_ns("NSE")).startswith("stale: feed 5")
    feed(lag, t, 3 * LAG_WINDOW_NS // S, delay=S // 100)  # caught up
    assert lag.behind_ns("NSE") == 0


def test_old_stamps_of_an_illiquid_symbol_are_not_lag() -> None:
    lag = FeedLag()
    t = 1000 * S
    for _ in range(300):  # 30 s: a liquid symbol now and then, an illiquid one's old stamp
        t += S // 10
        lag.sample("NSE", t, t - 90 * S)  # its last trade 90 s ago: still its current quote
        if t % (2 * S) == 0:
            lag.sample("NSE", t, t - S // 100)
    assert lag.behind_ns("NSE") < S // 10


def test_a_venue_clock_off_ours_or_a_replays_recorded_times_is_not_lag() -> None:
    lag = FeedLag()
    feed(lag, 1000 * S, 30, delay=0, skew=3 * 3600 * S)  # stamps three hours old, steady
    assert lag.behind_ns("NSE") == 0
    ahead = FeedLag()
    feed(ahead, 1000 * S, 30, delay=0, skew=-2 * S)  # the venue's clock 2 s ahead of ours
    assert ahead.behind_ns("NSE") == 0


def test_a_stamp_far_ahead_is_ignored_and_segments_are_apart() -> None:
    lag = FeedLag()
    t = feed(lag, 1000 * S, 10, delay=0)
    lag.sample("NSE", t, t + 3600 * S)  # a bad stamp: not a new baseline
    feed(lag, t, 20, delay=0)
    assert lag.behind_ns("NSE") == 0
    assert lag.behind_ns("MCX") == 0  # nothing seen there: unknown, not behind


def test_an_illiquid_quote_repeating_its_old_stamp_is_no_lag_in_the_engine() -> None:
    from decimal import Decimal

    from cockpit.domain.market import LtpTick, QuoteTick
    from cockpit.link import protocol as p
    from tests.unit.test_engine_core import SBIN, Rig

    rig = Rig()
    rig.start()
    for _ in range(20):  # trades, each stamped 10 ms before it arrives
        rig.clock.now += S // 10
        now = rig.clock.now
        rig.engine.handle(LtpTick(now, "NSE", "SBIN", Decimal("800.00"), exch_ns=now - S // 100))
    last_trade = rig.clock.now - S // 100
    for i in range(200):  # 20 s of quotes, stamped with that last trade's time
        rig.clock.now += S // 10
        bid = Decimal("799.90") + Decimal("0.05") * (i % 2)
        rig.engine.handle(
            QuoteTick(
                rig.clock.now,
                "NSE",
                "SBIN",
                Decimal("800.00"),
                exch_ns=last_trade,
                bids=((bid, Decimal(100), 1),),
                asks=((Decimal("800.10"), Decimal(100), 1),),
            )
        )
    answer = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1))
    assert isinstance(answer, p.Ack), answer


def test_52_s_behind_refuses_entries_and_reverse_in_words_and_a_flatten_goes() -> None:
    from decimal import Decimal

    from cockpit.domain.market import LtpTick
    from cockpit.link import protocol as p
    from tests.unit.test_engine_core import SBIN, Rig

    rig = Rig()
    rig.start()

    def trades(seconds: int, delay: int) -> None:
        for i in range(seconds * 10):
            rig.clock.now += S // 10
            now = rig.clock.now
            price = Decimal("800.00") + Decimal("0.05") * (i % 3)
            rig.engine.handle(LtpTick(now, "NSE", "SBIN", price, exch_ns=now - delay))

    trades(5, S // 100)
    rig.enter(SBIN, "BUY", 2, "800.00", plan=p.PlanSpec(none=True))
    trades(15, 52 * S)  # every trade now arrives 52 s after the exchange's stamp
    entry = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1))
    assert isinstance(entry, p.Refused), entry
    assert entry.message == "NSE:SBIN: stale: feed 52 s behind the exchange"
    reverse = rig.command(p.Reverse, key=SBIN.key)
    assert isinstance(reverse, p.Refused), reverse
    assert "behind the exchange" in reverse.message
    flatten = rig.command(p.Flatten, key=SBIN.key)
    assert isinstance(flatten, p.Ack), flatten  # exits still decided
    trades(15, S // 100)  # caught up
    again = rig.command(p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(1))
    assert isinstance(again, p.Ack), again
