"""Market data from elsewhere (``--feed kite|binance|bybit|...|replay:FILE``), orders on paper.

Three parts the runner puts together:

- the instruments of an external feed: a public venue's (:mod:`cockpit.adapters.venues`) looked
  up there, Kite entries ``EXCH:SYMBOL=TOKEN[:TICK[:LOT]]``, a replay file's keys (tick from the
  finest price grid its prices lie on, or the paper exchange's own listing);
- :class:`VenueFeed`: the engine's ``subscribe(keys, mode)`` in ``EXCH:SYMBOL`` keys, mapped to
  the adapter's own terms (``BTCUSDT``, a Kite token);
- :class:`UpstreamTee`: every market event the engine receives is also sent, on its own
  thread, over one persistent loopback TCP connection to the paper exchange's upstream
  endpoint (:mod:`cockpit.sim.upstream`), so paper fills happen at the external prices. The
  feed thread only appends to a bounded buffer; when it is full the event is dropped and
  counted — the engine is never slowed.
"""

from __future__ import annotations

import collections
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import msgspec

from cockpit.domain.instruments import Instrument, parse_key, to_decimal
from cockpit.domain.market import (
    DepthTick,
    LtpTick,
    QuoteTick,
    TradeTick,
    decode_line,
    encode_line,
)

log = logging.getLogger(__name__)

MARKET_TYPES: Final = (LtpTick, TradeTick, QuoteTick, DepthTick)
KITE_TICK: Final = Decimal("0.05")
REPLAY_SCAN_LINES: Final = 200_000


class FeedConfigError(ValueError):
    """The external feed cannot be set up; the message says what to type instead."""


@dataclass(frozen=True, slots=True)
class FeedPlan:
    """What an external feed needs: its instruments and each one's name in the venue's terms."""

    kind: str
    instruments: list[Instrument]
    venue_ids: dict[str, str]
    """``EXCH:SYMBOL`` -> the adapter's symbol (``BTCUSDT``, a Kite token); empty for replay."""


# ---------------------------------------------------------------------- kite


def kite_instruments(
    entries: Iterable[str], known: Mapping[str, Instrument] | None = None
) -> tuple[list[Instrument], dict[str, str]]:
    """Parse ``EXCH:SYMBOL=TOKEN[:TICK[:LOT]]`` entries.

    The tick defaults to the paper exchange's listing of that key (if ``known`` has it), else
    0.05; the lot to the listing's, else 1.

    Raises:
        FeedConfigError: an entry not in that form.
    """
    known = known or {}
    out: list[Instrument] = []
    tokens: dict[str, str] = {}
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        key, sep, rest = entry.partition("=")
        parts = rest.split(":")
        try:
            if not sep or not parts[0].strip().isdigit():
                raise ValueError("missing =TOKEN")
            exchange, symbol = parse_key(key.strip())
            token = str(int(parts[0]))
            listed = known.get(f"{exchange}:{symbol}")
            tick = to_decimal(parts[1]) if len(parts) > 1 and parts[1] else None
            lot = to_decimal(parts[2]) if len(parts) > 2 and parts[2] else None
            if len(parts) > 3:
                raise ValueError("too many fields")
        except (ValueError, KeyError) as exc:
            raise FeedConfigError(
                f"--feed kite: bad symbol entry {raw!r} ({exc}); expected "
                "EXCH:SYMBOL=TOKEN[:TICK[:LOT]], e.g. NSE:INFY=408065 or "
                "NFO:NIFTY25DECFUT=12345:0.05:75"
            ) from None
        tick = tick or (listed.tick_size if listed else KITE_TICK)
        lot = lot or (listed.lot_size if listed else Decimal(1))
        inst = Instrument(
            exchange, symbol, tick, lot, name=listed.name if listed else symbol, kind="equity"
        )
        out.append(inst)
        tokens[inst.key] = token
    if not out:
        raise FeedConfigError(
            "--feed kite needs --symbols with instrument tokens, e.g. "
            "--symbols NSE:INFY=408065,NSE:RELIANCE=738561 (or [feed] symbols in config.toml)"
        )
    return out, tokens


