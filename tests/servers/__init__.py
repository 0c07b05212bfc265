"""Loopback servers that speak each venue's exact protocol, for integration tests."""
