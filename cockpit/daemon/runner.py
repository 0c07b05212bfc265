"""Assembles a running engine: config → paper exchange child (if no broker) → feed → router
→ journal → decision thread → viewer server; and takes it all down again cleanly.

The main thread waits for a stop (signal, Shutdown command, paper exchange death); the
other threads are described in :mod:`cockpit.engine.core`.

One engine per profile: an exclusive ``flock`` on ``<runtime dir>/<profile>.pid`` (released by
the kernel when the process dies, so a crashed engine never blocks the next one), plus the
live-socket check of the viewer server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from cockpit import paths
from cockpit.adapters.venues import KINDS as VENUE_KINDS
from cockpit.adapters.venues import venue as public_venue
from cockpit.config import ConfigError, Settings
from cockpit.daemon.external import (
    FeedConfigError,
    FeedPlan,
    UpstreamTee,
    VenueFeed,
    kite_instruments,
    replay_instruments,
    venue_feed,
    venue_plan,
)
from cockpit.daemon.journal_instruments import rebuild_from_journal
from cockpit.daemon.logfile import LogRotator
from cockpit.daemon.venue import (
    AlreadyRunning,
    SimChild,
    StartupError,
    Venue,
    make_router,
    openalgo_venue,
    paper_instruments,
)
from cockpit.domain.feed import OrderUpdate
from cockpit.domain.instruments import Instrument
from cockpit.link.attach import ALREADY_RUNNING_EXIT
from cockpit.link.bus import Inbound

if TYPE_CHECKING:
    from cockpit.adapters.openalgo.feed import OpenAlgoFeed

log = logging.getLogger(__name__)

LOG_CHECK_S: Final = 10.0
"""How often the detached engine looks at its log's size (and at once on start)."""


# ---------------------------------------------------------------------- pid lock


