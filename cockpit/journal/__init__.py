"""SQLite (WAL) persistence of commands, orders, fills and exit plans, and recovery."""
