"""Start-up instrument lookup on an OpenAlgo server, never guessed.

An instrument is added only with the tick size and lot size the server gave. A few symbols
are looked up one by one (``POST /api/v1/symbol``); from ``LookupPolicy.bulk_from`` symbols of
one exchange the exchange's whole list is fetched once (``GET /api/v1/instruments``, the same
rows), so 3,000 symbols take one request instead of six minutes at the server's rate limit.
A server without that endpoint (an older OpenAlgo) is asked symbol by symbol. A symbol the
server does not know is refused with the server's own words; a 429 is retried after a backoff
of our own (the server's 429 carries no ``retry_after``), and requests are paced under
OpenAlgo's default limit of 10 per second.

Usage::

    found, refused = lookup_instruments(host, api_key, ["NSE:INFY", "NSE:NOPE"])
    # found: [Instrument(NSE:INFY, tick 0.1, lot 1)]
    # refused: ["NSE:NOPE: HTTP 404: Symbol NOPE not found in exchange NSE"]
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

import httpx

from cockpit.adapters.openalgo.rest import HttpError, api_root, interpret, message_of
from cockpit.adapters.openalgo.rows import instrument_from_row
from cockpit.domain.instruments import Instrument, parse_key

log = logging.getLogger(__name__)

UNREACHABLE: Final = "cannot reach the server"
RATE_PER_S: Final = 8.0
"""Our pace: under OpenAlgo's default of 10 API requests per second, with room to spare."""


@dataclass(frozen=True, slots=True)
class LookupPolicy:
    """How hard a lookup tries.

    Args:
        rate_per_s: requests per second at most.
        retries_429: how many 429s one symbol may meet before it is given up.
        backoff_s: the first wait after a 429 (doubling, up to ``max_backoff_s``).
        transport_retries: retries when the server cannot be reached at all.
        bulk_from: from this many symbols of one exchange, fetch the exchange's list once.
        bulk_timeout_s: the time the whole list of one exchange may take to arrive.
    """

    rate_per_s: float = RATE_PER_S
    retries_429: int = 8
    backoff_s: float = 0.25
    max_backoff_s: float = 4.0
    transport_retries: int = 2
    bulk_from: int = 20
    bulk_timeout_s: float = 120.0


def lookup_instruments(
    host: str,
    api_key: str,
    keys: Iterable[str],
    *,
    policy: LookupPolicy | None = None,
    timeout_s: float = 10.0,
) -> tuple[list[Instrument], list[str]]:
    """Look ``EXCH:SYMBOL`` keys up; returns (instruments found, refusals as ``key: why``).

    Never raises for a symbol: a bad key, a refusal, an unreadable answer or an unreachable
    server each become one refusal naming the key and the reason.
    """
    policy = policy or LookupPolicy()
    root = api_root(host)
    found: list[Instrument] = []
    refused: list[str] = []
    http = httpx.Client(timeout=timeout_s)
    pace = _Pace(policy.rate_per_s)
    unreachable = ""
    try:
        parsed: list[tuple[str, str]] = []
        for key in keys:
            try:
                exch, symbol = parse_key(key)
            except ValueError as exc:
                refused.append(f"{key}: {exc}")
                continue
            parsed.append((str(exch), symbol))
        per_exchange = Counter(exchange for exchange, _ in parsed)
        lists = {
            exchange: rows
            for exchange, n in per_exchange.items()
            if n >= policy.bulk_from
            and (rows := _exchange_list(http, root, api_key, exchange, policy, pace)) is not None
        }
        for exchange, symbol in parsed:
            key = f"{exchange}:{symbol}"
            if unreachable:  # one symbol found the server down: the rest need not wait
                refused.append(f"{key}: {unreachable}")
                continue
            if exchange in lists:
                inst, why = _from_list(lists[exchange], exchange, symbol)
            else:
                body = {"apikey": api_key, "symbol": symbol, "exchange": exchange}
                inst, why = _lookup_one(http, f"{root}/symbol", body, key, policy, pace)
            if inst is not None:
                found.append(inst)
            else:
                refused.append(f"{key}: {why}")
                if why.startswith(UNREACHABLE):
                    unreachable = why
    finally:
        http.close()
    return found, refused


def _exchange_list(
    http: httpx.Client,
    root: str,
    api_key: str,
    exchange: str,
    policy: LookupPolicy,
    pace: _Pace,
) -> dict[str, Any] | None:
    """Symbol -> row of ``exchange``'s list, or None when the server cannot give it."""
    params = {"apikey": api_key, "exchange": exchange}
    payload, why = _call(
        lambda: http.get(f"{root}/instruments", params=params, timeout=policy.bulk_timeout_s),
        exchange,
        policy,
        pace,
    )
    rows = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(rows, list):
        log.info(
            "%s: no instrument list from the server (%s); asking symbol by symbol", exchange, why
        )
        return None
    return {row["symbol"]: row for row in rows if isinstance(row, dict) and "symbol" in row}


def _from_list(rows: dict[str, Any], exchange: str, symbol: str) -> tuple[Instrument | None, str]:
    row = rows.get(symbol)
    if row is None:
        return (
            None,
            f"Symbol {symbol} not found in exchange {exchange} (the server's instrument list)",
        )
    return _instrument(row, f"{exchange}:{symbol}")


class _Pace:
    """At most ``rate`` calls per second (a minimum gap between calls)."""

    def __init__(self, rate: float) -> None:
        self._gap = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0

    def wait(self, extra: float = 0.0) -> None:
        now = time.monotonic()
        start = max(now, self._next) + extra
        if start > now:
            time.sleep(start - now)
        self._next = max(time.monotonic(), start) + self._gap


def _lookup_one(
    http: httpx.Client,
    url: str,
    body: dict[str, str],
    key: str,
    policy: LookupPolicy,
    pace: _Pace,
) -> tuple[Instrument | None, str]:
    payload, why = _call(lambda: http.post(url, json=body), key, policy, pace)
    if payload is None:
        return None, why
    return _instrument(payload.get("data"), key)


def _instrument(row: Any, key: str) -> tuple[Instrument | None, str]:
    inst = instrument_from_row(row)
    if inst is None:
        return None, "the server's answer has no usable tick size"
    if inst.key != key:
        return None, f"the server answered for {inst.key}"
    return inst, ""


def _call(
    send: Callable[[], httpx.Response], what: str, policy: LookupPolicy, pace: _Pace
) -> tuple[dict[str, Any] | None, str]:
    """One request, paced, 429s and transport failures retried: (success payload, "") or
    (None, why)."""
    limited = 0
    transport = 0
    backoff = policy.backoff_s
    extra = 0.0
    while True:
        pace.wait(extra)
        extra = 0.0
        try:
            resp = send()
        except httpx.HTTPError as exc:
            transport += 1
            if transport > policy.transport_retries:
                return None, f"{UNREACHABLE} ({type(exc).__name__})"
            extra = backoff
            backoff = min(backoff * 2, policy.max_backoff_s)
            continue
        if resp.status_code == 429:
            limited += 1
            if limited > policy.retries_429:
                return None, f"still rate limited (HTTP 429) after {limited} tries"
            log.info("%s: rate limited (HTTP 429); trying again in %.2f s", what, backoff)
            extra = backoff
            backoff = min(backoff * 2, policy.max_backoff_s)
            continue
        try:
            payload = interpret(resp.status_code, resp.content, resp.reason_phrase, None)
        except HttpError as exc:
            return None, str(exc)
        if not isinstance(payload, dict) or payload.get("status") != "success":
            return None, message_of(payload) or "the server refused the lookup"
        return payload, ""