# ---------------------------------------------------------------------- replay


def _grid(values: Iterable[Decimal], min_distinct: int = 10) -> Decimal | None:
    """The tick a set of recorded prices suggests, or None for no prices.

    The coarsest step all prices lie on (their gcd) when there are enough distinct prices to
    trust it and it is under 1% of the lowest price; otherwise the finest decimal place seen
    (too fine a tick is harmless, too coarse a tick would put real prices off the grid).
    """
    vals = {v for v in values if v.is_finite() and v > 0}  # a recording may hold NaN, Infinity
    if not vals:
        return None
    exponents = [e for v in vals if isinstance(e := v.as_tuple().exponent, int)]  # finite: all
    places = max(max(-e for e in exponents), 0)
    scale = 10**places
    unit = Decimal(1).scaleb(-places)
    if len(vals) < min_distinct:
        return unit
    g = 0
    for v in vals:
        g = math.gcd(g, int(v * scale))
        if g == 1:
            break
    tick = Decimal(g) / Decimal(scale)
    return tick if tick * 100 <= min(vals) else unit


def replay_instruments(
    path: Path, known: Mapping[str, Instrument] | None = None, max_lines: int = REPLAY_SCAN_LINES
) -> list[Instrument]:
    """The instruments of a recording: the paper exchange's listing where it has the key,
    else a tick from the grid the recorded prices lie on (see :func:`_grid`; lot 1, or
    0.00001 on crypto).

    Raises:
        FeedConfigError: an unreadable file or one without a single valid tick line.
    """
    known = known or {}
    prices: dict[str, set[Decimal]] = {}
    order: list[str] = []
    try:
        with path.open("rb") as fh:
            for n, line in enumerate(fh):
                if n >= max_lines:
                    break
                try:
                    ev = decode_line(line)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue
                key = ev.key
                seen = prices.get(key)
                if seen is None:
                    seen = prices[key] = set()
                    order.append(key)
                seen.add(ev.ltp)
                if isinstance(ev, QuoteTick):
                    for levels in (ev.bids, ev.asks):
                        for price, _qty, _orders in levels or ():
                            seen.add(price)
    except OSError as exc:
        raise FeedConfigError(f"--feed replay: cannot read {path}: {exc}") from exc
    out: list[Instrument] = []
    for key in order:
        if key in known:
            out.append(known[key])
            continue
        try:
            exchange, symbol = parse_key(key)
        except ValueError:
            log.warning("replay: skipping unknown exchange in %s", key)
            continue
        tick = _grid(prices[key]) or Decimal("0.01")
        crypto = exchange.fractional_quantity
        lot = Decimal("0.00001") if crypto else Decimal(1)
        out.append(
            Instrument(
                exchange, symbol, tick, lot, name=symbol, kind="crypto" if crypto else "equity"
            )
        )
    if not out:
        raise FeedConfigError(f"--feed replay: {path} holds no normalized tick lines")
    return out


# ---------------------------------------------------------------------- public venues


def venue_plan(
    kind: str, symbols: Iterable[str], url: str | None, rest_url: str | None
) -> FeedPlan:
    """The instruments of a public venue (:mod:`cockpit.adapters.venues`), looked up there.

    Raises:
        FeedConfigError: an unknown kind or symbol, no symbols, or the venue unreachable.
    """
    from cockpit.adapters.venues import venue

    try:
        spec = venue(kind)
        if spec is None:
            raise ValueError(f"unknown feed {kind!r}")
        wanted = [s.strip() for s in symbols if s.strip()]
        if not wanted:
            raise ValueError("needs --symbols (e.g. --symbols BTCUSDT) or [feed] symbols")
        insts = spec.lookup(wanted, url, rest_url)
    except ValueError as exc:
        raise FeedConfigError(f"--feed {kind}: {exc}") from exc
    return FeedPlan(kind, insts, {i.key: i.symbol for i in insts})


