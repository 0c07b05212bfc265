"""Kite binary/text decoding: the protocol note's exact frames, rejections, and a cross-check
of every packet kind against kiteconnect's own parser (``KiteTicker._parse_binary``)."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.adapters.kite.decode import KiteDecoder, KiteNotice, price_decimals
from cockpit.domain.feed import OrderUpdate
from cockpit.domain.market import DepthTick, LtpTick, QuoteTick, encode_line
from tests.servers.kite_server import frame, full_packet, index_packet, ltp_packet, quote_packet

NOTE_LTP = bytes.fromhex("0001 0008 00063a01 00024a09".replace(" ", ""))
NOTE_TWO = bytes.fromhex(
    "0002 0008 00063a01 00024a09 001c 0003e909 00225542 00227c20 00222e00 00224188 002206f0"
    " 00004e52".replace(" ", "")
)
NOTE_QUOTE = bytes.fromhex(
    "0001002c 00063a01 00024a09 0000000a 000249dc 0001e240 00001388 00001770 00024608"
    " 00024dd8 00024414 00024220".replace(" ", "")
)


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch):
    """kiteconnect turns epochs into naive local datetimes: pin the zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_note_ltp_frame() -> None:
    (tick,) = KiteDecoder({408065: ("NSE", "INFY")}).decode_binary(NOTE_LTP, 7)
    assert tick == LtpTick(
        recv_ns=7, exchange="NSE", symbol="INFY", ltp=Decimal("1500.25"), token="408065"
    )
    assert encode_line(tick) == (
        b'{"kind":"ltp","recv_ns":7,"exchange":"NSE","symbol":"INFY","ltp":1500.25,'
        b'"token":"408065"}'
    )


def test_note_two_packets_with_index_unknown_token() -> None:
    dec = KiteDecoder()
    ltp, idx = dec.decode_binary(NOTE_TWO, 1)
    assert (ltp.exchange, ltp.symbol) == ("NSE", "408065")
    assert isinstance(idx, QuoteTick)
    assert (idx.exchange, idx.symbol, idx.token) == ("INDICES", "256265", "256265")
    assert (idx.ltp, idx.high, idx.low, idx.open, idx.close) == (
        Decimal("22500.50"),
        Decimal("22600.00"),
        Decimal("22400.00"),
        Decimal("22450.00"),
        Decimal("22300.00"),
    )
    assert idx.exch_ns is None
    assert dec.packets == 2
    assert dec.rejected == 0


def test_note_quote_and_full_packet() -> None:
    dec = KiteDecoder()
    (q,) = dec.decode_binary(NOTE_QUOTE, 1)
    assert isinstance(q, QuoteTick)
    assert not isinstance(q, DepthTick)
    assert (q.ltp, q.ltq, q.atp, q.volume) == (
        Decimal("1500.25"),
        10,
        Decimal("1499.80"),
        123456,
    )
    assert (q.total_buy_qty, q.total_sell_qty) == (5000, 6000)
    assert (q.open, q.high, q.low, q.close) == (
        Decimal("1490.00"),
        Decimal("1510.00"),
        Decimal("1485.00"),
        Decimal("1480.00"),
    )
    bid = bytes.fromhex("00000064 00024a04 0003 0000")
    empty = bytes(12)
    body = NOTE_QUOTE[4:] + bytes.fromhex("6553f100") + bytes(12) + bytes.fromhex("6553f101")
    full = body + bid + empty * 4 + bid[:4] + bytes.fromhex("00024a0e 0001 0000") + empty * 4
    (d,) = dec.decode_binary(frame([full]), 2)
    assert isinstance(d, DepthTick)
    assert d.ltt_ns == 1_700_000_000 * 10**9
    assert d.exch_ns == 1_700_000_001 * 10**9
    assert d.oi is None  # zero OI is absent, not zero
    assert d.bids == ((Decimal("1500.20"), Decimal(100), 3),)  # empty levels dropped
    assert d.asks == ((Decimal("1500.30"), Decimal(100), 1),)


@pytest.mark.parametrize(
    ("token", "raw", "price"),
    [
        (412675, 831250000, "83.1250000"),  # CDS, 1e7
        (412678, 831250, "83.1250"),  # BCD, 1e4
        (412684, 831250, "83.1250"),  # NCO, 1e4
        (412679, 831250, "8312.50"),  # MCX, 100
    ],
)
def test_segment_divisors_are_exact(token: int, raw: int, price: str) -> None:
    (tick,) = KiteDecoder().decode_binary(frame([ltp_packet(token, raw)]), 0)
    assert tick.ltp == Decimal(price)
    assert str(tick.ltp) == price


def test_heartbeat_counted_not_emitted() -> None:
    dec = KiteDecoder()
    assert dec.decode_binary(b"\x00", 0) == []
    assert dec.decode_binary(b"", 0) == []
    assert (dec.heartbeats, dec.rejected, dec.frames) == (2, 0, 2)


