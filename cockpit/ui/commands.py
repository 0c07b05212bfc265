"""Command palette: trade or remove any watchlist symbol, switch theme by name, switch, create
or delete a named watchlist and choose its columns, the alerts; the account-wide kill switch
(confirmed)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from cockpit.link import protocol as p

if TYPE_CHECKING:
    from cockpit.ui.app import CockpitApp


class SymbolCommands(Provider):
    """``Trade NSE:SBIN``, ``Remove NSE:SBIN`` for every watchlist symbol, and the themes."""

    def _commands(self) -> list[tuple[str, str, object]]:
        app: CockpitApp = self.app  # type: ignore[assignment]
        out: list[tuple[str, str, object]] = []
        for key in app.store.watchlist:
            inst = app.store.instruments.get(key)
            name = f" ({inst.name})" if inst is not None and inst.name else ""
            out.append(
                (
                    f"Trade {key}",
                    f"Select {key}{name} on the ladder",
                    partial(app.select_symbol, key),
                )
            )
            out.append((f"Remove {key}", f"Unsubscribe {key}", partial(app.remove_symbol, key)))
        out += watchlist_commands(app)
        out.append(("Alerts", "The engine's alerts (!)", app.action_alerts_screen))
        for theme in sorted(app.available_themes):
            if theme.startswith("cockpit-"):
                out.append(
                    (
                        f"Theme {theme}",
                        "Switch theme (remembered)",
                        partial(setattr, app, "theme", theme),
                    )
                )
        return out

    async def discover(self) -> Hits:
        """Shown before typing: the trade commands."""
        for title, help_text, command in self._commands():
            if title.startswith("Trade "):
                yield DiscoveryHit(title, command, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        """Fuzzy-match every command; ``New watchlist NAME`` for what is typed."""
        app: CockpitApp = self.app  # type: ignore[assignment]
        name = query.strip()
        if name.lower().startswith("new watchlist "):
            name = name[len("new watchlist ") :].strip()
        if name and name not in app.store.watchlists and len(name) <= 40:
            title = f"New watchlist {name}"
            yield Hit(
                1.0,
                title,
                partial(switch_watchlist, app, name),
                text=title,
                help="An empty named watchlist (add symbols with /)",
            )
        matcher = self.matcher(query)
        for title, help_text, command in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command, text=title, help=help_text)  # type: ignore[arg-type]


ACCOUNT_WIDE_TEXT = (
    "Cancel EVERY open order of the broker account (the venue's cancel-all): other "
    "strategies' and other programs' orders too, not only this cockpit's. Then flatten "
    "this cockpit's {positions} position(s).\n\n"
    "`F` cancels only this cockpit's own orders."
)


def account_wide_kill_switch(app: CockpitApp) -> None:
    """The kill switch plus the venue's account-wide cancel-all, once the user confirms."""
    from cockpit.ui.screens.modals import ConfirmScreen

    def done(ok: bool | None) -> None:
        if ok:
            app.send(lambda i: p.KillSwitch(id=i, account_wide=True))

    def text() -> str:  # counted again on every change while the question is up
        return ACCOUNT_WIDE_TEXT.format(positions=len(app.store.open_positions()))

    app.push_screen(
        ConfirmScreen(
            "Kill switch: whole account", text, confirm="CANCEL ALL ACCOUNT", danger=True
        ),
        done,
    )


def switch_watchlist(app: CockpitApp, name: str) -> None:
    """Make ``name`` the engine's active watchlist (created empty if new)."""
    app.send(lambda i: p.SwitchWatchlist(id=i, name=name))


def delete_watchlist(app: CockpitApp, name: str) -> None:
    """Forget a named watchlist (not the active one)."""
    app.send(lambda i: p.DeleteWatchlist(id=i, name=name))


def toggle_column(app: CockpitApp, column: str) -> None:
    """Show or hide a watchlist column (remembered by the engine with the active list)."""
    from cockpit.ui.widgets.watchlist import COLUMNS

    saved = app.store.watchlists.get(app.store.active_watchlist)
    names = [c.name for c in COLUMNS]
    shown = set(saved.columns) if saved is not None and saved.columns else set(names)
    shown ^= {column}
    columns = [n for n in names if n in shown]
    app.send(lambda i: p.SetWatchlistView(id=i, columns=columns))


def watchlist_commands(app: CockpitApp) -> list[tuple[str, str, object]]:
    """Switch to or delete each named watchlist; show or hide each watchlist column."""
    from cockpit.ui.widgets.watchlist import COLUMNS

    store = app.store
    out: list[tuple[str, str, object]] = []
    for name, view in sorted(store.watchlists.items()):
        if name == store.active_watchlist:
            continue
        out.append(
            (
                f"Watchlist {name}",
                f"Switch to the watchlist {name} ({len(view.keys)} symbols)",
                partial(switch_watchlist, app, name),
            )
        )
        out.append(
            (
                f"Delete watchlist {name}",
                "Forget this named watchlist",
                partial(delete_watchlist, app, name),
            )
        )
    saved = store.watchlists.get(store.active_watchlist)
    shown = set(saved.columns) if saved is not None and saved.columns else None
    for col in COLUMNS[1:]:
        hide = shown is None or col.name in shown
        out.append(
            (
                f"Watchlist column {col.title}: {'hide' if hide else 'show'}",
                "Remembered with the active watchlist",
                partial(toggle_column, app, col.name),
            )
        )
    return out
