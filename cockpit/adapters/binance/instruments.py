"""Binance instruments from ``exchangeInfo`` (spot ``/api/v3``, USD-M futures ``/fapi/v1``):
the tick from PRICE_FILTER ``tickSize``, the lot from LOT_SIZE ``stepSize``."""

from __future__ import annotations

from cockpit.domain.instruments import Exchange, Instrument, to_decimal


def exchange_info(
    rest_url: str, path: str, exchange: Exchange, timeout: float = 10.0
) -> list[Instrument]:
    """Every TRADING symbol of one ``exchangeInfo`` answer (unreadable rows are skipped).

    Raises:
        ValueError: the venue unreachable or its answer unreadable.
    """
    import httpx

    url = rest_url.rstrip("/") + path
    try:
        resp = httpx.get(url, timeout=timeout)
        body = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ValueError(f"cannot read {url}: {exc}") from exc
    if resp.status_code != 200 or not isinstance(body, dict) or "symbols" not in body:
        raise ValueError(f"exchangeInfo answered HTTP {resp.status_code}: {resp.text[:200]}")
    futures = exchange is Exchange.BINANCE_FUTURES
    out: list[Instrument] = []
    for row in body["symbols"]:
        try:
            if row.get("status", "TRADING") != "TRADING":
                continue
            filters = {f["filterType"]: f for f in row["filters"]}
            tick = to_decimal(filters["PRICE_FILTER"]["tickSize"]).normalize()
            lot = to_decimal(filters["LOT_SIZE"]["stepSize"]).normalize()
            if tick <= 0 or lot <= 0:
                continue
            symbol = str(row["symbol"])
            pair = f"{row.get('baseAsset', symbol)}/{row.get('quoteAsset', '')}"
            if futures:
                perp = row.get("contractType") == "PERPETUAL"
                name, kind = f"{pair} {'perp' if perp else 'futures'}", "perpetual"
            else:
                name, kind = f"{pair} spot", "crypto"
            out.append(Instrument(exchange, symbol, tick, lot, name=name, kind=kind))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return out


def spot_listing(rest_url: str, timeout: float = 10.0) -> list[Instrument]:
    """Every trading Binance spot symbol (``GET /api/v3/exchangeInfo``). Raises ValueError."""
    return exchange_info(rest_url, "/api/v3/exchangeInfo", Exchange.BINANCE, timeout)


def spot_lookup(symbols: list[str], rest_url: str, timeout: float = 10.0) -> list[Instrument]:
    """Binance spot symbols (``BTCUSDT`` or ``BINANCE:BTCUSDT``), one ``exchangeInfo?symbol=X``
    each: the whole spot list is megabytes.

    Raises:
        ValueError: a symbol not Binance's or not trading there, or the venue unreachable.
    """
    out: list[Instrument] = []
    for raw in symbols:
        exchange, _, symbol = raw.strip().upper().rpartition(":")
        if exchange not in ("", "BINANCE") or not symbol.isalnum():
            raise ValueError(f"{raw!r} is not a Binance symbol")
        path = f"/api/v3/exchangeInfo?symbol={symbol}"
        try:
            found = exchange_info(rest_url, path, Exchange.BINANCE, timeout)
        except ValueError as exc:
            raise ValueError(f"{symbol}: {exc}") from None
        if not found:
            raise ValueError(f"{symbol}: not trading on Binance spot")
        out.append(found[0])
    return out
