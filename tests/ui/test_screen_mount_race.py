"""No order of events crashes the app while a screen mounts.

A screen pushed is on top at once, but composes and mounts a moment later in its own task. If
the app is closing by then (ctrl+q, the lost-engine dialog's quit, the session's end) Textual
mounts none of its children; a screen that then looked up one of them in ``on_mount`` raised
NoMatches and the app died with a traceback instead of closing (seen under load: the engine
stopped, its dialog went up and the app closed before the dialog had mounted). Likewise a
screen taken off before it mounted. Each screen is driven through both orders here.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from textual.screen import Screen

from cockpit.ui.app import CockpitApp
from cockpit.ui.screens.alerts import AlertsScreen
from cockpit.ui.screens.chart import ChartScreen
from cockpit.ui.screens.log import LogScreen
from cockpit.ui.screens.modals import (
    AskScreen,
    ConfirmScreen,
    EngineLostScreen,
    HelpScreen,
    QuitScreen,
    SymbolSearchScreen,
)
from cockpit.ui.screens.orders import OrdersScreen
from cockpit.ui.screens.stats import StatsScreen
from cockpit.ui.screens.ticket import AmendTicket, OrderTicket
from cockpit.ui.screens.watchlist import WatchlistScreen
from tests.ui.test_app_keys import make_app, started

SBIN = "NSE:SBIN"

SCREENS: dict[str, Callable[[CockpitApp], Screen]] = {
    "engine-lost": lambda app: EngineLostScreen("engine connection lost"),
    "engine-stopped": lambda app: EngineLostScreen("cockpit engine stop", stopped=True),
    "confirm": lambda app: ConfirmScreen("Buy", "Buy 1 SBIN?"),
    "confirm-danger": lambda app: ConfirmScreen("Kill", "Flatten all?", danger=True),
    "quit": lambda app: QuitScreen(lambda: (1, 1)),
    "search": lambda app: SymbolSearchScreen(),
    "ask": lambda app: AskScreen("Risk budget per trade", "1000"),
    "help": lambda app: HelpScreen(),
    "ticket": lambda app: OrderTicket(app.store, SBIN, Decimal(1), app.options),
    "amend": lambda app: AmendTicket(app.store, app.store.working_orders()[0]),
    "alerts": lambda app: AlertsScreen(),
    "chart": lambda app: ChartScreen(),
    "log": lambda app: LogScreen(),
    "orders": lambda app: OrdersScreen(),
    "stats": lambda app: StatsScreen(None),
    "watchlist": lambda app: WatchlistScreen(),
}


@pytest.mark.parametrize("name", list(SCREENS))
async def test_a_screen_pushed_as_the_app_closes_does_not_crash_it(name: str) -> None:
    app, _link = make_app(with_position=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        assert app.store.working_orders()
        # One step, as the engine-lost handler and a quit can meet: the screen is on top
        # but not mounted when the app starts closing.
        app.push_screen(SCREENS[name](app))
        app.exit(1)
    assert app.return_value == 1  # closed as asked (a crash raises out of run_test)


@pytest.mark.parametrize("name", list(SCREENS))
async def test_a_screen_taken_off_before_it_mounted_does_not_crash_the_app(name: str) -> None:
    app, _link = make_app(with_position=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        app.push_screen(SCREENS[name](app))
        await app.pop_screen()
        await pilot.pause()
        assert app.is_running
        assert type(app.screen).__name__ == "TradeScreen"
    assert app.return_code in (None, 0)


VIEWS = ["alerts", "chart", "log", "orders", "watchlist", "trade"]


@pytest.mark.parametrize("name", VIEWS)
async def test_a_batch_before_a_pushed_screen_mounted_waits_for_its_mount(name: str) -> None:
    """An engine batch (or a new selection) that reaches the app between a screen's push and
    its mount redrew a screen that had no widgets yet (AttributeError, NoMatches: the app
    closed). Its mount draws everything anyway."""
    from cockpit.ui.screens.trade import TradeScreen
    from cockpit.ui.store import Changes

    app, _link = make_app(with_position=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await started(pilot, app)
        key = app.selected
        app.log_message("warning", "Feed", "a line for the log screen to write")
        app.push_screen(TradeScreen() if name == "trade" else SCREENS[name](app))
        # What a batch's handler and a selection do, before the screen's task has run.
        app._update_views(Changes(everything=True))
        app.select_symbol(key)
        await pilot.pause()
        await pilot.pause()
        assert app.is_running
        assert app.screen.is_mounted
    assert app.return_code in (None, 0)
