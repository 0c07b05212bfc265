"""openalgo package."""
