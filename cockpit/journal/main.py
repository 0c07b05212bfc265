"""``cockpit journal export``: a journal's trades or orders as CSV."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from cockpit import paths
from cockpit.journal.store import Journal, JournalError, start_of_local_day_ns


def _day_range(day: str | None) -> tuple[int, int | None]:
    if not day or day == "all":
        return 0, None
    if day == "today":
        start = start_of_local_day_ns()
        return start, start + 86_400 * 1_000_000_000 - 1
    try:
        d = date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"--day {day!r}: expected YYYY-MM-DD, 'today' or 'all'") from None
    local_tz = datetime.now().astimezone().tzinfo  # noqa: DTZ005 - only to get the local zone
    midnight = datetime(d.year, d.month, d.day, tzinfo=local_tz)
    next_midnight = midnight + timedelta(days=1)
    return int(midnight.timestamp()) * 1_000_000_000, int(
        next_midnight.timestamp()
    ) * 1_000_000_000 - 1


def run(args: argparse.Namespace) -> int:
    """Entry point of ``cockpit journal``."""
    if args.action not in ("export", "stats"):
        print(f"cockpit journal: unknown action {args.action}", file=sys.stderr)
        return 2
    try:
        path = Path(args.journal).expanduser() if args.journal else paths.journal_path(args.profile)
        since, until = _day_range(getattr(args, "day", None))
    except ValueError as exc:
        print(f"cockpit journal: {exc}", file=sys.stderr)
        return 2
    if not path.is_file():
        print(f"cockpit journal: no journal at {path}", file=sys.stderr)
        return 1
    if args.action == "stats":
        return _stats(path, since, until)
    try:
        journal = Journal.open(path, profile=args.profile, start_session=False)
    except JournalError as exc:
        print(f"cockpit journal: {exc}", file=sys.stderr)
        return 1
    try:
        if args.out == "-":
            n = journal.export_csv(args.what, sys.stdout, since_ns=since, until_ns=until)
            sys.stdout.flush()
        else:
            out = Path(args.out).expanduser()
            with out.open("w", newline="", encoding="utf-8") as fh:
                n = journal.export_csv(args.what, fh, since_ns=since, until_ns=until)
        print(f"cockpit journal: exported {n} {args.what} from {path}", file=sys.stderr)
    finally:
        journal.close()
    return 0


def _stats(path: Path, since: int, until: int | None) -> int:
    """``cockpit journal stats``: round trips and their statistics, as text."""
    import sqlite3

    from cockpit.journal.stats import compute, connect_read_only, render

    try:
        conn = connect_read_only(path)
        try:
            stats = compute(conn, since, until)
        finally:
            conn.close()
    except (OSError, sqlite3.Error) as exc:
        print(f"cockpit journal: {path}: {exc}", file=sys.stderr)
        return 1
    print("\n".join(render(stats)))
    return 0
