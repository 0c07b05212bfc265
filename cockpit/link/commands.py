"""The protocol's commands: what a viewer asks the engine to do (each answered by one
:class:`~cockpit.link.protocol.Ack` or :class:`~cockpit.link.protocol.Refused`).

Part of :mod:`cockpit.link.protocol`, which re-exports every name here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec

from cockpit.link.lists import (
    AddAlert,
    DeleteWatchlist,
    RemoveAlert,
    SetWatchlistView,
    SwitchWatchlist,
)
from cockpit.link.msg import Request, SymbolRequest
from cockpit.link.views import TrailView


class TargetSpec(msgspec.Struct, frozen=True, omit_defaults=True):
    """A scale-out target for an entry: ``ticks`` from the fill, exiting ``qty`` or ``pct``
    percent of the position (neither: the rest, i.e. the final target)."""

    ticks: int
    qty: Decimal | None = None
    pct: Decimal | None = None


class PlanSpec(msgspec.Struct, frozen=True, omit_defaults=True):
    """Exit-plan settings for an entry; unset fields take the config's defaults."""

    stop_ticks: int | None = None
    """Distance of the stop from the fill, in ticks."""
    target_ticks: int | None = None
    trail: TrailView | None = None
    breakeven_after: int | None = None
    time_stop_s: float | None = None
    none: bool = False
    """True: attach no plan at all."""
    targets: list[TargetSpec] | None = None
    """Up to three scale-out targets, nearest first (they replace ``target_ticks``)."""
    breakeven_after_tp1: bool | None = None
    """Move the stop to breakeven once TP1's exit fills."""


class PlaceEntry(SymbolRequest, frozen=True, tag="entry"):
    """Open or add to a position."""

    side: str
    """``BUY`` | ``SELL``."""
    qty: Decimal | None = None
    lots: int | None = None
    order_type: str = "MARKET"
    """``MARKET`` | ``LIMIT`` | ``SL`` (stop-limit) | ``SL-M`` (stop-market) | ``MIT``
    (market-if-touched: the engine holds it and sends it at market once the last price
    reaches ``trigger``). A buy stop's trigger lies above the last price, a buy MIT's below
    (a sell mirrored)."""
    price: int | None = None
    """Limit price in ticks."""
    join: str | None = None
    """``bid`` | ``ask``: limit at the current best bid/ask instead of ``price``."""
    trigger: int | None = None
    product: str = "MIS"
    plan: PlanSpec | None = None
    confirmed: bool = False
    """The user confirmed a large order."""
    template: str | None = None
    """A ``[templates.NAME]`` of the config for the plan (fields of ``plan`` win); None: the
    instrument's template (``[instruments."EXCH:SYMBOL"] template``), else the defaults."""


class Flatten(SymbolRequest, frozen=True, tag="flatten"):
    """Cancel the symbol's working orders, then close its position."""


class KillSwitch(Request, frozen=True, tag="kill"):
    """Cancel every working order of this cockpit (one by one) and flatten every position.

    Never blocked. ``account_wide``: also the venue's cancel-all, which cancels every order
    of the account, other strategies' too (ask the user to confirm it first).
    """

    account_wide: bool = False


class CancelOrders(Request, frozen=True, tag="cancel"):
    """Cancel one order (``cid``), or every working order of ``key``, or all."""

    key: str | None = None
    cid: str | None = None


class ClosePart(SymbolRequest, frozen=True, tag="close_part"):
    """Close ``percent`` of the position at market (rounded down to the lot size); the exit
    plan shrinks with the fill. A partial close still in flight is not counted twice."""

    percent: int


class ModifyOrder(Request, frozen=True, tag="modify"):
    """Amend a working order."""

    cid: str
    price: int | None = None
    qty: Decimal | None = None
    trigger: int | None = None


class Reverse(SymbolRequest, frozen=True, tag="reverse"):
    """Turn the position around: close it and open the same size the other way."""


class MoveStop(SymbolRequest, frozen=True, tag="move_stop"):
    """Move the stop by ``delta`` ticks, or to ``to`` (ticks)."""

    delta: int | None = None
    to: int | None = None


class MoveTarget(SymbolRequest, frozen=True, tag="move_target"):
    """Move the target by ``delta`` ticks, or to ``to`` (ticks)."""

    delta: int | None = None
    to: int | None = None
    leg: int | None = None
    """Move scale-out target ``leg`` (1 for TP1) instead of the final target."""


class SetTrail(SymbolRequest, frozen=True, tag="set_trail"):
    """Set the trailing distance (None removes it)."""

    trail: TrailView | None = None


class ToggleTrail(SymbolRequest, frozen=True, tag="toggle_trail"):
    """Turn trailing on (with the config's distance if none is set) or off."""


class ToBreakeven(SymbolRequest, frozen=True, tag="breakeven"):
    """Move the stop to the entry price."""


class DetachPlan(SymbolRequest, frozen=True, tag="detach"):
    """Remove the exit plan; the position stays open and unmanaged."""


class AttachPlan(SymbolRequest, frozen=True, tag="attach"):
    """Attach (or replace) an exit plan on an open position."""

    plan: PlanSpec
    template: str | None = None
    """As :attr:`PlaceEntry.template`."""


class SetArmed(Request, frozen=True, tag="arm"):
    """Arm or disarm trading keys (entries refused while disarmed; exits always work)."""

    armed: bool


class Subscribe(Request, frozen=True, tag="subscribe"):
    """Add symbols (``EXCH:SYMBOL``) to the watchlist."""

    keys: list[str]


class Unsubscribe(Request, frozen=True, tag="unsubscribe"):
    """Remove symbols from the watchlist (not while a position or order is open on them)."""

    keys: list[str]


class Search(Request, frozen=True, tag="search"):
    """Search the venue's symbols."""

    query: str
    exchange: str | None = None


class WatchChart(SymbolRequest, frozen=True, tag="chart"):
    """Chart ``key``: the engine builds its bars and tape from now on, backfills the bars from
    the venue's history and answers with :class:`Bars` and :class:`Prints` (replace)."""


class Ping(Request, frozen=True, tag="ping"):
    """Liveness / latency probe."""


class Shutdown(Request, frozen=True, tag="shutdown"):
    """Stop the engine; refused while positions or orders are open unless ``flatten``."""

    flatten: bool = False


Command = (
    PlaceEntry
    | Flatten
    | ClosePart
    | KillSwitch
    | CancelOrders
    | ModifyOrder
    | Reverse
    | MoveStop
    | MoveTarget
    | SetTrail
    | ToggleTrail
    | ToBreakeven
    | DetachPlan
    | AttachPlan
    | SetArmed
    | Subscribe
    | Unsubscribe
    | Search
    | WatchChart
    | Ping
    | Shutdown
    | AddAlert
    | RemoveAlert
    | SwitchWatchlist
    | DeleteWatchlist
    | SetWatchlistView
)
"""Every command a viewer may send (after :class:`Hello`)."""

READ_ONLY_COMMANDS: Final = (
    Subscribe,
    Unsubscribe,
    Search,
    WatchChart,
    Ping,
    SwitchWatchlist,
    DeleteWatchlist,
    SetWatchlistView,
)
