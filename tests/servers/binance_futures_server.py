"""A loopback Binance USD-M futures server: the spot test server with futures' differences.

Routes ``/public/stream`` (``@depth@100ms``, ``@bookTicker``) and ``/market/stream``
(``@aggTrade``): a stream asked of the wrong route is accepted and never sent, as on the real
venue. Depth events carry ``T`` and ``pu`` (the previous event's ``u``) and their ``U`` jumps
past ``pu + 1`` (futures merges updates), so only the ``pu`` chain proves continuity;
``bookTicker`` carries ``e``/``E``/``T``; trades are ``aggTrade``. REST: ``/fapi/v1/depth``
and ``/fapi/v1/exchangeInfo`` (every symbol; futures takes no ``symbol`` parameter). The
server pings only when asked (``ping_s``; the venue's is every 3 minutes).
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from tests.servers.binance_server import TICK, BinanceConn, BinanceServer


class BinanceFuturesServer(BinanceServer):
    """The loopback USD-M futures server."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_u = {s: b.update_id for s, b in self.books.items()}
        self.wrong_route: list[str] = []

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{route:public|market}/stream", self._stream)
        app.router.add_get("/fapi/v1/depth", self._depth)
        app.router.add_get("/fapi/v1/exchangeInfo", self._futures_info)
        return app

    async def _futures_info(self, request: web.Request) -> web.Response:
        if "symbol" in request.query:  # futures has no per-symbol form
            return web.json_response({"code": -1104, "msg": "Not all sent parameters were read"})
        rows = []
        for symbol in self.books:
            rows.append(
                {
                    "symbol": symbol,
                    "pair": symbol,
                    "contractType": "PERPETUAL",
                    "status": "TRADING",
                    "baseAsset": symbol[:-4],
                    "quoteAsset": symbol[-4:],
                    "filters": [
                        {"filterType": "PRICE_FILTER", "tickSize": f"{TICK}", "minPrice": "0.1"},
                        {"filterType": "LOT_SIZE", "stepSize": "0.001", "minQty": "0.001"},
                    ],
                }
            )
        return web.json_response({"timezone": "UTC", "symbols": rows})

    @staticmethod
    def _route(conn: BinanceConn) -> str:
        return conn.request.match_info["route"]

    async def _send(self, conn: BinanceConn, stream: str, data: dict[str, Any]) -> None:
        kind = stream.partition("@")[2]
        if kind in ("trade", "depth"):
            return  # not futures streams here (the spot pump sends them too)
        route = "public" if kind.startswith("depth") or kind == "bookTicker" else "market"
        if stream in conn.streams and route != self._route(conn):
            self.wrong_route.append(stream)
            return
        if kind == "bookTicker":
            now = int(time.time() * 1000)
            data = {"e": "bookTicker", "E": now, "T": now, **data}
        await super()._send(conn, stream, data)

    async def pump_once(self) -> None:
        conns = [c for c in self.conns.values() if isinstance(c, BinanceConn)]
        await self._pings(conns)
        if not self.streaming:
            return
        for symbol, book in self.books.items():
            low = symbol.lower()
            depth = book.step()
            pu = self.last_u[symbol]
            self.last_u[symbol] = depth["u"]
            depth["pu"] = pu
            depth["T"] = depth["E"]
            depth["U"] = min(depth["U"] + self.rng.randint(0, 2), depth["u"])  # ids jump
            send_depth = True
            if self.drop_depth > 0:
                self.drop_depth -= 1
                self.dropped_ids.append((depth["U"], depth["u"]))
                send_depth = False
            trade = book.trade() if self.rng.random() < 0.5 else None
            if trade is not None:
                trade = {
                    "e": "aggTrade",
                    "a": trade["t"],
                    "f": trade["t"],
                    "l": trade["t"],
                    **{k: v for k, v in trade.items() if k not in ("e", "t", "M")},
                }
            ticker = book.book_ticker()
            for conn in conns:
                try:
                    if send_depth:
                        await self._send(conn, f"{low}@depth@100ms", depth)
                    if trade is not None:
                        await self._send(conn, f"{low}@aggTrade", trade)
                    if ticker is not None:
                        await self._send(conn, f"{low}@bookTicker", ticker)
                except (ConnectionError, RuntimeError):
                    self.drop(conn)
