"""I/O edges per venue: WebSocket feeds, the REST order router, record and replay."""
