"""The ``cockpit`` command and its subcommands.

Each subcommand's work lives in the package that owns it and is imported only when that
subcommand runs, so ``cockpit sim`` never loads Textual and ``cockpit`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from cockpit import __version__

# subcommand path -> "module:function"; the function takes the parsed args and returns an exit code.
_HANDLERS = {
    "tui": "cockpit.ui.main:run",
    "sim": "cockpit.sim.main:run",
    "record": "cockpit.adapters.record:run",
    "engine": "cockpit.daemon.main:run",
    "journal": "cockpit.journal.main:run",
    "alert": "cockpit.daemon.alert_cli:run",
}


def _add_venue_flags(parser: argparse.ArgumentParser, *, inherit: bool = False) -> None:
    """Flags that choose the venue when an engine is started.

    ``inherit`` (a subcommand's copy of the global flags): an unset flag sets nothing, so the
    global one given before the subcommand (``cockpit --profile X engine stop``) stands; argparse
    would otherwise let the subcommand's default overwrite it.
    """
    parser.add_argument("--profile", default="default", help="profile name (default: default)")
    parser.add_argument("--config", help="config file (default: the user config dir)")
    parser.add_argument("--journal", help="journal SQLite file (default: the user data dir)")
    parser.add_argument(
        "--broker",
        choices=["paper", "openalgo"],
        help="where orders go: the embedded paper exchange (default) or an OpenAlgo server",
    )
    parser.add_argument("--host", help="OpenAlgo REST base URL (or OPENALGO_HOST)")
    parser.add_argument("--ws-url", help="OpenAlgo WebSocket URL (or OPENALGO_WS_URL)")
    parser.add_argument(
        "--feed",
        help="market data from elsewhere: kite | binance | bybit | bybit:linear | binance-futures "
        "| hyperliquid | ccxt:EXCHANGE | replay:FILE (orders still go to paper)",
    )
    parser.add_argument("--url", help="with --feed kite|binance: the feed's WebSocket address")
    parser.add_argument("--rest-url", help="with --feed binance: the REST address (exchangeInfo)")
    parser.add_argument(
        "--symbols",
        help="with --feed: comma-separated instruments: BTCUSDT (binance), "
        "NSE:INFY=408065[:TICK[:LOT]] (kite)",
    )
    parser.add_argument(
        "--order-updates",
        choices=["push", "poll", "auto"],
        help="OpenAlgo order updates: pushed on the WebSocket, polled from /orderbook, or auto",
    )
    if inherit:
        _suppress_defaults(parser)


_VENUE_DESTS = (
    "profile",
    "config",
    "journal",
    "broker",
    "host",
    "ws_url",
    "feed",
    "url",
    "rest_url",
    "symbols",
    "order_updates",
)


def _suppress_defaults(parser: argparse.ArgumentParser) -> None:
    """Unset flags of ``parser`` set nothing (see :func:`_add_venue_flags`)."""
    for action in parser._actions:  # noqa: SLF001 - argparse has no public accessor
        if action.dest in _VENUE_DESTS:
            action.default = argparse.SUPPRESS


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = argparse.ArgumentParser(
        prog="cockpit",
        description="A keyboard-driven terminal trading cockpit. With no subcommand, opens the "
        "trading screen attached to the profile's engine (starting one if none runs).",
    )
    parser.add_argument("--version", action="version", version=f"cockpit {__version__}")
    _add_venue_flags(parser)
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="attach as a viewer that cannot trade (no order keys; the engine refuses its "
        "orders); never starts an engine",
    )
    parser.set_defaults(handler="tui")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sim = sub.add_parser(
        "sim",
        help="run the paper exchange alone (OpenAlgo REST + WebSocket)",
        description="The embedded paper exchange: an OpenAlgo-compatible REST API and "
        "WebSocket feed over a simulated market.",
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sim.add_argument("--rest-port", type=int, default=5000, help="REST port (default 5000)")
    sim.add_argument("--ws-port", type=int, default=8765, help="WebSocket port (default 8765)")
    sim.add_argument("--api-key", help="API key clients must present (generated if omitted)")
    sim.add_argument(
        "--instrument",
        action="append",
        default=[],
        metavar="EXCH:SYMBOL:PRICE[:TICK]",
        help="add an instrument (repeatable)",
    )
    sim.add_argument("--rate", type=float, default=10.0, help="ticks per second per symbol")
    sim.add_argument("--seed", type=int, help="random seed for a reproducible price path")
    sim.add_argument(
        "--script",
        metavar="FILE",
        help="play a scripted price path (JSON lines) instead of the random walk",
    )
    sim.add_argument(
        "--ports-file",
        metavar="FILE",
        help="write the bound ports and API key as JSON to FILE once listening",
    )
    sim.add_argument("--paused", action="store_true", help="start with every random walk paused")
    sim.add_argument(
        "--upstream-port",
        type=int,
        help="accept upstream prices (normalized tick lines) on this loopback TCP port (0: free)",
    )
    sim.add_argument(
        "--no-order-updates",
        action="store_true",
        help="refuse subscribe_orders like an OpenAlgo broker without an order stream",
    )
    sim.add_argument(
        "--auth-timeout",
        type=float,
        default=15.0,
        help="seconds a WebSocket client has to authenticate (default 15)",
    )
    sim.add_argument(
        "--order-rate-limit",
        type=int,
        default=1000,
        help="order API calls per second before HTTP 429 (OpenAlgo's default is 10)",
    )
    sim.add_argument(
        "--api-rate-limit",
        type=int,
        default=1000,
        help="other API calls per second before HTTP 429 (OpenAlgo's default is 10)",
    )
    sim.add_argument(
        "--state-dir",
        metavar="DIR",
        help="keep the account (orders, fills, positions, funds) in DIR and reload it at start "
        "(default when an engine starts the sim: <data dir>/paper/<profile>; alone: memory only)",
    )
    sim.add_argument(
        "--no-state", action="store_true", help="keep the account in memory only, never on disk"
    )
    real = sim.add_argument_group(
        "differences from the real OpenAlgo server",
        "By default the paper exchange answers as the running OpenAlgo server does; each flag "
        "brings back one older, friendlier behaviour.",
    )
    real.add_argument(
        "--retry-after-429",
        action="store_true",
        help="a 429 carries status, retry_after and a Retry-After header (server: only "
        '{"message": "10 per 1 second"})',
    )
    real.add_argument(
        "--subscribe-snapshot",
        action="store_true",
        help="send a market_data frame right after subscribe (server: waits for the next tick)",
    )
    real.add_argument(
        "--modify-updates",
        action="store_true",
        help="push an order_update after a modify (server: none)",
    )
    real.add_argument(
        "--accept-pending-quantity",
        action="store_true",
        help="the accept order_update carries pending_quantity (server: 0)",
    )
    real.add_argument(
        "--numeric-data-mode",
        action="store_true",
        help='data.mode in market_data is 1/2/3 (server: "ltp"/"quote"/"full")',
    )
    real.add_argument(
        "--cancel-all-trigger-pending",
        action="store_true",
        help="cancelallorder also cancels trigger-pending stop orders (server: skips them)",
    )
    real.add_argument("--legacy", action="store_true", help="all of the above")
    real.add_argument(
        "--semi-auto",
        action="store_true",
        help="OpenAlgo's semi-auto order mode: placeorder queues the order for approval "
        "(success, no orderid); POST /sim/approve places every queued order",
    )
    real.add_argument(
        "--semi-auto-live",
        action="store_true",
        help="--semi-auto with OpenAlgo in live mode: cancelorder, modifyorder, "
        "cancelallorder and closeposition answer 403 (not allowed in Semi-Auto mode)",
    )
    real.add_argument(
        "--zerodha-order-rows",
        action="store_true",
        help="orderbook/orderstatus rows as OpenAlgo's Zerodha mapping sends them: no "
        "filled_quantity, average_price or pending_quantity (fills only in the tradebook)",
    )
    sim.set_defaults(handler="sim")

    record = sub.add_parser(
        "record",
        help="record a feed as normalized tick lines (JSONL)",
        description="Connect to a feed and write one normalized tick line (JSON) per market "
        "event, the format `--feed replay:FILE` plays back. Exit status 2 for a usage error or "
        "a symbol the venue does not know, 1 if the feed goes down.",
    )
    record.add_argument(
        "--feed",
        required=True,
        help="openalgo | kite | binance | bybit | bybit:linear | binance-futures | hyperliquid "
        "| ccxt:EXCHANGE",
    )
    record.add_argument(
        "--symbols",
        required=True,
        help="comma-separated, in the venue's terms: NSE:INFY (openalgo), "
        "408065 (kite: instrument tokens), BTCUSDT (binance)",
    )
    record.add_argument("--mode", default="quote", choices=["ltp", "quote", "depth"])
    record.add_argument("--url", help="override the venue's WebSocket address")
    record.add_argument("--rest-url", help="override the venue's REST address (Binance snapshots)")
    record.add_argument("--count", type=int, help="stop after N events")
    record.add_argument("--duration", type=float, help="stop after S seconds")
    record.add_argument("--out", required=True, help="output file, or - for stdout")
    record.set_defaults(handler="record")

    engine = sub.add_parser(
        "engine",
        help="the profile's engine process: start | stop | status | run",
        description="The engine owns the venue connection, every decision and every order.",
    )
    engine.add_argument("action", choices=["start", "stop", "status", "run"])
    _add_venue_flags(engine, inherit=True)
    engine.add_argument(
        "--flatten", action="store_true", help="with stop: flatten everything first"
    )
    engine.add_argument(
        "--json", action="store_true", help="with status: one JSON document (for scripts)"
    )
    engine.set_defaults(handler="engine")

    journal = sub.add_parser("journal", help="the trade journal: export | stats")
    journal.add_argument("action", choices=["export", "stats"])
    journal.add_argument("--profile", help="profile name (default: default)")
    journal.add_argument("--journal", help="journal SQLite file")
    _suppress_defaults(journal)
    journal.add_argument("--out", default="-", help="CSV file, or - for stdout")
    journal.add_argument(
        "--day", default="all", help="only this local day: YYYY-MM-DD, today, or all (default)"
    )
    journal.add_argument(
        "--what", default="trades", choices=["trades", "orders"], help="what to export"
    )
    journal.set_defaults(handler="journal")

    alert = sub.add_parser(
        "alert",
        help="the running engine's alerts: add | list | rm",
        description="add price SYMBOL PRICE | pnl AMOUNT | fill [SYMBOL] | exit [SYMBOL] | "
        "feed | lock [once] [-- NOTE]; list; rm ID|all. Profile flags go before 'alert'.",
    )
    alert.add_argument("action", choices=["add", "list", "rm"])
    alert.add_argument("words", nargs=argparse.REMAINDER, help="what to add, or the id to remove")
    _add_venue_flags(alert, inherit=True)
    alert.set_defaults(handler="alert")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cockpit`` console script."""
    args = build_parser().parse_args(argv)
    module_name, _, func_name = _HANDLERS[args.handler].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        print(f"cockpit: '{args.handler}' is not built yet", file=sys.stderr)
        return 2
    try:
        return int(getattr(module, func_name)(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went (`cockpit journal export | head`): end quietly, as `cat` does.
        # Python's flush of stdout at exit would fail again: point it at /dev/null first.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141


if __name__ == "__main__":
    sys.exit(main())
