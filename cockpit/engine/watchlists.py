"""Named watchlists kept by the engine: journaled, restored after a restart, switched by viewers.

The engine's ``watchlist`` (the symbols it streams to viewers) is the active named list. On a
journal that holds none, ``[trading] watchlist`` (or every instrument) becomes the list
``default``; after that the journal's lists win over the config. ``/`` (Subscribe) and
remove (Unsubscribe) change the active list and are journaled; switching lists unsubscribes
the symbols the new one lacks, except those with an open position or working order (they
stay, and the answer says so). Each list also keeps how the viewer shows it: its sort column
and column choice.
"""

from __future__ import annotations

import logging
from typing import Final

import msgspec

from cockpit.domain.instruments import parse_key
from cockpit.engine.base import EngineBase
from cockpit.link import protocol

log = logging.getLogger(__name__)

DEFAULT: Final = "default"
MAX_LISTS: Final = 50
MAX_NAME: Final = 40


class WatchlistKeeping(EngineBase):
    """Named watchlists (a part of :class:`~cockpit.engine.core.Engine`)."""

    watchlists: dict[str, protocol.WatchlistView]
    """Every named list by name (the active one's keys as last saved: see ``watchlist``)."""
    active_watchlist: str
    _restore_keys: list[str]
    """Symbols of the restored list the venue must be asked about (at start)."""

    def _init_watchlists(self) -> None:
        """(Construction) the journal's lists, or ``default`` from the config's watchlist."""
        self.watchlists = {}
        self.active_watchlist = DEFAULT
        self._restore_keys = []
        states: list[dict[str, object]] = []
        active: str | None = None
        if self.journal is not None:
            try:
                states, active = self.journal.watchlists()
            except Exception as exc:  # noqa: BLE001 - the config's list still works
                log.error("cannot restore the watchlists: %s", exc)
        for state in states:
            try:
                view = msgspec.convert(state, protocol.WatchlistView)
            except msgspec.ValidationError as exc:
                log.warning("a journaled watchlist is unreadable (%s): skipped", exc)
                continue
            self.watchlists[view.name] = view
        if active is None or active not in self.watchlists:
            view = self.watchlists.get(DEFAULT) or protocol.WatchlistView(DEFAULT)
            self.watchlists[DEFAULT] = msgspec.structs.replace(view, keys=list(self.watchlist))
            self._save_watchlist(DEFAULT, active=True)
            return
        self.active_watchlist = active
        keys = self.watchlists[active].keys
        self.watchlist = [k for k in keys if k in self.instruments]
        self._restore_keys = [k for k in keys if k not in self.instruments]

    def _start_watchlists(self) -> None:
        """(Start) ask the venue about the restored list's symbols it has not listed yet."""
        if self._restore_keys:
            keys, self._restore_keys = self._restore_keys, []
            self._cmd_Subscribe(0, protocol.Subscribe(id=0, keys=keys))

    def _watchlist_changed(self) -> None:
        """The active list's symbols changed (Subscribe, Unsubscribe): journal them."""
        self._save_watchlist(self.active_watchlist, active=True)

    def watchlist_views(self) -> list[protocol.WatchlistView]:
        """Every named list, the active one with its current symbols."""
        self.watchlists[self.active_watchlist] = msgspec.structs.replace(
            self.watchlists[self.active_watchlist], keys=list(self.watchlist)
        )
        return list(self.watchlists.values())

    # ------------------------------------------------------------------ commands

    def _cmd_SwitchWatchlist(  # noqa: N802
        self, conn_id: int, cmd: protocol.SwitchWatchlist
    ) -> protocol.Msg | None:
        name = cmd.name.strip()
        if not name or len(name) > MAX_NAME:
            return protocol.Refused(cmd.id, "invalid", f"a watchlist name of 1-{MAX_NAME} chars")
        if name == self.active_watchlist:
            return protocol.Ack(cmd.id, f"watchlist {name} is the active one")
        target = self.watchlists.get(name)
        if target is None:
            if len(self.watchlists) >= MAX_LISTS:
                return protocol.Refused(cmd.id, "too_many", f"at most {MAX_LISTS} watchlists")
            keys = list(dict.fromkeys(cmd.keys or []))
            for key in keys:
                try:
                    parse_key(key)
                except ValueError as exc:
                    return protocol.Refused(cmd.id, "unknown_symbol", str(exc))
            target = protocol.WatchlistView(name, keys)
        self._save_watchlist(self.active_watchlist, active=False)
        kept = [
            k for k in self.watchlist if k not in target.keys and self._has_position_or_orders(k)
        ]
        wanted = list(target.keys) + kept
        known = [k for k in wanted if k in self.instruments]
        unknown = [k for k in wanted if k not in self.instruments]
        gone = [k for k in self.watchlist if k not in known]
        added = [k for k in known if k not in self.watchlist]
        self.watchlist = known
        if self.feed is not None:
            if gone:
                self.feed.unsubscribe(gone, self.options.feed_mode)
            if added:
                self.feed.subscribe(added, self.options.feed_mode)
        self.active_watchlist = name
        self.watchlists[name] = target
        self._save_watchlist(name, active=True)
        self.publisher.event(protocol.WatchlistChanged(self._next_seq(), list(self.watchlist)))
        self._publish_watchlists()
        if unknown:
            return self._cmd_Subscribe(conn_id, protocol.Subscribe(id=cmd.id, keys=unknown))
        message = f"watchlist {name}: {len(known)} symbol(s)"
        if kept:
            message += f"; kept {', '.join(kept)} (open position or orders)"
        return protocol.Ack(cmd.id, message)

    def _cmd_Unsubscribe(self, conn_id: int, cmd: protocol.Unsubscribe) -> protocol.Msg:  # noqa: N802
        busy = [k for k in cmd.keys if self._has_position_or_orders(k)]
        if busy:
            return protocol.Refused(cmd.id, "busy", f"open position or orders on {', '.join(busy)}")
        gone = [k for k in cmd.keys if k in self.watchlist]
        view = self.watchlists[self.active_watchlist]
        unknown = [k for k in cmd.keys if k in view.keys and k not in self.instruments]
        if unknown:  # kept for a lookup that failed: removed on request
            keys = [k for k in view.keys if k not in unknown]
            self.watchlists[self.active_watchlist] = msgspec.structs.replace(view, keys=keys)
            if not gone:
                self._watchlist_changed()
        if gone:
            self.watchlist = [k for k in self.watchlist if k not in gone]
            self._watchlist_changed()
            if self.feed is not None:
                self.feed.unsubscribe(gone, self.options.feed_mode)
            self.publisher.event(protocol.WatchlistChanged(self._next_seq(), list(self.watchlist)))
        return protocol.Ack(cmd.id, f"{len(gone)} symbol(s) removed")

    def _cmd_DeleteWatchlist(  # noqa: N802
        self, conn_id: int, cmd: protocol.DeleteWatchlist
    ) -> protocol.Msg:
        if cmd.name == self.active_watchlist:
            return protocol.Refused(cmd.id, "busy", "switch to another list before deleting it")
        if cmd.name not in self.watchlists:
            return protocol.Refused(cmd.id, "unknown_watchlist", f"no watchlist {cmd.name!r}")
        del self.watchlists[cmd.name]
        if self.journal is not None:
            self._journal_call(self.journal.watchlist_removed, cmd.name)
        self._publish_watchlists()
        return protocol.Ack(cmd.id, f"watchlist {cmd.name} deleted")

    def _cmd_SetWatchlistView(  # noqa: N802
        self, conn_id: int, cmd: protocol.SetWatchlistView
    ) -> protocol.Msg:
        view = self.watchlists[self.active_watchlist]
        if cmd.sort is not None:
            view = msgspec.structs.replace(view, sort=cmd.sort[:MAX_NAME])
        if cmd.columns is not None:
            view = msgspec.structs.replace(view, columns=[c[:MAX_NAME] for c in cmd.columns[:50]])
        self.watchlists[self.active_watchlist] = view
        self._save_watchlist(self.active_watchlist, active=True)
        self._publish_watchlists()
        return protocol.Ack(cmd.id, "watchlist view saved")

    # ------------------------------------------------------------------ helpers

    def _has_position_or_orders(self, key: str) -> bool:
        """An open position or a working order on ``key``: it stays on the watchlist. (Not
        ``_busy``: that name is reconciliation's, for orders in flight, and the engine's
        bases share one namespace.)"""
        pos = self.portfolio.get(key)
        return (pos is not None and pos.qty != 0) or bool(self._working_of(key))

    def _save_watchlist(self, name: str, *, active: bool) -> None:
        view = self.watchlists[name]
        if active:
            view = msgspec.structs.replace(view, keys=self._kept_keys(view.keys))
            self.watchlists[name] = view
        if self.journal is not None:
            journal = self.journal
            self._journal_call(lambda: journal.watchlist(view, active=active))

    def _kept_keys(self, saved: list[str]) -> list[str]:
        """The active list's keys to save: the streamed ones, and in their places those of the
        saved list the venue has not answered about (a lookup pending, or failed at start: a
        stalled broker must not empty the list for every later start)."""
        live = set(self.watchlist)
        keys = list(dict.fromkeys(k for k in saved if k in live or k not in self.instruments))
        return keys + [k for k in self.watchlist if k not in set(keys)]

    def _publish_watchlists(self) -> None:
        self.publisher.event(
            protocol.WatchlistsChanged(
                self._next_seq(), self.watchlist_views(), self.active_watchlist
            )
        )
