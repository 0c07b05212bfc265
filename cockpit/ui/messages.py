"""Textual messages that cross the app: what the engine link delivers."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from cockpit.link.protocol import Msg


@dataclass
class EngineMessagesReceived(Message):
    """A batch of protocol messages from the engine, in the order they arrived.

    The link worker posts one of these per batch it read (never one per tick), and waits
    until the app has applied it and painted the frame before posting the next, so the
    app's queue stays short; what arrives meanwhile is merged into the next one.
    """

    messages: list[Msg]
    deferred: bool = False
    """Posted again behind input that reached the app after it (keys first); once only."""


@dataclass
class EngineLinkLost(Message):
    """The connection to the engine broke (or could not be made)."""

    reason: str


@dataclass
class EngineLinkUp(Message):
    """A connection to the engine is established (a Welcome and Snapshot follow)."""

    description: str
