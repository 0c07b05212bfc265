"""Market state: quotes, books, volume at price; every tick runs its symbol's plan."""

from __future__ import annotations

import logging
import time
from decimal import Decimal

from cockpit.domain.guard import JumpGuard
from cockpit.domain.instruments import (
    Instrument,
)
from cockpit.domain.market import NO_TRADE, DepthTick, LtpTick, QuoteTick, TradeTick
from cockpit.engine.base import EngineBase
from cockpit.engine.state import (
    ZERO,
    SymbolState,
    book_levels,
    market_ticks,
    take_touch,
    venue_ticks,
)
from cockpit.engine.views import volume_view
from cockpit.link import protocol
from cockpit.link.bus import ViewerGone, ViewerShowing

log = logging.getLogger(__name__)

VAP_LEVELS_BUDGET = 300_000
"""Volume-at-price levels the engine keeps over all its symbols. Each symbol keeps its share
(this over the symbols followed, :data:`VAP_LEVELS_MIN` at least), the levels nearest its last
price: a price that keeps walking to new levels (the paper exchange's 3,000 symbols add ~28 a
minute each) no longer grows the engine. A level takes ~190 bytes at worst (its total and
buyer part in two maps, their ints): 300,000 take ~57 MB of the engine's 300. 3,000 symbols:
100 levels each (filled in ~4 minutes of that walk, then flat); 50: 6,000. (At 1,000,000,
333 levels each took ~220 MB and ~12 minutes to fill: the engine still grew at minute 10.)"""
VAP_LEVELS_MIN = 100
"""The fewest levels a symbol keeps, however many symbols are followed."""
VOLUME_RESET_QUOTES = 5
"""Quotes in a row below the highest cumulative volume seen (never going down) that make a
new session (the venue restarted its count); fewer are frames behind, ignored."""
OHLC = ("open", "high", "low", "close")


