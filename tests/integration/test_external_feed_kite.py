"""``--feed kite``: Kite ticks (loopback ticker) drive the engine and the paper exchange's fills."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.link import protocol as p
from tests.integration.external_stack import RunnerStack, entry
from tests.servers.kite_server import KiteServer

pytest.importorskip("cockpit.engine.core")

TOKEN = 408065  # an NSE token (segment 1): prices in paise
KEY = "NSE:INFY"


@pytest.fixture
def kite() -> Iterator[KiteServer]:
    server = KiteServer(api_key="kkey", access_token="ktoken")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kite: KiteServer
) -> Iterator[RunnerStack]:
    for name in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        d = tmp_path / name.lower()
        d.mkdir(mode=0o700)
        monkeypatch.setenv(name, str(d))
    kite.set_price(TOKEN, 150_000)  # 1500.00: far from the paper exchange's own INFY path
    s = RunnerStack(
        tmp_path,
        {
            "venue": {"feed": "kite", "kite_api_key": "kkey", "kite_access_token": "ktoken"},
            "feed": {"url": kite.url, "symbols": [f"{KEY}={TOKEN}"]},
            "exits": {"stop_ticks": 20, "target_ticks": 400},
        },
    )
    s.start()
    yield s
    s.stop()


def test_kite_ticks_fill_paper_orders_and_fire_the_stop_once(
    stack: RunnerStack, kite: KiteServer
) -> None:
    v = stack.viewer()
    snap = v.wait(lambda: v.of(p.Snapshot), what="snapshot")[0]
    assert snap.watchlist == [KEY]
    v.wait(lambda: v.feed_live("kite"), what="the kite feed live at the engine")
    v.wait(lambda: (q := v.quotes.get(KEY)) and q.ltp == 30_000, what="1500.00 at the viewer")
    stack.wait_paper_ltp(KEY, "1500.00")
    depth = stack.paper_quote(KEY, "depth")
    assert depth is not None
    assert Decimal(str(depth["asks"][0]["price"])) == Decimal("1500.05")  # Kite's best ask

    answer = entry(v, KEY, "BUY", "5")
    assert isinstance(answer, p.Ack), answer
    fill = v.wait(lambda: v.of(p.FillEvent), what="entry fill")[0].fill
    assert fill.price == Decimal("1500.05")

    kite.set_price(TOKEN, 149_800)  # 1498.00: through the stop at 1499.05
    v.wait(lambda: v.of(p.ExitFired), what="the stop firing")
    exit_fill = v.wait(
        lambda: [f.fill for f in v.of(p.FillEvent) if f.fill.side == "SELL"], what="exit fill"
    )[0]
    assert exit_fill.price == Decimal("1497.95")  # Kite's best bid
    v.wait(
        lambda: [e for e in v.of(p.PositionEvent) if e.position.key == KEY and e.position.qty == 0],
        what="flat",
    )
    assert len(v.of(p.ExitFired)) == 1
    assert len({e.order.cid for e in v.of(p.OrderEvent) if e.order.side == "SELL"}) == 1
