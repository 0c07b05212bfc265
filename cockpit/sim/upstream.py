"""Upstream prices for the paper exchange: an external feed's ticks drive its quotes and matching.

When the engine takes market data from elsewhere (``--feed kite|binance|replay:FILE``) the
paper exchange must fill at those prices, not at its own random walk. :class:`UpstreamServer`
listens on a loopback TCP port (``--upstream-port``) for one line-delimited stream per client:

1. ``{"auth": "<api key>"}`` — the sim's own API key; anything else closes the connection.
2. ``{"follow": {"exchange": "BINANCE", "symbol": "BTCUSDT", "tick": "0.01", "lot":
   "0.00001"}}`` — follow an instrument: its random walk is paused, it is listed if the sim
   does not know it, and orders on it are refused until its first upstream price arrives.
3. normalized tick lines (:func:`cockpit.domain.market.encode_line`) — each sets the
   instrument's last price, bid/ask and (for depth) the visible book, then runs matching, as
   a random-walk step would.

Bad lines, unknown instruments and off-grid prices (snapped to the sim's grid) are counted,
never fatal. Nothing is sent back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import msgspec

from cockpit.domain.instruments import Exchange, Instrument, to_decimal
from cockpit.domain.market import DepthTick, QuoteTick, decode_line
from cockpit.sim.market import BOOK_LEVELS, MAX_PRICE, SymbolState
from cockpit.sim.universe import Listing

if TYPE_CHECKING:
    from cockpit.sim.server import SimServer

log = logging.getLogger(__name__)

MAX_LINE: Final = 1 << 20
_FOLLOW: Final = b'{"follow"'
_JSON = msgspec.json.Decoder()
_MIN_STEP: Final = Decimal("1e-12")
_MAX_LOT: Final = Decimal(10) ** 9


class UpstreamServer:
    """The loopback TCP endpoint that feeds external prices into a :class:`SimServer`."""

    def __init__(self, server: SimServer, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sim = server
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self.priced: set[str] = set()
        """Instruments that have had an upstream price."""
        self.has_book: set[str] = set()
        """Instruments whose bid/ask came from an upstream quote or depth."""
        self.stats: dict[str, int] = {
            "connections": 0,
            "auth_failures": 0,
            "lines": 0,
            "applied": 0,
            "followed": 0,
            "bad_lines": 0,
            "unknown": 0,
            "off_grid": 0,
        }

    async def start(self) -> None:
        """Listen; :attr:`port` is the bound port afterwards."""
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, limit=MAX_LINE
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener and every client."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._clients):
            writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats["connections"] += 1
        self._clients.add(writer)
        try:
            first = await asyncio.wait_for(reader.readline(), 10.0)
            try:
                key = str(_JSON.decode(first).get("auth", ""))
            except (msgspec.DecodeError, AttributeError):
                key = ""
            if not key or not hmac.compare_digest(key, self.sim.api_key):
                self.stats["auth_failures"] += 1
                return
            while True:
                try:
                    line = await reader.readline()
                except (asyncio.LimitOverrunError, ValueError):
                    self.stats["bad_lines"] += 1
                    return
                if not line:
                    return
                self.feed_line(line)
                self.sim.hub.flush()  # send what this tick changed (order updates, quotes)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._clients.discard(writer)
            writer.close()

    # ------------------------------------------------------------------ on the loop

    def feed_line(self, line: bytes) -> None:
        """Apply one line (a follow request or a normalized tick line); count bad ones."""
        line = line.strip()
        if not line:
            return
        self.stats["lines"] += 1
        try:
            if line.startswith(_FOLLOW):
                body = _JSON.decode(line)["follow"]
                self.follow(
                    str(body["exchange"]),
                    str(body["symbol"]),
                    to_decimal(body["tick"]),
                    to_decimal(body.get("lot") or 1),
                )
                return
            event = decode_line(line)
            self.apply(event)
        except (
            msgspec.DecodeError,
            msgspec.ValidationError,
            KeyError,
            TypeError,
            ValueError,
            ArithmeticError,  # decimal.Overflow and friends: a price no grid can hold
        ):
            self.stats["bad_lines"] += 1

    def follow(self, exchange: str, symbol: str, tick: Decimal, lot: Decimal) -> SymbolState:
        """Follow ``exchange:symbol`` (listing it if new): walk paused, unpriced until a tick."""
        market = self.sim.market
        if not (_MIN_STEP <= tick < MAX_PRICE and _MIN_STEP <= lot < _MAX_LOT):
            raise ValueError(f"follow {exchange}:{symbol}: tick {tick} or lot {lot} out of range")
        state = market.get(exchange, symbol)
        if state is None:
            exch = Exchange(exchange)
            inst = Instrument(
                exch,
                symbol,
                tick,
                lot,
                name=symbol,
                kind="crypto" if exch.fractional_quantity else "equity",
            )
            listing = Listing(
                inst,
                inst.price(100),
                instrumenttype="CRYPTO" if exch.fractional_quantity else "EQ",
                avg_trade_lots=1.0,
            )
            state = SymbolState(listing, market.seed, market.rate)
            market.states[state.key] = state
        if state.key not in self.priced:
            self.sim.exchange.unpriced.add(state.key)
        state.paused = True
        self.stats["followed"] += 1
        return state

    def _ticks(self, state: SymbolState, price: Decimal) -> int:
        snapped = state.inst.snap(price)
        if snapped.price != price:
            self.stats["off_grid"] += 1
        return snapped.ticks

    def apply(self, event: Any) -> None:
        """Put the instrument at the event's prices now and run matching."""
        state = self.sim.market.get(event.exchange, event.symbol)
        if state is None:
            self.stats["unknown"] += 1
            return
        prices = [event.ltp]
        if isinstance(event, QuoteTick):
            prices += [lv[0] for lv in (event.bids or ())] + [lv[0] for lv in (event.asks or ())]
        if not all(0 < p < MAX_PRICE for p in prices):
            self.stats["bad_lines"] += 1
            return
        ltp = self._ticks(state, event.ltp)
        if ltp <= 0:
            self.stats["bad_lines"] += 1
            return
        key = state.key
        first = key not in self.priced
        bid = ask = None
        levels = isinstance(event, QuoteTick) and (event.bids or event.asks)
        if levels:
            if event.bids:
                bid = self._ticks(state, event.bids[0][0])
            if event.asks:
                ask = self._ticks(state, event.asks[0][0])
            self.has_book.add(key)
        elif key in self.has_book and state.bid <= ltp <= state.ask:
            bid, ask = state.bid, state.ask  # a trade inside the known book leaves it as is
        if first:
            state.open = state.high = state.low = state.prev_close = ltp
            state.volume = 0
            state.value = 0
            self.priced.add(key)
            self.sim.exchange.unpriced.discard(key)
        state.set_price(ltp, time.time_ns(), bid, ask)
        if levels:
            self._book(state, event)
        self.stats["applied"] += 1
        self.sim.on_tick(state)

    def _book(self, state: SymbolState, event: QuoteTick) -> None:
        """Visible quantities from the event's levels (one level for a quote, all for depth)."""
        lot = state.inst.lot_size
        full = isinstance(event, DepthTick)
        for levels, base, sign, qtys, counts in (
            (event.bids, state.bid, -1, state.bq, state.bo),
            (event.asks, state.ask, 1, state.aq, state.ao),
        ):
            if not levels:
                continue
            by_tick: dict[int, tuple[int, int]] = {}
            for price, qty, orders in levels:
                t = state.inst.snap(price).ticks
                steps = int(to_decimal(qty) / lot) if lot > 0 else int(qty)
                by_tick[t] = (max(steps, 0), int(orders or 0))
            for i in range(BOOK_LEVELS if full else 1):
                q, o = by_tick.get(base + sign * i, (0, 0))
                qtys[i] = q
                counts[i] = o or (1 if q else 0)