class MarketData(EngineBase):
    """Market state (a part of :class:`~cockpit.engine.core.Engine`)."""

    _vap_cap = VAP_LEVELS_MIN
    """Volume-at-price levels one symbol keeps (its share of :data:`VAP_LEVELS_BUDGET`)."""

    # ================================================================== market data

    def _add_instrument(self, inst: Instrument) -> None:
        self.instruments[inst.key] = inst
        if inst.key not in self._syms:
            limit = self.config.exits.jump_guard.limit_for(inst.key)
            self._syms[inst.key] = SymbolState(inst, guard=JumpGuard(limit))
            self._vap_cap = max(VAP_LEVELS_MIN, VAP_LEVELS_BUDGET // len(self._syms))

    def _on_market(self, ev: LtpTick | QuoteTick | DepthTick | TradeTick) -> None:
        key = f"{ev.exchange}:{ev.symbol}"
        sym = self._syms.get(key)
        if sym is None:
            self.counters["unknown_symbol"] += 1
            return
        inst = sym.inst
        if ev.exch_ns is not None and ev.exch_ns != sym.exch_ns:  # a new stamp: feed lag
            self._lag.sample(ev.exchange, ev.recv_ns, ev.exch_ns)
        ltp = market_ticks(sym, ev.ltp)
        if ltp is None:
            if ev.ltp == NO_TRADE and isinstance(ev, QuoteTick):  # no trade yet today
                # Its quotes and book are real: kept and shown (with no last price, or the
                # last one this engine saw); it moves no exit and no mark.
                self._quote_fields(sym, ev)
                sym.recv_ns = ev.recv_ns
                sym.exch_ns = ev.exch_ns
                sym.count += 1
                self._to_screen(key, sym, ev)
                return
            self.counters["bad_ticks"] += 1
            return
        sym.ltp = ltp
        sym.recv_ns = ev.recv_ns
        sym.exch_ns = ev.exch_ns
        sym.count += 1
        self.counters["ticks"] += 1
        self._ticks_window += 1
        touch = (sym.bid, sym.ask)  # the quote prevailing before this event (aggressor)
        if isinstance(ev, QuoteTick):
            self._quote_fields(sym, ev)  # first: a limit exit prices off this tick's touch
        slot = self.plans.get(key)
        guard = sym.guard
        if slot is not None and not guard.primed:
            guard.seed(slot.plan.last_ticks or slot.plan.entry_ticks)
        price: int | None = ltp
        if not guard.passes(ltp):  # most prints pass: no answer built for them
            checked = guard.check(ltp, inst.format_price)
            if checked.alarm:
                self._alarm("warning", f"{key}: {checked.alarm}", key=key, code="price_jump")
            price = checked.price
        if price is not None:  # a held print moves no exit and no mark
            if slot is not None and self.reconciled:
                self._plan_tick(slot, price, ev.recv_ns)
            if self._touch:  # seen even before the books are known (sent only after)
                self._touch_tick(key, price)
            self.portfolio.update_mark(key, price)
            if key in self._price_alerts:
                self._alert_price(key, price)
            if key in self._excursions:
                self._excursion_tick(key, price)
        self._trade_part(key, sym, ev, ltp, touch)  # after the exit decision: never delays it
        self._to_screen(key, sym, ev)

    def _trade_part(
        self,
        key: str,
        sym: SymbolState,
        ev: LtpTick | QuoteTick | DepthTick | TradeTick,
        ltp: int,
        touch: tuple[int | None, int | None],
    ) -> None:
        """What the event traded: volume at price, who initiated it, the chart's bar and
        print (every tick, folded or not: these must stay exact)."""
        if isinstance(ev, QuoteTick | TradeTick):
            qty = self._traded(key, sym, ev, ltp)
            if qty is not None:
                side, inferred = aggressor(ev, ltp, touch, sym)
                sym.last_trade, sym.last_side = ltp, side
                if side == "buy":  # its own map: _traded copied a lent one
                    sym.bought[ltp] = compact(sym.bought.get(ltp, 0) + qty)
                if self._charts:
                    ts = ev.exch_ns or ev.recv_ns
                    self._chart_trade(key, ltp, qty, ts, side, inferred)
            else:
                sym.last_trade = ltp  # the last price is a trade's (for the tick rule)
        elif self._charts:
            self._chart_trade(key, ltp, None, ev.exch_ns or ev.recv_ns, "", False)

    def _to_screen(
        self, key: str, sym: SymbolState, ev: LtpTick | QuoteTick | DepthTick | TradeTick
    ) -> None:
        if self.options.screen_fold_s > 0:
            self._screen_dirty.add(key)  # published by flush_screen, the latest state wins
        elif self.screen.full(key):
            book = self._book_view(sym) if type(ev) is DepthTick else None
            self.publisher.market(self._quote_view(sym), book)
        else:
            self.screen.defer(key, time.monotonic())  # no viewer shows it: the slow lane

    def flush_screen(self) -> None:
        """Publish the latest quote (and book, if a new one came) of every symbol changed
        since the last call that a viewer shows, and the latest quote (no book) of those no
        viewer shows whose slow-lane time has come. The decision loop calls it at most every
        ``options.screen_fold_s``; a snapshot needs no flush (it reads the same state)."""
        publish = self.publisher.market
        syms = self._syms
        lanes = self.screen
        shown = lanes.shown
        now = time.monotonic()
        for key in self._screen_dirty:
            sym = syms[key]
            if shown is None or key in shown:
                book = self._book_view(sym) if sym.depth is not None else None
                publish(self._quote_view(sym), book)
            else:
                lanes.defer(key, now)
        self._screen_dirty.clear()
        if lanes.pending:
            for key in lanes.due(now):
                publish(self._quote_view(syms[key]), None)

    def screen_due(self) -> bool:
        """Whether :meth:`flush_screen` has anything to do (changes, or a slow lane)."""
        return bool(self._screen_dirty) or self.screen.pending

    # ================================================================== what viewers show

    def _on_viewer_showing(self, item: ViewerShowing) -> None:
        """A viewer says what it draws in full: symbols it newly shows get their whole state
        now (off screen they had their quote at most once a second and no book, and its
        snapshot may not have carried their volume at price): every level goes out with the
        next timer's volume."""
        publish = self.publisher.market
        for key in self.screen.showing(item.conn_id, item.keys):
            sym = self._syms.get(key)
            if sym is None:
                continue
            if sym.count:
                publish(self._quote_view(sym), self._book_view(sym))
            if sym.vap:
                sym.vap_changed.update(sym.vap)
                self._vap_dirty.add(key)

    def _on_viewer_gone(self, item: ViewerGone) -> None:
        self.screen.gone(item.conn_id)

    def _book_view(self, sym: SymbolState) -> protocol.BookView | None:
        """The symbol's book, built from its latest depth tick if that is newer."""
        ev = sym.depth
        if ev is not None:
            sym.book = protocol.BookView(
                key=sym.key,
                bids=book_levels(sym, ev.bids, -1, sym.bid),
                asks=book_levels(sym, ev.asks, 1, sym.ask),
                recv_ns=ev.recv_ns,
            )
            sym.depth = None
        return sym.book

    def _traded(
        self, key: str, sym: SymbolState, ev: QuoteTick | TradeTick, ltp: int
    ) -> Decimal | None:
        """Add the volume this event traded to the session's volume at ``ltp``; returns it
        (None: the event traded nothing).

        A trade (``TradeTick``) adds its ``ltq``. A quote adds the increase of the feed's
        cumulative day ``volume`` since the previous quote (robust to coalesced or missed
        ticks; all of it is put at the current LTP); the first quote only sets the baseline
        (volume traded before the engine watched the symbol has no known price), and a
        lower count is a frame behind unless it holds (see :meth:`_volume_behind`). A quote
        without ``volume`` adds its ``ltq`` only when its last-trade time moved (a repeated
        quote is not a new trade).
        """
        qty: Decimal | None
        if type(ev) is TradeTick:
            qty = ev.ltq
            if qty is None or not qty.is_finite() or qty <= ZERO:
                return None
        else:
            volume = ev.volume  # type: ignore[union-attr]
            if volume is not None:
                before = sym.cum_volume
                if volume == before and sym.volume_behind is None:
                    return None  # most quotes: no trade since the previous one
                if not volume.is_finite() or volume < ZERO:
                    return None
                if before is None:
                    sym.cum_volume = volume
                    return None
                if volume < before:
                    qty = self._volume_behind(sym, volume)
                    if qty is None:
                        return None
                else:
                    sym.volume_behind = None  # those quotes behind were late, not a new day
                    if volume == before:
                        return None
                    sym.cum_volume = volume
                    qty = volume - before
            else:
                ltt = ev.ltt_ns
                if ltt is None or ltt == sym.ltt_ns:
                    return None
                sym.ltt_ns = ltt
                qty = ev.ltq
                if qty is None or not qty.is_finite() or qty <= ZERO:
                    return None
        if sym.vap_lent:
            own_vap(sym)
        vap = sym.vap
        was = vap.get(ltp)
        vap[ltp] = compact((was or 0) + qty)
        if self.screen.full(key):  # off screen: the whole map goes out once it is shown
            sym.vap_changed.add(ltp)
            self._vap_dirty.add(key)
        if was is None and len(vap) > self._vap_cap:
            self._vap_trim(key, sym, ltp)
        return qty

    def _vap_trim(self, key: str, sym: SymbolState, ltp: int) -> None:
        """Keep the levels nearest ``ltp``, 7/8 of the symbol's share (so this runs once per
        1/8 of it in new levels: a sort of a few hundred ints), in new maps: a map levels
        were deleted from keeps its size, twice what it holds. A viewer showing the symbol
        gets the others as 0 (gone)."""
        vap, bought = sym.vap, sym.bought
        order = sorted(vap, key=lambda p: (abs(p - ltp), p))
        keep = self._vap_cap * 7 // 8
        far = order[keep:]
        sym.vap = {p: vap[p] for p in order[:keep]}
        sym.bought = {p: b for p in order[:keep] if (b := bought.get(p)) is not None}
        sym.vap_lent = False
        if self.screen.full(key):
            sym.vap_changed.update(far)
            self._vap_dirty.add(key)
        self.counters["vap_levels_trimmed"] = self.counters.get("vap_levels_trimmed", 0) + len(far)

    def _volume_behind(self, sym: SymbolState, volume: Decimal) -> Decimal | None:
        """A quote whose cumulative volume is below the highest seen: a late or repeated
        frame (ignored, counted in ``volume_behind``), or the venue's count restarted (a new
        day). A restart holds: after :data:`VOLUME_RESET_QUOTES` quotes in a row below the
        old count, never going down, a new session starts (the map is cleared) and what
        traded since the first of them is returned (put at the current LTP, as coalesced
        quotes are). One quote at or above the old count drops the candidate."""
        behind = sym.volume_behind
        if behind is None or volume < behind[1]:
            sym.volume_behind = behind = (volume, volume, 1)
        else:
            behind = sym.volume_behind = (behind[0], volume, behind[2] + 1)
        if behind[2] < VOLUME_RESET_QUOTES:
            self.counters["volume_behind"] = self.counters.get("volume_behind", 0) + 1
            return None
        self.counters["volume_sessions"] = self.counters.get("volume_sessions", 0) + 1
        self.counters["volume_behind"] -= VOLUME_RESET_QUOTES - 1  # they were the new day
        sym.volume_behind = None
        sym.cum_volume = volume
        self._vap_reset(sym)
        qty = volume - behind[0]
        return qty if qty > ZERO else None

    def _vap_reset(self, sym: SymbolState) -> None:
        """A new session: every level goes (published as 0)."""
        sym.vap_changed.update(sym.vap)
        sym.vap, sym.bought, sym.vap_lent = {}, {}, False  # a snapshot may hold the old ones
        if sym.vap_changed:
            self._vap_dirty.add(sym.key)

    def _publish_volume(self) -> None:
        """Send the changed volume-at-price levels (from the timer: a few times a second) of
        the symbols a viewer shows, each with its total now. Only symbols that changed since
        the last call are looked at. Off screen nothing is kept level by level: a viewer gets
        the whole map in its snapshot or when it shows the symbol."""
        publish = self.publisher.volume
        full = self.screen.full
        syms = self._syms
        for key in self._vap_dirty:
            sym = syms[key]
            changed = sym.vap_changed
            if changed and full(key):
                vap = sym.vap
                publish(volume_view(key, [(p, vap.get(p, 0)) for p in changed], sym.bought))
            changed.clear()  # scrolled away before the timer: whole again when shown
        self._vap_dirty = set()

    def _quote_fields(self, sym: SymbolState, ev: QuoteTick) -> None:
        f = sym.fields
        raw = sym.raw_ohlc
        ohlc = (ev.open, ev.high, ev.low, ev.close)
        if ohlc != sym.raw_ohlc_seen:  # most ticks: the session's figures are unchanged
            sym.raw_ohlc_seen = ohlc
            inst = sym.inst
            for name, value in zip(OHLC, ohlc, strict=True):
                if value is not None and value != raw.get(name):
                    raw[name] = value
                    f[name] = venue_ticks(inst, value)
        if (value := ev.ltq) is not None:
            f["ltq"] = value
        if (value := ev.volume) is not None:
            f["volume"] = value
        if (value := ev.total_buy_qty) is not None:
            f["total_buy_qty"] = value
        if (value := ev.total_sell_qty) is not None:
            f["total_sell_qty"] = value
        take_touch(sym, ev)

    def _quote_view(self, sym: SymbolState) -> protocol.QuoteView:
        """The symbol's quote for viewers (built again only after a tick changed it)."""
        if sym.view_count == sym.count and sym.view is not None:
            return sym.view
        f = sym.fields
        view = protocol.QuoteView(
            key=sym.key,
            ltp=sym.ltp,
            recv_ns=sym.recv_ns,
            exch_ns=sym.exch_ns,
            ltq=f.get("ltq"),
            open=f.get("open"),
            high=f.get("high"),
            low=f.get("low"),
            close=f.get("close"),
            volume=f.get("volume"),
            bid=sym.bid,
            bid_qty=sym.bid_qty,
            ask=sym.ask,
            ask_qty=sym.ask_qty,
            total_buy_qty=f.get("total_buy_qty"),
            total_sell_qty=f.get("total_sell_qty"),
            ticks=sym.count,
        )
        sym.view, sym.view_count = view, sym.count
        return view


def own_vap(sym: SymbolState) -> None:
    """Copy ``sym``'s volume maps a snapshot holds before changing them (copy on write)."""
    sym.vap, sym.bought, sym.vap_lent = dict(sym.vap), dict(sym.bought), False


def compact(total: Decimal | int) -> Decimal | int:
    """A volume-at-price total as an int when it is whole (28 bytes, not a Decimal's 104:
    3,000 symbols times thousands of levels); exact either way (viewers read it as Decimal)."""
    if type(total) is int:
        return total
    whole = int(total)
    return whole if whole == total else total


def aggressor(
    ev: QuoteTick | TradeTick, price: int, touch: tuple[int | None, int | None], sym: SymbolState
) -> tuple[str, bool]:
    """The side that initiated a trade at ``price`` and whether it was inferred.

    The feed's own aggressor where it sends one (``TradeTick.aggressor``). Else, from the
    quote prevailing before the trade (Lee and Ready): at or above the ask a buyer lifted it,
    at or below the bid a seller hit it, inside the spread the nearer side; at the mid or with
    no quote, the tick rule: above the previous trade a buy, below it a sell, at the same
    price the previous trade's side. ``""``: nothing to tell by (the first trade seen).
    """
    if type(ev) is TradeTick and ev.aggressor in ("buy", "sell"):
        return ev.aggressor, False
    bid, ask = touch
    if ask is not None and price >= ask:
        return "buy", True
    if bid is not None and price <= bid:
        return "sell", True
    if bid is not None and ask is not None:
        twice = 2 * price
        if twice > bid + ask:
            return "buy", True
        if twice < bid + ask:
            return "sell", True
    last = sym.last_trade
    if last is None:
        return "", True
    if price > last:
        return "buy", True
    if price < last:
        return "sell", True
    return sym.last_side, True
