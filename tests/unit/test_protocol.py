"""The engine ⇄ viewer protocol: framing and round trips of every message kind."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from cockpit.domain.feed import FeedState, FeedStatus
from cockpit.link import protocol as p


def _messages() -> list[p.Msg]:
    q = p.QuoteView(key="NSE:SBIN", ltp=16030, recv_ns=1, bid=16029, bid_qty=Decimal(40))
    book = p.BookView(key="NSE:SBIN", bids=[(16029, Decimal(40), 3)], asks=[(16031, Decimal(5), 1)])
    plan = p.PlanView(
        key="NSE:SBIN",
        side="long",
        qty=Decimal(10),
        entry=16030,
        stop=16010,
        trail=p.TrailView(kind="ticks", distance=Decimal(20)),
        trail_active=True,
    )
    status = p.StatusView(venue="paper", armed=True, day_pnl=Decimal("-12.50"))
    feed = FeedStatus(feed="openalgo", state=FeedState.LIVE, ts_ns=time.time_ns())
    return [
        p.Hello(version=p.PROTOCOL_VERSION, client="test"),
        p.Welcome(version=1, engine_pid=1, profile="default", venue="paper"),
        p.Snapshot(
            seq=1,
            instruments=[],
            quotes=[q],
            books=[book],
            positions=[],
            plans=[plan],
            orders=[],
            fills=[],
            feeds=[feed],
            status=status,
            watchlist=["NSE:SBIN"],
        ),
        p.MarketBatch(seq=2, quotes=[q], books=[book]),
        p.PlanEvent(seq=3, plan=plan, change="stop 801.50 → 802.00 (trail)"),
        p.PlaceEntry(
            id=7, key="NSE:SBIN", side="BUY", qty=Decimal(10), plan=p.PlanSpec(stop_ticks=20)
        ),
        p.MoveStop(id=8, key="NSE:SBIN", delta=1),
        p.Refused(id=9, rule="max_order_qty", message="quantity 500 exceeds the limit 100"),
        p.FeedEvent(seq=4, status=feed),
    ]


def test_round_trip_every_message_through_the_stream_reader() -> None:
    msgs = _messages()
    stream = b"".join(p.encode(m) for m in msgs)
    reader = p.FrameReader()
    bodies: list[bytes] = []
    for i in range(0, len(stream), 7):  # arbitrary chunking, as a socket delivers
        bodies += reader.feed(stream[i : i + 7])
    assert len(bodies) == len(msgs)
    decoded = []
    for body, original in zip(bodies, msgs, strict=True):
        to_engine = isinstance(original, p.Hello | p.PlaceEntry | p.MoveStop)
        decoded.append(p.decode_to_engine(body) if to_engine else p.decode_to_viewer(body))
    assert decoded == msgs


def test_garbage_and_oversized_frames_are_protocol_errors() -> None:
    with pytest.raises(p.ProtocolError):
        p.decode_to_viewer(b"\x81\xa1t\xa3zzz")
    with pytest.raises(p.ProtocolError):
        p.FrameReader().feed(b"\xff\xff\xff\xff")
    # A command is not something the engine sends.
    with pytest.raises(p.ProtocolError):
        p.decode_to_viewer(p.encode(p.KillSwitch(id=1))[4:])
