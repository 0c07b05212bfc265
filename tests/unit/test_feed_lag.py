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
