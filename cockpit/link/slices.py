"""Big frames encoded a slice at a time, so the viewer server never holds the GIL for long.

A snapshot of thousands of symbols is one msgpack message of about a megabyte. msgspec encodes
a message in one call that holds the GIL throughout — about 11 ms for 3,000 symbols with depth
on the development machine — and meanwhile no other thread of the engine runs: not the decision
thread deciding an exit, not the router writing one. :func:`encode_sliced` encodes each long
list of a message ``SLICE`` items per encoder call and splices the pieces into the frame as
``msgspec.Raw``: the bytes are exactly those of :func:`~cockpit.link.protocol.encode`, and
between two calls the interpreter may hand the GIL to a waiting thread, so none waits for more
than one slice (``benchmarks/lab/snapshot_stall.py`` measures both in the same run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec

from cockpit.link.protocol import Msg, encode

SLICE: Final = 250
"""Items per encoder call (a few hundred microseconds of quotes or books)."""

_ENCODER: Final = msgspec.msgpack.Encoder()


def array_header(n: int) -> bytes:
    """The msgpack header of an array of ``n`` items."""
    if n < 16:
        return bytes((0x90 | n,))
    if n < 1 << 16:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def sliced(
    items: list[Any],
    per: int,
    build: Callable[[Any], Any] | None = None,
    weight: Callable[[Any], int] | None = None,
) -> msgspec.Raw:
    """``items`` as one msgpack array, encoded about ``per`` items at a time (``weight``: what
    one item counts for; default 1). ``build``: each item is ``build(item)``, built a slice at
    a time too, and a slice's objects are freed before the next is built."""
    parts = [array_header(len(items))]
    chunk: list[Any] = []
    load = 0
    for item in items:
        chunk.append(item if build is None else build(item))
        load += 1 if weight is None else weight(item)
        if load >= per:
            parts.append(_ENCODER.encode(chunk)[len(array_header(len(chunk))) :])
            chunk, load = [], 0
    if chunk:
        parts.append(_ENCODER.encode(chunk)[len(array_header(len(chunk))) :])
    return msgspec.Raw(b"".join(parts))


def encode_sliced(msg: Msg, per: int = SLICE) -> bytes:
    """One frame of ``msg`` (length prefix + msgpack body), byte for byte what
    :func:`~cockpit.link.protocol.encode` gives, its lists longer than ``per`` encoded a
    slice at a time."""
    long_lists = {
        name: sliced(value, per)
        for name in msg.__struct_fields__
        if type(value := getattr(msg, name)) is list and len(value) > per
    }
    if long_lists:
        msg = msgspec.structs.replace(msg, **long_lists)
    return encode(msg)
