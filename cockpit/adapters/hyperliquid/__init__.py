"""Hyperliquid public market data."""
