"""Hyperliquid perpetuals (tick, lot) from the info endpoint (``POST /info``).

``{"type": "meta"}`` answers ``{"universe": [{"name": "BTC", "szDecimals": 5, ...}]}``; the
lot is ``10^-szDecimals``. Hyperliquid's tick is not a fixed number (its docs, "Tick and lot
size"): a price may have at most 5 significant figures and at most ``6 - szDecimals``
decimals, and integer prices are always valid. The tick is therefore taken at the coin's
current mid (``{"type": "allMids"}``): ``min(1, max(10^(e - 4), 10^-(6 - szDecimals)))`` with
``e`` the mid's power of ten. It holds while the price stays within that power of ten; past
it, the venue's grid changes and prices are snapped to the one taken at start.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from cockpit.adapters.hyperliquid.feed import coin_of
from cockpit.domain.instruments import Exchange, Instrument, to_decimal

MAX_DECIMALS = 6
"""Perpetuals' price decimals, less the coin's szDecimals."""


def tick_for(mid: Decimal, sz_decimals: int) -> Decimal:
    """The 5-significant-figure tick at ``mid`` within the coin's decimals (integers valid)."""
    power = mid.adjusted()  # floor(log10(mid))
    tick = max(Decimal(1).scaleb(power - 4), Decimal(1).scaleb(-(MAX_DECIMALS - sz_decimals)))
    return min(Decimal(1), tick)


def _info(client: httpx.Client, url: str, kind: str) -> Any:
    try:
        resp = client.post(url, json={"type": kind})
        body = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ValueError(f"cannot read {url} ({kind}): {exc}") from exc
    if resp.status_code != 200:
        raise ValueError(f"{url} ({kind}) answered HTTP {resp.status_code}")
    return body


def listing(rest_url: str, timeout: float = 10.0) -> list[Instrument]:
    """Every listed perpetual with a mid (delisted ones and bad rows are left out).

    Raises:
        ValueError: the info endpoint unreachable or unreadable.
    """
    url = rest_url.rstrip("/") + "/info"
    with httpx.Client(timeout=timeout) as client:
        meta = _info(client, url, "meta")
        mids = _info(client, url, "allMids")
    if not isinstance(meta, dict) or not isinstance(mids, dict):
        raise ValueError(f"{url}: unreadable meta / allMids")
    out: list[Instrument] = []
    for row in meta.get("universe") or ():
        try:
            if row.get("isDelisted"):
                continue
            name = str(row["name"])
            sz = int(row["szDecimals"])
            mid = to_decimal(str(mids[name]))
            if mid <= 0 or not 0 <= sz <= MAX_DECIMALS:
                continue
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        lot = Decimal(1).scaleb(-sz)
        out.append(
            Instrument(
                Exchange.HYPERLIQUID,
                name,
                tick_for(mid, sz),
                lot,
                name=f"{name} perp",
                kind="perpetual",
            )
        )
    return out


def lookup(symbols: list[str], rest_url: str, timeout: float = 10.0) -> list[Instrument]:
    """The instruments of ``symbols`` (coins such as ``BTC``).

    Raises:
        ValueError: a coin not listed, or the info endpoint unreachable.
    """
    listed = {i.symbol: i for i in listing(rest_url, timeout)}
    out = []
    for raw in symbols:
        coin = coin_of(raw)
        if coin not in listed:
            raise ValueError(f"{coin}: not a listed Hyperliquid perpetual")
        out.append(listed[coin])
    return out
