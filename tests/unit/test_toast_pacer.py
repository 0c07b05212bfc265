"""At most ``[ui] toasts_per_s`` toasts a second, the rest summed up in one (ui/toast_pace.py)."""

from __future__ import annotations

from cockpit.ui.store import Notice
from cockpit.ui.toast_pace import ToastPacer


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def fill(n: int) -> Notice:
    return Notice("information", f"Fill: NSE:SYM{n:02d}", f"BUY 1 NSE:SYM{n:02d} at 100.00")


def exit_filled(n: int) -> Notice:
    return Notice("warning", f"Exit filled: NSE:SYM{n:02d}", "Stop: SELL 1")


def test_a_gap_shows_three_toasts_then_one_summary_of_the_rest() -> None:
    clock = Clock()
    pacer = ToastPacer(3, clock)
    shown = [
        pacer.admit(n) for n in [exit_filled(i) for i in range(50)] + [fill(i) for i in range(20)]
    ]
    assert shown == [True] * 3 + [False] * 67
    clock.t += 0.4
    assert abs(pacer.window_left() - 0.6) < 1e-9
    clock.t += 0.6
    assert pacer.summary() == ("67 more: Exit filled ×47, Fill ×20 (each is in the message log, M)")
    assert pacer.summary() is None  # taken once
    # The summary was the new second's first toast: two more show in it, then held again.
    assert [pacer.admit(fill(i)) for i in range(3)] == [True, True, False]


def test_a_quiet_market_shows_every_toast() -> None:
    clock = Clock()
    pacer = ToastPacer(3, clock)
    for i in range(10):
        assert pacer.admit(fill(i))
        clock.t += 0.5
    assert pacer.summary() is None


def test_errors_always_show_and_zero_means_no_limit() -> None:
    clock = Clock()
    pacer = ToastPacer(1, clock)
    assert pacer.admit(fill(0))
    assert not pacer.admit(fill(1))
    assert pacer.admit(Notice("error", "Reconcile mismatch", "venue says 2, journal 1"))
    unlimited = ToastPacer(0, clock)
    assert all(unlimited.admit(fill(i)) for i in range(200))


def test_once_one_is_held_the_later_ones_wait_too_so_the_order_holds() -> None:
    """A toast of the next second never shows before the summary of what came before it."""
    clock = Clock()
    pacer = ToastPacer(2, clock)
    assert [pacer.admit(fill(i)) for i in range(3)] == [True, True, False]
    clock.t += 1.2  # the summary's timer is late: the next second has begun
    assert not pacer.admit(fill(3))
    assert pacer.summary() is not None
    assert pacer.admit(fill(4))
