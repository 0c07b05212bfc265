"""Command palette: trade or remove any watchlist symbol, switch theme by name; the
account-wide kill switch (confirmed)."""

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
        """Fuzzy-match every command."""
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

    text = ACCOUNT_WIDE_TEXT.format(positions=len(app.store.open_positions()))
    app.push_screen(
        ConfirmScreen(
            "Kill switch: whole account", text, confirm="CANCEL ALL ACCOUNT", danger=True
        ),
        done,
    )