class PidLock:
    """An exclusive lock on ``<runtime dir>/<profile>.pid`` holding our pid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`AlreadyRunning` (naming the holder's pid)."""
        try:
            paths.ensure_private_dir(self.path.parent)
            self._fd = paths.take_pid_lock(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW)
        except paths.LockHeld as held_by:
            raise AlreadyRunning(
                f"an engine is already running for this profile (pid {held_by.holder}, "
                f"lock {self.path})"
            ) from None
        except OSError as exc:
            raise StartupError(f"cannot create the lock file {self.path}: {exc}") from exc

    def release(self) -> None:
        """Remove the file and drop the lock. Idempotent."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


# ---------------------------------------------------------------------- instruments


def venue_instruments(
    venue: Venue, keys: list[str], timeout: float = 10.0, what: str = "trading.watchlist"
) -> list[Instrument]:
    """Look the watchlist up on an OpenAlgo server (``/api/v1/symbol``) for tick and lot.

    Only the server's tick and lot make an instrument: a symbol it refuses (or that cannot be
    looked up, 429s retried with backoff) is left out and logged with the server's answer.
    """
    from cockpit.adapters.openalgo.symbols import lookup_instruments

    found, refused = lookup_instruments(venue.host, venue.api_key, keys, timeout_s=timeout)
    for why in refused:
        log.error("%s: %s: not added", what, why)
    return found


def journal_keys(journal: Any) -> set[str]:
    """The symbols the journal holds something of that a restart restores: open exit plans,
    orders not final, positions not flat."""
    recovery = journal.recover()
    keys = set(recovery.plans) | {record.key for record in recovery.open_orders}
    for key, state in recovery.positions.items():
        with contextlib.suppress(ArithmeticError, TypeError, ValueError):
            if Decimal(str(state.get("qty", "0"))) != 0:
                keys.add(key)
    return keys


# ---------------------------------------------------------------------- the engine


class EngineRunner:
    """Starts, runs and stops one engine for ``settings``. Call :meth:`run` on the main thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        self.stop_reason = "stopped"
        self._cleanup: list[tuple[str, Callable[[], object]]] = []
        self.engine: Any = None
        self.server: Any = None
        self.sim: SimChild | None = None
        self.tee: UpstreamTee | None = None
        self.market_feed: Any = None
        self.order_feed: OpenAlgoFeed | None = None
        self.poller: Any = None
        self._auto_poll: tuple[Venue, Callable[[object], None]] | None = None

    def request_stop(self, reason: str) -> None:
        """Ask the engine to stop (signal handlers call this)."""
        if not self.stop_event.is_set():
            self.stop_reason = reason
            self.stop_event.set()

    def run(self) -> int:
        """Start everything, wait for a stop, take everything down; return an exit code."""
        try:
            self._start()
        except AlreadyRunning as exc:  # a start that lost a race: the starter attaches
            log.error("%s", exc)
            self._teardown()
            return ALREADY_RUNNING_EXIT
        except (StartupError, ConfigError) as exc:
            log.error("%s", exc)
            self._teardown()
            return 1
        except Exception:
            log.exception("engine failed to start")
            self._teardown()
            return 1
        try:
            self._wait()
        finally:
            self._teardown()
        return 0

    # ------------------------------------------------------------------ start

    def _on_exit(self, what: str, fn: Callable[[], object]) -> None:
        self._cleanup.append((what, fn))

    def _start(self) -> None:
        s = self.settings
        lock = PidLock(paths.pid_path(s.profile))
        lock.acquire()
        self._on_exit("pid lock", lock.release)

        from cockpit.link.server import EngineAlreadyRunning, ServerError, probe

        if probe(s.socket_path):
            raise AlreadyRunning(f"an engine is already answering on {s.socket_path}")

        kind, replay_path = feed_kind(s)
        known = {i.key: i for i in paper_instruments(s)}
        if kind != "kite" and kind is not None and s.venue.broker != "paper":
            raise StartupError(
                f"--feed {kind} trades on the paper exchange only (its prices are not the "
                f"broker's): drop --broker {s.venue.broker}"
            )
        plan = plan_external_feed(s, kind, replay_path, known) if kind else None
        # The paper exchange first: it is forked before this process has any other thread.
        if s.venue.broker == "paper":
            self.sim = SimChild(s, upstream=plan is not None)
            self._on_exit("paper exchange", self.sim.stop)
            venue = self.sim.start()
            instruments = list(known.values())
        else:
            venue = openalgo_venue(s)
            instruments = venue_instruments(venue, list(s.trading.watchlist)) if not plan else []
            if not instruments and not plan:
                # An empty watchlist is a valid start: symbols are added from the screen (/).
                log.warning(
                    "no instruments yet: add symbols with / on the trading screen, or set "
                    "trading.watchlist (EXCH:SYMBOL keys)"
                )
        if plan is not None:
            instruments = plan.instruments

        from cockpit.journal import Journal, JournalError

        try:
            journal = Journal.open(
                s.journal_path,
                profile=s.profile,
                venue=venue.label,
                writer=s.engine.journal_writer,
            )
        except JournalError as exc:
            raise StartupError(str(exc)) from exc
        self._on_exit("journal", journal.close)
        from_journal: tuple[str, ...] = ()
        if s.venue.broker != "paper" and plan is None:
            # Symbols added from the screen (/) are known to this engine only once the broker
            # answers about them: those the journal holds a position, plan or order of are
            # looked up now, so the restore has them (else their stops are lost in a restart).
            missing = journal_keys(journal) - {inst.key for inst in instruments}
            if missing:
                found = venue_instruments(venue, sorted(missing), what="journal")
                instruments += found
                # The broker did not answer for these: their tick and lot as it last gave
                # them (the engine alarms them: a plan must not go unmanaged for a lookup).
                rebuilt = rebuild_from_journal(journal, missing - {i.key for i in found})
                instruments += rebuilt
                from_journal = tuple(inst.key for inst in rebuilt)
        for inst in instruments:
            journal.instrument(inst.key, inst.tick_size, inst.lot_size)

        from cockpit.adapters.openalgo.feed import OpenAlgoFeed
        from cockpit.engine.core import Engine, EngineOptions
        from cockpit.link.server import ViewerServer

        inbound = Inbound()
        server = ViewerServer(
            s.socket_path,
            inbound.put,
            profile=s.profile,
            venue=s.venue_label(),
            market_hz=s.engine.viewer_hz,
            max_backlog=s.engine.viewer_backlog,
        )
        if s.engine.switch_interval_us:
            # Python's 5 ms default lets the feed thread hold the GIL that long while a crash
            # tick waits on the decision thread and an exit order on the router.
            sys.setswitchinterval(s.engine.switch_interval_us / 1e6)
        router = make_router(venue, inbound.put)
        # The paper exchange's history is its own invented past: no backfill for the prices
        # of an external feed it only follows.
        options = EngineOptions(
            venue=venue.label,
            history_backfill=not (kind and s.venue.broker == "paper"),
            from_journal=from_journal,
            screen_grid_s=server.market_interval,  # flushed once per batch the viewers get
        )
        webhook = _webhook(s, inbound.put)
        if webhook is not None:
            webhook.start()
            self._on_exit("alert webhook", webhook.stop)
        engine_router: Any = router
        if plan is not None:
            # `/` searches and adds the feed venue's symbols (the paper exchange follows them).
            from cockpit.daemon.directory import DirectoryRouter, directory_for

            directory = directory_for(plan.kind, s)
            if directory is not None:
                engine_router = DirectoryRouter(router, directory, inbound.put, self._listed)
                engine_router.start()
                self._on_exit("symbol directory", engine_router.stop)
        engine = Engine(
            config=s,
            instruments=instruments,
            router=engine_router,
            journal=journal,
            publisher=server,
            inbound=inbound,
            options=options,
            alert_sender=webhook,
        )
        # Feeds read and decode on their own threads, then put typed events on the engine's
        # queue; the decision thread alone handles them.
        feed = OpenAlgoFeed(venue.ws_url, venue.api_key, inbound.put)
        market_feed: Any = feed
        tee: UpstreamTee | None = None
        if plan is not None:
            if venue.upstream_port is not None:
                # Paper fills follow the external prices: every market event is teed to the
                # paper exchange's upstream endpoint.
                tee = UpstreamTee(venue.upstream_port, venue.api_key, plan.instruments)
                router.before_order = tee.flush
            market_feed = make_market_feed(s, plan, replay_path, external_sink(inbound.put, tee))
        engine.feed = market_feed
        self.tee = tee
        self.market_feed = market_feed
        self.engine, self.server = engine, server

        try:
            server.start()
        except EngineAlreadyRunning as exc:
            raise AlreadyRunning(str(exc)) from exc
        except ServerError as exc:
            raise StartupError(str(exc)) from exc
        self._on_exit("viewer server", lambda: server.stop(self.stop_reason))
        router.start()
        self._on_exit("router", router.stop)
        thread = threading.Thread(
            target=self._run_engine, args=(engine,), name="decision", daemon=True
        )
        self._engine_thread = thread
        thread.start()
        self._on_exit("decision thread", self._join_engine)
        updates = s.venue.order_updates
        # The broker's WebSocket carries its market data and/or its pushed order updates.
        if market_feed is feed or updates != "poll":
            feed.start()
            self._on_exit("feed", feed.stop)
            self.order_feed = feed
        if updates == "poll":
            self._start_poller(venue, inbound.put)
        else:
            feed.subscribe_orders()
            self._auto_poll = (venue, inbound.put) if updates == "auto" else None
        if tee is not None:
            tee.start()
            self._on_exit("upstream tee", lambda: _stop_tee(tee))
            if not tee.connected.wait(5.0):
                log.warning("the paper exchange's upstream endpoint is not answering yet")
        if market_feed is not feed:
            market_feed.start()
            self._on_exit("market feed", market_feed.stop)
        if engine.watchlist:
            market_feed.subscribe(engine.watchlist, options.feed_mode)
        log.info(
            "engine %d running: profile %s, venue %s, market data %s, order updates %s, "
            "%d instruments, journal %s, socket %s",
            os.getpid(),
            s.profile,
            venue.label,
            plan.kind if plan else "broker",
            updates,
            len(instruments),
            s.journal_path,
            s.socket_path,
        )

    def _listed(self, inst: Instrument, venue_id: str) -> None:
        """(Symbol directory) an instrument added with ``/``: the feed and the paper exchange
        follow it before the engine subscribes it."""
        if isinstance(self.market_feed, VenueFeed):
            self.market_feed.follow(inst.key, venue_id)
        if self.tee is not None:
            self.tee.follow(inst)

    def _start_poller(self, venue: Venue, sink: Callable[[object], None]) -> None:
        from cockpit.adapters.openalgo.poller import OrderBookPoller

        poller = OrderBookPoller(venue.host, venue.api_key, sink)
        poller.start()
        self.poller = poller
        self._on_exit("order poller", poller.stop)
        log.info("order updates: polling %s/api/v1/orderbook", venue.host.rstrip("/"))

    def _check_auto_poll(self) -> None:
        """``order_updates = auto``: poll once the broker refuses ``subscribe_orders``."""
        if self._auto_poll is None or self.order_feed is None:
            return
        if any(_refuses_orders(e) for e in self.order_feed.protocol.server_errors):
            venue, sink = self._auto_poll
            self._auto_poll = None
            log.warning(
                "the broker refused subscribe_orders (no pushed order updates): polling instead"
            )
            self.order_feed.unsubscribe_orders()
            self._start_poller(venue, sink)

    def _run_engine(self, engine: Any) -> None:
        try:
            engine.run(self.stop_event)
        except Exception:
            log.exception("the decision thread failed")
            self.request_stop("decision thread failed")
        else:
            self.request_stop("shutdown requested")

    def _join_engine(self) -> None:
        self.stop_event.set()
        self._engine_thread.join(10)
        if self._engine_thread.is_alive():
            log.error("the decision thread did not stop within 10 s")

    # ------------------------------------------------------------------ wait / stop

    def _wait(self) -> None:
        from cockpit.daemon.memory import HeapTrimmer

        rotator = self._log_rotator()
        next_log_check = 0.0
        trimmer = HeapTrimmer()  # freed C heap back to the system (RSS flat under load)
        while not self.stop_event.wait(0.25):
            self._check_auto_poll()
            trimmer.tick()
            if rotator is not None and time.monotonic() >= next_log_check:
                next_log_check = time.monotonic() + LOG_CHECK_S
                rotator.check()
            if self.sim is not None and not self.sim.alive():
                code = self.sim.proc.returncode if self.sim.proc else None
                log.error("the paper exchange exited (code %s): stopping the engine", code)
                self.request_stop("the paper exchange stopped")
        log.info("engine stopping: %s", self.stop_reason)

    def _log_rotator(self) -> LogRotator | None:
        """Rotation of the detached engine's log (None: not wanted, or stderr is not it)."""
        s = self.settings
        if not s.engine.log_max_kb:
            return None
        rotator = LogRotator(
            paths.log_path(s.profile), s.engine.log_max_kb * 1024, s.engine.log_keep
        )
        return rotator if rotator.ours() else None

    def _teardown(self) -> None:
        self.stop_event.set()
        while self._cleanup:
            what, fn = self._cleanup.pop()
            try:
                fn()
            except Exception:
                log.exception("error while stopping the %s", what)
        log.info("engine stopped")


