"""SQLite (WAL) persistence of commands, orders, fills and exit plans, and recovery."""

from cockpit.journal.store import (
    SCHEMA_VERSION,
    Journal,
    JournalError,
    JournalVersionError,
    OrderRecord,
    Recovery,
)

__all__ = [
    "SCHEMA_VERSION",
    "Journal",
    "JournalError",
    "JournalVersionError",
    "OrderRecord",
    "Recovery",
]
