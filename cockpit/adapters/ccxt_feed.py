"""The long tail: market data from any exchange CCXT streams (``--feed ccxt:EXCHANGE``).

An optional extra (``pip install "cockpit[ccxt]"``): the ``ccxt`` package's WebSocket API
(``ccxt.pro``) runs on its own thread and asyncio loop. Per unified symbol (``BTC/USDT``,
``BTC/USDT:USDT`` for a linear perpetual) and mode: ``ltp`` -> ``watch_trades`` (TradeTick);
``quote`` -> trades + ``watch_ticker`` (a QuoteTick with the touch, 24 h open/high/low);
``depth`` -> trades + ticker + ``watch_order_book`` (a DepthTick of the top
``depth_levels``). CCXT connects, subscribes, pings and keeps each book in sequence itself, in
its own way per exchange; this adapter adds what the engine needs on top: typed, validated
events (CCXT's float numbers become ``Decimal`` through their shortest text, then are
checked finite and positive), the feed states and counters of every other feed, a retry with
backoff of each stream after an error (a dropped connection is re-opened by the next watch,
which subscribes again), and a watchdog: no update for ``liveness_s`` while subscribed
closes the exchange's connections so every stream reconnects.

``url`` / ``rest_url`` point every WebSocket / REST URL of the exchange at another host
(the path kept), which is how the loopback tests run. Events carry the exchange code
``CCXT`` and the unified symbol.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from cockpit.adapters.state import StateHolder
from cockpit.adapters.ws import Backoff
from cockpit.domain.feed import FeedState, FeedStatus, Sink
from cockpit.domain.instruments import Exchange, Instrument, to_decimal
from cockpit.domain.market import DepthTick, Level, QuoteTick, TradeTick

log = logging.getLogger(__name__)

EXCHANGE: Final = "CCXT"
MODES: Final = ("ltp", "quote", "depth")
_MS: Final = 1_000_000
CLOSE_S: Final = 2.0
"""How long a session's end waits for its streams and connections to close."""
FIRST_UPDATE_S: Final = 30.0
"""How long a new session may take to its first update (markets load first)."""
INSTALL_HINT: Final = 'the ccxt feed needs the ccxt package: pip install "cockpit[ccxt]"'


class BadValue(ValueError):
    """A value from CCXT that must not reach the engine."""


def streams_for(mode: str) -> tuple[str, ...]:
    """The CCXT watches one symbol needs in ``mode``."""
    if mode == "ltp":
        return ("trades",)
    if mode == "quote":
        return ("trades", "ticker")
    if mode == "depth":
        return ("trades", "ticker", "book")
    raise ValueError(f"unknown mode {mode!r} (ltp, quote, depth)")


def _num(value: Any, what: str, *, positive: bool = True) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise BadValue(f"ccxt: bad {what}")
    try:
        d = to_decimal(value)
    except (ValueError, ArithmeticError) as exc:
        raise BadValue(f"ccxt: bad {what}") from exc
    if not d.is_finite() or d < 0 or (positive and d == 0):
        raise BadValue(f"ccxt: bad {what}")
    return d


def _opt(value: Any, what: str) -> Decimal | None:
    return None if value is None else _num(value, what)


def retarget(urls: Any, ws_base: str | None, rest_base: str | None) -> Any:
    """A copy of an exchange's ``urls['api']`` tree with every ``ws(s)://`` URL moved to
    ``ws_base``'s host and every ``http(s)://`` URL to ``rest_base``'s (paths kept)."""
    if isinstance(urls, dict):
        return {k: retarget(v, ws_base, rest_base) for k, v in urls.items()}
    if isinstance(urls, list):
        return [retarget(v, ws_base, rest_base) for v in urls]
    if not isinstance(urls, str):
        return urls
    base = ws_base if urls.startswith("ws") else rest_base if urls.startswith("http") else None
    if base is None:
        return urls
    target = urlsplit(base)
    parts = urlsplit(urls)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, ""))


