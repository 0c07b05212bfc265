"""The app's keys: every binding with its id (remappable in ``[ui.keymap]``), and which
actions trade."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding, BindingType

ENTRY_ACTIONS = frozenset(
    {"buy_market", "sell_market", "buy_limit", "sell_limit", "reverse", "ladder_limit", "ticket"}
)
EXIT_ACTIONS = frozenset(
    {
        "flatten",
        "close_part",
        "kill_switch",
        "cancel_symbol",
        "stop_move",
        "target_move",
        "toggle_trail",
        "breakeven",
        "pick",
        "order_move",
        "order_to_cursor",
        "cancel_side",
    }
)

TRADE_ACTIONS = ENTRY_ACTIONS | EXIT_ACTIONS | {"arm"}
"""What a read-only viewer does not offer."""
READ_ONLY_WORDS = "read-only viewer: it cannot trade (run cockpit without --read-only)"


def _b(
    key: str, action: str, desc: str, tip: str, bid: str, *, show: bool = True, **kw: Any
) -> Binding:
    return Binding(key, action, desc, show=show, tooltip=tip, id=bid, **kw)


BINDINGS: list[BindingType] = [
    _b("b", "buy_market", "Buy", "Buy the selected symbol at market", "buy_market"),
    _b("s", "sell_market", "Sell", "Sell the selected symbol at market", "sell_market"),
    _b(
        "B",
        "buy_limit",
        "Buy lmt",
        "Buy limit at the ladder cursor (or join the bid)",
        "buy_limit",
    ),
    _b(
        "S",
        "sell_limit",
        "Sell lmt",
        "Sell limit at the ladder cursor (or join the ask)",
        "sell_limit",
    ),
    _b(
        "f",
        "flatten",
        "Flatten",
        "Cancel the symbol's orders and close its position",
        "flatten",
    ),
    _b(
        "F",
        "kill_switch",
        "KILL",
        "Cancel everything and flatten everything (confirmed)",
        "kill_switch",
        priority=True,  # over any dialog too (a field of the ticket still types an F)
    ),
    _b(
        "h",
        "close_part(50)",
        "Close ½",
        "Close half of the position at market (the plan shrinks)",
        "close_half",
        show=False,
    ),
    _b(
        "H",
        "close_part(25)",
        "Close ¼",
        "Close a quarter of the position at market (the plan shrinks)",
        "close_quarter",
        show=False,
    ),
    _b("x", "cancel_symbol", "Cancel", "Cancel the symbol's working orders", "cancel_symbol"),
    _b("r", "reverse", "Reverse", "Turn the position around", "reverse", show=False),
    _b(
        "plus,equals_sign",
        "qty(1)",
        "Qty+",
        "Increase the order quantity",
        "qty_up",
        show=False,
    ),
    _b("minus", "qty(-1)", "Qty-", "Decrease the order quantity", "qty_down", show=False),
    _b(
        "f5",
        "qty_preset(1)",
        "Qty 1",
        "Quantity preset 1",
        "qty_preset_1",
        show=False,
    ),
    _b("f6", "qty_preset(2)", "Qty 2", "Quantity preset 2", "qty_preset_2", show=False),
    _b("f7", "qty_preset(3)", "Qty 3", "Quantity preset 3", "qty_preset_3", show=False),
    _b("f8", "qty_preset(4)", "Qty 4", "Quantity preset 4", "qty_preset_4", show=False),
    _b(
        "R",
        "size_from_risk",
        "Size",
        "Quantity from the risk budget and the template's stop distance (shown before sending)",
        "size_from_risk",
        show=False,
    ),
    _b(
        "Z",
        "set_risk_budget",
        "Budget",
        "Set the risk budget per trade (a count before it: 2000Z)",
        "risk_budget",
        show=False,
    ),
    _b(
        "left_square_bracket",
        "stop_move(-1)",
        "Stop-",
        "Stop down one tick",
        "stop_down",
        show=False,
    ),
    _b(
        "right_square_bracket",
        "stop_move(1)",
        "Stop+",
        "Stop up one tick",
        "stop_up",
        show=False,
    ),
    _b(
        "left_curly_bracket",
        "target_move(-1)",
        "Tgt-",
        "Target down one tick",
        "target_down",
        show=False,
    ),
    _b(
        "right_curly_bracket",
        "target_move(1)",
        "Tgt+",
        "Target up one tick",
        "target_up",
        show=False,
    ),
    _b(
        "v",
        "pick",
        "Pick",
        "Pick the order, stop, target or TP on the ladder cursor's row (again: the next one)",
        "pick",
        show=False,
    ),
    _b(
        "K",
        "order_move(1)",
        "Order+",
        "Move the picked order (or the one on the cursor's row) up one tick",
        "order_up",
        show=False,
    ),
    _b(
        "J",
        "order_move(-1)",
        "Order-",
        "Move the picked order (or the one on the cursor's row) down one tick",
        "order_down",
        show=False,
    ),
    _b(
        "g",
        "order_to_cursor",
        "To cursor",
        "Move the picked order, stop, target or TP to the ladder cursor's price",
        "order_to_cursor",
        show=False,
    ),
    _b(
        "less_than_sign",
        "cancel_side('BUY')",
        "Cancel buys",
        "Cancel the symbol's working buy orders",
        "cancel_buys",
        show=False,
    ),
    _b(
        "greater_than_sign",
        "cancel_side('SELL')",
        "Cancel sells",
        "Cancel the symbol's working sell orders",
        "cancel_sells",
        show=False,
    ),
    _b("t", "toggle_trail", "Trail", "Toggle the trailing stop", "toggle_trail", show=False),
    _b(
        "T",
        "cycle_template",
        "Template",
        "Cycle the exit-plan template of the next entries ([templates] in the config)",
        "cycle_template",
        show=False,
    ),
    _b("e", "breakeven", "B/E", "Move the stop to the entry price", "breakeven", show=False),
    _b("n", "ticket", "Ticket", "Open the order ticket", "ticket", show=False),
    _b("slash", "add_symbol", "Add", "Search and add a symbol to the watchlist", "add_symbol"),
    _b("w", "watchlist_screen", "Watch", "Full-screen watchlist", "watchlist_screen"),
    _b("O", "orders_screen", "Orders", "Full-screen orders (amend, cancel)", "orders_screen"),
    _b("M", "messages", "Log", "The session's messages: fills, exits, refusals", "messages"),
    _b(
        "P",
        "journal_stats",
        "Stats",
        "Trade statistics from the journal",
        "journal_stats",
        show=False,
    ),
    _b("A", "alert_at_cursor", "Alert", "Price alert at the ladder cursor", "alert", show=False),
    _b(
        "exclamation_mark",
        "alerts_screen",
        "Alerts",
        "The engine's alerts",
        "alerts_screen",
        show=False,
    ),
    _b("a", "arm", "Arm", "Arm or disarm entry keys", "arm"),
    _b("question_mark", "help", "Help", "Keys and what they do", "help"),
    _b(
        "ctrl+q",
        "request_quit",
        "Quit",
        "Quit (asks what to do with open positions)",
        "quit",
        priority=True,
    ),
    _b("ctrl+c", "request_quit", "Quit", "Quit", "quit_ctrl_c", show=False, priority=True),
]
