"""The OpenAlgo REST API v1 of the paper exchange (openalgo.md §2 and §4), plus /sim control.

Every endpoint is POST with a JSON body carrying ``apikey``. Validation mirrors OpenAlgo's
marshmallow schemas (:mod:`cockpit.sim.schema`); order and account responses carry
``"mode": "analyze"``.

The ``/sim/...`` routes are the control API for tests (not OpenAlgo; same ``apikey``):

- ``/sim/price`` ``{exchange, symbol, ltp, bid?, ask?}``: the market there now (bid/ask
  default to one tick either side); it is published as a tick and matched.
- ``/sim/pause`` ``{exchange?, symbol?}`` and ``/sim/resume``: the random walk of one
  instrument, or of all.
- ``/sim/reject`` (``semi_auto``): every order waiting in the Action Center is rejected there.
- ``/sim/reject_next`` ``{exchange, symbol, count=1, reason}``: the next orders are rejected
  (HTTP 400 with an ``orderid``, the order ``rejected``, an ``order_update`` pushed).
- ``/sim/drop_ws`` ``{code?}``: abort every WebSocket (or close with ``code``).
- ``/sim/silence`` ``{seconds}``: no market_data frames; acks, pongs and order updates go on.
- ``/sim/rate`` ``{rate}``: ticks per second per instrument. ``/sim/stats``: counters.
"""

from __future__ import annotations

import logging
import secrets
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import msgspec
from aiohttp import web

from cockpit.domain.instruments import InvalidPrice, OffGridPrice
from cockpit.sim import schema
from cockpit.sim.exchange import OrderError
from cockpit.sim.history import history_bars
from cockpit.sim.market import SymbolState

if TYPE_CHECKING:
    from cockpit.sim.server import SimServer

log = logging.getLogger(__name__)

_ENCODER: Final = msgspec.json.Encoder(decimal_format="number")
LEGACY_RATE_LIMITED: Final = {
    "status": "error",
    "message": "Rate limit exceeded. Please slow down your requests.",
    "retry_after": 1,
}
"""The 429 body with ``--retry-after-429`` (and a ``Retry-After: 1`` header)."""
INVALID_KEY: Final = {"status": "error", "message": "Invalid openalgo apikey"}
SEMI_AUTO_BLOCKED: Final = {
    "cancelorder": "Cancel order operation is not allowed in Semi-Auto mode. Please switch to "
    "Auto mode to cancel orders.",
    "modifyorder": "Modify order operation is not allowed in Semi-Auto mode. Please switch to "
    "Auto mode to modify orders.",
    "cancelallorder": "Cancel all orders operation is not allowed in Semi-Auto mode. Please "
    "switch to Auto mode to cancel orders.",
    "closeposition": "Close position operation is not allowed in Semi-Auto mode. Please switch "
    "to Auto mode to close positions.",
}
"""What OpenAlgo answers, with a 403, to these API calls in semi-auto mode when analyze mode is
off (``services/cancel_order_service.py`` and its siblings: the check runs after the schema's
validation, before the broker is asked; the web UI's own cancel is not refused)."""

Handler = Callable[[dict[str, Any]], Awaitable[tuple[int, Any]] | tuple[int, Any]]


ZERODHA_ROWS_LACK: frozenset[str] = frozenset(
    {"filled_quantity", "average_price", "pending_quantity", "rejection_reason", "strategy"}
)
"""What OpenAlgo's Zerodha order-book rows do not carry (broker/zerodha/mapping/order_data.py)."""


def json_response(status: int, body: Any) -> web.Response:
    """A JSON response encoded with msgspec (Decimals as JSON numbers)."""
    return web.Response(status=status, body=_ENCODER.encode(body), content_type="application/json")


