"""Binance spot frames: the documented payloads, control replies, and rejections."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.adapters.binance.decode import (
    Ack,
    BadFrame,
    ErrorReply,
    ServerShutdown,
    StreamEvent,
    decode_book_ticker,
    decode_depth,
    decode_snapshot,
    decode_trade,
    depth_event,
    parse_frame,
    quote_event,
    trade_event,
)
from cockpit.domain.market import encode_line

TRADE = {
    "e": "trade",
    "E": 1672515782136,
    "s": "BNBBTC",
    "t": 12345,
    "p": "0.001",
    "q": "100",
    "T": 1672515782136,
    "m": True,
    "M": True,
}
BOOK = {
    "u": 400900217,
    "s": "BNBUSDT",
    "b": "25.35190000",
    "B": "31.21000000",
    "a": "25.36520000",
    "A": "40.66000000",
}
DEPTH = {
    "e": "depthUpdate",
    "E": 1672515782136,
    "s": "BNBBTC",
    "U": 157,
    "u": 160,
    "b": [["0.0024", "10"]],
    "a": [["0.0026", "100"]],
}


def wrap(stream: str, data: object) -> bytes:
    return json.dumps({"stream": stream, "data": data}).encode()


def test_trade_event_is_exact() -> None:
    msg = parse_frame(wrap("bnbbtc@trade", TRADE))
    assert isinstance(msg, StreamEvent)
    tick = trade_event(decode_trade(msg.data), 9)
    assert tick.ltp == Decimal("0.001")
    assert tick.ltq == Decimal("100")
    assert tick.aggressor == "sell"  # buyer is maker: the taker sold
    assert tick.trade_id == "12345"
    assert tick.ltt_ns == 1672515782136 * 10**6
    assert encode_line(tick) == (
        b'{"kind":"trade","recv_ns":9,"exchange":"BINANCE","symbol":"BNBBTC","ltp":0.001,'
        b'"exch_ns":1672515782136000000,"ltq":100,"ltt_ns":1672515782136000000,'
        b'"aggressor":"sell","trade_id":"12345"}'
    )


def test_book_ticker_and_depth() -> None:
    b = decode_book_ticker(json.dumps(BOOK).encode())
    q = quote_event(b, None, 1)
    assert q.ltp == Decimal("25.35190000")  # no trade yet: the best bid
    assert q.bids == ((Decimal("25.3519"), Decimal("31.21"), 0),)
    assert quote_event(b, Decimal("25.36"), 1).ltp == Decimal("25.36")
    d = decode_depth(json.dumps(DEPTH).encode())
    assert (d.first_id, d.final_id, d.bids) == (157, 160, [(Decimal("0.0024"), Decimal("10"))])
    tick = depth_event("BNBBTC", d.bids, d.asks, None, 5, 1)
    assert tick is not None
    assert tick.ltp == Decimal("0.0024")
    assert depth_event("X", [], [], None, None, 1) is None
    snap = decode_snapshot(b'{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[]}')
    assert snap.last_update_id == 160


def test_control_replies_and_shutdown() -> None:
    assert parse_frame(b'{"result":null,"id":1}') == Ack(1, None)
    assert parse_frame(b'{"result":["btcusdt@trade"],"id":"a"}') == Ack("a", ["btcusdt@trade"])
    assert parse_frame(b'{"code":2,"msg":"Invalid request","id":3}') == ErrorReply(
        2, "Invalid request", 3
    )
    assert isinstance(
        parse_frame(wrap("!serverShutdown", {"e": "serverShutdown", "E": 1})), ServerShutdown
    )
    assert parse_frame(b'{"e":"serverShutdown","E":5}') == ServerShutdown(5)


@pytest.mark.parametrize(
    ("decoder", "data"),
    [
        (decode_trade, {**TRADE, "p": "NaN"}),
        (decode_trade, {**TRADE, "p": "-1"}),
        (decode_trade, {**TRADE, "p": "0"}),
        (decode_trade, {**TRADE, "q": "0"}),
        (decode_trade, {**TRADE, "p": "abc"}),
        (decode_trade, {**TRADE, "p": 1.5e400}),
        (decode_trade, {**TRADE, "T": "yesterday"}),
        (decode_trade, {"e": "trade"}),
        (decode_trade, [1, 2]),
        (decode_book_ticker, {**BOOK, "b": "26"}),  # crossed
        (decode_book_ticker, {**BOOK, "A": "-1"}),
        (decode_book_ticker, {**BOOK, "a": "Infinity"}),
        (decode_depth, {**DEPTH, "U": 161}),  # U > u
        (decode_depth, {**DEPTH, "b": [["0.0024"]]}),
        (decode_depth, {**DEPTH, "b": [["-0.0024", "1"]]}),
        (decode_depth, {**DEPTH, "a": [["0.0026", "-5"]]}),
        (decode_depth, {**DEPTH, "a": "nope"}),
    ],
)
def test_invalid_payloads_raise_bad_frame(decoder, data) -> None:  # noqa: ANN001
    with pytest.raises(BadFrame):
        decoder(json.dumps(data).encode())


@pytest.mark.parametrize(
    "frame", [b"", b"not json", b"[]", b"{}", b'{"stream":"x"}', b"\xff\xfe", b'"str"', b"1"]
)
def test_garbage_frames_raise_bad_frame(frame: bytes) -> None:
    with pytest.raises(BadFrame):
        parse_frame(frame)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=10,
)


@given(
    st.dictionaries(
        st.sampled_from(["stream", "data", "result", "id", "code", "msg", "e", "E"]), json_values
    )
)
@settings(max_examples=300, deadline=None)
def test_random_json_only_ever_raises_bad_frame(obj: dict) -> None:
    raw = json.dumps(obj).encode()
    try:
        msg = parse_frame(raw)
    except BadFrame:
        return
    if isinstance(msg, StreamEvent):
        for dec in (decode_trade, decode_book_ticker, decode_depth):
            try:
                dec(msg.data)
            except BadFrame:
                pass
