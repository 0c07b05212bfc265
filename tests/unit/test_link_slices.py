"""Big frames encoded a slice at a time (``cockpit/link/slices.py``) are byte for byte the
frames of ``protocol.encode``, and decode to the same message, whatever the list lengths."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cockpit.link import protocol as p
from cockpit.link.slices import encode_sliced


def snapshot(n: int) -> p.Snapshot:
    keys = [f"NSE:S{i:05d}" for i in range(n)]
    return p.Snapshot(
        seq=9,
        instruments=[
            p.InstrumentView(
                key=k,
                exchange="NSE",
                symbol=k[4:],
                tick_size=Decimal("0.05"),
                lot_size=Decimal(1),
                precision=2,
            )
            for k in keys
        ],
        quotes=[
            p.QuoteView(key=k, ltp=20_000 + i, recv_ns=i, bid=19_999, bid_qty=Decimal(i))
            for i, k in enumerate(keys)
        ],
        books=[
            p.BookView(
                key=k,
                bids=[(19_999 - j, Decimal(10 + j), 2) for j in range(5)],
                asks=[(20_001 + j, Decimal(10 + j), 1) for j in range(5)],
                recv_ns=i,
            )
            for i, k in enumerate(keys)
        ],
        positions=[],
        plans=[],
        orders=[],
        fills=[],
        feeds=[],
        status=p.StatusView(venue="paper", armed=True, day_pnl=Decimal(0)),
        watchlist=keys,
    )


def body(frame: bytes) -> bytes:
    reader = p.FrameReader()
    bodies = reader.feed(frame)
    assert len(bodies) == 1
    return bodies[0]


@pytest.mark.parametrize("n", [0, 1, 15, 16, 249, 250, 251, 499, 500, 3000, 70_000])
def test_a_sliced_snapshot_is_the_same_frame(n: int) -> None:
    msg = snapshot(n)
    frame = encode_sliced(msg, per=250)
    assert frame == p.encode(msg)
    assert p.decode_to_viewer(body(frame)) == msg


@pytest.mark.parametrize("per", [1, 7, 16, 100])
def test_any_slice_size_gives_the_same_frame(per: int) -> None:
    msg = snapshot(300)
    assert encode_sliced(msg, per=per) == p.encode(msg)


def test_small_messages_are_encoded_as_they_are() -> None:
    q = p.QuoteView(key="NSE:SBIN", ltp=16030, recv_ns=1)
    batch = p.MarketBatch(seq=2, quotes=[q] * 3, books=[])
    assert encode_sliced(batch) == p.encode(batch)
    event = p.Refused(id=9, rule="max_order_qty", message="too big")
    assert encode_sliced(event) == p.encode(event)
