"""The viewer's day P&L per currency: rupees and tethers are shown apart, never summed; one
currency reads as it always did. The store, and the status bar of the real app fed through an
in-memory link."""

from __future__ import annotations

import time
from decimal import Decimal

import msgspec

from cockpit.link import protocol as p
from cockpit.ui.store import Store
from tests.ui import scenario as sc
from tests.ui.conftest import wait_for
from tests.ui.test_app_keys import started

BTC = p.InstrumentView(
    "BINANCE:BTCUSDT", "BINANCE", "BTCUSDT", Decimal("0.01"), Decimal("0.001"), 2, kind="crypto"
)


def two_currencies(now: int = sc.T0) -> p.Snapshot:
    """Long SBIN (INR: -45.00 realized, -5.00 unrealized) and long BTC (USDT: +30.00), each
    valued at the engine's mark (no quote of SBIN received since)."""
    snap = sc.snapshot(now, with_position=True)
    sbin = p.PositionView(
        "NSE:SBIN", Decimal(10), Decimal("799.50"), Decimal("-45.00"), Decimal("-5.00"), ltp=15_990
    )
    btc = p.PositionView(
        BTC.key, Decimal(1), Decimal("60000.00"), Decimal(0), Decimal("30.00"), ltp=6_003_000
    )
    return msgspec.structs.replace(
        snap,
        instruments=[*snap.instruments, BTC],
        positions=[sbin, btc],
        quotes=[q for q in snap.quotes if q.key != "NSE:SBIN"],
    )


def test_the_store_keeps_the_day_pnl_per_currency() -> None:
    store = Store()
    store.apply(two_currencies())
    assert store.currency("NSE:SBIN") == "INR"
    assert store.currency(BTC.key) == "USDT"
    assert store.day_pnls() == {"INR": Decimal("-50.00"), "USDT": Decimal("30.00")}


def test_one_currency_is_one_figure() -> None:
    store = Store()
    store.apply(sc.snapshot(with_position=True))
    assert list(store.day_pnls()) == ["INR"]


async def test_the_status_bar_shows_each_currency_apart() -> None:
    from cockpit.ui.app import CockpitApp, StaticConnector, UiOptions
    from cockpit.ui.link import MemoryLink

    link = MemoryLink()
    app = CockpitApp(StaticConnector(link), UiOptions(remember=False))  # type: ignore[arg-type]
    link.feed(sc.welcome(), two_currencies(time.time_ns()))
    async with app.run_test(size=(200, 48)) as pilot:
        await started(pilot, app)
        status = app.screen.status
        await wait_for(pilot, lambda: "P&L INR -50.00 USDT +30.00" in status.text_of(0))
        assert "-20.00" not in status.text_of(0)
