"""kite package."""
