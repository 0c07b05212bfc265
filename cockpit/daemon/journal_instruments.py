"""Instruments a restart rebuilds from the journal when the broker does not answer for them.

The journal holds a position, an exit plan or a working order of a symbol that the broker's
lookup did not return at start (the broker down, or slow past its timeout). Without an
instrument the engine cannot restore them: the stop would be lost. The journal remembers each
instrument's tick and lot as the broker gave them when it was added; the exchange and symbol
are its key. That is all the engine needs to hold the position, run its plan and send its
exit (an OpenAlgo order names the symbol and exchange, no token).

Limits: a tick or lot the broker changed since (a rare corporate action) is not seen until
the symbol is looked up again (``/`` on the screen, or the next start with the broker up); the
engine's warning names the symbols rebuilt this way.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Protocol

from cockpit.domain.instruments import Instrument, parse_key

log = logging.getLogger(__name__)


class KnowsInstruments(Protocol):
    def instrument_sizes(self) -> dict[str, tuple[Decimal, Decimal]]: ...


def rebuild_from_journal(journal: KnowsInstruments, keys: set[str]) -> list[Instrument]:
    """The instruments of ``keys`` the journal remembers (tick and lot), the others logged."""
    try:
        sizes = journal.instrument_sizes()
    except Exception as exc:  # a journal that cannot be read: the engine alarms the rest
        log.error("journal: cannot read its instruments: %s", exc)
        return []
    found: list[Instrument] = []
    for key in sorted(keys):
        known = sizes.get(key)
        if known is None:
            log.error("journal: %s has a position, plan or order but is unknown", key)
            continue
        try:
            exchange, symbol = parse_key(key)
            found.append(Instrument(exchange, symbol, known[0], known[1]))
        except ValueError as exc:
            log.error("journal: %s: cannot rebuild its instrument: %s", key, exc)
            continue
        log.warning("journal: %s: the broker did not answer: tick and lot from the journal", key)
    return found
