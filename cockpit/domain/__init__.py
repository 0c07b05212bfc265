"""The pure trading model: instruments, market data, orders, positions, exit plans, risk.

No I/O here, and never an import of ``textual``.
"""
