"""The base of every engine ⇄ viewer message (a tagged union on the field ``t``)."""

from __future__ import annotations

import msgspec


class Msg(msgspec.Struct, frozen=True, tag_field="t", omit_defaults=True):
    """Base of every protocol message."""


class Request(Msg, frozen=True):
    """Base of a viewer's command: answered by one Ack or Refused carrying its ``id``."""

    id: int


class SymbolRequest(Request, frozen=True):
    """Base of a command about one symbol (``EXCH:SYMBOL``)."""

    key: str


class Sequenced(Msg, frozen=True):
    """Base of what the engine publishes in order, numbered by ``seq``."""

    seq: int
