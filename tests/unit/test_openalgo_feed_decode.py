"""OpenAlgo frame decoding: exact prices, broker key variants, bad frames rejected."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.adapters.openalgo.feed import OpenAlgoProtocol, to_ns
from cockpit.adapters.ws import AuthRefused, Disconnect, Reject
from cockpit.domain.feed import OrderUpdate, OrderUpdateSource
from cockpit.domain.market import DepthTick, LtpTick, QuoteTick, decode_line, encode_line

P = OpenAlgoProtocol("ws://x", "k")


def md(mode: int, data: dict, symbol: str = "INFY", exchange: str = "NSE") -> bytes:
    return json.dumps(
        {
            "type": "market_data",
            "symbol": symbol,
            "exchange": exchange,
            "mode": mode,
            "broker": "paper",
            "data": data,
        }
    ).encode()


def one(payload: bytes) -> object:
    events = P.decode(payload, False, 123)
    assert len(events) == 1
    return events[0]


def test_ltp_keeps_the_price_exactly_as_sent() -> None:
    ev = one(
        b'{"type":"market_data","symbol":"INFY","exchange":"NSE","mode":1,'
        b'"data":{"ltp":1512.35,"ltt":1767080412000,"timestamp":1767080412153}}'
    )
    assert isinstance(ev, LtpTick)
    assert ev.ltp == Decimal("1512.35")
    assert str(ev.ltp) == "1512.35"
    assert ev.exch_ns == 1767080412153_000_000
    assert ev.ltt_ns == 1767080412000_000_000
    assert ev.recv_ns == 123
    assert ev.key == "NSE:INFY"


def test_many_decimals_survive_without_float_rounding() -> None:
    ev = one(md(1, {"ltp": 7}).replace(b'"ltp": 7', b'"ltp": 0.1234567890123456789'))
    assert ev.ltp == Decimal("0.1234567890123456789")


@pytest.mark.parametrize(
    ("ltq_key", "atp_key"),
    [("last_quantity", "average_price"), ("last_trade_quantity", "avg_trade_price")],
)
def test_quote_reads_either_broker_key_name(ltq_key: str, atp_key: str) -> None:
    ev = one(
        md(
            2,
            {
                "ltp": 1512.35,
                "open": 1498.0,
                "high": 1519.9,
                "low": 1495.1,
                "close": 1501.6,
                "volume": 3120455,
                ltq_key: 12,
                atp_key: 1507.82,
                "total_buy_quantity": 401200,
                "total_sell_quantity": 388950,
                "oi": 0,
                "timestamp": 1767080412,
            },
        )
    )
    assert isinstance(ev, QuoteTick)
    assert type(ev) is QuoteTick
    assert (ev.ltq, ev.atp) == (Decimal(12), Decimal("1507.82"))
    assert (ev.open, ev.high, ev.low, ev.close) == tuple(
        Decimal(x) for x in ("1498.0", "1519.9", "1495.1", "1501.6")
    )
    assert ev.volume == 3120455
    assert ev.total_buy_qty == 401200
    assert ev.oi == 0
    assert ev.exch_ns == 1767080412 * 10**9  # seconds recognised


def test_depth_levels_best_first_and_zero_padding_dropped() -> None:
    ev = one(
        md(
            3,
            {
                "ltp": 1512.35,
                "depth": {
                    "buy": [
                        {"price": 1512.3, "quantity": 40, "orders": 3},
                        {"price": 1512.25, "quantity": 10, "orders": 1},
                        {"price": 0, "quantity": 0, "orders": 0},
                    ],
                    "sell": [{"price": 1512.4, "quantity": 25, "orders": 1}],
                },
            },
        )
    )
    assert isinstance(ev, DepthTick)
    assert ev.bids == (
        (Decimal("1512.3"), Decimal(40), 3),
        (Decimal("1512.25"), Decimal(10), 1),
    )
    assert ev.asks == ((Decimal("1512.4"), Decimal(25), 1),)
    line = encode_line(ev)
    assert b'"bids":[[1512.3,40,3],[1512.25,10,1]]' in line
    assert decode_line(line) == ev


def test_quote_subscriber_given_a_depth_tick_keeps_top_of_book() -> None:
    ev = one(
        md(
            2,
            {
                "ltp": 10.5,
                "depth": {
                    "buy": [{"price": 10.4, "quantity": 1}],
                    "sell": [{"price": 10.6, "quantity": 2}],
                },
            },
        )
    )
    assert type(ev) is QuoteTick
    assert ev.bids == ((Decimal("10.4"), Decimal(1), 0),)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "malformed"),
        (b"\xff\xfe", "malformed"),
        (
            b'{"type":"market_data","symbol":"A","exchange":"NSE","mode":1,"data":{"ltp":NaN}}',
            "malformed",
        ),
        (md(1, {"ltp": "NaN"}), "non-finite ltp"),
        (md(1, {"ltp": "Infinity"}), "non-finite ltp"),
        (md(1, {"ltp": -1.5}), "negative ltp"),
        (md(1, {"ltp": 0}), "zero ltp"),
        (md(1, {"ltp": 1e30}), "absurd ltp"),
        (md(1, {"ltp": "abc"}), "wrong types"),
        (md(1, {"ltp": True}), "wrong types"),
        (md(1, {"ltp": [1]}), "wrong types"),
        (md(1, {}), "no ltp"),
        (md(3, {"ltp": 1}), "no depth"),
        (md(2, {"ltp": 1, "volume": -3}), "negative volume"),
        (md(3, {"ltp": 1, "depth": {"buy": [{"price": -1, "quantity": 1}]}}), "negative bid price"),
        (md(3, {"ltp": 1, "depth": {"buy": "x"}}), "wrong types"),
        (md(9, {"ltp": 1}), "bad mode"),
        (md(1, {"ltp": 1}, symbol=""), "no symbol"),
        (b'{"type":"market_data","symbol":"A","exchange":"NSE","mode":1}', "no data"),
        (b"[1,2]", "wrong types"),
        (b'{"type":"order_update","symbol":"A"}', "order without id"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(Reject) as info:
        P.decode(payload, False, 1)
    assert info.value.reason == reason


def test_acks_errors_and_pongs_produce_no_events() -> None:
    assert P.decode(b'{"type":"subscribe","status":"success","subscriptions":[]}', False, 1) == ()
    assert P.decode(b'{"status":"error","code":"INVALID_MODE","message":"x"}', False, 1) == ()
    assert P.decode(b'{"type":"pong","status":"success"}', False, 1) == ()
    p = OpenAlgoProtocol("ws://x", "k")
    p.decode(
        b'{"type":"subscribe","status":"partial","subscriptions":[{"symbol":"N","exchange":'
        b'"NSE_INDEX","status":"error","message":"Symbol not found"}]}',
        False,
        1,
    )
    assert p.subscribe_errors == ["NSE_INDEX:N: Symbol not found"]


def test_order_update() -> None:
    ev = one(
        json.dumps(
            {
                "type": "order_update",
                "user_id": "t",
                "mode": "analyze",
                "broker": "sandbox",
                "orderid": "26010512345678",
                "symbol": "SBIN",
                "exchange": "NSE",
                "action": "BUY",
                "quantity": 10,
                "price": 801.5,
                "trigger_price": 0.0,
                "pricetype": "LIMIT",
                "product": "MIS",
                "order_status": "complete",
                "filled_quantity": 10,
                "pending_quantity": 0,
                "average_price": 801.35,
                "rejection_reason": "",
            }
        ).encode()
    )
    assert isinstance(ev, OrderUpdate)
    assert ev.orderid == "26010512345678"
    assert ev.status == "complete"
    assert ev.filled_qty == 10
    assert ev.average_price == Decimal("801.35")
    assert ev.price == Decimal("801.5")
    assert ev.source == OrderUpdateSource.PUSHED
    assert ev.raw is not None
    assert ev.raw["broker"] == "sandbox"


def test_auth_reply() -> None:
    assert P.auth_reply(b'{"type":"auth","status":"success","broker":"x"}', False) is True
    assert P.auth_reply(b'{"type":"subscribe","status":"success"}', False) is None
    assert P.auth_reply(b"junk", False) is None
    with pytest.raises(AuthRefused, match="Invalid API key"):
        P.auth_reply(
            b'{"status":"error","code":"AUTHENTICATION_ERROR","message":"Invalid API key"}', False
        )
    with pytest.raises(Disconnect):
        P.auth_reply(b'{"status":"error","code":"BROKER_INIT_ERROR","message":"x"}', False)


def test_subscribe_messages_are_one_bulk_frame_per_mode() -> None:
    (msg,) = P.subscribe_messages("quote", ["NSE:INFY", "NSE_INDEX:NIFTY"])
    assert isinstance(msg, str)  # a text frame: OpenAlgo servers expect JSON text
    assert all(isinstance(m, str) for m in P.open_messages())
    assert json.loads(msg) == {
        "action": "subscribe",
        "mode": 2,
        "depth": 5,
        "symbols": [
            {"symbol": "INFY", "exchange": "NSE"},
            {"symbol": "NIFTY", "exchange": "NSE_INDEX"},
        ],
    }
    (un,) = P.unsubscribe_messages("depth", ["NSE:INFY"])
    assert json.loads(un) == {
        "action": "unsubscribe",
        "symbols": [{"symbol": "INFY", "exchange": "NSE", "mode": 3}],
    }
    assert json.loads(P.subscribe_messages("orders", ["*"])[0]) == {"action": "subscribe_orders"}


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        (1767080412, 1767080412 * 10**9),
        (1767080412153, 1767080412153 * 10**6),
        (1767080412153123, 1767080412153123 * 10**3),
        (1767080412153123456, 1767080412153123456),
        ("1767080412153", 1767080412153 * 10**6),
        (0, None),
        (-5, None),
        ("10:01:12", None),
        (None, None),
        (True, None),
    ],
)
def test_timestamps_in_any_unit(value: object, ns: int | None) -> None:
    assert to_ns(value) == ns  # type: ignore[arg-type]


@settings(max_examples=500, deadline=None)
@given(
    st.integers(-(10**21), 10**21)
    | st.sampled_from([10**k + d for k in (11, 14, 17, 20) for d in (-1, 0, 1)])
)
def test_an_int_timestamp_is_read_as_the_same_digits_in_text(value: int) -> None:
    """Ints (every tick's time) take their own path: the unit and the ns are those of the
    same number sent as text (which goes the general way)."""
    assert to_ns(value) == to_ns(str(value))
    assert to_ns(value) is None or type(to_ns(value)) is int


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_never_escape_as_anything_but_reject(payload: bytes) -> None:
    try:
        events = P.decode(payload, False, 1)
    except Reject:
        return
    for ev in events:
        assert ev.ltp > 0  # type: ignore[attr-defined]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["ltp", "open", "close", "volume", "last_quantity", "timestamp", "depth"]),
        json_values,
    ),
    st.sampled_from([1, 2, 3, "LTP", "quote"]),
)
def test_hostile_market_data_either_rejects_or_is_valid(data: dict, mode: object) -> None:
    payload = json.dumps(
        {"type": "market_data", "symbol": "A", "exchange": "NSE", "mode": mode, "data": data}
    ).encode()
    try:
        events = P.decode(payload, False, 1)
    except Reject:
        return
    (ev,) = events
    assert ev.ltp.is_finite()
    assert 0 <= ev.ltp < Decimal(10) ** 10
    if ev.ltp == 0:  # no trade yet: only where a quote or book is kept (issue 17.6)
        assert isinstance(ev, QuoteTick)
    for side in (getattr(ev, "bids", None) or (), getattr(ev, "asks", None) or ()):
        for price, qty, _orders in side:
            assert price > 0
            assert qty >= 0


def test_zero_ltp_in_a_depth_frame_keeps_the_book_with_no_last_price() -> None:
    """Issue 17.6: a contract that has not traded today sends ltp 0 with a real book."""
    book = {"buy": [{"price": 101.5, "quantity": 50}], "sell": [{"price": 102, "quantity": 75}]}
    ev = one(md(3, {"ltp": 0, "close": 100.25, "volume": 0, "depth": book}))
    assert type(ev) is DepthTick
    assert ev.ltp == 0
    assert not ev.traded
    assert ev.bids == ((Decimal("101.5"), Decimal(50), 0),)
    assert ev.asks == ((Decimal("102"), Decimal(75), 0),)
    assert ev.close == Decimal("100.25")
    assert decode_line(encode_line(ev)) == ev


def test_zero_ltp_in_a_quote_frame_keeps_the_quote() -> None:
    ev = one(md(2, {"ltp": 0, "open": 0, "close": 99.5, "depth": {"buy": [], "sell": []}}))
    assert type(ev) is QuoteTick
    assert ev.ltp == 0
    assert ev.close == Decimal("99.5")


@pytest.mark.parametrize("mode", [2, 3])
@pytest.mark.parametrize(("ltp", "reason"), [(-1, "negative ltp"), ("NaN", "non-finite ltp")])
def test_zero_is_the_only_non_positive_ltp_accepted(mode: int, ltp: object, reason: str) -> None:
    depth = {"buy": [{"price": 1, "quantity": 1}], "sell": []}
    with pytest.raises(Reject) as info:
        P.decode(md(mode, {"ltp": ltp, "depth": depth}), False, 1)
    assert info.value.reason == reason
