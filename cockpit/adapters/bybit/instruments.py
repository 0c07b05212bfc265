"""Bybit instruments (tick, lot) from ``GET /v5/market/instruments-info``.

The tick is ``priceFilter.tickSize``; the lot is ``lotSizeFilter.qtyStep`` on linear and
``lotSizeFilter.basePrecision`` on spot (spot has no qtyStep). Without ``symbol`` the venue
lists a whole category (linear pages with ``cursor``; spot answers in one page).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from cockpit.adapters.bybit.feed import symbol_of
from cockpit.domain.instruments import Exchange, Instrument, to_decimal

MAX_PAGES = 20


def _instrument(row: dict[str, Any], category: str) -> Instrument:
    lot_filter = row["lotSizeFilter"]
    lot = lot_filter.get("qtyStep") or lot_filter["basePrecision"]
    tick = to_decimal(row["priceFilter"]["tickSize"]).normalize()
    lot_d = to_decimal(lot).normalize()
    if tick <= 0 or lot_d <= 0:
        raise ValueError(f"tick {tick} / lot {lot_d}")
    symbol = str(row["symbol"])
    base = row.get("baseCoin") or symbol
    quote = row.get("quoteCoin") or ""
    kind = "perpetual" if category == "linear" else "crypto"
    name = f"{base}/{quote} {'perp' if category == 'linear' else 'spot'}".strip()
    return Instrument(Exchange.BYBIT, symbol, tick, lot_d, name=name, kind=kind)


def _get(client: httpx.Client, url: str, params: dict[str, str]) -> dict[str, Any]:
    resp = client.get(url, params=params)
    if resp.status_code != 200:
        raise ValueError(f"instruments-info answered HTTP {resp.status_code}: {resp.text[:200]}")
    body = resp.json()
    if body.get("retCode") != 0:
        raise ValueError(f"instruments-info: {body.get('retMsg')} (retCode {body.get('retCode')})")
    return dict(body["result"])


def lookup(
    symbols: Iterable[str], rest_url: str, category: str, timeout: float = 10.0
) -> list[Instrument]:
    """One request per symbol.

    Raises:
        ValueError: an unknown symbol, an unreadable answer, or the venue unreachable.
    """
    out: list[Instrument] = []
    url = rest_url.rstrip("/") + "/v5/market/instruments-info"
    with httpx.Client(timeout=timeout) as client:
        for raw in symbols:
            if not raw.strip():
                continue
            symbol = symbol_of(raw)
            try:
                result = _get(client, url, {"category": category, "symbol": symbol})
                rows = [r for r in result.get("list") or () if r.get("symbol") == symbol]
                if not rows:
                    raise ValueError(f"{symbol}: not listed on Bybit {category}")
                out.append(_instrument(rows[0], category))
            except httpx.HTTPError as exc:
                raise ValueError(f"cannot reach {rest_url}: {exc}") from exc
            except (KeyError, TypeError) as exc:
                raise ValueError(f"{symbol}: unreadable instruments-info ({exc!r})") from exc
    return out


def listing(rest_url: str, category: str, timeout: float = 10.0) -> list[Instrument]:
    """Every instrument of a category that is trading (for symbol search); bad rows skipped.

    Raises:
        ValueError: the venue unreachable or answering an error.
    """
    url = rest_url.rstrip("/") + "/v5/market/instruments-info"
    out: list[Instrument] = []
    cursor = ""
    with httpx.Client(timeout=timeout) as client:
        for _ in range(MAX_PAGES):
            params = {"category": category, "limit": "1000"}
            if cursor:
                params["cursor"] = cursor
            try:
                result = _get(client, url, params)
            except httpx.HTTPError as exc:
                raise ValueError(f"cannot reach {rest_url}: {exc}") from exc
            for row in result.get("list") or ():
                if row.get("status", "Trading") != "Trading":
                    continue
                try:
                    out.append(_instrument(row, category))
                except (KeyError, TypeError, ValueError):
                    continue
            cursor = str(result.get("nextPageCursor") or "")
            if not cursor:
                break
    return out


__all__ = ["listing", "lookup"]