@pytest.mark.parametrize(
    ("data", "events", "rejected"),
    [
        (NOTE_LTP[:-1], 0, 1),  # truncated packet
        (NOTE_TWO[:20], 1, 1),  # second packet cut short: the first survives
        (b"\x00\x05\x00\x08", 0, 1),  # count says 5, nothing there
        (frame([b"\x01" * 10]), 0, 1),  # unknown packet length
        (frame([ltp_packet(408065, 0)]), 0, 1),  # zero last price
        (frame([ltp_packet(408065, 0x8000_0001)]), 0, 1),  # negative as int32
        (frame([ltp_packet(408065, 5), b"\xff" * 3]), 1, 1),  # bad second packet
        (NOTE_LTP + b"\x00\x00", 1, 1),  # trailing garbage
        (b"\xff\xff" + b"\x00" * 50, 0, 1),  # absurd count
        (os.urandom(0) + b"\x00\x00", 0, 0),  # zero packets: nothing, nothing wrong
    ],
)
def test_bad_frames_counted_and_skipped(data: bytes, events: int, rejected: int) -> None:
    dec = KiteDecoder()
    out = dec.decode_binary(data, 0)
    assert len(out) == events
    assert dec.rejected == rejected


@given(st.binary(max_size=400))
@settings(max_examples=300, deadline=None)
def test_garbage_never_raises_and_never_emits_invalid(data: bytes) -> None:
    for ev in KiteDecoder().decode_binary(data, 0):
        assert ev.ltp > 0 or (ev.ltp == 0 and isinstance(ev, QuoteTick))  # 0: no trade yet
        for side in (getattr(ev, "bids", None) or (), getattr(ev, "asks", None) or ()):
            for price, qty, _orders in side:
                assert price > 0
                assert qty > 0


def test_order_postback_statuses() -> None:
    dec = KiteDecoder()
    base = {
        "order_id": "151220000000000",
        "exchange": "NSE",
        "tradingsymbol": "INFY",
        "instrument_token": 408065,
        "transaction_type": "BUY",
        "order_type": "LIMIT",
        "product": "MIS",
        "quantity": 10,
        "filled_quantity": 4,
        "pending_quantity": 6,
        "price": 1500.25,
        "trigger_price": 0,
        "average_price": 1500.2,
    }
    for kite, ours in [
        ("OPEN", "open"),
        ("COMPLETE", "complete"),
        ("CANCELLED", "cancelled"),
        ("REJECTED", "rejected"),
        ("TRIGGER PENDING", "trigger pending"),
        ("MODIFY PENDING", "modify pending"),
    ]:
        msg = json.dumps({"type": "order", "data": {**base, "status": kite}})
        upd = dec.decode_text(msg, 5)
        assert isinstance(upd, OrderUpdate)
        assert upd.status == ours
        assert (upd.orderid, upd.key, upd.action) == ("151220000000000", "NSE:INFY", "BUY")
        assert upd.price == Decimal("1500.25")
        assert upd.average_price == Decimal("1500.2")
        assert (upd.quantity, upd.filled_qty, upd.pending_qty) == (10, 4, 6)
    assert dec.orders == 6
    assert dec.rejected == 0


def test_text_errors_messages_and_garbage() -> None:
    dec = KiteDecoder()
    err = dec.decode_text('{"type":"error","data":"Invalid token"}', 1)
    assert err == KiteNotice(kind="error", text="Invalid token", recv_ns=1)
    assert isinstance(dec.decode_text('{"type":"message","data":"hello"}', 1), KiteNotice)
    assert dec.decode_text('{"type":"order","data":{}}', 1) is None  # empty: ignored
    for bad in ["not json", "[1,2]", '{"type":"nope"}', '{"type":"order","data":{"x":1}}']:
        assert dec.decode_text(bad, 1) is None
    assert dec.rejected == 4
    assert dec.notices == 2


# -- cross-check against kiteconnect -------------------------------------------------------

SEGS = [1, 2, 3, 4, 5, 6, 7, 8, 12]
price = st.integers(0, 0x7FFF_FFFF)
ltp_raw = st.integers(1, 0x7FFF_FFFF)
u32 = st.integers(0, 0xFFFF_FFFF)


@st.composite
def tokens(draw: st.DrawFn, index: bool = False) -> int:
    seg = 9 if index else draw(st.sampled_from(SEGS))
    return (draw(st.integers(1, 0xFFFFFF)) << 8) | seg


@st.composite
def packets(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["ltp", "index_quote", "index_full", "quote", "full"]))
    if kind == "ltp":
        return ltp_packet(draw(st.one_of(tokens(), tokens(index=True))), draw(ltp_raw))
    if kind.startswith("index"):
        ts = draw(u32) if kind == "index_full" else None
        return index_packet(
            draw(tokens(index=True)),
            draw(ltp_raw),
            *[draw(price) for _ in range(4)],
            draw(st.integers(-(2**31), 2**31 - 1)),
            ts,
        )
    q = quote_packet(draw(tokens()), draw(ltp_raw), *[draw(u32) for _ in range(9)])
    q = (
        q[:12]
        + price_field(draw(price))
        + q[16:28]
        + b"".join(price_field(draw(price)) for _ in range(4))
    )
    if kind == "quote":
        return q
    level = st.tuples(u32, price, st.integers(0, 0xFFFF))
    return full_packet(
        q,
        *[draw(u32) for _ in range(5)],
        [draw(level) for _ in range(5)],
        [draw(level) for _ in range(5)],
    )


