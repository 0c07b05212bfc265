"""cockpit.link.bus.Inbound: any thread puts; the decision thread takes everything, in order."""

from __future__ import annotations

import threading
import time

from cockpit.link.bus import Inbound


def test_items_come_out_in_the_order_they_went_in() -> None:
    q = Inbound()
    for i in range(5):
        q.put(i)
    assert len(q) == 5
    assert q.take_all(0) == [0, 1, 2, 3, 4]
    assert q.take_all(0) == []
    assert not q


def test_take_all_waits_for_an_item_then_returns_at_once() -> None:
    q = Inbound()
    t0 = time.monotonic()
    assert q.take_all(0.02) == []
    assert time.monotonic() - t0 >= 0.015
    threading.Timer(0.05, q.put, args=("x",)).start()
    t0 = time.monotonic()
    assert q.take_all(5) == ["x"]
    assert time.monotonic() - t0 < 4


def test_items_from_many_threads_each_keep_their_order() -> None:
    q = Inbound()

    def produce(name: str) -> None:
        for i in range(2000):
            q.put((name, i))

    threads = [threading.Thread(target=produce, args=(n,)) for n in "abc"]
    for t in threads:
        t.start()
    got: list[object] = []
    while len(got) < 6000:
        got += q.take_all(1)
    for t in threads:
        t.join()
    for name in "abc":
        assert [i for n, i in got if n == name] == list(range(2000))  # type: ignore[misc]
