"""The embedded paper exchange: market simulator, matching, OpenAlgo WebSocket + REST server."""

from __future__ import annotations

from cockpit.sim.server import SimConfig, SimHandle, SimServer, start_in_thread

__all__ = ["SimConfig", "SimHandle", "SimServer", "start_in_thread"]
