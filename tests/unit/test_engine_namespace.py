"""The engine's rooms are bases of one class: a method name defined in two of them is one
method, and the other room silently calls it (``_busy`` of the watchlists once ran
reconciliation's)."""

from __future__ import annotations

from collections import defaultdict

from cockpit.engine.base import EngineBase
from cockpit.engine.core import Engine


def test_no_two_rooms_of_the_engine_define_the_same_name() -> None:
    owners: dict[str, list[str]] = defaultdict(list)
    for room in Engine.__mro__[1:]:
        if room in (EngineBase, object):
            continue
        for name, value in vars(room).items():
            if callable(value) and not name.startswith("__"):
                owners[name].append(room.__name__)
    clashes = {name: rooms for name, rooms in owners.items() if len(rooms) > 1}
    assert clashes == {}