def feed_kind(s: Settings) -> tuple[str | None, Path | None]:
    """The external feed asked for (``--feed`` / ``venue.feed`` / ``[feed] kind``): its kind
    (None: the broker's own) and, for ``replay:FILE``, the file. StartupError if unusable."""
    spec = (s.venue.feed or s.feed.kind or "").strip()
    if not spec or spec in ("openalgo", "broker"):
        return None, None
    if spec.startswith("replay:"):
        from cockpit.adapters.replay import parse_spec

        try:
            path = parse_spec(spec)
        except ValueError as exc:
            raise StartupError(str(exc)) from exc
        if not path.is_file():
            raise StartupError(f"--feed {spec}: no such file {path}")
        return "replay", path
    if spec == "kite":
        return spec, None
    try:
        if public_venue(spec) is not None:
            return spec, None
    except ValueError as exc:
        raise StartupError(str(exc)) from exc
    raise StartupError(f"--feed {spec}: expected kite, {', '.join(VENUE_KINDS)} or replay:FILE")


def plan_external_feed(
    s: Settings, kind: str, replay_path: Path | None, known: dict[str, Instrument]
) -> FeedPlan:
    """The instruments of an external feed (looked up before anything starts)."""
    try:
        if kind == "kite":
            insts, tokens = kite_instruments(s.feed.symbols, known)
            return FeedPlan(kind, insts, tokens)
        if kind != "replay":
            return venue_plan(kind, s.feed.symbols, s.feed.url, s.feed.rest_url)
        assert replay_path is not None
        insts = replay_instruments(replay_path, known)
        return FeedPlan(kind, insts, {})
    except FeedConfigError as exc:
        raise StartupError(str(exc)) from exc


