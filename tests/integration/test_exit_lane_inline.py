"""The exit lane writes an exit on the thread that submits it (no wakeup of the lane thread
between the journal's commit and the wire), and falls back to its own thread when it must.

A plain listening socket on 127.0.0.1 plays the venue, so what is on the wire is read as it
is, the instant ``submit`` returns.
"""

from __future__ import annotations

import queue
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cockpit.adapters.openalgo.lane import ExitLane

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"


@pytest.fixture
def venue() -> Iterator[socket.socket]:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    yield srv
    srv.close()


def make_lane(
    venue: socket.socket, answered: queue.SimpleQueue[Any], turn: Any = lambda: 0.0
) -> ExitLane:
    port = venue.getsockname()[1]
    return ExitLane(
        f"http://127.0.0.1:{port}",
        3.0,
        lambda request: ("api/v1/placeorder", b'{"n":"%d"}' % request),
        turn,
        lambda request, outcome, *_: answered.put((request, outcome)),
        connections=1,
    )


def accept(venue: socket.socket) -> socket.socket:
    venue.settimeout(5)
    peer, _ = venue.accept()
    peer.settimeout(5)
    return peer


def on_the_wire(peer: socket.socket) -> bool:
    """Bytes wait on ``peer`` this instant (no waiting)."""
    return bool(select.select([peer], [], [], 0)[0])


def read_request(peer: socket.socket) -> bytes:
    data = b""
    while b'"}' not in data:
        data += peer.recv(4096)
    return data


def test_an_exit_is_on_the_wire_when_submit_returns(venue) -> None:
    answered: queue.SimpleQueue[Any] = queue.SimpleQueue()
    lane = make_lane(venue, answered)
    lane.start()
    try:
        peer = accept(venue)
        time.sleep(0.05)  # the lane thread asleep in its select, as between exits
        for n in range(3):
            lane.submit(n)
            # Already written by this thread: nothing needed the lane thread to wake.
            assert on_the_wire(peer)
            data = read_request(peer)
            assert data.startswith(b"POST /api/v1/placeorder HTTP/1.1\r\n")
            assert data.endswith(b'{"n":"%d"}' % n)
            peer.sendall(ANSWER)  # the lane thread reads the answer
            request, outcome = answered.get(timeout=5)
            assert request == n
            assert outcome[0] == 200
        peer.close()
    finally:
        lane.stop()


def test_with_inline_off_the_lane_thread_writes_it(venue) -> None:
    answered: queue.SimpleQueue[Any] = queue.SimpleQueue()
    lane = make_lane(venue, answered)
    lane.inline = False
    lane.start()
    try:
        peer = accept(venue)
        lane.submit(7)
        assert read_request(peer).endswith(b'{"n":"7"}')
        peer.sendall(ANSWER)
        assert answered.get(timeout=5)[0] == 7
        peer.close()
    finally:
        lane.stop()


def test_an_exit_held_by_the_turn_goes_later_from_the_lane_thread(venue) -> None:
    """The turn says wait: the submitting thread leaves it queued, the lane thread sends it."""
    answered: queue.SimpleQueue[Any] = queue.SimpleQueue()
    opens = time.monotonic() + 0.2
    lane = make_lane(venue, answered, turn=lambda: max(0.0, opens - time.monotonic()))
    lane.start()
    try:
        peer = accept(venue)
        lane.submit(1)
        assert not on_the_wire(peer)  # not yet: the turn holds it
        assert read_request(peer).endswith(b'{"n":"1"}')
        assert time.monotonic() >= opens
        peer.sendall(ANSWER)
        assert answered.get(timeout=5)[0] == 1
        peer.close()
    finally:
        lane.stop()


def test_exits_from_threads_while_the_lane_thread_reads_answers_go_once(venue) -> None:
    """Submitters race the lane thread (busy reading answers): each exit is written once."""
    answered: queue.SimpleQueue[Any] = queue.SimpleQueue()
    lane = make_lane(venue, answered)
    lane.start()
    peers: list[socket.socket] = []
    seen: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:  # the venue: accept, answer every request at once
        venue.settimeout(0.05)
        while not stop.is_set():
            try:
                peer, _ = venue.accept()
            except TimeoutError:
                continue
            peers.append(peer)
            threading.Thread(target=answer, args=(peer,), daemon=True).start()

    def answer(peer: socket.socket) -> None:
        buf = b""
        while True:
            try:
                chunk = peer.recv(4096)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while (end := buf.find(b'"}')) >= 0:
                seen.append(buf[: end + 2].rsplit(b"\r\n\r\n", 1)[1])
                buf = buf[end + 2 :]
                peer.sendall(ANSWER)

    server = threading.Thread(target=serve, daemon=True)
    server.start()

    def hand(start: int) -> None:
        for n in range(start, start + 100):
            lane.submit(n)

    try:
        threads = [threading.Thread(target=hand, args=(k,)) for k in (0, 100, 200)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = sorted(answered.get(timeout=10)[0] for _ in range(300))
        assert got == list(range(300))
        assert sorted(seen) == sorted(b'{"n":"%d"}' % n for n in range(300))
    finally:
        stop.set()
        lane.stop()
        server.join(2)
        for peer in peers:
            peer.close()


def test_an_exit_queued_while_the_lane_thread_is_about_to_sleep_wakes_it(venue) -> None:
    """The lane thread has written what was queued and holds its lock on the way to its
    select: a submitter finds the lock taken and queues the exit. It must poke the lane
    thread (or the thread see it), else the exit waits out the idle sleep (0.5 s).

    Deterministic: the lane thread is held right after its ``_write_queued`` (the instant
    between its last look at the queue and its sleep) while the exit is submitted."""
    answered: queue.SimpleQueue[Any] = queue.SimpleQueue()
    lane = make_lane(venue, answered)
    at_point, go, armed = threading.Event(), threading.Event(), threading.Event()
    write_queued = lane._write_queued

    def held_after_writing() -> float:
        wait = write_queued()
        if armed.is_set() and threading.current_thread().name == "router-exits":
            armed.clear()
            at_point.set()
            go.wait(5)
        return wait

    lane._write_queued = held_after_writing  # type: ignore[method-assign]
    lane.start()
    try:
        peer = accept(venue)
        time.sleep(0.05)
        armed.set()
        lane._poke()  # the lane thread wakes, writes nothing, and heads back to sleep
        assert at_point.wait(5)
        lane.submit(9)  # the lane thread holds the lock: queued for it
        go.set()
        began = time.monotonic()
        assert read_request(peer).endswith(b'{"n":"9"}')
        waited = time.monotonic() - began
        assert waited < 0.25, f"the exit waited {waited * 1000:.0f} ms for the lane thread"
        peer.sendall(ANSWER)
        assert answered.get(timeout=5)[0] == 9
        peer.close()
    finally:
        go.set()
        lane.stop()


@pytest.mark.parametrize("inline", [True, False])
def test_an_exit_submitted_to_a_stopped_lane_is_refused_not_lost(venue, inline: bool) -> None:
    """Every exit the lane takes ends in ``answered`` or in what ``stop`` returns: one that
    comes after the stop is refused (False), so the caller reports it."""
    answered: queue.SimpleQueue[Any] = queue.SimpleQueue()
    lane = make_lane(venue, answered)
    lane.start()
    assert lane.stop() == ([], [])
    assert lane.submit(3, inline=inline) is False
    assert answered.empty()
