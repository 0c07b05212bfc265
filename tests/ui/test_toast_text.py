"""Toasts show text as it is: an alert's note, a broker's rejection reason or an engine
message may hold square brackets, which Textual's markup took for tags — `[SYMBOL]` vanished
from the alerts screen's own error, and a note such as `[/x]` raised MarkupError and closed
the app. The real app on a real engine."""

from __future__ import annotations

import pytest
from textual.widgets._toast import Toast

from cockpit.link import protocol as p
from cockpit.ui.app import CockpitApp
from tests.ui.conftest import wait_for
from tests.ui.test_engine_pilot import SBIN, attached, make_app, qty, running_engine


def toast_texts(app: CockpitApp) -> str:
    return "\n".join(str(t.render()) for t in app.screen.query(Toast))


async def test_an_alert_note_with_brackets_is_shown_as_typed() -> None:
    note = "[/x] size [SYMBOL] down"
    with running_engine() as engine:
        answer = engine.command(p.AddAlert(id=0, kind="fill", note=note))
        assert isinstance(answer, p.Ack), answer
        app = make_app(engine)
        async with app.run_test(size=(160, 48), notifications=True) as pilot:
            await attached(pilot, app)
            engine.price("SBIN", "800.00")
            await pilot.pause(0.3)
            await pilot.press("b")
            await wait_for(pilot, lambda: qty(app) == 1, 10)
            await wait_for(pilot, lambda: f"({note})" in toast_texts(app), 5)
            assert app.is_running
        assert app.return_code in (None, 0), app.return_code
        engine.command(p.Flatten(id=0, key=SBIN))


@pytest.mark.parametrize("size", [(160, 48), (80, 24)])
async def test_the_alerts_screens_error_names_every_word_of_its_grammar_clear_of_the_input(
    size: tuple[int, int],
) -> None:
    """The error toast also stood over the input being typed in and the grammar under it."""
    with running_engine() as engine:
        app = make_app(engine)
        async with app.run_test(size=size, notifications=True) as pilot:
            await attached(pilot, app)
            await pilot.press("exclamation_mark", "n")
            await pilot.press(*"sometime", "enter")
            await wait_for(pilot, lambda: "fill [SYMBOL]" in toast_texts(app), 5)
            assert "lock [once] [-- NOTE]" in toast_texts(app)
            await pilot.pause(0.3)
            kept = [app.screen.query_one(w).region for w in ("#alerts-new", "#alerts-usage")]
            toasts = [t.region for t in app.screen.query(Toast)]
            assert [(t, k) for t in toasts for k in kept if t.overlaps(k)] == []


async def test_dialogs_show_engine_text_as_it_is() -> None:
    """A question or a lost-engine reason quoting the engine or the broker ("RMS: [/NSE]")
    is shown whole; as markup it raised MarkupError and closed the app."""
    from cockpit.ui.screens.modals import ConfirmScreen, EngineLostScreen

    with running_engine() as engine:
        app = make_app(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            await attached(pilot, app)
            app.push_screen(ConfirmScreen("Check [/NSE]", "RMS: [/NSE] margin [SYMBOL]"))
            await pilot.pause(0.3)
            assert "RMS: [/NSE] margin [SYMBOL]" in str(
                app.screen.query_one("#dialog-text").render()
            )
            await pilot.press("n")
            app.push_screen(EngineLostScreen("read failed: [/x] [Errno 104]"))
            await pilot.pause(0.3)
            assert "[/x] [Errno 104]" in str(app.screen.query_one("#dialog-text").render())
            assert app.is_running


async def test_the_alerts_list_shows_a_note_with_brackets_as_typed() -> None:
    note = "[/x] size [SYMBOL]"
    with running_engine() as engine:
        answer = engine.command(p.AddAlert(id=0, kind="fill", note=note))
        assert isinstance(answer, p.Ack), answer
        app = make_app(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            await attached(pilot, app)
            await pilot.press("exclamation_mark")
            await pilot.pause(0.3)
            assert any(line.endswith(f"— {note}") for line in app.screen.lines())
            assert app.is_running
