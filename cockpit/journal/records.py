"""What the journal reads back: order records, the recovery, and the JSON encoders it writes
state with."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final

import msgspec

from cockpit.domain.orders import Order
from cockpit.link.protocol import FillView

_FINAL_STATUSES: Final = frozenset({"complete", "rejected", "cancelled", "filled", "canceled"})


class OrderRecord(msgspec.Struct, frozen=True):
    """An order as last journaled."""

    cid: str
    key: str
    side: str
    order_type: str
    product: str
    qty: Decimal
    status: str
    tag: str
    filled: Decimal
    reason: str
    created_ns: int
    updated_ns: int
    price_ticks: int | None = None
    trigger_ticks: int | None = None
    venue_id: str | None = None
    avg_price: Decimal | None = None
    state: dict[str, Any] = {}
    """The full record as written (an OrderView's fields, or a domain Order's)."""

    @property
    def working(self) -> bool:
        """Whether the order may still fill."""
        return self.status.lower() not in _FINAL_STATUSES


class Recovery(msgspec.Struct, frozen=True):
    """What a restarted engine needs from the journal."""

    plans: dict[str, dict[str, Any]]
    """Open exit plans by instrument key: the ``to_state()`` dicts as last written."""
    open_orders: list[OrderRecord]
    """Orders not final when last written, oldest first (reconcile them with the broker)."""
    positions: dict[str, dict[str, Any]]
    """Positions by key as last written (flat ones included: reconcile against the broker)."""
    fills: list[FillView]
    """Fills since ``since_ns`` (default: the start of the local day), oldest first."""
    last_session: int | None
    """The previous engine session's id (None for a new journal)."""
    unclean: bool
    """The previous session did not end cleanly (crash or kill)."""


_ENC: Final = msgspec.json.Encoder(decimal_format="string")
_DICT_DEC: Final = msgspec.json.Decoder(dict[str, Any])


def _json(value: Any) -> str:
    return _ENC.encode(value).decode()


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, Fraction):
        return f"{obj.numerator}/{obj.denominator}"
    raise NotImplementedError(f"cannot journal {type(obj).__name__}")


_STATE_ENC: Final = msgspec.json.Encoder(enc_hook=_enc_hook, decimal_format="string")


_ORDER_COLS: Final = (
    "cid, key, side, order_type, product, qty, status, tag, filled, reason, created_ns,"
    " updated_ns, price_ticks, trigger_ticks, venue_id, avg_price, state"
)


def _order_record(r: tuple[Any, ...]) -> OrderRecord:
    return OrderRecord(
        cid=r[0],
        key=r[1],
        side=r[2],
        order_type=r[3],
        product=r[4],
        qty=Decimal(r[5]),
        status=r[6],
        tag=r[7],
        filled=Decimal(r[8]),
        reason=r[9],
        created_ns=r[10],
        updated_ns=r[11],
        price_ticks=r[12],
        trigger_ticks=r[13],
        venue_id=r[14],
        avg_price=None if r[15] is None else Decimal(r[15]),
        state=_DICT_DEC.decode(r[16]),
    )


_ORDER_STATE_FIELDS: Final = tuple(f.name for f in dataclasses.fields(Order) if f.name != "history")
"""The fields of a domain order kept in its journal state (all but ``history``)."""
