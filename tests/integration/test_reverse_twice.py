"""Two reverses of one position at once (two TUIs attached, `r` pressed on both; or `r` pressed
twice before the first reverse filled) turn it around once, not twice.

Each reverse sells twice the position the engine holds. A second one decided while the first
was still on its way to the venue read the same position and sold twice it again: long 5 went
short 15, three times the size the trader held, from one intent.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from engine_stack import Stack

from cockpit.link import protocol as p
from cockpit.link.bus import ViewerCommand


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path).start()
    try:
        yield s
    finally:
        s.stop()


def test_a_second_reverse_while_the_first_is_in_flight_is_refused(stack: Stack) -> None:
    stack.price("SBIN", "800.00")
    answer = stack.command(
        p.PlaceEntry, key="NSE:SBIN", side="BUY", qty=Decimal(5), plan=p.PlanSpec(none=True)
    )
    assert isinstance(answer, p.Ack), answer
    stack.wait_position("SBIN", 5)
    # Both viewers' reverses reach the engine within microseconds: long before the first
    # one's fill can come back from the venue.
    stack.inbound.put(ViewerCommand(1, p.Reverse(id=9001, key="NSE:SBIN")))
    stack.inbound.put(ViewerCommand(2, p.Reverse(id=9002, key="NSE:SBIN")))

    def answers() -> list[p.Msg] | None:
        found = {m.id: m for _c, m in stack.rec.replies if isinstance(m, p.Ack | p.Refused)}
        return [found[9001], found[9002]] if 9001 in found and 9002 in found else None

    got = stack.rec.wait(answers, what="both reverses answered")
    assert isinstance(got[0], p.Ack), got
    assert isinstance(got[1], p.Refused), got
    assert got[1].rule == "closing", got
    stack.wait_position("SBIN", -5)
    stack.settle("SBIN", 2)  # the entry and one reverse: nothing more goes
    assert stack.sim_position("SBIN") == Decimal(-5)
