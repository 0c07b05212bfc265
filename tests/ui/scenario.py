"""Deterministic protocol messages for UI tests: a snapshot and market batches (real types)."""

from __future__ import annotations

from decimal import Decimal

from cockpit.domain.feed import FeedState, FeedStatus
from cockpit.link import protocol as p

T0 = 1_700_000_000_000_000_000
"""A fixed wall clock (ns) for snapshots; tests that need fresh ticks pass ``now``."""

INSTRUMENTS = [
    p.InstrumentView("NSE:SBIN", "NSE", "SBIN", Decimal("0.05"), Decimal(1), 2, name="State Bank"),
    p.InstrumentView("NSE:INFY", "NSE", "INFY", Decimal("0.05"), Decimal(1), 2, name="Infosys"),
    p.InstrumentView("NSE:RELIANCE", "NSE", "RELIANCE", Decimal("0.10"), Decimal(1), 2),
    p.InstrumentView("NFO:NIFTY25JANFUT", "NFO", "NIFTY25JANFUT", Decimal("0.05"), Decimal(50), 2),
]
BASE = {
    "NSE:SBIN": 16_000,
    "NSE:INFY": 30_000,
    "NSE:RELIANCE": 25_000,
    "NFO:NIFTY25JANFUT": 470_000,
}
"""Last price in ticks (SBIN 800.00, INFY 1500.00, RELIANCE 2500.00, NIFTY 23500.00)."""


def quote(key: str, ltp: int, now: int, *, ticks: int = 1, volume: int = 100_000) -> p.QuoteView:
    """A quote with a one-tick spread around ``ltp``."""
    close = BASE[key] - 20
    return p.QuoteView(
        key=key,
        ltp=ltp,
        recv_ns=now,
        ltq=Decimal(10),
        open=BASE[key] - 10,
        high=max(ltp, BASE[key] + 30),
        low=min(ltp, BASE[key] - 40),
        close=close,
        volume=Decimal(volume),
        bid=ltp - 1,
        bid_qty=Decimal(500),
        ask=ltp + 1,
        ask_qty=Decimal(300),
        total_buy_qty=Decimal(120_000),
        total_sell_qty=Decimal(95_000),
        ticks=ticks,
    )


def book(key: str, ltp: int, levels: int = 10) -> p.BookView:
    """A deterministic book around ``ltp``."""
    return p.BookView(
        key=key,
        bids=[(ltp - 1 - i, Decimal(100 * (i + 1) + 50 * (i % 3)), i + 1) for i in range(levels)],
        asks=[(ltp + 1 + i, Decimal(80 * (i + 1) + 70 * (i % 2)), i + 2) for i in range(levels)],
    )


def status(*, armed: bool = True, pnl: str = "0") -> p.StatusView:
    """Engine status."""
    return p.StatusView(
        venue="paper", armed=armed, day_pnl=Decimal(pnl), ticks_per_s=1234.0, order_latency_ms=3.2
    )


def snapshot(now: int = T0, *, armed: bool = True, with_position: bool = False) -> p.Snapshot:
    """Four symbols, SBIN with a book; optionally a long SBIN position with a plan."""
    keys = [i.key for i in INSTRUMENTS]
    positions: list[p.PositionView] = []
    plans: list[p.PlanView] = []
    orders: list[p.OrderView] = []
    fills: list[p.FillView] = []
    if with_position:
        positions.append(
            p.PositionView(
                "NSE:SBIN", Decimal(10), Decimal("799.50"), Decimal(0), Decimal("5.00"), ltp=16_000
            )
        )
        plans.append(
            p.PlanView(
                "NSE:SBIN",
                "long",
                Decimal(10),
                entry=15_990,
                stop=15_970,
                target=16_030,
                trail=p.TrailView("ticks", Decimal(10)),
                trail_active=True,
                high_water=16_000,
                initial_risk=20,  # the plan's first stop was 15_970
            )
        )
        orders.append(
            p.OrderView(
                "c1",
                "NSE:SBIN",
                "BUY",
                "MARKET",
                Decimal(10),
                "complete",
                T0 - 5_000_000_000,
                filled=Decimal(10),
                avg_price=Decimal("799.50"),
                tag="entry",
            )
        )
        orders.append(
            p.OrderView(
                "c2",
                "NSE:SBIN",
                "SELL",
                "LIMIT",
                Decimal(10),
                "open",
                T0 - 2_000_000_000,
                price=16_010,
                tag="manual",
            )
        )
        orders.append(
            p.OrderView(
                "c3",
                "NSE:INFY",
                "BUY",
                "LIMIT",
                Decimal(5),
                "rejected",
                T0 - 1_000_000_000,
                price=29_000,
                reason="RMS: insufficient margin",
                tag="manual",
            )
        )
        fills.append(
            p.FillView("c1", "NSE:SBIN", "BUY", Decimal(10), Decimal("799.50"), T0 - 5_000_000_000)
        )
    return p.Snapshot(
        seq=1,
        instruments=INSTRUMENTS,
        quotes=[quote(k, BASE[k], now) for k in keys],
        books=[book("NSE:SBIN", BASE["NSE:SBIN"])],
        positions=positions,
        plans=plans,
        orders=orders,
        fills=fills,
        feeds=[FeedStatus("openalgo", FeedState.LIVE, now)],
        status=status(armed=armed),
        watchlist=keys,
        volume_at_price=[
            p.VolumeAtPrice(
                "NSE:SBIN", [(16_000 + d, Decimal(1000 - 50 * abs(d))) for d in range(-8, 9)]
            )
        ],
    )


def welcome() -> p.Welcome:
    """The engine's answer to hello."""
    return p.Welcome(version=p.PROTOCOL_VERSION, engine_pid=4242, profile="default", venue="paper")


def market(seq: int, key: str, ltp: int, now: int, *, with_book: bool = True) -> p.MarketBatch:
    """One symbol moved."""
    return p.MarketBatch(
        seq=seq,
        quotes=[quote(key, ltp, now, ticks=seq)],
        books=[book(key, ltp)] if with_book else [],
    )