def make_market_feed(
    s: Settings, plan: FeedPlan, replay_path: Path | None, sink: Callable[[object], None]
) -> Any:
    """The external adapter, not started, speaking ``EXCH:SYMBOL`` keys to the engine."""
    if plan.kind == "replay":
        from cockpit.adapters.replay import ReplayFeed

        assert replay_path is not None
        return ReplayFeed(replay_path, sink, loop=True)
    if plan.kind != "kite":
        return venue_feed(plan, sink, s.feed.url, s.feed.rest_url)
    from cockpit.adapters.kite.feed import KiteFeed

    v = s.venue
    api_key = v.kite_api_key.get_secret_value() if v.kite_api_key else ""
    token = v.kite_access_token.get_secret_value() if v.kite_access_token else ""
    if not api_key or not token:
        raise StartupError(
            "--feed kite needs KITE_API_KEY and KITE_ACCESS_TOKEN (environment or "
            "venue.kite_api_key / venue.kite_access_token in config.toml)"
        )
    token_map = {
        int(tok): (key.split(":", 1)[0], key.split(":", 1)[1])
        for key, tok in plan.venue_ids.items()
    }
    return VenueFeed(
        KiteFeed(api_key, token, sink, token_map=token_map, url=s.feed.url),
        plan.venue_ids,
        "kite",
        token_map,  # shared with the decoder: a symbol added with / is decoded too
    )