def venue_feed(
    plan: FeedPlan, sink: Callable[[object], None], url: str | None, rest_url: str | None
) -> VenueFeed:
    """A public venue's feed, not started, speaking ``EXCH:SYMBOL`` keys to the engine."""
    from cockpit.adapters.venues import venue

    spec = venue(plan.kind)
    if spec is None:
        raise FeedConfigError(f"unknown feed {plan.kind!r}")
    return VenueFeed(spec.make(sink, url, rest_url), plan.venue_ids, plan.kind)


# ---------------------------------------------------------------------- key mapping


class VenueFeed:
    """The engine's view of an external adapter: ``EXCH:SYMBOL`` keys in, venue ids out.

    Keys the adapter does not know (not in ``venue_ids``) are ignored with a log line.
    """

    def __init__(
        self,
        inner: Any,
        venue_ids: Mapping[str, str],
        kind: str,
        token_map: dict[int, tuple[str, str]] | None = None,
    ) -> None:
        self.inner = inner
        self.venue_ids = dict(venue_ids)
        self.kind = kind
        self.token_map = token_map
        """Kite: the decoder's token -> (exchange, symbol), shared with it."""

    def _map(self, keys: Iterable[str]) -> list[str]:
        out = []
        for k in keys:
            vid = self.venue_ids.get(k)
            if vid is None:
                log.warning("%s feed: no instrument for %s (add it to --symbols)", self.kind, k)
            else:
                out.append(vid)
        return out

    def follow(self, key: str, venue_id: str) -> None:
        """Know one more instrument (added with ``/``), before the engine subscribes it."""
        if self.token_map is not None:
            exchange, symbol = key.split(":", 1)
            self.token_map[int(venue_id)] = (exchange, symbol)
        self.venue_ids[key] = venue_id

    def subscribe(self, keys: Iterable[str], mode: str = "quote") -> list[str]:
        """Subscribe engine keys in ``mode`` (ltp/quote/depth)."""
        ids = self._map(keys)
        return self.inner.subscribe(ids, mode) if ids else []

    def unsubscribe(self, keys: Iterable[str], mode: str = "quote") -> Any:
        """Unsubscribe engine keys."""
        ids = self._map(keys)
        return self.inner.unsubscribe(ids, mode) if ids else []

    def start(self) -> None:
        """Start the adapter."""
        self.inner.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop the adapter (bounded)."""
        return bool(self.inner.stop(timeout))


# ---------------------------------------------------------------------- the tee


class UpstreamTee:
    """Forwards market events to the paper exchange's upstream endpoint, off the feed thread.

    Args:
        port: the sim's upstream TCP port on 127.0.0.1.
        api_key: the sim's key (sent first on every connection).
        instruments: what to follow (sent after the key on every connection).
        capacity: events buffered at most; beyond it new events are dropped and counted.
    """

    def __init__(
        self,
        port: int,
        api_key: str,
        instruments: Iterable[Instrument],
        *,
        capacity: int = 50_000,
        host: str = "127.0.0.1",
    ) -> None:
        self.addr = (host, port)
        self._key = api_key
        self.instruments = list(instruments)
        self.capacity = capacity
        self._buf: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.dropped = 0
        """Events refused because the buffer was full (counted on the feed thread)."""
        self.lost = 0
        """Events lost with a broken connection (counted on the sender thread)."""
        self.connects = 0
        self.errors = 0
        self.connected = threading.Event()
        self._queued = 0
        """Events put in the buffer (feed thread); ``sent + lost`` catches up with it."""
        self._done = threading.Condition()

    def sink(self, inner: Callable[[object], None]) -> Callable[[object], None]:
        """A sink that queues market events here first, then hands everything to ``inner``.

        Queued first: an order the engine sends on this event can then wait for it to reach
        the paper exchange (:meth:`flush`), so paper fills see the price that caused them.
        """
        buf = self._buf
        wake = self._wake
        cap = self.capacity
        types = frozenset(MARKET_TYPES)  # a set lookup: isinstance on Structs is ~10x slower

        def tee(item: object) -> None:
            if type(item) in types:
                if len(buf) >= cap:
                    self.dropped += 1
                else:
                    buf.append(item)
                    self._queued += 1
                    if len(buf) == 1:  # the sender drains to empty before it sleeps
                        wake.set()
            inner(item)

        return tee

    def flush(self, timeout: float = 0.25) -> bool:
        """Wait until every event queued so far was written to the paper exchange (or lost).

        The order router calls this before it sends an order, so the paper exchange fills
        it at the prices the engine saw. False on timeout (the order goes anyway).
        """
        target = self._queued
        if self.sent + self.lost >= target:
            return True
        self._wake.set()
        deadline = time.monotonic() + timeout
        with self._done:
            while self.sent + self.lost < target:
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set() or not self.connected.is_set():
                    return False
                self._done.wait(left)
        return True

    def start(self) -> None:
        """Start the sender thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="upstream-tee", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop the sender (bounded join)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def stats(self) -> dict[str, Any]:
        """Counters: sent, dropped, pending, connects, errors."""
        return {
            "sent": self.sent,
            "dropped": self.dropped,
            "lost": self.lost,
            "pending": len(self._buf),
            "connects": self.connects,
            "errors": self.errors,
        }

    def follow(self, inst: Instrument) -> None:
        """Have the paper exchange list and follow one more instrument (added with ``/``):
        sent now on the open connection (in order with the ticks), and on every reconnect."""
        self.instruments.append(inst)
        if len(self._buf) < self.capacity:
            self._buf.append(_Raw(_follow_line(inst)))  # not counted as an event (flush)
            self._wake.set()

    def _hello(self) -> bytes:
        lines = [msgspec.json.encode({"auth": self._key})]
        lines += [_follow_line(inst) for inst in self.instruments]
        return b"\n".join(lines) + b"\n"

    def _connect(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(self.addr, timeout=5.0)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(self._hello())
        except OSError as exc:
            self.errors += 1
            log.warning("upstream to the paper exchange: cannot connect: %s", exc)
            return None
        self.connects += 1
        self.connected.set()
        return sock

    def _run(self) -> None:
        buf = self._buf
        sock: socket.socket | None = None
        delay = 0.1
        reported, next_report = 0, 0.0
        try:
            while not self._stop.is_set():
                if sock is None:
                    sock = self._connect()
                    if sock is None:
                        self._stop.wait(delay)
                        delay = min(delay * 2, 2.0)
                        continue
                    delay = 0.1
                if self.dropped != reported and time.monotonic() >= next_report:
                    log.warning(
                        "upstream to the paper exchange: %d market events dropped (buffer "
                        "full); paper fills may lag the feed",
                        self.dropped - reported,
                    )
                    reported, next_report = self.dropped, time.monotonic() + 10.0
                if not buf:
                    self._wake.wait(0.5)
                    self._wake.clear()
                    continue
                chunk: list[bytes] = []
                raw = 0
                while buf and len(chunk) < 512:
                    item = buf.popleft()
                    if type(item) is _Raw:
                        raw += 1
                        chunk.append(item.line)
                    else:
                        chunk.append(encode_line(item))
                data = b"\n".join(chunk) + b"\n"
                try:
                    sock.sendall(data)
                    self.sent += len(chunk) - raw
                except OSError as exc:
                    self.errors += 1
                    self.lost += len(chunk) - raw
                    log.warning("upstream to the paper exchange lost: %s; reconnecting", exc)
                    sock.close()
                    sock = None
                    self.connected.clear()
                with self._done:
                    self._done.notify_all()
        finally:
            if sock is not None:
                sock.close()


@dataclass(frozen=True, slots=True)
class _Raw:
    """A line for the paper exchange that is not a market event (a ``follow``)."""

    line: bytes


def _follow_line(inst: Instrument) -> bytes:
    return msgspec.json.encode(
        {
            "follow": {
                "exchange": str(inst.exchange),
                "symbol": inst.symbol,
                "tick": str(inst.tick_size),
                "lot": str(inst.lot_size),
            }
        }
    )
