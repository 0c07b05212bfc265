"""Kite feed construction: URL, headers, messages and input checks (no network)."""

from __future__ import annotations

import json

import pytest

from cockpit.adapters.kite.feed import MAX_TOKENS, KiteFeed, KiteProtocol, make_feed


def test_url_headers_and_messages() -> None:
    proto = KiteProtocol("my key", "tok/en", url="ws://127.0.0.1:9/")
    assert proto.url() == "ws://127.0.0.1:9/?api_key=my+key&access_token=tok%2Fen"
    assert KiteProtocol("k", "t").url() == "wss://ws.kite.trade/?api_key=k&access_token=t"
    assert proto.headers() == ["X-Kite-Version: 3"]
    sub, mode = proto.subscribe_messages("depth", ["408065", "256265"])
    assert json.loads(sub) == {"a": "subscribe", "v": [408065, 256265]}
    assert json.loads(mode) == {"a": "mode", "v": ["full", [408065, 256265]]}
    (unsub,) = proto.unsubscribe_messages("ltp", ["408065"])
    assert json.loads(unsub) == {"a": "unsubscribe", "v": [408065]}


def test_subscribe_checks_tokens_modes_and_the_limit() -> None:
    feed = KiteFeed("k", "t", lambda item: None)
    with pytest.raises(ValueError, match="integers"):
        feed.subscribe(["NSE:INFY"], "quote")
    with pytest.raises(ValueError, match="out of range"):
        feed.subscribe([0], "quote")
    with pytest.raises(ValueError, match="out of range"):
        feed.subscribe([2**32], "quote")
    with pytest.raises(ValueError, match="mode"):
        feed.subscribe([1], "book")
    assert feed.subscribe(range(1, MAX_TOKENS + 1), "ltp") == [str(i) for i in range(1, 3001)]
    with pytest.raises(ValueError, match="3000"):
        feed.subscribe([MAX_TOKENS + 1], "quote")
    feed.subscribe([5, 6], "depth")  # moving tokens between modes keeps the count
    assert feed.conn.subscriptions()["depth"] == ["5", "6"]
    assert "5" not in feed.conn.subscriptions()["ltp"]


def test_make_feed_ignores_other_venues_options() -> None:
    feed = make_feed(["408065"], "ltp", None, print, api_key="k", access_token="t", rest_url="x")
    assert feed.conn.subscriptions() == {"ltp": ["408065"]}
