"""cockpit.hotio: the exit path's system calls, which keep the GIL."""

from __future__ import annotations

import ctypes
import socket
import threading
import time

import pytest

from cockpit import hotio

pytestmark = pytest.mark.skipif(not hotio.AVAILABLE, reason="no loadable libc")


def test_send_all_sends_and_finishes_what_the_buffer_cannot_take() -> None:
    a, b = socket.socketpair()
    try:
        b.settimeout(5)
        hotio.send_all(b, b"hello")
        assert a.recv(16) == b"hello"
        big = bytes(range(256)) * 8192  # 2 MiB: more than the buffer holds
        got = bytearray()

        def read() -> None:
            time.sleep(0.1)
            while len(got) < len(big):
                got.extend(a.recv(1 << 16))

        reader = threading.Thread(target=read)
        reader.start()
        hotio.send_all(b, big)
        reader.join(5)
        assert bytes(got) == big
    finally:
        a.close()
        b.close()


def test_send_all_on_a_closed_peer_raises() -> None:
    a, b = socket.socketpair()
    a.close()
    try:
        with pytest.raises(OSError):
            hotio.send_all(b, b"x" * 100)
    finally:
        b.close()


def test_readable_now_sees_data_and_a_closed_peer_without_waiting() -> None:
    a, b = socket.socketpair()
    try:
        assert not hotio.readable_now(a)
        b.send(b"x")
        assert hotio.readable_now(a)
        a.recv(1)
        assert not hotio.readable_now(a)
        b.close()
        assert hotio.readable_now(a)  # EOF reads as readable
    finally:
        a.close()


def test_a_call_through_pydll_keeps_the_gil() -> None:
    """The premise: while a PyDLL call runs, no other Python thread runs."""
    counter = [0]
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            counter[0] += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        time.sleep(0.05)
        free0 = counter[0]
        time.sleep(0.3)
        free = counter[0] - free0  # what it counts in 300 ms when it may run
        a, b = socket.socketpair()
        pfd = hotio._PollFd(a.fileno(), 1, 0)
        before = counter[0]
        hotio._poll(ctypes.byref(pfd), 1, 300)  # waits 300 ms holding the GIL
        during = counter[0] - before
        a.close()
        b.close()
    finally:
        stop.set()
        spinner.join()
    # At most a switch interval or two around the call (5 ms each of 300), not the 300 ms.
    assert during < free / 4, (during, free)