def _stop_tee(tee: UpstreamTee) -> None:
    tee.stop()
    log.info("upstream to the paper exchange: %s", tee.stats())


def _refuses_orders(error: str) -> bool:
    """An OpenAlgo error frame (``CODE: message``) refusing ``subscribe_orders``: INVALID_ACTION
    naming that action, or naming none (one naming another action, e.g. ping, does not count)."""
    if not error.startswith("INVALID_ACTION"):
        return False
    message = error.partition(":")[2]
    return "orders" in message or ":" not in message


def external_sink(
    put: Callable[[object], None], tee: UpstreamTee | None
) -> Callable[[object], None]:
    """The sink of an external market feed (Kite, Binance, replay): the engine's queue, less
    the feed's order updates (Kite postbacks are not paper orders), through the tee when there
    is one."""
    if tee is not None:
        put = tee.sink(put)

    def put_market(item: object) -> None:
        if type(item) is not OrderUpdate:
            put(item)

    return put_market


def install_signal_handlers(runner: EngineRunner) -> None:
    """SIGTERM/SIGINT/SIGHUP → a clean stop (main thread only).

    SIGXFSZ (a write past the file-size limit) is ignored: the write then fails with an
    error the journal reports (exits still go, entries are refused) instead of killing us.
    """

    def handler(signum: int, _frame: Any) -> None:
        runner.request_stop(f"signal {signal.Signals(signum).name}")

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, handler)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _webhook(s: Settings, sink: Callable[[object], None]) -> Any:
    """The alert webhook worker (``[alerts] webhook_url``), or None."""
    if s.alerts.webhook_url is None or not s.alerts.webhook_url.get_secret_value():
        return None
    from cockpit.daemon.webhook import WebhookSender

    return WebhookSender(
        s.alerts.webhook_url.get_secret_value(),
        sink,
        fmt=s.alerts.webhook_format,
        retries=s.alerts.webhook_retries,
        timeout_s=s.alerts.webhook_timeout_s,
    )
