"""Cockpit: a keyboard-driven terminal trading cockpit."""

__version__ = "0.1.0"
