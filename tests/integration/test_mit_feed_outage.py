"""A held MIT entry across a real feed outage (the paper exchange drops the WebSocket, the
feed reconnects): the first price after it is already through the level, so the entry is not
sent at market blind but expires with a warning (``mit_passed``), as after an engine restart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from engine_stack import Stack

from cockpit.domain.feed import FeedState
from cockpit.link import protocol as p


def test_a_held_mit_whose_level_passed_during_a_feed_outage_is_not_sent(tmp_path: Path) -> None:
    stack = Stack(tmp_path, symbols=["SBIN"]).start()
    try:
        stack.price("SBIN", "800.00")
        key = stack.by_symbol["SBIN"].key
        answer = stack.command(
            p.PlaceEntry, key=key, side="BUY", qty=Decimal(3), order_type="MIT", trigger=15_990
        )
        assert isinstance(answer, p.Ack), answer
        live_before = len([e for e in stack.rec.of(p.FeedEvent) if e.status.state.value == "live"])
        assert stack.sim.drop_ws() >= 1
        stack.rec.wait(
            lambda: any(e.status.state is not FeedState.LIVE for e in stack.rec.of(p.FeedEvent)),
            10,
            "the feed down",
        )
        stack.rec.wait(
            lambda: (
                len([e for e in stack.rec.of(p.FeedEvent) if e.status.state.value == "live"])
                > live_before
            ),
            15,
            "the feed live again",
        )
        stack.price("SBIN", "799.00")  # the first price after the outage: through 799.50
        alarm = stack.rec.wait(
            lambda: [a for a in stack.rec.of(p.Alarm) if a.code == "mit_passed"],
            5,
            "the MIT expired",
        )[0]
        assert answer.cid in alarm.message
        assert "feed" in alarm.message
        assert stack.sim_orders("SBIN") == []  # nothing went to the venue
    finally:
        stack.stop()
