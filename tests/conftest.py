"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cockpit.sim import SimConfig, SimHandle, start_in_thread


@pytest.fixture
def sim() -> Iterator[SimHandle]:
    """A paper exchange on free loopback ports (seeded, 20 ticks/s), stopped afterwards.

    ``sim.rest_url``, ``sim.ws_url``, ``sim.api_key``; control methods such as
    ``sim.set_price("NSE", "SBIN", "801.50")``, ``sim.pause()``, ``sim.drop_ws()``.
    """
    handle = start_in_thread(SimConfig(seed=7, rate=20.0, auth_timeout=15.0))
    try:
        yield handle
    finally:
        handle.stop()
