"""The Textual user interface. Only this package imports ``textual``."""
