"""The base of every engine ⇄ viewer message (a tagged union on the field ``t``)."""

from __future__ import annotations

import msgspec


class Msg(msgspec.Struct, frozen=True, tag_field="t", omit_defaults=True):
    """Base of every protocol message."""
