"""Held MIT entries after a restart (in process, with the real journal): today's are held
again and fire once; one from a previous day expires, said; an unreadable record is alarmed,
never fatal. Prices that come before the broker's books are known count as seen."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from cockpit.domain.feed import FeedState, FeedStatus
from cockpit.journal.store import Journal
from cockpit.link import protocol as p
from tests.unit.test_engine_core import SBIN, Rig

DAY = 86_400 * 10**9


@pytest.fixture
def opened() -> Iterator[list[Journal]]:
    """Journals a test opens, closed after it (no checkpoint thread outlives the test)."""
    journals: list[Journal] = []
    yield journals
    for journal in journals:
        journal.close()


def reopen(opened: list[Journal], path: Path) -> Rig:
    """An engine started again on the journal at ``path``."""
    journal = Journal.open(path)
    opened.append(journal)
    rig = Rig(journal=journal)
    rig.start()
    return rig


def reopen_unreconciled(opened: list[Journal], path: Path) -> Rig:
    """An engine started again on the journal at ``path``, its feed live and the broker's
    books not yet answered (a slow venue, or a loaded host)."""
    journal = Journal.open(path)
    opened.append(journal)
    rig = Rig(journal=journal)
    rig.engine.start()
    rig.engine.handle(FeedStatus("openalgo", FeedState.LIVE, rig.clock.now))
    assert not rig.engine.reconciled
    return rig


def held_then_crash(path: Path, days_ago: int = 0) -> str:
    journal = Journal.open(path, checkpoint_interval_s=None)  # no thread left by the crash
    rig = Rig(journal=journal)
    rig.clock.now -= days_ago * DAY
    rig.start()
    rig.tick(SBIN, "800.00")
    answer = rig.command(
        p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(2), order_type="MIT", trigger=15990
    )
    assert isinstance(answer, p.Ack), answer
    assert answer.cid
    journal._conn.close()  # a crash: no clean close
    return answer.cid


def test_todays_held_mit_is_held_again_and_fires_once(
    tmp_path: Path, opened: list[Journal]
) -> None:
    cid = held_then_crash(tmp_path / "j.sqlite3")
    rig = reopen(opened, tmp_path / "j.sqlite3")
    assert list(rig.engine._touch) == [cid]
    rig.tick(SBIN, "799.60")  # the first price after the restart: the level is still ahead
    assert rig.places() == []
    rig.tick(SBIN, "799.50")
    rig.tick(SBIN, "799.40")
    places = rig.places()
    assert [(o.cid, o.action, o.quantity, o.pricetype) for o in places] == [
        (cid, "BUY", 2, "MARKET")
    ]


@pytest.mark.parametrize("first", ["799.50", "798.00"])
def test_a_held_mit_whose_level_passed_while_the_engine_was_down_is_not_sent(
    tmp_path: Path, opened: list[Journal], first: str
) -> None:
    """The first price after the restart is at or through the level: it was reached while
    nobody watched. Sent now it would buy blind at whatever the market is; it expires, said,
    and stays gone after another restart."""
    path = tmp_path / "j.sqlite3"
    cid = held_then_crash(path)
    rig = reopen(opened, path)
    assert list(rig.engine._touch) == [cid]
    rig.tick(SBIN, first)
    rig.tick(SBIN, "799.40")
    assert rig.places() == []
    assert rig.engine._touch == {}
    [alarm] = [a for a in rig.pub.of(p.Alarm) if cid in a.message and a.code != "restored"]
    assert (alarm.level, alarm.code) == ("warning", "mit_passed")
    assert "while the engine was down" in alarm.message
    gone = [e.order for e in rig.pub.of(p.OrderEvent) if e.order.cid == cid]
    assert (gone[-1].status, gone[-1].order_type) == ("cancelled", "MIT")
    assert "while the engine was down" in gone[-1].reason
    opened.pop().close()
    rig = reopen(opened, path)  # gone for good
    assert rig.engine._touch == {}


def test_a_held_mit_placed_after_the_restart_fires_on_its_first_touch(
    tmp_path: Path, opened: list[Journal]
) -> None:
    """Only what was held across the restart gets the first look: a new MIT fires on the
    first price at its level, as ever."""
    rig = reopen(opened, tmp_path / "j.sqlite3")
    rig.tick(SBIN, "800.00")
    answer = rig.command(
        p.PlaceEntry, key=SBIN.key, side="BUY", qty=Decimal(2), order_type="MIT", trigger=15990
    )
    assert isinstance(answer, p.Ack), answer
    rig.tick(SBIN, "799.40")
    assert [o.cid for o in rig.places()] == [answer.cid]


def test_a_previous_days_held_mit_expires_with_a_warning(
    tmp_path: Path, opened: list[Journal]
) -> None:
    path = tmp_path / "j.sqlite3"
    cid = held_then_crash(path, days_ago=1)
    rig = reopen(opened, path)
    assert rig.engine._touch == {}
    assert [a.code for a in rig.pub.of(p.Alarm) if cid in a.message] == ["mit_expired"]
    rig.tick(SBIN, "799.40")
    assert rig.places() == []
    opened.pop().close()
    rig = reopen(opened, path)  # gone for good
    assert rig.engine._touch == {}
    assert not [a for a in rig.pub.of(p.Alarm) if cid in a.message]


def test_an_unreadable_held_record_is_alarmed_not_fatal(
    tmp_path: Path, opened: list[Journal]
) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal.open(path) as journal:
        journal.event("mit_held", {"cid": "x-1", "key": SBIN.key, "side": "SIDEWAYS", "qty": "1"})
        journal.event("mit_held", {"cid": "x-2", "key": SBIN.key, "side": "BUY", "qty": "lots"})
    rig = reopen(opened, path)
    assert rig.engine._touch == {}
    assert sorted(a.message.split(":")[0] for a in rig.pub.of(p.Alarm) if a.code == "restore") == [
        "cannot restore MIT entry x-1",
        "cannot restore MIT entry x-2",
    ]


def test_a_price_seen_before_the_books_are_known_is_the_first_look(
    tmp_path: Path, opened: list[Journal]
) -> None:
    """The first price after the restart came while the engine reconciled, above the level:
    the engine saw it (viewers were shown it), so the level was not passed while it was down.
    The touch after the reconciliation sends it (it expired as passed while down before)."""
    path = tmp_path / "j.sqlite3"
    cid = held_then_crash(path)
    rig = reopen_unreconciled(opened, path)
    rig.tick(SBIN, "799.60")
    rig.answer_books([], [])
    rig.tick(SBIN, "799.40")
    assert [(o.cid, o.action, o.quantity) for o in rig.places()] == [(cid, "BUY", 2)]
    assert not [a for a in rig.pub.of(p.Alarm) if a.code == "mit_passed"]


def test_a_touch_while_the_books_are_unknown_is_sent_once_they_are(
    tmp_path: Path, opened: list[Journal]
) -> None:
    """Seen above its level, then touched before the reconciliation: nothing goes out while
    the books are unknown; the reconciliation judges it at the last price and sends it, once."""
    path = tmp_path / "j.sqlite3"
    cid = held_then_crash(path)
    rig = reopen_unreconciled(opened, path)
    rig.tick(SBIN, "799.60")
    rig.tick(SBIN, "799.50")  # at the level
    assert rig.places() == []
    assert list(rig.engine._touch) == [cid]
    rig.answer_books([], [])
    assert [o.cid for o in rig.places()] == [cid]
    rig.tick(SBIN, "799.40")
    assert [o.cid for o in rig.places()] == [cid]


def test_a_first_price_through_the_level_while_reconciling_still_expires_it(
    tmp_path: Path, opened: list[Journal]
) -> None:
    path = tmp_path / "j.sqlite3"
    cid = held_then_crash(path)
    rig = reopen_unreconciled(opened, path)
    rig.tick(SBIN, "799.40")  # the first price after the restart: through the level
    rig.answer_books([], [])
    rig.tick(SBIN, "799.30")
    assert rig.places() == []
    assert rig.engine._touch == {}
    [alarm] = [a for a in rig.pub.of(p.Alarm) if cid in a.message and a.code != "restored"]
    assert (alarm.code, "while the engine was down" in alarm.message) == ("mit_passed", True)