def make_exchange(exchange_id: str, url: str | None, rest_url: str | None, config: Any) -> Any:
    """A ``ccxt.pro`` exchange instance with its URLs retargeted (not connected yet).

    Raises:
        ValueError: ccxt is not installed, or does not stream ``exchange_id``.
    """
    try:
        import ccxt.pro as ccxtpro
    except ImportError as exc:
        raise ValueError(INSTALL_HINT) from exc
    cls = getattr(ccxtpro, exchange_id, None)
    if cls is None or exchange_id not in ccxtpro.exchanges:
        raise ValueError(f"ccxt does not stream {exchange_id!r} (ccxt.pro.exchanges lists those)")
    exchange = cls({"enableRateLimit": True, **(config or {})})
    if url or rest_url:
        if rest_url is None and url is not None:
            parts = urlsplit(url)
            rest_url = urlunsplit(
                ("https" if parts.scheme == "wss" else "http", parts.netloc, "", "", "")
            )
        exchange.urls["api"] = retarget(exchange.urls["api"], url, rest_url)
    return exchange


def _tick(exchange: Any, value: Any) -> Decimal | None:
    """A market precision as a step (CCXT gives a tick size, or decimal places)."""
    if value is None:
        return None
    import ccxt

    d = to_decimal(value)
    if exchange.precisionMode == ccxt.DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(d))
    if exchange.precisionMode == ccxt.TICK_SIZE:
        return d.normalize()
    return None  # significant digits: no fixed tick


def instrument_of(exchange: Any, market: dict[str, Any]) -> Instrument | None:
    """The Instrument of a CCXT market (None without a usable tick and lot)."""
    precision = market.get("precision") or {}
    try:
        tick = _tick(exchange, precision.get("price"))
        lot = _tick(exchange, precision.get("amount"))
    except (ValueError, ArithmeticError):
        return None
    if tick is None or lot is None or tick <= 0 or lot <= 0:
        return None
    kind = "perpetual" if market.get("swap") else "crypto"
    name = f"{market['symbol']} {exchange.id}"
    return Instrument(Exchange.CCXT, market["symbol"], tick, lot, name=name, kind=kind)


def load_instruments(
    exchange_id: str,
    url: str | None = None,
    rest_url: str | None = None,
    config: Any = None,
    symbols: list[str] | None = None,
) -> list[Instrument]:
    """The exchange's markets (all, or ``symbols`` in that order) as instruments.

    Raises:
        ValueError: ccxt missing, the exchange unreachable, or a symbol it does not list.
    """

    async def load() -> list[Instrument]:
        exchange = make_exchange(exchange_id, url, rest_url, config)
        try:
            markets = await exchange.load_markets()
        except Exception as exc:
            raise ValueError(f"ccxt {exchange_id}: cannot load markets: {exc}") from exc
        finally:
            await exchange.close()
        if symbols is None:
            out = [instrument_of(exchange, m) for m in markets.values() if m.get("active", True)]
            return [i for i in out if i is not None]
        found = []
        for s in symbols:
            market = markets.get(s.strip())
            inst = instrument_of(exchange, market) if market else None
            if inst is None:
                raise ValueError(f"{s}: not a market of ccxt {exchange_id} (unified: BTC/USDT)")
            found.append(inst)
        return found

    return asyncio.run(load())


