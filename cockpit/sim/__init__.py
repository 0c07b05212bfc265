"""The embedded paper exchange: market simulator, matching, OpenAlgo WebSocket + REST server."""
