"""The buffered WebSocket frame parser and the reconnect backoff (pure parts of adapters.ws)."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.adapters.ws import Backoff, Disconnect, _FrameReader


def frame(payload: bytes, opcode: int = 1, fin: bool = True) -> bytes:
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", b0, n) + payload
    if n < 65536:
        return struct.pack("!BBH", b0, 126, n) + payload
    return struct.pack("!BBQ", b0, 127, n) + payload


def reader(max_message: int = 1 << 20) -> _FrameReader:
    return _FrameReader(None, 65536, max_message)  # type: ignore[arg-type]


def feed_all(r: _FrameReader, data: bytes, cuts: list[int]) -> tuple[list, int, list]:
    msgs: list = []
    controls: list = []
    n = 0
    prev = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        m, k, c = r.feed(data[prev:cut])
        msgs += m
        controls += c
        n += k
        prev = cut
    return msgs, n, controls


payloads = st.lists(
    st.tuples(st.binary(max_size=70000), st.sampled_from([1, 2])),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(payloads, st.lists(st.integers(min_value=0, max_value=300000), max_size=20))
def test_any_split_of_the_stream_gives_the_same_messages(msgs, cuts) -> None:
    data = b"".join(frame(p, op) for p, op in msgs)
    got, n, controls = feed_all(reader(), data, [c for c in cuts if c <= len(data)])
    assert got == [(p, op == 2) for p, op in msgs]
    assert n == len(msgs)
    assert controls == []


def test_lengths_7_16_and_64_bit() -> None:
    for size in (0, 125, 126, 65535, 65536, 200000):
        body = bytes(random.Random(size).randrange(256) for _ in range(size))
        got, n, _ = feed_all(reader(), frame(body), [1, 3, 9])
        assert got == [(body, False)]
        assert n == 1


def test_fragments_with_a_ping_in_between() -> None:
    data = frame(b"he", 1, fin=False) + frame(b"ping!", 9) + frame(b"llo", 0, fin=True)
    got, n, controls = reader().feed(data)
    assert got == [(b"hello", False)]
    assert n == 3
    assert controls == [(9, b"ping!")]


def test_pongs_count_as_frames_but_are_not_returned() -> None:
    got, n, controls = reader().feed(frame(b"", 0xA))
    assert (got, n, controls) == ([], 1, [])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x81\x85abcd" + b"hello", "masked"),
        (b"\xc1\x00", "reserved"),
        (b"\x83\x00", "opcode 3"),
        (b"\x80\x00", "continuation without"),
        (frame(b"a", 1, fin=False) + frame(b"b", 1), "inside a fragmented"),
        (b"\x89\x7e\x00\x80" + b"x" * 128, "control frame"),
        (b"\x09\x00", "control frame"),
        (b"\x81\x7f" + (1 << 40).to_bytes(8, "big"), "frame of"),
    ],
)
def test_protocol_violations_end_the_session(data: bytes, reason: str) -> None:
    with pytest.raises(Disconnect, match=reason):
        reader().feed(data)


def test_fragmented_message_over_the_limit() -> None:
    r = reader(max_message=10)
    with pytest.raises(Disconnect, match="too large"):
        r.feed(frame(b"x" * 8, 1, fin=False) + frame(b"y" * 8, 0, fin=True))


def test_backoff_grows_caps_and_jitters_within_bounds() -> None:
    b = Backoff(initial=0.5, factor=2.0, cap=8.0, jitter=0.2)
    rng = random.Random(1)
    for attempt, base in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)]:
        delays = [b.delay(attempt, rng) for _ in range(200)]
        assert min(delays) >= base * 0.8 - 1e-9
        assert max(delays) <= min(8.0, base * 1.2) + 1e-9
        assert len({round(d, 6) for d in delays}) > 1  # jittered, not lock-step
    assert Backoff(jitter=0).delay(1) == 0.5
