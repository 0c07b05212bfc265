"""The count grammar: a number typed before a key scales it, vim-style.

``3]`` moves the stop up three ticks, ``5}`` the target five, ``10b`` buys ten (lots where
the instrument has lots; ``10`` then ``enter`` on the ladder: a limit of ten), ``4K`` moves
the order at the ladder cursor up four ticks. Digits collect into a pending count (shown on
the status bar); the next key takes it; ``esc`` drops it. A key that has no use for a count
ignores it (the count is still used up).
"""

from __future__ import annotations

from textual.actions import parse

MAX_DIGITS = 6
"""A longer count is a slip of the finger: the digits beyond are ignored."""

TICK_ACTIONS = frozenset({"stop_move", "target_move", "order_move", "move"})
"""Actions whose first argument is a number of ticks: the count multiplies it."""
QTY_ACTIONS = frozenset({"buy_market", "sell_market", "buy_limit", "sell_limit", "ladder_limit"})
"""Actions that take the count as their quantity (lots where the instrument has lots), as
their last argument."""
VALUE_ACTIONS = frozenset({"set_risk_budget"})
"""Actions that take the count as their value."""
HANDS_ON = frozenset({"limit_here"})
"""Actions that leave the count to the action they run (``enter`` on the ladder asks the app
for ``ladder_limit``)."""


class Count:
    """The digits typed so far."""

    def __init__(self) -> None:
        self.digits = ""

    def push(self, character: str | None) -> bool:
        """Add a typed digit; False if ``character`` is not one (a leading 0 is not)."""
        if character is None or len(character) != 1 or character not in "0123456789":
            return False
        if not self.digits and character == "0":
            return False
        if len(self.digits) < MAX_DIGITS:
            self.digits += character
        return True

    @property
    def pending(self) -> int | None:
        """The count typed so far (None: none)."""
        return int(self.digits) if self.digits else None

    def clear(self) -> bool:
        """Drop the pending count; whether there was one."""
        had = bool(self.digits)
        self.digits = ""
        return had

    def take(self) -> int | None:
        """The pending count, used up."""
        n = self.pending
        self.digits = ""
        return n


def hands_on(action: str) -> bool:
    """Whether ``action`` leaves the pending count to the action it runs."""
    return parse(action)[1] in HANDS_ON


def apply_count(action: str, count: int | None) -> str:
    """``action`` with ``count`` applied (unchanged when there is none or it has no use)."""
    if count is None:
        return action
    namespace, name, params = parse(action)
    prefix = f"{namespace}." if namespace else ""
    if name in TICK_ACTIONS and params and isinstance(params[0], int):
        rest = "".join(f", {p!r}" for p in params[1:])
        return f"{prefix}{name}({params[0] * count}{rest})"
    if name in QTY_ACTIONS or (name in VALUE_ACTIONS and not params):
        args = "".join(f"{p!r}, " for p in params)
        return f"{prefix}{name}({args}{count})"
    return action
