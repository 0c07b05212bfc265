"""The engine process: trading state, exit plans, order routing, journal and viewer server."""