def price_field(raw: int) -> bytes:
    return raw.to_bytes(4, "big")


def _same_price(ours: Decimal | None, theirs: float, token: int) -> None:
    exp = price_decimals(token)
    raw = round(theirs * 10**exp)
    if ours is None:
        assert raw == 0
    else:
        assert ours.as_tuple().exponent == -exp
        assert int(ours.scaleb(exp)) == raw


def _same_ts(ours: int | None, theirs: datetime | None) -> None:
    epoch = 0 if theirs is None else round(theirs.timestamp())
    assert (ours or 0) == epoch * 10**9


@given(st.lists(packets(), min_size=1, max_size=6))
@settings(max_examples=400, deadline=None)
def test_cross_check_with_kiteconnect(pkts: list[bytes]) -> None:
    from kiteconnect import KiteTicker

    data = frame(pkts)
    theirs = KiteTicker("k", "t")._parse_binary(data)
    dec = KiteDecoder()
    ours = dec.decode_binary(data, 1)
    assert dec.rejected == 0
    assert len(ours) == len(theirs) == len(pkts)
    for o, t, p in zip(ours, theirs, pkts, strict=True):
        token = t["instrument_token"]
        assert o.token == str(token)
        _same_price(o.ltp, t["last_price"], token)
        if len(p) == 8:
            assert type(o) is LtpTick
            assert t["mode"] == "ltp"
            continue
        ohlc = t["ohlc"]
        for field in ("open", "high", "low", "close"):
            _same_price(getattr(o, field), ohlc[field], token)
        if len(p) in (28, 32):
            assert type(o) is QuoteTick
            assert not t["tradable"]
            if len(p) == 32:
                _same_ts(o.exch_ns, t["exchange_timestamp"])
            else:
                assert o.exch_ns is None
            continue
        assert t["tradable"]
        _same_price(o.atp, t["average_traded_price"], token)
        assert o.ltq == t["last_traded_quantity"]
        assert o.volume == t["volume_traded"]
        assert o.total_buy_qty == t["total_buy_quantity"]
        assert o.total_sell_qty == t["total_sell_quantity"]
        if len(p) == 44:
            assert type(o) is QuoteTick
            continue
        assert type(o) is DepthTick
        assert t["mode"] == "full"
        _same_ts(o.ltt_ns, t["last_trade_time"])
        _same_ts(o.exch_ns, t["exchange_timestamp"])
        assert (o.oi or 0, o.oi_high or 0, o.oi_low or 0) == (
            t["oi"],
            t["oi_day_high"],
            t["oi_day_low"],
        )
        for levels, side in ((o.bids, "buy"), (o.asks, "sell")):
            kept = [lv for lv in t["depth"][side] if lv["quantity"] and lv["price"]]
            assert len(levels or ()) == len(kept)
            for (px, qty, orders), lv in zip(levels or (), kept, strict=True):
                _same_price(px, lv["price"], token)
                assert (qty, orders) == (lv["quantity"], lv["orders"])


def test_zero_last_price_in_quote_and_full_packets_keeps_the_book() -> None:
    """Issue 17.6: an untraded contract's packets carry last price 0 and a real book."""
    token = 408065
    quote = quote_packet(token, 0, 0, 0, 0, 500, 700, 0, 0, 0, 148000)
    dec = KiteDecoder({token: ("NFO", "OPT")})
    (q,) = dec.decode_binary(frame([quote]), 1)
    assert type(q) is QuoteTick
    assert q.ltp == 0
    assert not q.traded
    assert q.close == Decimal("1480.00")
    bids = [(50, 147990, 2)] + [(0, 0, 0)] * 4
    asks = [(25, 148010, 1)] + [(0, 0, 0)] * 4
    (d,) = dec.decode_binary(frame([full_packet(quote, 0, 0, 0, 0, 0, bids, asks)]), 2)
    assert type(d) is DepthTick
    assert d.ltp == 0
    assert d.bids == ((Decimal("1479.90"), Decimal(50), 2),)
    assert d.asks == ((Decimal("1480.10"), Decimal(25), 1),)
    assert dec.rejected == 0


def test_zero_last_price_alone_is_still_refused() -> None:
    dec = KiteDecoder()
    assert dec.decode_binary(frame([ltp_packet(408065, 0)]), 1) == []
    assert dec.decode_binary(frame([index_packet(256265, 0, 1, 1, 1, 1)]), 1) == []
    assert dec.rejected == 2
