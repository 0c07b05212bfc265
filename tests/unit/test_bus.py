"""cockpit.link.bus.Inbound: any thread puts; the engine waits without taking."""

from __future__ import annotations

import threading
import time

from cockpit.link.bus import Inbound


def test_items_come_out_in_the_order_they_went_in() -> None:
    q = Inbound()
    for i in range(5):
        q.put(i)
    assert len(q) == 5
    assert [q.take() for _ in range(6)] == [0, 1, 2, 3, 4, None]
    assert not q


def test_wait_takes_nothing_and_returns_when_an_item_arrives() -> None:
    q = Inbound()
    assert q.wait(0.01) is False
    threading.Timer(0.05, q.put, args=("x",)).start()
    t0 = time.monotonic()
    assert q.wait(5) is True
    assert time.monotonic() - t0 < 4
    assert len(q) == 1  # still there: waiting takes nothing
    assert q.wait(0) is True
    assert q.take() == "x"


def test_kick_wakes_a_waiter_once_without_an_item() -> None:
    q = Inbound()
    threading.Timer(0.05, q.kick).start()
    assert q.wait(5) is True
    assert q.take() is None
    assert q.wait(0.01) is False  # the kick was used up


def test_wait_for_a_kick_only_ignores_items_already_there() -> None:
    q = Inbound()
    q.put("x")
    t0 = time.monotonic()
    assert q.wait(0.05, items=False) is False  # an item is there, but no kick came
    assert time.monotonic() - t0 >= 0.04
    threading.Timer(0.02, q.kick).start()
    assert q.wait(5, items=False) is True
    assert q.take() == "x"
