"""Binance feed construction: URLs, stream names, control messages, input checks (no network)."""

from __future__ import annotations

import json

import pytest

from cockpit.adapters.binance.feed import BinanceFeed, make_feed


def test_urls_and_streams() -> None:
    feed = make_feed(["btcusdt", "ETHUSDT"], "quote", None, print)
    proto = feed.protocol
    assert proto.rest_url == "https://api.binance.com"
    assert proto.url() == (
        "wss://stream.binance.com:9443/stream?streams="
        "btcusdt@trade/btcusdt@bookTicker/ethusdt@trade/ethusdt@bookTicker"
    )
    local = BinanceFeed(print, url="ws://127.0.0.1:8/stream/")
    assert local.protocol.rest_url == "http://127.0.0.1:8"
    assert local.protocol.url() == "ws://127.0.0.1:8/stream"
    assert BinanceFeed(print, url="wss://x.test").protocol.rest_url == "https://x.test"


def test_subscribe_sends_only_streams_not_on_the_socket() -> None:
    feed = make_feed(["BTCUSDT"], "ltp", None, print)
    proto = feed.protocol
    proto.url()  # a connect: the URL carries btcusdt@trade
    assert proto.subscribe_messages("ltp", ["BTCUSDT"]) == []
    proto.wanted["BTCUSDT"].add("depth")
    (msg,) = proto.subscribe_messages("depth", ["BTCUSDT"])
    sub = json.loads(msg)
    assert sub["method"] == "SUBSCRIBE"
    assert sub["params"] == ["btcusdt@depth@100ms"]
    assert proto.pending == {sub["id"]: "SUBSCRIBE"}
    # dropping depth keeps the trade stream that ltp still needs
    proto.wanted["BTCUSDT"].discard("depth")
    (msg,) = proto.unsubscribe_messages("depth", ["BTCUSDT"])
    assert json.loads(msg)["params"] == ["btcusdt@depth@100ms"]


@pytest.mark.parametrize("bad", ["BTC/USDT", "btcusdt@trade", "a?b", "x" * 41, "BTC USDT"])
def test_bad_symbols_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a Binance symbol"):
        make_feed([bad], "ltp", None, print)


def test_mode_and_stream_limits() -> None:
    with pytest.raises(ValueError, match="mode"):
        make_feed(["BTCUSDT"], "book", None, print)
    with pytest.raises(ValueError, match="at least one"):
        make_feed([" "], "ltp", None, print)
    feed = make_feed([f"S{i}" for i in range(512)], "quote", None, print)  # 1024 streams
    with pytest.raises(ValueError, match="1024"):
        feed.subscribe(["ONEMORE"], "ltp")
    assert "ONEMORE" not in feed.protocol.wanted