class RateLimiter:
    """At most ``per_second`` calls in any one-second window (0 or less: unlimited)."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self.stamps: deque[float] = deque()

    def allow(self) -> bool:
        """Record a call; False if it is over the limit."""
        if self.per_second <= 0:
            return True
        now = time.monotonic()
        stamps = self.stamps
        while stamps and now - stamps[0] >= 1.0:
            stamps.popleft()
        if len(stamps) >= self.per_second:
            return False
        stamps.append(now)
        return True


def _token(key: str) -> str:
    return str(zlib.crc32(key.encode()) % 9_000_000 + 1_000_000)


def symbol_row(s: SymbolState) -> dict[str, Any]:
    """A /search row (and /symbol data without ``id``)."""
    listing = s.listing
    lot = s.inst.lot_size
    return {
        "symbol": s.symbol,
        "brsymbol": s.symbol,
        "name": s.inst.name or s.symbol,
        "exchange": s.exchange,
        "brexchange": s.exchange,
        "token": _token(s.key),
        "expiry": listing.expiry,
        "strike": Decimal("-1.0"),
        "lotsize": int(lot) if lot == lot.to_integral_value() else lot,
        "instrumenttype": listing.instrumenttype,
        "tick_size": s.inst.tick_size,
        "freeze_qty": listing.freeze_qty,
    }


def quote_data(s: SymbolState) -> dict[str, Any]:
    """/quotes ``data``."""
    zero = Decimal(0)
    return {
        "ltp": s.px(s.ltp),
        "open": s.px(s.open),
        "high": s.px(s.high),
        "low": s.px(s.low),
        "prev_close": s.px(s.prev_close),
        "bid": s.px(s.bid) if s.bid else zero,
        "ask": s.px(s.ask) if s.ask else zero,
        "volume": s.qty(s.volume),
        "oi": s.oi,
    }


def depth_data(s: SymbolState) -> dict[str, Any]:
    """/depth ``data``: five levels a side, padded with zeros."""
    bids, asks = s.book(5)

    def side(levels: list[tuple[int, int, int]]) -> list[dict[str, Any]]:
        rows = [{"price": s.px(p), "quantity": s.qty(q)} for p, q, _ in levels]
        rows += [{"price": 0, "quantity": 0}] * (5 - len(rows))
        return rows

    return {
        "ltp": s.px(s.ltp),
        "ltq": s.qty(s.ltq),
        "open": s.px(s.open),
        "high": s.px(s.high),
        "low": s.px(s.low),
        "prev_close": s.px(s.prev_close),
        "volume": s.qty(s.volume),
        "oi": s.oi,
        "totalbuyqty": s.qty(s.total_buy) if s.tradable else 0,
        "totalsellqty": s.qty(s.total_sell) if s.tradable else 0,
        "bids": side(bids),
        "asks": side(asks),
    }


class RestApi:
    """The aiohttp application of the REST port."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        cfg = server.config
        self.order_limit = RateLimiter(cfg.order_rate_limit)
        self.smart_limit = RateLimiter(cfg.order_rate_limit)
        self.api_limit = RateLimiter(cfg.api_rate_limit)
        self.stats = {"requests": 0, "errors_400": 0, "errors_403": 0, "errors_429": 0}
        self.pending_orders: list[dict[str, Any]] = []
        """Orders waiting for approval (``semi_auto``), oldest first."""

    @property
    def exchange(self) -> Any:
        return self.server.exchange

    def app(self) -> web.Application:
        """The routes: every endpoint with and without a trailing slash."""
        app = web.Application(client_max_size=1 << 20)
        routes: list[tuple[str, dict[str, schema.F], Handler, RateLimiter | None, bool]] = [
            # path, schema, handler, limiter, errors-as-string (order endpoints)
            ("placeorder", schema.ORDER, self.placeorder, self.order_limit, True),
            ("placesmartorder", schema.SMART_ORDER, self.placesmartorder, self.smart_limit, True),
            ("modifyorder", schema.MODIFY_ORDER, self.modifyorder, self.order_limit, True),
            ("cancelorder", schema.CANCEL_ORDER, self.cancelorder, self.order_limit, True),
            ("cancelallorder", schema.STRATEGY_ONLY, self.cancelallorder, self.order_limit, True),
            ("closeposition", schema.STRATEGY_ONLY, self.closeposition, self.order_limit, True),
            ("orderstatus", schema.ORDER_STATUS, self.orderstatus, self.api_limit, True),
            ("openposition", schema.OPEN_POSITION, self.openposition, self.api_limit, True),
            ("orderbook", schema.KEY_ONLY, self.orderbook, self.api_limit, False),
            ("tradebook", schema.KEY_ONLY, self.tradebook, self.api_limit, False),
            ("positionbook", schema.KEY_ONLY, self.positionbook, self.api_limit, False),
            ("holdings", schema.KEY_ONLY, self.holdings, self.api_limit, False),
            ("funds", schema.KEY_ONLY, self.funds, self.api_limit, False),
            ("quotes", schema.SYMBOL_REQ, self.quotes, self.api_limit, False),
            ("multiquotes", schema.MULTIQUOTES, self.multiquotes, self.api_limit, False),
            ("depth", schema.DEPTH, self.depth, self.api_limit, False),
            ("history", schema.HISTORY, self.history, self.api_limit, False),
            ("intervals", schema.KEY_ONLY, self.intervals, self.api_limit, False),
            ("search", schema.SEARCH, self.search, self.api_limit, False),
            ("symbol", schema.SYMBOL_REQ, self.symbol, self.api_limit, False),
            ("ping", schema.KEY_ONLY, self.ping, self.api_limit, False),
            ("analyzer", schema.KEY_ONLY, self.analyzer, self.api_limit, True),
            ("analyzer/toggle", schema.ANALYZER_TOGGLE, self.analyzer_toggle, self.api_limit, True),
        ]
        for path, sch, handler, limiter, as_text in routes:
            if path in SEMI_AUTO_BLOCKED and self.server.config.semi_auto_live:
                handler = self._blocked(SEMI_AUTO_BLOCKED[path])
            endpoint = self._endpoint(sch, handler, limiter, as_text)
            app.router.add_post(f"/api/v1/{path}", endpoint)
            app.router.add_post(f"/api/v1/{path}/", endpoint)
        app.router.add_get("/api/v1/instruments", self.instruments)
        app.router.add_get("/api/v1/instruments/", self.instruments)
        app.router.add_post("/sim/approve", self._control(self.approve))
        app.router.add_post("/sim/reject", self._control(self.reject))
        control = self.server.control_routes()
        for path, handler in control.items():
            app.router.add_post(f"/sim/{path}", self._control(handler))
        return app

    # -- plumbing ------------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> tuple[Any, web.Response | None]:
        raw = await request.read()
        try:
            return msgspec.json.decode(raw), None
        except (msgspec.DecodeError, RecursionError):  # RecursionError: nested too deep
            self.stats["errors_400"] += 1
            return None, json_response(
                400, {"status": "error", "message": "Invalid JSON in request body"}
            )

    def _endpoint(
        self,
        sch: dict[str, schema.F],
        handler: Handler,
        limiter: RateLimiter | None,
        as_text: bool,
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            self.stats["requests"] += 1
            if limiter is not None and not limiter.allow():
                return self._rate_limited(limiter)
            body, bad = await self._body(request)
            if bad is not None:
                return bad
            # The key first: nothing an unauthenticated caller sends is looked at further.
            key = body.get("apikey") if isinstance(body, dict) else None
            if isinstance(key, str) and not self._key_ok(key):
                self.stats["errors_403"] += 1
                return json_response(403, INVALID_KEY)
            values, errors = schema.load(sch, body)
            if errors:
                self.stats["errors_400"] += 1
                return json_response(
                    400, {"status": "error", "message": str(errors) if as_text else errors}
                )
            try:
                result = handler(values)
                if not isinstance(result, tuple):
                    result = await result
                status, payload = result
            except OrderError as exc:
                self.stats["errors_400"] += 1
                payload = {"status": "error", "message": exc.message}
                if as_text:
                    payload["mode"] = "analyze"
                return json_response(exc.status, payload)
            except ArithmeticError as exc:  # a number too big for the arithmetic behind it
                self.stats["errors_400"] += 1
                log.warning("REST %s: numeric input out of range (%s)", request.path, exc)
                return json_response(
                    400, {"status": "error", "message": "Numeric value out of range"}
                )
            except Exception:
                log.exception("REST %s failed", request.path)
                return json_response(
                    500,
                    {"status": "error", "message": "An unexpected error occurred"},
                )
            self.server.hub.flush()
            return json_response(status, payload)

        return endpoint

    def _blocked(self, message: str) -> Handler:
        """A route OpenAlgo refuses in live semi-auto mode: 403 with its own words."""

        def handler(v: dict[str, Any]) -> tuple[int, Any]:
            self.stats["errors_403"] += 1
            return 403, {"status": "error", "message": message}

        return handler

    def _rate_limited(self, limiter: RateLimiter) -> web.Response:
        """429 as flask-limiter answers the ``/api/v1`` routes: ``{"message": "10 per 1
        second"}`` with no ``status``, no ``retry_after`` and no Retry-After header."""
        self.stats["errors_429"] += 1
        if self.server.config.retry_after_429:
            response = json_response(429, LEGACY_RATE_LIMITED)
            response.headers["Retry-After"] = "1"
            return response
        return json_response(429, {"message": f"{limiter.per_second} per 1 second"})

    def _key_ok(self, key: str) -> bool:
        return secrets.compare_digest(key.encode(), self.server.api_key.encode())

    def _control(
        self, handler: Callable[[dict[str, Any]], Any]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            body, bad = await self._body(request)
            if bad is not None:
                return bad
            if not isinstance(body, dict):
                return json_response(400, {"status": "error", "message": "expected an object"})
            key = body.pop("apikey", None)
            if not isinstance(key, str) or not self._key_ok(key):
                return json_response(403, INVALID_KEY)
            try:
                result = handler(body)
                if hasattr(result, "__await__"):
                    result = await result
            except (KeyError, ValueError, TypeError, InvalidPrice, OffGridPrice) as exc:
                message = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                return json_response(400, {"status": "error", "message": message})
            except ArithmeticError:
                return json_response(
                    400, {"status": "error", "message": "Numeric value out of range"}
                )
            self.server.hub.flush()
            return json_response(200, {"status": "success", **(result or {})})

        return endpoint

    async def instruments(self, request: web.Request) -> web.Response:
        """``GET /instruments?apikey=&exchange=``: the master contract, one row per symbol."""
        self.stats["requests"] += 1
        if not self.api_limit.allow():
            return self._rate_limited(self.api_limit)
        key = request.query.get("apikey", "")
        if not secrets.compare_digest(key.encode(), self.server.api_key.encode()):
            self.stats["errors_403"] += 1
            return json_response(403, INVALID_KEY)
        exchange = request.query.get("exchange")
        if exchange is not None and exchange not in schema.VALID_EXCHANGES:
            self.stats["errors_400"] += 1
            return json_response(
                400, {"status": "error", "message": f"Invalid exchange: {exchange}"}
            )
        rows = [
            symbol_row(s)
            for s in self.server.market.states.values()
            if exchange in (None, s.exchange)
        ]
        return json_response(200, {"status": "success", "data": rows})

    # -- orders --------------------------------------------------------------------------------

    @staticmethod
    def _order_params(v: dict[str, Any]) -> dict[str, Any]:
        return {
            "strategy": v["strategy"],
            "exchange": v["exchange"],
            "symbol": v["symbol"],
            "action": v["action"].upper(),
            "quantity": v["quantity"],
            "pricetype": v["pricetype"],
            "product": v["product"],
            "price": v["price"],
            "trigger_price": v["trigger_price"],
            "disclosed_quantity": v["disclosed_quantity"],
        }

    def placeorder(self, v: dict[str, Any]) -> tuple[int, Any]:
        if self.server.config.semi_auto:
            # OpenAlgo's semi-auto mode (services/order_router_service.py): the order waits
            # in the Action Center; the answer is a success with no orderid.
            self.pending_orders.append(dict(v))
            return 200, {
                "status": "success",
                "message": "Order queued for approval in Action Center",
                "mode": "semi_auto",
                "pending_order_id": len(self.pending_orders),
            }
        ex = self.exchange
        return ex.place(ex.build(**self._order_params(v)))

    def approve(self, body: dict[str, Any]) -> dict[str, Any]:
        """``/sim/approve``: the user approves every order waiting in the Action Center."""
        placed = []
        for v in self.pending_orders:
            ex = self.exchange
            _status, answer = ex.place(ex.build(**self._order_params(v)))
            placed.append(answer.get("orderid"))
        self.pending_orders.clear()
        return {"orderids": placed}

    def reject(self, body: dict[str, Any]) -> dict[str, Any]:
        """``/sim/reject``: the user rejects every order waiting in the Action Center (none
        reaches the order book; OpenAlgo tells no API client)."""
        rejected = len(self.pending_orders)
        self.pending_orders.clear()
        return {"rejected": rejected}

    def placesmartorder(self, v: dict[str, Any]) -> tuple[int, Any]:
        return self.exchange.smart(position_size=v["position_size"], **self._order_params(v))

    def modifyorder(self, v: dict[str, Any]) -> tuple[int, Any]:
        return self.exchange.modify(
            v["orderid"],
            exchange=v["exchange"],
            symbol=v["symbol"],
            action=v["action"],
            product=v["product"],
            pricetype=v["pricetype"],
            price=v["price"],
            quantity=v["quantity"],
            trigger_price=v["trigger_price"],
            disclosed_quantity=v["disclosed_quantity"],
        )

    def cancelorder(self, v: dict[str, Any]) -> tuple[int, Any]:
        return self.exchange.cancel(v["orderid"])

    def cancelallorder(self, v: dict[str, Any]) -> tuple[int, Any]:
        return self.exchange.cancel_all()

    def closeposition(self, v: dict[str, Any]) -> tuple[int, Any]:
        return self.exchange.close_all(v["strategy"])

    def orderstatus(self, v: dict[str, Any]) -> tuple[int, Any]:
        return 200, {
            "status": "success",
            "data": self._row(self.exchange.order_status(v["orderid"])),
            "mode": "analyze",
        }

    def _row(self, row: dict[str, Any]) -> dict[str, Any]:
        """An order row as the config's broker sends it (``zerodha_order_rows``: no fills)."""
        if self.server.config.zerodha_order_rows:
            return {k: val for k, val in row.items() if k not in ZERODHA_ROWS_LACK}
        return row

    def openposition(self, v: dict[str, Any]) -> tuple[int, Any]:
        qty = self.exchange.open_quantity(v["exchange"], v["symbol"], v["product"])
        return 200, {"status": "success", "quantity": qty, "mode": "analyze"}

    def orderbook(self, v: dict[str, Any]) -> tuple[int, Any]:
        data = self.exchange.orderbook()
        data["orders"] = [self._row(row) for row in data["orders"]]
        return 200, {"status": "success", "data": data, "mode": "analyze"}

    def tradebook(self, v: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"status": "success", "data": self.exchange.tradebook(), "mode": "analyze"}

    def positionbook(self, v: dict[str, Any]) -> tuple[int, Any]:
        rows, total = self.exchange.positionbook()
        return 200, {"status": "success", "data": rows, "total_pnl": total, "mode": "analyze"}

    def holdings(self, v: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"status": "success", "data": self.exchange.holdings(), "mode": "analyze"}

    def funds(self, v: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"status": "success", "data": self.exchange.funds(), "mode": "analyze"}

    # -- market data ---------------------------------------------------------------------------

    def _state(self, v: dict[str, Any]) -> SymbolState:
        state = self.server.market.get(v["exchange"], v["symbol"])
        if state is None:
            raise OrderError(
                f"Symbol {v['symbol']} not found in exchange {v['exchange']}", status=404
            )
        return state

    def quotes(self, v: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"status": "success", "data": quote_data(self._state(v))}

    def multiquotes(self, v: dict[str, Any]) -> tuple[int, Any]:
        results: list[dict[str, Any]] = []
        for entry in v["symbols"]:
            if not isinstance(entry, dict):
                results.append({"error": "Each entry needs symbol and exchange"})
                continue
            symbol, exchange = entry.get("symbol"), entry.get("exchange")
            state = (
                self.server.market.get(exchange, symbol)
                if isinstance(symbol, str) and isinstance(exchange, str)
                else None
            )
            if state is None:
                results.append(
                    {
                        "symbol": symbol,
                        "exchange": exchange,
                        "error": f"Symbol {symbol} not found in exchange {exchange}",
                    }
                )
            else:
                results.append({"symbol": symbol, "exchange": exchange, "data": quote_data(state)})
        return 200, {"status": "success", "results": results}

    def depth(self, v: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"status": "success", "data": depth_data(self._state(v))}

    def history(self, v: dict[str, Any]) -> tuple[int, Any]:
        state = self._state(v)
        try:
            bars = history_bars(
                state, v["interval"], v["start_date"], v["end_date"], self.server.market.seed
            )
        except ValueError as exc:
            raise OrderError(str(exc)) from None
        return 200, {"status": "success", "data": bars}

    def intervals(self, v: dict[str, Any]) -> tuple[int, Any]:
        return 200, {
            "status": "success",
            "data": {
                "seconds": ["1s", "5s", "10s", "15s", "30s", "45s"],
                "minutes": ["1m", "2m", "3m", "5m", "10m", "15m", "20m", "30m"],
                "hours": ["1h", "2h", "3h", "4h"],
                "days": ["D"],
                "weeks": ["W"],
                "months": ["M"],
            },
        }

    def search(self, v: dict[str, Any]) -> tuple[int, Any]:
        query = v["query"].strip().upper()
        rows = [
            symbol_row(s)
            for s in self.server.market.states.values()
            if (v.get("exchange") in (None, s.exchange))
            and (query in s.symbol.upper() or query in (s.inst.name or "").upper())
        ]
        return 200, {
            "status": "success",
            "message": f"Found {len(rows)} matching symbols",
            "data": rows,
        }

    def symbol(self, v: dict[str, Any]) -> tuple[int, Any]:
        state = self._state(v)
        row = symbol_row(state)
        row["id"] = list(self.server.market.states).index(state.key) + 1
        return 200, {"status": "success", "data": row}

    def ping(self, v: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"status": "success", "data": {"message": "pong", "broker": "paper"}}

    def analyzer(self, v: dict[str, Any]) -> tuple[int, Any]:
        return 200, {
            "status": "success",
            "data": {
                "mode": "analyze",
                "analyze_mode": True,
                "total_logs": len(self.exchange.orders),
            },
        }

    def analyzer_toggle(self, v: dict[str, Any]) -> tuple[int, Any]:
        if not v["mode"]:
            raise OrderError("The paper exchange only runs in analyze mode")
        _, body = self.analyzer(v)
        body["data"]["message"] = "Analyzer mode switched to analyze"
        return 200, body