class CcxtFeed(StateHolder):
    """One CCXT exchange's public streams on a thread of their own."""

    def __init__(
        self,
        exchange_id: str,
        sink: Sink,
        *,
        url: str | None = None,
        rest_url: str | None = None,
        depth_levels: int = 20,
        liveness_s: float = 60.0,
        first_update_s: float = FIRST_UPDATE_S,
        backoff: Backoff | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        """Create a stopped feed (``config``: options for the ccxt exchange's constructor)."""
        super().__init__()
        self.exchange_id = exchange_id
        self.name = f"ccxt:{exchange_id}"
        self._sink = sink
        self._url = url
        self._rest_url = rest_url
        self.depth_levels = depth_levels
        self.liveness_s = liveness_s
        self.first_update_s = first_update_s
        self._backoff = backoff or Backoff(initial=1.0, factor=2.0, cap=60.0)
        self._config = config
        make_exchange(exchange_id, url, rest_url, config)  # fail now, not on the thread
        self._lock = threading.Lock()
        self.wanted: dict[str, set[str]] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._changed: asyncio.Event | None = None
        self._rng = random.Random()
        self._last_event = time.monotonic()
        self._live = False
        self.subscribe_errors: list[str] = []
        self._refused: set[tuple[str, str]] = set()
        """(symbol, stream) the exchange refused: not watched again."""
        self.counters: dict[str, Any] = {
            "events": 0,
            "rejected": 0,
            "errors": 0,
            "reconnects": 0,
            "stale": 0,
        }
        self._rejected: dict[str, int] = {}

    # -- the subscription API ------------------------------------------------------------

    def subscribe(self, symbols: Iterable[str], mode: str) -> list[str]:
        """Subscribe unified symbols in ``ltp``/``quote``/``depth``; returns the new ones."""
        streams_for(mode)
        new = []
        with self._lock:
            for s in symbols:
                s = s.strip()
                if not s:
                    continue
                modes = self.wanted.setdefault(s, set())
                if mode not in modes:
                    modes.add(mode)
                    new.append(s)
        self._poke()
        return new

    def unsubscribe(self, symbols: Iterable[str], mode: str) -> list[str]:
        """Unsubscribe symbols from ``mode`` (their streams stop being watched)."""
        gone = []
        with self._lock:
            for s in symbols:
                modes = self.wanted.get(s.strip())
                if modes is not None and mode in modes:
                    modes.discard(mode)
                    gone.append(s.strip())
                    if not modes:
                        del self.wanted[s.strip()]
        self._poke()
        return gone

    def _poke(self) -> None:
        loop, changed = self._loop, self._changed
        if loop is not None and changed is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(changed.set)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._set_state(FeedState.CONNECTING)
        self._thread = threading.Thread(
            target=self._run, name=f"ccxt-{self.exchange_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop the thread (bounded); False if it did not end in time."""
        self._stop.set()
        self._poke()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def stats(self) -> dict[str, Any]:
        """Counters like the other feeds' (``frames`` is the number of updates CCXT gave)."""
        return {
            "feed": self.name,
            "state": str(self.state),
            "frames": self.counters["events"],
            **self.counters,
            "rejected_by_reason": dict(self._rejected),
            "subscribe_errors": len(self.subscribe_errors),
            "reason": self.reason,
        }

    def _set_state(
        self, state: FeedState, reason: str = "", next_retry_s: float | None = None
    ) -> None:
        self._store_state(state, reason)
        try:
            self._sink(
                FeedStatus(
                    feed=self.name,
                    state=state,
                    ts_ns=time.time_ns(),
                    next_retry_s=next_retry_s,
                    reason=reason,
                    reconnects=self.counters["reconnects"],
                )
            )
        except Exception:
            log.exception("%s: sink refused a status", self.name)

    def _reject(self, reason: str) -> None:
        self.counters["rejected"] += 1
        self._rejected[reason] = self._rejected.get(reason, 0) + 1

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
            self._set_state(FeedState.DOWN, "stopped")
        except Exception as exc:  # last resort: report, never die silently
            log.exception("%s: thread failed", self.name)
            self._set_state(FeedState.DOWN, f"internal error: {type(exc).__name__}: {exc}")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        while not self._stop.is_set():
            exchange = make_exchange(self.exchange_id, self._url, self._rest_url, self._config)
            try:
                await self._session(exchange)
            finally:
                with contextlib.suppress(Exception):  # a silent peer may never answer a close
                    await asyncio.wait_for(exchange.close(), CLOSE_S)

    async def _session(self, exchange: Any) -> None:
        """Run every wanted stream until stop, or until the watchdog finds them silent."""
        tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._last_event = time.monotonic()
        try:
            while not self._stop.is_set():
                with self._lock:
                    wanted = {
                        (s, kind)
                        for s, modes in self.wanted.items()
                        for m in modes
                        for kind in streams_for(m)
                    }
                for key in [k for k in tasks if k not in wanted]:
                    tasks.pop(key).cancel()
                for key in [k for k, t in tasks.items() if t.done() and k not in self._refused]:
                    del tasks[key]  # ended under us (CCXT cancelled its wait): watch again
                for key in wanted - tasks.keys():
                    tasks[key] = asyncio.create_task(self._watch(exchange, *key))
                assert self._changed is not None
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.2)
                age = time.monotonic() - self._last_event
                # before a session's first update its markets are still loading (a few REST
                # calls): silence counts from then on, with a grace of FIRST_UPDATE_S till then
                limit = self.liveness_s if self._live else max(self.liveness_s, self.first_update_s)
                if tasks and age > limit:
                    self.counters["stale"] += 1
                    self._set_state(FeedState.STALE, f"no update for {age:.1f} s")
                    self._live = False
                    return  # a new exchange instance: new connections, new subscriptions
        finally:
            for task in tasks.values():
                task.cancel()
            if tasks:  # bounded: a watch stuck inside CCXT must not hold the next session
                await asyncio.wait(tasks.values(), timeout=CLOSE_S)

    async def _watch(self, exchange: Any, symbol: str, kind: str) -> None:
        import ccxt

        attempt = 0
        while not self._stop.is_set():
            events: list[TradeTick] | list[QuoteTick] | list[DepthTick]
            try:
                if kind == "trades":
                    events = self._trades(symbol, await exchange.watch_trades(symbol))
                elif kind == "ticker":
                    events = self._ticker(symbol, await exchange.watch_ticker(symbol), exchange)
                else:
                    events = self._book(symbol, await exchange.watch_order_book(symbol))
            except asyncio.CancelledError:
                raise
            except ccxt.BadSymbol as exc:
                self._refused.add((symbol, kind))
                text = f"ccxt {self.exchange_id}: {symbol}: {exc}"[:300]
                self.subscribe_errors.append(text)
                self._set_state(self.state, text)
                return
            except Exception as exc:
                attempt += 1
                self.counters["errors"] += 1
                delay = self._backoff.delay(attempt, self._rng)
                if self._live:
                    self._live = False
                    self._set_state(
                        FeedState.RECONNECTING,
                        f"{kind} {symbol}: {type(exc).__name__}: {exc}"[:300],
                        round(delay, 3),
                    )
                await asyncio.sleep(delay)
                continue
            attempt = 0
            self._last_event = time.monotonic()
            if not self._live:
                if self.state != FeedState.CONNECTING:
                    self.counters["reconnects"] += 1
                self._live = True
                self._set_state(FeedState.LIVE)
            for ev in events:
                self._sink(ev)
                self.counters["events"] += 1

    # -- CCXT structures -> events -----------------------------------------------------------

    def _trades(self, symbol: str, trades: Any) -> list[TradeTick]:
        now = time.time_ns()
        out = []
        for t in trades or ():
            try:
                price = _num(t.get("price"), "trade price")
                qty = _num(t.get("amount"), "trade amount")
                ts = t.get("timestamp")
                ltt = int(ts) * _MS if isinstance(ts, int | float) and ts > 0 else None
            except (BadValue, AttributeError) as exc:
                self._reject(str(exc) if isinstance(exc, BadValue) else "ccxt: bad trade")
                continue
            side = t.get("side")
            out.append(
                TradeTick(
                    recv_ns=now,
                    exchange=EXCHANGE,
                    symbol=symbol,
                    ltp=price,
                    exch_ns=ltt,
                    ltq=qty,
                    ltt_ns=ltt,
                    aggressor=side if side in ("buy", "sell") else None,
                    trade_id=str(t["id"]) if t.get("id") is not None else None,
                )
            )
        return out

    def _ticker(self, symbol: str, t: Any, exchange: Any) -> list[QuoteTick]:
        try:
            last = _num(t.get("last"), "ticker last")
            bid, ask = _opt(t.get("bid"), "ticker bid"), _opt(t.get("ask"), "ticker ask")
            open_ = _opt(t.get("open"), "ticker open")
            high = _opt(t.get("high"), "ticker high")
            low = _opt(t.get("low"), "ticker low")
            close = _opt(t.get("previousClose"), "ticker close")
            with self._lock:
                has_book = "depth" in self.wanted.get(symbol, ())
            bids: tuple[Level, ...] | None = None
            asks: tuple[Level, ...] | None = None
            if not has_book and bid and ask:  # the order book stream owns the touch
                if bid >= ask:
                    raise BadValue("ccxt: crossed ticker")
                bids = ((bid, _num(t.get("bidVolume") or 0, "ticker size", positive=False), 0),)
                asks = ((ask, _num(t.get("askVolume") or 0, "ticker size", positive=False), 0),)
        except (BadValue, AttributeError) as exc:
            self._reject(str(exc) if isinstance(exc, BadValue) else "ccxt: bad ticker")
            return []
        ts = t.get("timestamp")
        return [
            QuoteTick(
                recv_ns=time.time_ns(),
                exchange=EXCHANGE,
                symbol=symbol,
                ltp=last,
                exch_ns=int(ts) * _MS if isinstance(ts, int | float) and ts > 0 else None,
                open=open_,
                high=high,
                low=low,
                close=close,
                bids=bids,
                asks=asks,
            )
        ]

    def _book(self, symbol: str, ob: Any) -> list[DepthTick]:
        n = self.depth_levels
        try:
            bids = tuple(
                (_num(p, "book price"), _num(q, "book size", positive=False), 0)
                for p, q, *_ in list(ob["bids"])[:n]
            )
            asks = tuple(
                (_num(p, "book price"), _num(q, "book size", positive=False), 0)
                for p, q, *_ in list(ob["asks"])[:n]
            )
            if bids and asks and bids[0][0] >= asks[0][0]:
                raise BadValue("ccxt: crossed book")
        except (BadValue, KeyError, TypeError, ValueError) as exc:
            self._reject(str(exc) if isinstance(exc, BadValue) else "ccxt: bad book")
            return []
        touch = bids or asks
        if not touch:
            return []
        ts = ob.get("timestamp")
        return [
            DepthTick(
                recv_ns=time.time_ns(),
                exchange=EXCHANGE,
                symbol=symbol,
                ltp=touch[0][0],
                exch_ns=int(ts) * _MS if isinstance(ts, int | float) and ts > 0 else None,
                bids=bids,
                asks=asks,
            )
        ]


def make_feed(
    exchange_id: str,
    symbols: list[str],
    mode: str,
    url: str | None,
    sink: Sink,
    *,
    rest_url: str | None = None,
    **options: Any,
) -> CcxtFeed:
    """A CCXT feed subscribed to ``symbols`` (unified) in ``mode``; not yet started.

    Known ``options``: ``depth_levels``, ``liveness_s``, ``first_update_s``, ``backoff``,
    ``config``.

    Raises:
        ValueError: ccxt missing, an exchange it does not stream, a bad mode, or no symbols.
    """
    keys = [s.strip() for s in symbols if s.strip()]
    if not keys:
        raise ValueError("ccxt needs at least one unified symbol (e.g. BTC/USDT)")
    names = ("depth_levels", "liveness_s", "first_update_s", "backoff", "config")
    known = {k: v for k, v in options.items() if k in names}
    feed = CcxtFeed(exchange_id, sink, url=url, rest_url=rest_url, **known)
    feed.subscribe(keys, mode)
    return feed
