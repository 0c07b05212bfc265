"""Folding ticks when the decision thread has fallen behind (issue 19).

The decision loop takes every item waiting at once. Normally that is a handful; more than
``EngineOptions.fold_over`` means the thread lags the feed, and handled one by one the backlog
(and the memory it holds) would only grow. In such a batch, each run of consecutive market
events (between two other items, which keep their place) is folded per symbol:

- a symbol something trades on -- an exit plan, a position, a closing order, a working order,
  a held MIT entry or a price alert -- is never folded: each of its ticks is handled in full,
  in order, so a stop fires on the very print that crossed it;
- any other symbol's ticks before its last one in the run are *folded*: each still counts
  as a tick, updates the last price and the touch, passes the jump guard, and adds what it
  traded to the volume at price (with its aggressor), the chart's bars and tape -- so those
  stay exact; the latest book is kept (it is built only when a viewer needs it); what is
  skipped is the rest of the quote (open/high/low/close and totals: the venue's latest wins)
  and publishing (the screen shows the latest state anyway);
- the symbol's last tick in the run is handled in full.

Folded ticks are counted (``counters["folded"]``, sent in the status as ``ticks_folded``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cockpit.domain.market import DepthTick, LtpTick, QuoteTick, TradeTick
from cockpit.engine import exits_first
from cockpit.engine.base import EngineBase
from cockpit.engine.state import market_ticks, take_touch

log = logging.getLogger(__name__)

MARKET = (LtpTick, QuoteTick, DepthTick, TradeTick)


class Folding(EngineBase):
    """The batch handler of the decision loop (a part of :class:`~cockpit.engine.core.Engine`)."""

    def handle_items(self, items: list[Any]) -> None:
        """Handle what the loop took off the inbound queue, in order; fold a lagging batch.

        What arrived together is journaled in few commits and its requests then sent
        together (``_handle_together``: an exit waits for no more than its commit). A tick
        that crosses a plan's line goes first among the market data of its run, its exit
        committed and sent before the rest is handled (:mod:`cockpit.engine.exits_first`).
        """
        if len(items) == 1:
            self.handle(items[0])
            return
        fold = 0 < self.options.fold_over < len(items)
        parts = None
        if self.options.exits_first and self.plans and self.reconciled:
            parts = exits_first.segments(items, self.plans, self._syms)  # crossing ticks first
        if parts is None:
            self._handle_together(items, self._folding(items) if fold else None)
            return
        counters = self.counters
        for part, ahead in parts:
            exits = counters["exits"]
            self._handle_together(part, self._folding(part) if fold else None)
            if ahead and counters["exits"] != exits and self.journal is not None:
                self.journal.flush()  # the exits' commit now, not after the rest of the batch

    def _folding(self, items: list[Any]) -> Callable[[int], None]:
        """The step that handles ``items[i]``, folding market events run by run (module doc).

        A run (consecutive market events) is looked at when its first event comes up, with
        what trades at that moment: only a fill or a command, which end a run, make a plan.
        """
        last: dict[str, int] = {}
        keep: set[str] = set()
        run_end = -1
        handle = self.handle

        def step(i: int) -> None:
            nonlocal last, keep, run_end
            ev = items[i]
            if type(ev) not in MARKET:
                handle(ev)
                return
            if i > run_end:
                last = {}
                j = i
                while j < len(items) and type(items[j]) in MARKET:
                    last[f"{items[j].exchange}:{items[j].symbol}"] = j
                    j += 1
                run_end = j - 1
                keep = self._every_price()
            key = f"{ev.exchange}:{ev.symbol}"
            if last[key] == i or key in keep:
                handle(ev)
                return
            try:
                self._fold_tick(key, ev)
            except Exception as exc:
                self.counters["errors"] += 1
                log.exception("engine: error folding %s", type(ev).__name__)
                self._alarm("error", f"internal error folding a tick: {exc!r}", code="bug")

        return step

    def _every_price(self) -> set[str]:
        """Symbols something trades on: each of their prices is handled in full."""
        keys = set(self.plans)
        keys.update(self._closers)
        keys.update(self._excursions)  # a position: its mark and excursion
        keys.update(self._price_alerts)
        keys.update(o.key for o in self.working.values())
        keys.update(h.request.key for h in self._touch.values())
        return keys

    def _fold_tick(self, key: str, ev: LtpTick | QuoteTick | DepthTick | TradeTick) -> None:
        sym = self._syms.get(key)
        if sym is None:
            self.counters["unknown_symbol"] += 1
            return
        ltp = market_ticks(sym, ev.ltp)
        if ltp is None:  # no trade yet, or a bad print: as usual (rare)
            self.handle(ev)
            return
        sym.ltp = ltp
        sym.recv_ns = ev.recv_ns
        if ev.exch_ns is not None and ev.exch_ns != sym.exch_ns:  # as in MarketData._on_market
            self._lag.sample(ev.exchange, ev.recv_ns, ev.exch_ns)
        sym.exch_ns = ev.exch_ns
        sym.count += 1
        counters = self.counters
        counters["ticks"] += 1
        counters["folded"] += 1
        self._ticks_window += 1
        touch = (sym.bid, sym.ask)
        if isinstance(ev, QuoteTick):  # the touch: the next trade's aggressor is told by it
            take_touch(sym, ev)
        checked = sym.guard.check(ltp, sym.inst.format_price)
        if checked.alarm:
            self._alarm("warning", f"{key}: {checked.alarm}", key=key, code="price_jump")
        self._trade_part(key, sym, ev, ltp, touch)
