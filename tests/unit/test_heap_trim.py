"""The daemon's heap trimmer: every interval, never before; off with an interval of 0."""

from __future__ import annotations

import sys

import pytest

from cockpit.daemon.memory import HeapTrimmer


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trims_once_per_interval() -> None:
    trimmer = HeapTrimmer(interval_s=30)
    start = trimmer._next - 30
    assert not trimmer.tick(start + 29)
    assert trimmer.tick(start + 30)
    assert not trimmer.tick(start + 59)
    assert trimmer.tick(start + 61)
    assert trimmer.trims == 2


def test_zero_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCKPIT_MALLOC_TRIM_S", "0")
    trimmer = HeapTrimmer()
    assert not trimmer.tick(1e12)
    monkeypatch.setenv("COCKPIT_MALLOC_TRIM_S", "soon")
    assert HeapTrimmer().interval_s == 30.0
