"""The OpenAlgo feed's rule for frames behind their stream's newest exchange time: a lone
duplicate or delayed frame is dropped; frames that keep arriving behind for the reorder window
(a clock that went back, or a second clock in the stream) are taken after it, whatever frames
ahead of them arrive meanwhile -- never dropped for good.

A stream can carry two clocks on a real server: the OpenAlgo proxy sends a tick published at
a higher mode to a lower mode's subscriber re-tagged with its mode (a depth tick another client
asked for reaches a quote subscriber as a quote), and an adapter stamps a tick that has no time
of its own with the server's clock (Zerodha's adapter: ``int(time.time() * 1000)``)."""

from __future__ import annotations

import json

from cockpit.adapters.openalgo.feed import OpenAlgoProtocol
from cockpit.adapters.ws import Reject

T0 = 1_767_080_412_000  # epoch ms
S = 1_000_000_000  # ns


def frame(ltp: str, ts_ms: int) -> bytes:
    data = {"ltp": ltp, "timestamp": ts_ms}
    msg = {"type": "market_data", "symbol": "SBIN", "exchange": "NSE", "mode": 2, "data": data}
    return json.dumps(msg).encode()


def taken(proto: OpenAlgoProtocol, ltp: str, ts_ms: int, recv_ns: int) -> bool:
    try:
        return bool(proto.decode(frame(ltp, ts_ms), False, recv_ns))
    except Reject as exc:
        reason = str(exc)
    assert reason == "out of order"
    return False


def test_frames_of_a_second_clock_behind_the_first_are_taken_after_the_window() -> None:
    """Two clocks interleaved, each in order, one 300 ms behind the other, a frame of each
    every 100 ms for 5 s: the lagging clock's frames are dropped for the window (2 s), then
    taken (they were dropped for good: each frame of the leading clock started the window
    again)."""
    proto = OpenAlgoProtocol("ws://127.0.0.1:1", "key")
    lagging: list[tuple[int, bool]] = []
    for i in range(50):
        recv = 10 * S + i * S // 10
        assert taken(proto, "801.00", T0 + i * 100, recv)  # the leading clock: always taken
        lagging.append((recv, taken(proto, "800.95", T0 + i * 100 - 300, recv + 1)))
    dropped_late = [recv for recv, ok in lagging if not ok and recv >= 10 * S + 2 * S + S // 10]
    assert dropped_late == []
    assert lagging[0][1] is False  # the first behind frame is still dropped


def test_a_lone_delayed_frame_now_and_then_is_dropped_each_time() -> None:
    """A replayed frame every few seconds, in-order frames between: each one dropped (the
    window counts a run of frames behind, not the time since the first one ever)."""
    proto = OpenAlgoProtocol("ws://127.0.0.1:1", "key")
    for n in range(5):
        base = 10 * S + n * 5 * S
        assert taken(proto, "801.00", T0 + n * 5000, base)
        assert not taken(proto, "799.00", T0 + n * 5000 - 4000, base + S // 10)  # a replay
        assert taken(proto, "801.05", T0 + n * 5000 + 100, base + S // 5)


def test_a_clock_that_went_back_is_taken_after_the_window() -> None:
    proto = OpenAlgoProtocol("ws://127.0.0.1:1", "key")
    assert taken(proto, "801.00", T0, 10 * S)
    got = [taken(proto, "801.05", T0 - 60_000 + i * 100, 10 * S + i * S // 10) for i in range(40)]
    assert got[:20] == [False] * 20  # behind for less than the 2 s window: dropped
    assert all(got[21:])  # then the server's new time is taken, and its frames after it


def test_a_clock_that_went_back_on_a_quiet_symbol_is_taken_after_the_window() -> None:
    """A frame every 3 s, each behind (no frame in order to end the run): the second is taken."""
    proto = OpenAlgoProtocol("ws://127.0.0.1:1", "key")
    assert taken(proto, "801.00", T0, 10 * S)
    got = [taken(proto, "801.05", T0 - 60_000 + i * 3000, 11 * S + i * 3 * S) for i in range(4)]
    assert got == [False, True, True, True]
